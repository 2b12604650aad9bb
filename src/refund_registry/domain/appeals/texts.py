"""The free texts of an appeal and their limits: statements, summaries, rationales.

Lengths count Unicode code points; a blank text says nothing to the other
parties, so it is refused as if it were empty.
"""

from __future__ import annotations

from typing import Final

from refund_registry.domain.appeals.errors import InvalidStatement, InvalidSummary
from refund_registry.errors import InvalidInput

STATEMENT_MAX_CHARS: Final = 2000
SUMMARY_MAX_CHARS: Final = 2000
RATIONALE_MAX_CHARS: Final = 2000
SUBJECT_STATEMENT_MAX_CHARS: Final = 200
"""A buyer's statement shown with the score after an appeal decided against them ."""


def check_statement(statement: str) -> None:
    """A buyer's appeal statement: 1 to 2000 characters, not blank; stored as given."""
    # A whitespace-only statement says nothing to the member or the adjudicator.
    if not statement.strip() or len(statement) > STATEMENT_MAX_CHARS:
        raise InvalidStatement(
            f"The statement must be 1 to {STATEMENT_MAX_CHARS} characters and not blank.",
            extra={"max_chars": STATEMENT_MAX_CHARS, "length": len(statement)},
        )


def validate_summary(summary: str | None) -> None:
    """A member's evidence summary for an uphold: 1 to 2000 characters, not blank."""
    # An uphold without reasons leaves the adjudicator nothing to weigh against
    # the buyer's statement; the evidence itself never leaves the member.
    if summary is None or not summary.strip():
        raise InvalidSummary(
            "Upholding a report needs a summary of the member's evidence.",
            code="appeal.summary_required",
            extra={"max_chars": SUMMARY_MAX_CHARS},
        )
    if len(summary) > SUMMARY_MAX_CHARS:
        raise InvalidSummary(
            f"The evidence summary must be at most {SUMMARY_MAX_CHARS} characters.",
            extra={"max_chars": SUMMARY_MAX_CHARS, "length": len(summary)},
        )


def check_rationale(rationale: str) -> None:
    """An adjudicator's decision states why (PIPL art. 24: a right to an explanation)."""
    if not rationale.strip() or len(rationale) > RATIONALE_MAX_CHARS:
        raise InvalidInput(
            f"the rationale must be 1 to {RATIONALE_MAX_CHARS} characters and not blank",
            code="appeal.rationale_length",
            extra={"max_chars": RATIONALE_MAX_CHARS, "length": len(rationale)},
        )


def check_subject_statement(statement: str | None) -> None:
    """A buyer's statement: 1 to 200 characters, not blank; ``None`` removes it."""
    if statement is not None and (
        not statement.strip() or len(statement) > SUBJECT_STATEMENT_MAX_CHARS
    ):
        raise InvalidInput(
            f"the statement must be 1 to {SUBJECT_STATEMENT_MAX_CHARS} characters "
            "and not blank (send null to remove it)",
            code="subject.statement_length",
            extra={"max_chars": SUBJECT_STATEMENT_MAX_CHARS, "length": len(statement)},
        )
