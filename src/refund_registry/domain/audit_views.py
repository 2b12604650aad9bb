"""What the access log's readers are shown: proofs, pages of entries, and their rules.

Pure: which tree sizes a proof may name, which filters and page sizes an
auditor may ask for, how a stored entry is presented, and how the daily
summary's counts are assembled. Reading the store is ``services.audit``'s job.

**Which tree sizes a proof may name.** Any size from 1 (0 for consistency) up to
the size of the *latest checkpoint*. The registry never proves anything about a
tree head it has not signed, so a client always checks a proof against a root it
holds in a signed note. A size between two checkpoints is allowed (all its nodes
are stored) but only useful to a client that computed that root itself, as the
``audit verify`` command does when it looks for the first altered entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from refund_registry.domain.access import decode
from refund_registry.domain.audit_summary import UNSTATED, MemberDay
from refund_registry.domain.wire import b64url
from refund_registry.errors import InvalidInput, NotFound

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_SIZE = (1 << 63) - 1
"""Sizes and indices are bigint columns: the log can never grow past this."""


# --------------------------------------------------------------------------- proofs


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


def no_checkpoint() -> NotFound:
    """Before the sequencer's first pass there is no checkpoint to show or prove against."""
    return NotFound(
        "the log has no checkpoint yet; the sequencer writes one on its first pass",
        code="audit.no_checkpoint",
    )


def check_size(size: int, published: int, name: str, *, minimum: int) -> None:
    """``size`` must lie in ``[minimum, published]``; ``published`` is the latest checkpoint's."""
    if not minimum <= size <= published:
        raise InvalidInput(
            f"{name}={size} is not a tree size the log can prove: it must be between "
            f"{minimum} and {published}, the size of the latest checkpoint",
            code="audit.tree_size",
            extra={"latest_size": published},
        )


def check_leaf(logged: bool, index: int | None, size: int) -> int:
    """The index of a leaf to prove in the tree of ``size`` leaves, or why there is none.

    A leaf that was never logged, is not sequenced yet, or lies beyond ``size``
    is a 404 with a distinct code for each case, because a member holding a
    receipt needs to tell "wait" from "the registry broke its promise".
    """
    if not logged:
        raise NotFound("no entry with this leaf hash was ever logged", code="audit.leaf_not_found")
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
    return index


def check_consistency_sizes(first: int, second: int, published: int) -> None:
    """Requires ``0 ≤ first ≤ second ≤ published``, the latest checkpoint's size."""
    check_size(second, published, "second", minimum=0)
    if first > second:
        raise InvalidInput(
            f"first={first} is larger than second={second}: a log only grows",
            code="audit.consistency_sizes",
        )


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


def check_page(limit: int, filters: EntryFilter) -> None:
    """A page holds 1 to :data:`MAX_PAGE` entries, and a time range must not be empty."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", code="audit.limit")
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be earlier than until", code="audit.time_range")


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


def entry_page(rows: Iterable[tuple[int, bytes, bytes]], limit: int) -> dict[str, Any]:
    """The page document for ``(index, entry, leaf hash)`` rows fetched with ``limit``.

    ``next_after`` is the last index of a full page, and ``None`` once the page
    comes back short (nothing more matches now); to poll for later entries, pass
    the last index seen.
    """
    entries = [entry_item(index, entry, leaf_hash) for index, entry, leaf_hash in rows]
    next_after = entries[-1]["index"] if len(entries) == limit else None
    return {"entries": entries, "next_after": next_after}


# --------------------------------------------------------------------------- summary


def day_window(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of one UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def purposes_by_member(counts: Iterable[tuple[str, str | None, int]]) -> dict[str, dict[str, int]]:
    """``{member: {purpose: queries}}`` from ``(member, purpose, queries)`` counts.

    A query that stated no purpose counts under :data:`UNSTATED`.
    """
    purposes: dict[str, dict[str, int]] = {}
    for actor, purpose, queries in counts:
        purposes.setdefault(actor, {})[purpose or UNSTATED] = queries
    return purposes


def member_days(
    purposes: Mapping[str, dict[str, int]],
    spread: Mapping[str, tuple[int, int]],
    trailing: Mapping[str, int],
) -> Sequence[MemberDay]:
    """One :class:`MemberDay` per member with queries that day.

    ``spread`` maps a member to (distinct subjects, subjects named once), and
    ``trailing`` to its queries over the baseline days; both default to zero.
    """
    return [
        MemberDay(
            member=actor,
            purposes=per,
            distinct_subjects=spread.get(actor, (0, 0))[0],
            one_off_subjects=spread.get(actor, (0, 0))[1],
            trailing_queries=trailing.get(actor, 0),
        )
        for actor, per in purposes.items()
    ]
