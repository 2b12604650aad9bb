"""The paged listings in the SDK: the appeal work queue and the member's own reports.

One page at a time (:meth:`PagedCalls.appeal_queue`, :meth:`PagedCalls.reports`)
or every item from a starting point on (``iter_appeal_queue``,
``iter_reports``: they follow ``next_after`` page by page, fetching the next
page only when the items of the last one are used up). Cursors are opaque:
the registry refuses one used for another listing, other filters or another
principal (``page.cursor``), so an iterator always sends the filters it
started with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from refund_registry.client.answers import _convert
from refund_registry.client.calls import CallCore, Plan, T
from refund_registry.client.results import (
    ApiResult,
    AppealQueuePage,
    ListedReport,
    QueuedAppeal,
    ReportPage,
)

DEFAULT_PAGE = 50
"""Items per page when ``limit`` is left out (the registry takes 1 to 200)."""


def _appeal_page(result: ApiResult) -> AppealQueuePage:
    return _convert(result, AppealQueuePage, http=result)


def _report_page(result: ApiResult) -> ReportPage:
    return _convert(result, ReportPage, http=result)


def _params(after: str | None, limit: int, **filters: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {k: v for k, v in filters.items() if v is not None}
    if after is not None:
        params["after"] = after
    params["limit"] = limit
    return params


def _time(value: datetime | str | None) -> str | None:
    """A time filter as sent: RFC 3339 with its UTC offset (a naive datetime is refused)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("due_before must be timezone-aware")
        return value.isoformat()
    return value


class _ListingPlans(CallCore):
    """The plans both clients carry out for the listings."""

    def _queue_plan(
        self,
        state: str | None,
        due_before: datetime | str | None,
        after: str | None,
        limit: int,
    ) -> Plan[AppealQueuePage]:
        params = _params(after, limit, state=state, due_before=_time(due_before))
        return self._plan(self._prepare("GET", "/v1/appeals", params=params), _appeal_page)

    def _reports_plan(self, status: str | None, after: str | None, limit: int) -> Plan[ReportPage]:
        params = _params(after, limit, status=status)
        return self._plan(self._prepare("GET", "/v1/reports", params=params), _report_page)


class PagedCalls(_ListingPlans):
    """The listing calls of :class:`~refund_registry.client.RegistryClient`."""

    if TYPE_CHECKING:  # each client runs plans its own way

        def _run(self, plan: Plan[T]) -> T: ...

    def appeal_queue(
        self,
        *,
        state: str | None = None,
        due_before: datetime | str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> AppealQueuePage:
        """One page of the work queue: the appeals on this member's reports (an
        adjudicator: every appeal), soonest current deadline first, then closed ones.

        ``state`` keeps appeals in that state; ``due_before`` (aware
        ``datetime`` or RFC 3339 text) keeps open appeals due before it.
        """
        return self._run(self._queue_plan(state, due_before, after, limit))

    def iter_appeal_queue(
        self,
        *,
        state: str | None = None,
        due_before: datetime | str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Iterator[QueuedAppeal]:
        """Every appeal of the queue from ``after`` on, following ``next_after``."""
        while True:
            page = self.appeal_queue(state=state, due_before=due_before, after=after, limit=limit)
            yield from page.appeals
            if page.next_after is None:
                return
            after = page.next_after

    def reports(
        self, *, status: str | None = None, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> ReportPage:
        """One page of this member's own reports, newest filing first."""
        return self._run(self._reports_plan(status, after, limit))

    def iter_reports(
        self, *, status: str | None = None, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> Iterator[ListedReport]:
        """Every one of this member's reports from ``after`` on, following ``next_after``."""
        while True:
            page = self.reports(status=status, after=after, limit=limit)
            yield from page.reports
            if page.next_after is None:
                return
            after = page.next_after


class AsyncPagedCalls(_ListingPlans):
    """:class:`PagedCalls` for :class:`~refund_registry.client.AsyncRegistryClient`."""

    if TYPE_CHECKING:  # each client runs plans its own way

        async def _run(self, plan: Plan[T]) -> T: ...

    async def appeal_queue(
        self,
        *,
        state: str | None = None,
        due_before: datetime | str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> AppealQueuePage:
        """See :meth:`PagedCalls.appeal_queue`."""
        return await self._run(self._queue_plan(state, due_before, after, limit))

    async def iter_appeal_queue(
        self,
        *,
        state: str | None = None,
        due_before: datetime | str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> AsyncIterator[QueuedAppeal]:
        """See :meth:`PagedCalls.iter_appeal_queue`."""
        while True:
            page = await self.appeal_queue(
                state=state, due_before=due_before, after=after, limit=limit
            )
            for item in page.appeals:
                yield item
            if page.next_after is None:
                return
            after = page.next_after

    async def reports(
        self, *, status: str | None = None, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> ReportPage:
        """See :meth:`PagedCalls.reports`."""
        return await self._run(self._reports_plan(status, after, limit))

    async def iter_reports(
        self, *, status: str | None = None, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> AsyncIterator[ListedReport]:
        """See :meth:`PagedCalls.iter_reports`."""
        while True:
            page = await self.reports(status=status, after=after, limit=limit)
            for item in page.reports:
                yield item
            if page.next_after is None:
                return
            after = page.next_after
