"""The risk score: a pure function of the matched reports, the as-of time and a policy.

The rule is published in ``docs/scoring.md``. ``policy`` holds the weights and
compiles them, ``reasons`` the stable reason codes and their texts,
``assessment`` the computation itself.
"""

from refund_registry.domain.scoring.assessment import Assessment, Counts, ReportFacts, assess
from refund_registry.domain.scoring.policy import (
    BANDS,
    CATEGORIES,
    COUNTING_STATUSES,
    DEFAULT_POLICY,
    NON_COUNTING_STATUSES,
    STATUSES,
    Band,
    ScoringPolicy,
    band_for_score,
)
from refund_registry.domain.scoring.reasons import REASON_TEXT, RECENT_WINDOW_DAYS, Reason

__all__ = [
    "BANDS",
    "CATEGORIES",
    "COUNTING_STATUSES",
    "DEFAULT_POLICY",
    "NON_COUNTING_STATUSES",
    "REASON_TEXT",
    "RECENT_WINDOW_DAYS",
    "STATUSES",
    "Assessment",
    "Band",
    "Counts",
    "Reason",
    "ReportFacts",
    "ScoringPolicy",
    "assess",
    "band_for_score",
]
