"""Access-log routes: checkpoints, the verifier key, proofs (members, auditors), auditor views.

Query parameters are declared in the handler signatures with their bounds, and
every bad one gets a problem document with this API's codes: a parameter that
is not what it claims to be (unknown, repeated, not a number, not base64url, a
malformed time) is a 400 ``request.invalid_query``; a well-formed value the
log cannot serve (a tree size beyond the latest checkpoint or beyond any size
a log can reach, ``first`` above ``second``, an unknown action, a page size
out of bounds) is a 422 with its own code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from refund_registry.domain.access import ACTIONS
from refund_registry.domain.checkpoint import verifier_key_string
from refund_registry.errors import InvalidInput, RegistryError
from refund_registry.http.answers import (
    AuditEntries,
    AuditSummary,
    ConsistencyProof,
    InclusionProof,
    WitnessStatus,
)
from refund_registry.http.audit_params import (
    HASH_PATTERN,
    QUERY_REFUSALS,
    entry_filter,
    hash_param,
    only_known_params,
)
from refund_registry.http.common import AUDITOR, MEMBER, answer, caller_of, runtime, signed
from refund_registry.http.openapi import AUTH, COMMON, errors_for
from refund_registry.http.problems import invalid_query
from refund_registry.services import audit
from refund_registry.services.sequencer import DEFAULT_ORIGIN
from refund_registry.services.witnessing import witness_status, witnessed_note

READERS = MEMBER | AUDITOR


def _size(name: str, message: str) -> RegistryError:
    """A number too large for any log is a 422; anything else that does not parse, a 400."""
    if "<=" in message or "out of range" in message:
        return InvalidInput(
            f"{name} is beyond any size this log can reach", code="request.value_out_of_range"
        )
    return invalid_query(name, message)


def _page(name: str, message: str) -> RegistryError:
    if "<=" in message or ">=" in message:
        return InvalidInput(f"limit must be between 1 and {audit.MAX_PAGE}", code="audit.limit")
    return invalid_query(name, message)


def _text(content: str) -> Response[str]:
    return Response(
        content=content,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


def _witnessed(name: str, message: str) -> RegistryError:
    if "<=" in message or ">=" in message:
        return InvalidInput("witnessed must be between 0 and 100", code="audit.witnessed")
    return invalid_query(name, message)


@get(
    "/v1/audit/checkpoint",
    tags=["audit"],
    summary="The latest checkpoint (C2SP signed note), optionally witnessed",
    media_type="text/plain; charset=utf-8",
    responses=errors_for(
        AUTH,
        QUERY_REFUSALS,
        ("audit.no_checkpoint", "audit.witnessed", "audit.no_witnessed_checkpoint"),
        COMMON,
    ),
    **signed(READERS, query_refusals={"witnessed": _witnessed}),
)
async def checkpoint(
    request: Request[Any, Any, Any],
    witnessed: Annotated[
        int | None,
        Parameter(
            ge=0,
            le=100,
            description="the latest checkpoint with at least this many witness cosignatures, "
            "their lines appended to the note",
        ),
    ] = None,
) -> Response[str]:
    """The latest signed checkpoint as ``text/plain``; check it with the verifier key.

    With ``witnessed=k``: the latest checkpoint that at least ``k`` of the
    configured witnesses cosigned, with their cosignature lines under the log's.
    """
    rt = runtime(request)
    only_known_params(request, frozenset({"witnessed"}))
    if witnessed:
        settings = rt.settings
        return _text(await witnessed_note(rt.pool, settings.witnesses, witnessed))
    latest = await audit.require_checkpoint(rt.pool)
    return _text(latest.note)


@get(
    "/v1/audit/witnesses",
    tags=["audit"],
    summary="The witness policy and each witness's latest cosigned size",
    responses=errors_for(AUTH, QUERY_REFUSALS, COMMON),
    **signed(READERS),
)
async def witnesses(request: Request[Any, Any, Any]) -> Response[WitnessStatus]:
    """``{quorum, latest_size, witnesses: [{name, url, key, cosigned_size}]}``.

    ``cosigned_size`` is the largest checkpoint that witness has cosigned (``null``: none).
    """
    rt = runtime(request)
    only_known_params(request, frozenset())
    status = await witness_status(rt.pool, rt.settings.witnesses, rt.settings.witness_quorum)
    return answer(status, WitnessStatus)


@get(
    "/v1/audit/verifier-key",
    tags=["audit"],
    summary="The checkpoint verifier key",
    media_type="text/plain; charset=utf-8",
    responses=errors_for(QUERY_REFUSALS),
)
async def verifier_key(request: Request[Any, Any, Any]) -> Response[str]:
    """``name+hexkeyid+base64(0x01‖pubkey)``. Public, but trust the copy you got out of band."""
    rt = runtime(request)
    only_known_params(request, frozenset())
    key = rt.parts.log_key.public_key()
    return _text(verifier_key_string(DEFAULT_ORIGIN, key) + "\n")


@get(
    "/v1/audit/proof/inclusion",
    tags=["audit"],
    summary="Inclusion proof (RFC 9162 2.1.3)",
    responses=errors_for(
        AUTH,
        QUERY_REFUSALS,
        (
            "request.value_out_of_range",
            "audit.tree_size",
            "audit.leaf_not_found",
            "audit.leaf_not_sequenced",
            "audit.leaf_not_in_tree",
            "audit.no_checkpoint",
        ),
        COMMON,
    ),
    **signed(READERS, query_refusals={"tree_size": _size}),
)
async def inclusion(
    request: Request[Any, Any, Any],
    leaf_hash: Annotated[
        str,
        Parameter(
            min_length=43,
            max_length=43,
            pattern=HASH_PATTERN,
            description="the entry's leaf hash (a receipt's `leaf_hash`)",
        ),
    ],
    tree_size: Annotated[
        int | None,
        Parameter(ge=0, le=audit.MAX_SIZE, description="defaults to the latest checkpoint's"),
    ] = None,
) -> Response[InclusionProof]:
    """Proof that the entry with ``leaf_hash`` is in the tree of ``tree_size`` leaves.

    ``tree_size`` defaults to the latest checkpoint's size and may not exceed it.
    """
    rt = runtime(request)
    only_known_params(request, frozenset({"leaf_hash", "tree_size"}))
    raw = hash_param("leaf_hash", leaf_hash)
    assert raw is not None
    proof = await audit.inclusion_proof(rt.pool, raw, tree_size)
    return answer(proof.as_json(), InclusionProof)


@get(
    "/v1/audit/proof/consistency",
    tags=["audit"],
    summary="Consistency proof (RFC 9162 2.1.4)",
    responses=errors_for(
        AUTH,
        QUERY_REFUSALS,
        ("request.value_out_of_range", "audit.consistency_sizes", "audit.tree_size"),
        ("audit.no_checkpoint",),
        COMMON,
    ),
    **signed(READERS, query_refusals={"first": _size, "second": _size}),
)
async def consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, Parameter(ge=0, le=audit.MAX_SIZE, description="the older size")],
    second: Annotated[int, Parameter(ge=0, le=audit.MAX_SIZE, description="the newer size")],
) -> Response[ConsistencyProof]:
    """Proof that the tree of ``second`` leaves extends the tree of ``first`` leaves.

    ``0 ≤ first ≤ second ≤`` the latest checkpoint's size.
    """
    rt = runtime(request)
    only_known_params(request, frozenset({"first", "second"}))
    proof = await audit.consistency_proof(rt.pool, first, second)
    return answer(proof.as_json(), ConsistencyProof)


_ENTRY_PARAMS = frozenset(
    {"after", "limit", "member", "subject_key", "action", "purpose", "since", "until"}
)


@get(
    "/v1/audit/entries",
    tags=["audit"],
    summary="Sequenced access-log entries, by index",
    responses=errors_for(
        AUTH,
        QUERY_REFUSALS,
        ("request.value_out_of_range", "audit.limit", "audit.action", "audit.time_range"),
        COMMON,
    ),
    **signed(AUDITOR, query_refusals={"after": _size, "limit": _page}),
)
async def entries(
    request: Request[Any, Any, Any],
    after: Annotated[
        int | None,
        Parameter(ge=0, le=audit.MAX_SIZE, description="entries with a higher index"),
    ] = None,
    limit: Annotated[
        int | None, Parameter(ge=1, le=audit.MAX_PAGE, description="entries per page")
    ] = None,
    member: Annotated[
        str | None, Parameter(min_length=1, max_length=200, description="a member's id")
    ] = None,
    subject_key: Annotated[
        str | None,
        Parameter(
            min_length=43,
            max_length=43,
            pattern=HASH_PATTERN,
            description="a subject key (32 bytes, unpadded base64url), matched while "
            "its salt is retained",
        ),
    ] = None,
    action: Annotated[
        str | None,
        Parameter(min_length=1, max_length=200, description=", ".join(sorted(ACTIONS))),
    ] = None,
    purpose: Annotated[
        str | None, Parameter(min_length=1, max_length=200, description="a query purpose")
    ] = None,
    since: Annotated[datetime | None, Parameter(description="inclusive, with a UTC offset")] = None,
    until: Annotated[datetime | None, Parameter(description="exclusive, with a UTC offset")] = None,
) -> Response[AuditEntries]:
    """Entries with index above ``after``, filtered; each with its exact ``leaf`` bytes.

    ``subject_key`` is a subject key in unpadded base64url, matched through the
    salted commitments while their salts are retained. ``until`` is exclusive.
    This read is itself logged (action ``audit.read``); its receipt is attached.
    """
    caller = caller_of(request)
    rt = runtime(request)
    only_known_params(request, _ENTRY_PARAMS)
    filters = entry_filter(
        member=member, subject_key=subject_key, action=action, purpose=purpose,
        since=since, until=until,
    )  # fmt: skip
    page = await audit.list_entries(
        rt.reader,
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
    return answer(page, AuditEntries)


@get(
    "/v1/audit/summary",
    tags=["audit"],
    summary="Per-member query volumes and anomalies",
    responses=errors_for(AUTH, QUERY_REFUSALS, COMMON),
    **signed(AUDITOR),
)
async def summary(
    request: Request[Any, Any, Any],
    day: Annotated[date, Parameter(description="a UTC day, YYYY-MM-DD")],
) -> Response[AuditSummary]:
    """For one UTC ``day``: per member, queries, distinct subjects, purpose shares, anomalies.

    This read is itself logged (action ``audit.read``); its receipt is attached.
    """
    caller = caller_of(request)
    rt = runtime(request)
    only_known_params(request, frozenset({"day"}))
    document = await audit.day_summary(rt.reader, day)
    document["receipt"] = await audit.record_read(
        rt.access_log, caller, "summary", at=datetime.now(UTC), detail={"day": day.isoformat()}
    )
    return answer(document, AuditSummary)


ROUTES = [checkpoint, witnesses, verifier_key, inclusion, consistency, entries, summary]
