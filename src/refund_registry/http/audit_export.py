"""``GET /v1/audit/entries.csv``: the auditor's filtered view of the access log as a CSV file.

The same filters and refusals as ``GET /v1/audit/entries`` (``http/audit.py``),
without paging: every sequenced entry that matches, streamed in index order a
page of the store at a time, so the answer's size does not bound memory. The
cells are made safe to open in a spreadsheet, and the file is named after the
filters (``domain/audit_console.py``). The export is itself logged as an
``audit.read`` entry before the first byte is sent; its receipt travels in the
``Registry-Receipt`` header, as JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from refund_registry.domain.access import ACTIONS
from refund_registry.domain.audit_console import export_filename
from refund_registry.errors import InvalidInput
from refund_registry.http.audit_params import (
    HASH_PATTERN,
    QUERY_REFUSALS,
    entry_filter,
    only_known_params,
)
from refund_registry.http.common import AUDITOR, caller_of, runtime, signed
from refund_registry.http.openapi import AUTH, COMMON, errors_for
from refund_registry.services import audit, audit_console

_PARAMS = frozenset({"member", "subject_key", "action", "purpose", "since", "until"})


@get(
    "/v1/audit/entries.csv",
    tags=["audit"],
    summary="Access-log entries matching the filters, as CSV",
    media_type="text/csv; charset=utf-8",
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type="text/csv; charset=utf-8",
            generate_examples=False,
            description="The matching entries, one CSV row each, with a header row; the "
            "export's receipt is in the Registry-Receipt header",
        ),
        **errors_for(AUTH, QUERY_REFUSALS, ("audit.action", "audit.time_range"), COMMON),
    },
    **signed(AUDITOR),
)
async def entries_csv(
    request: Request[Any, Any, Any],
    member: Annotated[
        str | None, Parameter(min_length=1, max_length=200, description="a member's id")
    ] = None,
    subject_key: Annotated[
        str | None,
        Parameter(
            min_length=43,
            max_length=43,
            pattern=HASH_PATTERN,
            description="a subject key, matched while its salt is retained",
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
) -> Stream:
    """Every sequenced entry that matches, one CSV row each, in index order.

    Columns: ``index, logged_at, actor, role, action, purpose, outcome,
    query_id, request, subjects, detail, leaf_hash``. A text cell that a
    spreadsheet would evaluate (starting with ``= + - @ | %``, a tab or a line
    break) starts with an apostrophe. The file name names the filters.
    """
    caller = caller_of(request)
    rt = runtime(request)
    only_known_params(request, _PARAMS)
    filters = entry_filter(
        member=member, subject_key=subject_key, action=action, purpose=purpose,
        since=since, until=until,
    )  # fmt: skip
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be earlier than until", code="audit.time_range")
    receipt = await audit.record_read(
        rt.access_log,
        caller,
        "entries.csv",
        at=datetime.now(UTC),
        subject_key=filters.subject_key,
        detail={"filters": filters.described()},
    )

    async def body() -> AsyncIterator[bytes]:
        async for text in audit_console.export_csv(rt.pool, filters):
            yield text.encode()

    return Stream(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(filters)}"',
            "Registry-Receipt": json.dumps(receipt, separators=(",", ":")),
            "Cache-Control": "no-store",
        },
    )


ROUTES = [entries_csv]
