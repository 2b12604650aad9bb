"""The access log's read side: checkpoints, proofs, entries and the auditors' daily summary.

Everything here reads tables the sequencer (``services/sequencer.py``) only ever
appends to, so no read needs a transaction: a stored node never changes, and a
checkpoint is written only after every node under it has committed. Which tree
sizes a proof may name, and every other rule on what a reader may ask for, are
in :mod:`refund_registry.domain.audit_views`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from refund_registry.domain import merkle
from refund_registry.domain.access import AccessRecord
from refund_registry.domain.audit_summary import DEFAULT_SUMMARY_POLICY, SummaryPolicy, summarize
from refund_registry.domain.audit_views import (
    DEFAULT_PAGE,
    MAX_PAGE,
    MAX_SIZE,
    ConsistencyProof,
    EntryFilter,
    InclusionProof,
    check_consistency_sizes,
    check_leaf,
    check_page,
    check_size,
    day_window,
    entry_item,
    entry_page,
    member_days,
    no_checkpoint,
    node_source,
    purposes_by_member,
)
from refund_registry.services.authn import Caller
from refund_registry.storage import accesslog, tree
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.tree import Reader, StoredCheckpoint, latest_checkpoint

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "MAX_SIZE",
    "SUBJECT_LINK_RETENTION",
    "ConsistencyProof",
    "EntryFilter",
    "InclusionProof",
    "StoredCheckpoint",
    "consistency_proof",
    "day_summary",
    "entry_item",
    "expire_subject_links",
    "inclusion_proof",
    "latest_checkpoint",
    "list_entries",
    "record_read",
    "require_checkpoint",
]


# --------------------------------------------------------------------------- checkpoints


async def require_checkpoint(db: Reader) -> StoredCheckpoint:
    """The latest checkpoint; before the sequencer's first pass there is none (a 404)."""
    latest = await latest_checkpoint(db)
    if latest is None:
        raise no_checkpoint()
    return latest


# --------------------------------------------------------------------------- proofs


async def inclusion_proof(pool: Reader, leaf_hash: bytes, tree_size: int | None) -> InclusionProof:
    """The RFC 9162 inclusion proof of the entry with this leaf hash.

    ``tree_size`` defaults to the latest checkpoint's size and may not exceed
    it. A leaf that was never logged, is not sequenced yet, or lies beyond
    ``tree_size`` is a 404 with a distinct code for each case (see
    :func:`~refund_registry.domain.audit_views.check_leaf`).
    """
    latest = await require_checkpoint(pool)
    size = latest.size if tree_size is None else tree_size
    check_size(size, latest.size, "tree_size", minimum=1)
    found_leaf = await tree.find_leaf(pool, leaf_hash)
    index = check_leaf(
        found_leaf is not None, None if found_leaf is None else found_leaf.index, size
    )
    plan = merkle.inclusion_plan(index, size)
    found = await tree.fetch_nodes(pool, plan.node_ids())
    return InclusionProof(index, size, plan.build(node_source(found)))


async def consistency_proof(pool: Reader, first: int, second: int) -> ConsistencyProof:
    """The RFC 9162 consistency proof from tree size ``first`` to ``second``.

    Requires ``0 ≤ first ≤ second ≤`` the latest checkpoint's size; the trivial
    cases (``first`` 0 or equal sizes) have an empty proof, see ``merkle``.
    """
    latest = await require_checkpoint(pool)
    check_consistency_sizes(first, second, latest.size)
    plan = merkle.consistency_plan(first, second)
    found = await tree.fetch_nodes(pool, plan.node_ids())
    return ConsistencyProof(first, second, plan.build(node_source(found)))


# --------------------------------------------------------------------------- entries


async def list_entries(
    pool: Reader, *, after: int | None, limit: int, filters: EntryFilter
) -> dict[str, Any]:
    """One page of sequenced entries with index above ``after``, in index order.

    ``next_after`` is the last index of a full page, and ``None`` once the page
    comes back short (nothing more matches now); to poll for later entries, pass
    the last index seen.
    """
    check_page(limit, filters)
    rows = await accesslog.sequenced_entries(
        pool, after=-1 if after is None else after, filters=filters, limit=limit
    )
    return entry_page(rows, limit)


async def record_read(
    access_log: AccessLog,
    caller: Caller,
    view: str,
    *,
    at: datetime,
    subject_key: bytes | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Log an auditor's read as an ``audit.read`` entry, durably; return its receipt.

    Auditors see which members looked whom up; who watched the watchers is in
    the same log, under the same proofs.
    """
    record = AccessRecord(
        at=at,
        actor=caller.principal_id,
        role=caller.role,
        action="audit.read",
        request_digest=caller.request_digest,
        issuer=caller.principal_id,
        jti=caller.jti,
        subject_keys=(subject_key,) if subject_key is not None else (),
        detail={"view": view, **(detail or {})},
    )
    return await access_log.append(record)


# --------------------------------------------------------------------------- retention

SUBJECT_LINK_RETENTION = timedelta(days=365)
"""How long an entry stays linkable to its buyers: as long as the buyer's record lists it."""


async def expire_subject_links(
    pool: Reader,
    now: datetime,
    *,
    retention: timedelta = SUBJECT_LINK_RETENTION,
    batch: int = 10_000,
) -> int:
    """Delete the salts (and subject keys) of entries older than ``retention``; return how many.

    The log itself is untouched: every entry, hash, proof and checkpoint stays
    valid, but an expired entry's commitments no longer lead to anybody. Safe
    to run from several workers at once (each batch deletes what still exists).
    """
    cutoff = now - retention
    total = 0
    while True:
        deleted = await accesslog.delete_subject_links(pool, before=cutoff, limit=batch)
        total += deleted
        if deleted < batch:
            return total


# --------------------------------------------------------------------------- summary


async def day_summary(
    pool: Reader, day: date, policy: SummaryPolicy = DEFAULT_SUMMARY_POLICY
) -> dict[str, Any]:
    """Per member, the looks of one UTC day: volume, spread, purposes, anomalies.

    A look is a risk query or a read of a buyer's record in a session the
    member handed over; both count alike (``domain.audit_summary``).

    Counts come from every logged entry, sequenced or not, so today's figures
    are current. Distinct subjects come from the salted subject links: for a day
    whose salts retention has already deleted, they read as zero.
    """
    start, end = day_window(day)
    purposes = purposes_by_member(await accesslog.query_counts(pool, start=start, end=end))
    if not purposes:
        return summarize(day, [], policy)
    spread = await accesslog.subject_spread(pool, start=start, end=end)
    trailing = await accesslog.query_totals(
        pool, start=start - timedelta(days=policy.baseline_days), end=start
    )
    return summarize(day, member_days(purposes, spread, trailing), policy)
