"""Access-log routes: checkpoints, the verifier key, proofs (members, auditors), auditor views.

Query parameters are parsed here by hand rather than by the framework, so that
every bad one gets a problem document with this API's codes: a parameter that
is not what it claims to be (unknown, repeated, not a number, not base64url, a
malformed time) is a 400 ``request.invalid_query``; a well-formed value the
log cannot serve (a tree size beyond the latest checkpoint, ``first`` above
``second``, an unknown action) is a 422 with an ``audit.*`` code.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from litestar import Request, Response, get

from refund_registry.domain.access import ACTIONS
from refund_registry.domain.checkpoint import verifier_key_string
from refund_registry.domain.reports import b64url_decode
from refund_registry.errors import InvalidInput, MalformedBody
from refund_registry.http.common import AUDITOR, MEMBER, authenticate, json_response, runtime
from refund_registry.services import audit
from refund_registry.services.sequencer import DEFAULT_ORIGIN

READERS = MEMBER | AUDITOR
_DECIMAL = re.compile(r"[0-9]{1,20}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_TEXT = 200


def _malformed(detail: str) -> MalformedBody:
    return MalformedBody(detail, code="request.invalid_query")


class _Query:
    """The query string of one request: known names only, each at most once."""

    def __init__(self, request: Request[Any, Any, Any], allowed: frozenset[str]) -> None:
        self.values: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            if name not in allowed:
                takes = ", ".join(sorted(allowed)) or "no parameters"
                raise _malformed(f"unknown query parameter {name!r}; this route takes {takes}")
            if name in self.values:
                raise _malformed(f"query parameter {name!r} is given more than once")
            self.values[name] = value

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is not None and not 1 <= len(value) <= _MAX_TEXT:
            raise _malformed(f"{name} must be 1 to {_MAX_TEXT} characters")
        return value

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not _DECIMAL.fullmatch(value):
            raise _malformed(f"{name} must be a non-negative decimal integer, got {value!r}")
        number = int(value)
        if number > audit.MAX_SIZE:
            raise InvalidInput(
                f"{name}={value} is beyond any size this log can reach",
                code="request.value_out_of_range",
            )
        return number

    def required_integer(self, name: str) -> int:
        number = self.integer(name)
        if number is None:
            raise _malformed(f"the query parameter {name} is required")
        return number

    def hash(self, name: str) -> bytes | None:
        value = self.values.get(name)
        if value is None:
            return None
        raw = b64url_decode(value)
        if raw is None or len(raw) != 32:
            raise _malformed(f"{name} must be 32 bytes in unpadded base64url (43 characters)")
        return raw

    def time(self, name: str) -> datetime | None:
        value = self.values.get(name)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or moment.year < 1970:
            raise _malformed(f"{name} must be an ISO 8601 time with a UTC offset, got {value!r}")
        return moment

    def day(self, name: str) -> date:
        value = self.values.get(name)
        if value is None:
            raise _malformed(f"the query parameter {name} (YYYY-MM-DD) is required")
        try:
            if not _DAY.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise _malformed(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def _text(content: str) -> Response[bytes]:
    return Response(
        content=content.encode("utf-8"),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@get("/v1/audit/checkpoint", tags=["audit"], summary="The latest checkpoint (C2SP signed note)")
async def checkpoint(request: Request[Any, Any, Any]) -> Any:
    """The latest signed checkpoint as ``text/plain``; check it with the verifier key."""
    await authenticate(request, READERS)
    _Query(request, frozenset())
    latest = await audit.require_checkpoint(runtime(request).pool)
    return _text(latest.note)


@get("/v1/audit/verifier-key", tags=["audit"], summary="The checkpoint verifier key")
async def verifier_key(request: Request[Any, Any, Any]) -> Any:
    """``name+hexkeyid+base64(0x01‖pubkey)``. Public, but trust the copy you got out of band."""
    _Query(request, frozenset())
    key = runtime(request).parts.log_key.public_key()
    return _text(verifier_key_string(DEFAULT_ORIGIN, key) + "\n")


@get("/v1/audit/proof/inclusion", tags=["audit"], summary="Inclusion proof (RFC 9162 2.1.3)")
async def inclusion(request: Request[Any, Any, Any]) -> Any:
    """Proof that the entry with ``leaf_hash`` is in the tree of ``tree_size`` leaves.

    ``tree_size`` defaults to the latest checkpoint's size and may not exceed it.
    """
    await authenticate(request, READERS)
    query = _Query(request, frozenset({"leaf_hash", "tree_size"}))
    leaf_hash = query.hash("leaf_hash")
    if leaf_hash is None:
        raise _malformed("the query parameter leaf_hash is required")
    proof = await audit.inclusion_proof(
        runtime(request).pool, leaf_hash, query.integer("tree_size")
    )
    return json_response(proof.as_json())


@get("/v1/audit/proof/consistency", tags=["audit"], summary="Consistency proof (RFC 9162 2.1.4)")
async def consistency(request: Request[Any, Any, Any]) -> Any:
    """Proof that the tree of ``second`` leaves extends the tree of ``first`` leaves.

    ``0 ≤ first ≤ second ≤`` the latest checkpoint's size.
    """
    await authenticate(request, READERS)
    query = _Query(request, frozenset({"first", "second"}))
    first, second = query.required_integer("first"), query.required_integer("second")
    proof = await audit.consistency_proof(runtime(request).pool, first, second)
    return json_response(proof.as_json())


_ENTRY_PARAMS = frozenset(
    {"after", "limit", "member", "subject_key", "action", "purpose", "since", "until"}
)


@get("/v1/audit/entries", tags=["audit"], summary="Sequenced access-log entries, by index")
async def entries(request: Request[Any, Any, Any]) -> Any:
    """Entries with index above ``after``, filtered; each with its exact ``leaf`` bytes.

    ``subject_key`` is a subject key in unpadded base64url, matched through the
    salted commitments while their salts are retained. ``until`` is exclusive.
    This read is itself logged (action ``audit.read``); its receipt is attached.
    """
    caller, _ = await authenticate(request, AUDITOR)
    query = _Query(request, _ENTRY_PARAMS)
    action = query.text("action")
    if action is not None and action not in ACTIONS:
        raise InvalidInput(
            f"action must be one of {', '.join(sorted(ACTIONS))}", code="audit.action"
        )
    filters = audit.EntryFilter(
        member=query.text("member"),
        subject_key=query.hash("subject_key"),
        action=action,
        purpose=query.text("purpose"),
        since=query.time("since"),
        until=query.time("until"),
    )
    after = query.integer("after")
    limit = query.integer("limit")
    rt = runtime(request)
    page = await audit.list_entries(
        rt.pool,
        after=after,
        limit=audit.DEFAULT_PAGE if limit is None else limit,
        filters=filters,
    )
    page["receipt"] = await audit.record_read(
        rt.access_log,
        caller,
        "entries",
        at=datetime.now(UTC),
        subject_key=filters.subject_key,
        detail={"filters": filters.described(), "after": after},
    )
    return json_response(page)


@get("/v1/audit/summary", tags=["audit"], summary="Per-member query volumes and anomalies")
async def summary(request: Request[Any, Any, Any]) -> Any:
    """For one UTC ``day``: per member, queries, distinct subjects, purpose shares, anomalies.

    This read is itself logged (action ``audit.read``); its receipt is attached.
    """
    caller, _ = await authenticate(request, AUDITOR)
    day = _Query(request, frozenset({"day"})).day("day")
    rt = runtime(request)
    document = await audit.day_summary(rt.pool, day)
    document["receipt"] = await audit.record_read(
        rt.access_log, caller, "summary", at=datetime.now(UTC), detail={"day": day.isoformat()}
    )
    return json_response(document)


ROUTES = [checkpoint, verifier_key, inclusion, consistency, entries, summary]
