"""The access log's read side: checkpoints, proofs, entries and the auditors' daily summary.

Everything here reads tables the sequencer (``services/sequencer.py``) only ever
appends to, so no read needs a transaction: a stored node never changes, and a
checkpoint is written only after every node under it has committed.

**Which tree sizes a proof may name.** Any size from 1 (0 for consistency) up to
the size of the *latest checkpoint*. The registry never proves anything about a
tree head it has not signed, so a client always checks a proof against a root it
holds in a signed note. A size between two checkpoints is allowed (all its nodes
are stored) but only useful to a client that computed that root itself, as the
``audit verify`` command does when it looks for the first altered entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from refund_registry.domain import merkle
from refund_registry.domain.access import AccessRecord, decode
from refund_registry.domain.audit_summary import (
    DEFAULT_SUMMARY_POLICY,
    UNSTATED,
    MemberDay,
    SummaryPolicy,
    summarize,
)
from refund_registry.domain.wire import b64url
from refund_registry.errors import InvalidInput, NotFound
from refund_registry.services.authn import Caller
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Reader = asyncpg.Pool | Conn

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_SIZE = (1 << 63) - 1
"""Sizes and indices are bigint columns: the log can never grow past this."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A row of ``checkpoints``: the signed note and the tree head it states."""

    size: int
    root: bytes
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: list[bytes]

    def as_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "hashes": [b64url(h) for h in self.hashes],
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[bytes]

    def as_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "hashes": [b64url(h) for h in self.hashes],
        }


# --------------------------------------------------------------------------- nodes


@translating
async def fetch_nodes(db: Reader, ids: Iterable[merkle.NodeID]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these complete subtrees, in one round trip.

    A coordinate that is not stored is simply absent from the result.
    """
    wanted = list(ids)
    rows = await db.fetch(Q["audit_nodes"], [n.level for n in wanted], [n.index for n in wanted])
    return {(row["level"], row["idx"]): row["hash"] for row in rows}


def node_source(found: dict[tuple[int, int], bytes]) -> Callable[[int, int], bytes]:
    """A ``get_node`` for :meth:`merkle.ProofPlan.build` over nodes already fetched.

    A missing node below a signed tree size means the store is damaged: that is
    the registry's fault, never the caller's, so it is a plain error (a 500), not
    a problem document blaming the request.
    """

    def get(level: int, index: int) -> bytes:
        try:
            return found[level, index]
        except KeyError:
            raise RuntimeError(
                f"the access log store lacks node (level={level}, index={index})"
            ) from None

    return get


# --------------------------------------------------------------------------- checkpoints


@translating
async def latest_checkpoint(db: Reader) -> StoredCheckpoint | None:
    row = await db.fetchrow(Q["audit_latest_checkpoint"])
    if row is None:
        return None
    return StoredCheckpoint(row["size"], row["root"], row["note"], row["at"])


@translating
async def require_checkpoint(db: Reader) -> StoredCheckpoint:
    """The latest checkpoint; before the sequencer's first pass there is none (a 404)."""
    latest = await latest_checkpoint(db)
    if latest is None:
        raise NotFound(
            "the log has no checkpoint yet; the sequencer writes one on its first pass",
            code="audit.no_checkpoint",
        )
    return latest


def _check_size(size: int, published: int, name: str, *, minimum: int) -> None:
    if not minimum <= size <= published:
        raise InvalidInput(
            f"{name}={size} is not a tree size the log can prove: it must be between "
            f"{minimum} and {published}, the size of the latest checkpoint",
            code="audit.tree_size",
            extra={"latest_size": published},
        )


# --------------------------------------------------------------------------- proofs


@translating
async def inclusion_proof(pool: Reader, leaf_hash: bytes, tree_size: int | None) -> InclusionProof:
    """The RFC 9162 inclusion proof of the entry with this leaf hash.

    ``tree_size`` defaults to the latest checkpoint's size and may not exceed
    it. A leaf that was never logged, is not sequenced yet, or lies beyond
    ``tree_size`` is a 404 with a distinct code for each case, because a member
    holding a receipt needs to tell "wait" from "the registry broke its promise".
    """
    latest = await require_checkpoint(pool)
    size = latest.size if tree_size is None else tree_size
    _check_size(size, latest.size, "tree_size", minimum=1)
    row = await pool.fetchrow(Q["audit_leaf_index"], leaf_hash)
    if row is None:
        raise NotFound("no entry with this leaf hash was ever logged", code="audit.leaf_not_found")
    index: int | None = row["idx"]
    if index is None:
        raise NotFound(
            "the entry is logged but not sequenced yet; it will be within the maximum "
            "merge delay (60 seconds) of its receipt's time",
            code="audit.leaf_not_sequenced",
        )
    if index >= size:
        raise NotFound(
            f"the entry has index {index}, outside the tree of size {size}; "
            "ask again with a later checkpoint's size",
            code="audit.leaf_not_in_tree",
            extra={"leaf_index": index},
        )
    plan = merkle.inclusion_plan(index, size)
    found = await fetch_nodes(pool, plan.node_ids())
    return InclusionProof(index, size, plan.build(node_source(found)))


@translating
async def consistency_proof(pool: Reader, first: int, second: int) -> ConsistencyProof:
    """The RFC 9162 consistency proof from tree size ``first`` to ``second``.

    Requires ``0 ≤ first ≤ second ≤`` the latest checkpoint's size; the trivial
    cases (``first`` 0 or equal sizes) have an empty proof, see ``merkle``.
    """
    latest = await require_checkpoint(pool)
    _check_size(second, latest.size, "second", minimum=0)
    if first > second:
        raise InvalidInput(
            f"first={first} is larger than second={second}: a log only grows",
            code="audit.consistency_sizes",
        )
    plan = merkle.consistency_plan(first, second)
    found = await fetch_nodes(pool, plan.node_ids())
    return ConsistencyProof(first, second, plan.build(node_source(found)))


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """The auditor's filters; ``None`` matches anything. ``until`` is exclusive."""

    member: str | None = None
    subject_key: bytes | None = None
    action: str | None = None
    purpose: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def described(self) -> dict[str, Any]:
        """The filters as an ``audit.read`` entry records them.

        The subject key is left out on purpose: an entry names subjects only
        through salted commitments, and the reading entry commits to it that way.
        """
        out: dict[str, Any] = {}
        for name in ("member", "action", "purpose"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                out[name] = moment.astimezone(UTC).isoformat()
        if self.subject_key is not None:
            out["subject"] = True
        return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_10000_MICROS = 253_402_300_800_000_000


def entry_item(index: int, entry: bytes, leaf_hash: bytes) -> dict[str, Any]:
    """One item of ``GET /v1/audit/entries``: the exact leaf bytes, then their fields.

    The decoded fields are a convenience; only ``leaf`` is hashed. Bytes that do
    not decode to an object (which would mean the store was altered) are still
    served as they are, so that a verifier sees exactly what is stored.
    """
    item: dict[str, Any] = {"index": index, "leaf": b64url(entry), "leaf_hash": b64url(leaf_hash)}
    try:
        fields = decode(entry)
    except ValueError:  # msgspec.DecodeError is a ValueError
        return item
    if isinstance(fields, dict):
        for name, value in fields.items():
            item.setdefault(name, value)
        at = fields.get("at")
        if isinstance(at, int) and 0 <= at < _YEAR_10000_MICROS:  # beyond: no datetime
            logged = _EPOCH + timedelta(microseconds=at)
            item.setdefault("logged_at", logged.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return item


@translating
async def list_entries(
    pool: Reader, *, after: int | None, limit: int, filters: EntryFilter
) -> dict[str, Any]:
    """One page of sequenced entries with index above ``after``, in index order.

    ``next_after`` is the last index of a full page, and ``None`` once the page
    comes back short (nothing more matches now); to poll for later entries, pass
    the last index seen.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="audit.limit")
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be earlier than until", code="audit.time_range")
    rows = await pool.fetch(
        Q["audit_entries"],
        -1 if after is None else after,
        filters.member,
        filters.action,
        filters.purpose,
        filters.since,
        filters.until,
        filters.subject_key,
        limit,
    )
    entries = [entry_item(r["idx"], r["entry"], r["leaf_hash"]) for r in rows]
    next_after = entries[-1]["index"] if len(entries) == limit else None
    return {"entries": entries, "next_after": next_after}


@translating
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
        subject_keys=(subject_key,) if subject_key is not None else (),
        detail={"view": view, **(detail or {})},
    )
    return await access_log.append(record)


# --------------------------------------------------------------------------- retention

SUBJECT_LINK_RETENTION = timedelta(days=365)
"""How long an entry stays linkable to its buyers: as long as the buyer's record lists it."""


@translating
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
        status = await pool.execute(Q["audit_expire_subject_links"], cutoff, batch)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < batch:
            return total


# --------------------------------------------------------------------------- summary


@translating
async def day_summary(
    pool: Reader, day: date, policy: SummaryPolicy = DEFAULT_SUMMARY_POLICY
) -> dict[str, Any]:
    """Per member, the risk queries of one UTC day: volume, spread, purposes, anomalies.

    Counts come from every logged entry, sequenced or not, so today's figures
    are current. Distinct subjects come from ``access_subjects``: for a day
    whose salts retention has already deleted, they read as zero.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    counts = await pool.fetch(Q["audit_query_counts"], start, end)
    purposes: dict[str, dict[str, int]] = {}
    for row in counts:
        per = purposes.setdefault(row["actor"], {})
        per[row["purpose"] or UNSTATED] = row["queries"]
    if not purposes:
        return summarize(day, [], policy)
    spread = {
        row["actor"]: (row["distinct_subjects"], row["one_off_subjects"])
        for row in await pool.fetch(Q["audit_subject_spread"], start, end)
    }
    trailing = {
        row["actor"]: row["queries"]
        for row in await pool.fetch(
            Q["audit_query_totals"], start - timedelta(days=policy.baseline_days), start
        )
    }
    members = [
        MemberDay(
            member=actor,
            purposes=per,
            distinct_subjects=spread.get(actor, (0, 0))[0],
            one_off_subjects=spread.get(actor, (0, 0))[1],
            trailing_queries=trailing.get(actor, 0),
        )
        for actor, per in purposes.items()
    ]
    return summarize(day, members, policy)
