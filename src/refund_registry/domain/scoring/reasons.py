"""Reason codes: what a score is made of, in words the buyer can read.

Codes are stable: they never change meaning; the text may be reworded. The
table in ``docs/scoring.md`` lists the same codes and texts, and the order used
to break ties between equal contributions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from refund_registry.domain.scoring.policy import CATEGORIES

# Part of the meaning of the stable code ``recent_confirmed_case``, whose text
# names the window; that is why it is a constant and not a policy knob.
RECENT_WINDOW_DAYS: Final = 90

# Stable reason codes. Codes never change meaning; text may be reworded.
# Written for the buyer as much as for the platform: no jargon, no score maths.
REASON_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "corroborated_by_several_platforms": (
            "Confirmed cases were reported independently by more than one platform."
        ),
        "repeated_reports_one_platform": "One platform has confirmed more than one case.",
        "ai_forged_evidence": (
            "A platform confirmed that photos or other evidence sent to get a refund "
            "were made or altered with AI or editing tools."
        ),
        "fabricated_damage_claim": (
            "A platform confirmed a refund claim for damage or defects that did not exist."
        ),
        "empty_box_or_switched_return": (
            "A platform confirmed a return that was empty or held a different item."
        ),
        "false_not_received_claim": (
            "A platform confirmed a false claim that an order never arrived."
        ),
        "refund_only_abuse": (
            "A platform confirmed misuse of 'refund only' (keeping the goods and also "
            "getting the money back)."
        ),
        "chargeback_fraud": (
            "A platform confirmed a card or payment dispute (chargeback) made for an order "
            "that had been delivered as ordered."
        ),
        "other_refund_fraud": "A platform confirmed another kind of refund fraud.",
        "single_confirmed_case": "There is one confirmed case on record.",
        "recent_confirmed_case": "A case was confirmed in the last 90 days.",
        "high_refund_amount": "At least one of the refunds involved was for a large amount.",
        "record_under_appeal": (
            "The buyer is appealing at least one case; it counts for less until the appeal "
            "is decided."
        ),
        "buyer_statement_attached": (
            "The buyer has added a statement to their record; please read it before deciding."
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """A stable machine-readable ``code`` and its plain-language ``text``."""

    code: str
    text: str


# Reason objects are built once; assess() only picks from them.
REASON: Final[Mapping[str, Reason]] = MappingProxyType(
    {code: Reason(code, text) for code, text in REASON_TEXT.items()}
)
CATEGORY_REASON: Final[Mapping[str, str]] = MappingProxyType(
    {c: ("other_refund_fraud" if c == "other" else c) for c in CATEGORIES}
)
"""The reason code of each category (``other`` is ``other_refund_fraud``)."""

# Tie-break between equal contributions; unique per code, so sorting never
# compares Reason objects. Structure first, then what happened, then modifiers.
PRIORITY: Final[Mapping[str, int]] = MappingProxyType(
    {
        code: i
        for i, code in enumerate(
            (
                "corroborated_by_several_platforms",
                "repeated_reports_one_platform",
                *(CATEGORY_REASON[c] for c in CATEGORIES),
                "single_confirmed_case",
                "recent_confirmed_case",
                "high_refund_amount",
            )
        )
    }
)
