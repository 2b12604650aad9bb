"""The risk query use case: authenticate → limit → look up → score → log durably → answer."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from refund_registry.domain import inquiry
from refund_registry.domain.access import AccessRecord
from refund_registry.domain.keyring import Keyring
from refund_registry.domain.reports import PSEUDONYM_BYTES
from refund_registry.domain.scoring import DEFAULT_POLICY, ScoringPolicy
from refund_registry.domain.scoring.reasons import REASON_TEXT
from refund_registry.domain.wire import decode_all
from refund_registry.errors import InvalidInput
from refund_registry.i18n import N_, SUPPORTED_TAGS, gettext
from refund_registry.services.authn import Caller
from refund_registry.services.quotas import OrgQuota
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.lookup import SubjectLookup

NOTICE: Final = N_(
    "This assessment comes from Refund Registry, a shared record of confirmed refund "
    "fraud. It is advice, not a decision: you may not refuse the buyer on the score "
    "alone. The buyer can see this record, every inquiry about it, and contest any "
    "report at %(portal)s."
)
"""The notice every answer carries, for the platform to show the buyer."""

# The reasons' texts in each language, by reason code. Their message ids are
# the English texts of ``REASON_TEXT``; built once, so that an answer only
# looks them up.
REASON_TEXTS: Final[dict[str, dict[str, str]]] = {
    tag: {code: gettext(tag, text) for code, text in REASON_TEXT.items()} for tag in SUPPORTED_TAGS
}


def new_query_ids(count: int) -> list[str]:
    """``count`` query ids (``q_`` and 20 hex digits), from one draw of randomness."""
    raw = secrets.token_bytes(10 * count)
    return ["q_" + raw[i : i + 10].hex() for i in range(0, 10 * count, 10)]


@dataclass
class RiskService:
    keyring: Keyring
    lookup: SubjectLookup
    access_log: AccessLog
    public_url: str
    # Charges the caller's organisation one query unit per identifier looked
    # up; ``None`` (tools, tests of scoring) charges nothing.
    quota: OrgQuota | None = None
    policy: ScoringPolicy = DEFAULT_POLICY
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    notices: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        portal = {"portal": f"{self.public_url}/portal"}
        self.notices = {tag: gettext(tag, NOTICE) % portal for tag in SUPPORTED_TAGS}

    async def _charge(self, caller: Caller, units: int) -> None:
        """Spend ``units`` of the organisation's budget; a batch must fit one second's rate."""
        assert self.quota is not None
        most = self.quota.limiter.limits.per_second
        if units > most:
            raise InvalidInput(
                f"one request may look up at most {most:,} identifiers; split the batch",
                code="query.batch_identifiers",
                extra={"limit": most},
            )
        await self.quota.charge(caller.principal_id, units)

    @property
    def notice(self) -> str:
        """The notice in English."""
        return self.notices["en"]

    async def query(
        self,
        caller: Caller,
        items: Sequence[inquiry.QueryItem],
        *,
        batch: bool,
        locale: str = "zh-CN",
        receipt_version: int = 1,
    ) -> list[dict[str, Any]]:
        """Answer each item in order; every item's access-log entry is durable first.

        ``locale`` (``zh-CN`` or ``en``) is the language of the reasons' texts
        and of the notice; nothing else in the answer depends on it.
        ``receipt_version`` 2 asks for receipts signed once per flush.
        """
        notice = self.notices[locale]
        reason_texts = REASON_TEXTS[locale]
        # Every pseudonym of the request decoded at once; the rules checked
        # item by item only when that or the one-pass check fails.
        raw = decode_all([p for item in items for _, p in item.identifiers], PSEUDONYM_BYTES)
        if raw is None or not all([inquiry.passes(item) for item in items]):
            raise _refusal(items, batch=batch)
        if self.quota is not None:
            await self._charge(caller, inquiry.units(items))

        subject_key = self.keyring.subject_key
        all_keys = [subject_key(r) for r in raw]
        item_keys: list[list[bytes]] = []
        at = 0
        for item in items:
            item_keys.append(all_keys[at : at + len(item.identifiers)])
            at += len(item.identifiers)
        found = await self.lookup.get_many(all_keys)
        now = self.clock()
        answers: list[dict[str, Any]] = []
        records: list[AccessRecord] = []
        query_ids = new_query_ids(len(items))
        for item, keys, query_id in zip(items, item_keys, query_ids, strict=True):
            subjects = [
                inquiry.subject_from_row(row) if (row := found[k]) is not None else None
                for k in keys
            ]
            result = inquiry.answer(
                [kind for kind, _ in item.identifiers],
                subjects,
                now,
                notice=notice,
                policy=self.policy,
            )
            for reason in result["reasons"]:
                reason["text"] = reason_texts[reason["code"]]
            result["query_id"] = query_id
            answers.append(result)
            records.append(
                AccessRecord(
                    at=now,
                    actor=caller.principal_id,
                    role=caller.role,
                    action="risk.query",
                    request_digest=caller.request_digest,
                    issuer=caller.principal_id,
                    jti=caller.jti,
                    subject_keys=keys,
                    purpose=item.purpose,
                    outcome=result["band"],
                    query_id=query_id,
                )
            )
        receipts = await self.access_log.append_many(records, receipt_version=receipt_version)
        for result, receipt in zip(answers, receipts, strict=True):
            result["receipt"] = receipt
        return answers


def _refusal(items: Sequence[inquiry.QueryItem], *, batch: bool) -> InvalidInput:
    """The 400 naming every broken rule of the first item that breaks one (a
    single query), or of every such item (a batch)."""
    problems = [(i, v) for i, item in enumerate(items) if (v := inquiry.validate(item))]
    if not problems:  # the one-pass check and the rules disagree: a bug, not bad input
        raise AssertionError("a query failed the one-pass check but breaks no rule")
    index, violations = problems[0]
    first = violations[0]
    extra: dict[str, Any] = {"violations": [asdict(v) for v in violations]}
    if batch:
        extra = {
            "invalid_items": [
                {"index": i, "violations": [asdict(v) for v in vs]} for i, vs in problems
            ]
        }
    where = f"queries[{index}].{first.field}" if batch else first.field
    return InvalidInput(f"{where}: {first.detail}", code=first.code, extra=extra)
