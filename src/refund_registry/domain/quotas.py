"""Enumeration budgets: what one organisation may spend per UTC day, and the ceilings.

Pure. Every key-service evaluation is one guess at an identifier, and every
identifier a risk query looks up is one look at a buyer, so the daily quotas
bound how fast an organisation (however many principals it registers) can
sweep the space of identifiers. ``docs/privacy.md`` turns them into days.
"""

from __future__ import annotations

import re
from typing import Final

from refund_registry.errors import InvalidInput

EVALUATION_CEILING: Final = 2_000_000
"""Key-service evaluations per organisation per day above which an operator must
say ``--above-ceiling``: at this rate one organisation needs about 850 days to
evaluate every allocated Chinese mobile number (~1.7 billion)."""

QUERY_CEILING: Final = 5_000_000
"""Risk-query lookups (identifiers) per organisation per day above which an
operator must say ``--above-ceiling``."""

MOBILE_SPACE: Final = 1_700_000_000
"""About how many Chinese mobile numbers are allocated: the space an
enumerating organisation would have to sweep."""

_ORG_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")


def check_org_id(org_id: str) -> str:
    """An organisation id as given to ``principals add --org``, or InvalidInput.

    2 to 64 characters: lowercase letters, digits, ``-`` and ``_``, starting
    with a letter or digit (a principal's own organisation is named by its
    id, ``mbr_…``, which fits).
    """
    if _ORG_ID.fullmatch(org_id) is None:
        raise InvalidInput(
            "an organisation id is 2 to 64 characters: lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit",
            code="org.id",
        )
    return org_id


def check_quota(value: int | None, ceiling: int, *, above_ceiling: bool, name: str) -> None:
    """Refuse a quota below 1, or above ``ceiling`` without the explicit override.

    ``None`` means the deployment's default and is always allowed.
    """
    if value is None:
        return
    if value < 1:
        raise InvalidInput(f"{name} must be at least 1", code="org.quota")
    if value > ceiling and not above_ceiling:
        raise InvalidInput(
            f"{name} of {value:,} is above the ceiling of {ceiling:,} a day; "
            "an operator who means it says --above-ceiling",
            code="org.quota_above_ceiling",
            extra={"ceiling": ceiling},
        )


def days_to_enumerate(space: int, per_day: int) -> int:
    """Whole days one organisation needs to spend ``space`` units at ``per_day`` a day."""
    if per_day < 1:
        raise ValueError("per_day must be at least 1")
    return -(-space // per_day)
