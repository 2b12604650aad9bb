"""The member SDK's HTTP client: signed requests, retries, typed answers, pseudonyms.

:class:`RegistryClient` (``httpx.Client``) is the SDK's main face;
:class:`AsyncRegistryClient` is the same over ``httpx.AsyncClient`` for members
whose back end is asynchronous. Both share everything but the I/O: each call
is a *plan* (a generator in :class:`CallCore`) that prepares the request, asks
its driver to send it or to wait before a retry, and interprets the answer.
The sync and async drivers only carry out those steps, so the two clients
cannot drift apart.

Every request carries a fresh ``rr-req+jwt``, signed over the exact method,
path-with-query and body bytes that go on the wire. A retry is a new request
with a new token: a ``jti`` is single use.

Only idempotent calls are retried: ``GET``, and the two ``POST`` routes that
are idempotent by design (``/v1/keyservice/evaluate`` evaluates the same
blinded points to the same answer; ``/v1/reports`` answers a case reference
already filed with the first report, status 200 instead of 201). They are
retried on 503 and on connection errors, with exponential backoff and jitter,
honouring ``Retry-After``. Everything else is sent once, except after a 401
``auth.replay_window`` (the replay store cannot vouch for tokens signed before
it restarted or became unreachable): the refusal came before the call took
effect, so any call is signed anew and sent again once the clock has moved to
the next second.

Pseudonyms need the key service's public key, pinned by the member: a proof
only shows that *some* key was used consistently, and comparing with the
pinned key is what makes this member's pseudonyms match every other member's.
The SDK never fetches and trusts a key by itself; :func:`fetch_keyservice_public_key`
is there for the one time a member looks it up, checks it against the key the
operator publishes, and stores it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from refund_registry.client.answers import (
    KeyServiceKeyMissing,
    RegistryApiError,
    UnexpectedAnswer,
    answer_of,
)
from refund_registry.client.calls import (
    IDEMPOTENT_POSTS,
    Plan,
    RetryPolicy,
    T,
    adrive,
    afetch_keyservice_public_key,
    drive,
    fetch_keyservice_public_key,
    is_idempotent,
)
from refund_registry.client.listings import AsyncPagedCalls, PagedCalls
from refund_registry.client.results import (
    ApiResult,
    BulkFiled,
    EventPage,
    Filed,
    Receipt,
    Retracted,
    RiskAnswer,
    RiskBatch,
)
from refund_registry.client.signing import Signer
from refund_registry.client.witnessed import ReceiptAudit, audit_receipt_plan

# --------------------------------------------------------------------------- the clients


class RegistryClient(PagedCalls):
    """A member's connection to the registry (synchronous; safe to share between threads).

    ``keyservice_public_key`` is the key service's public key (bytes or
    unpadded base64url), pinned from the operator's published configuration
    (see :func:`fetch_keyservice_public_key`). It is needed only to
    pseudonymise; without it :meth:`pseudonymise` raises
    :class:`KeyServiceKeyMissing` before any network call. ``public_key`` is
    its former name, still accepted.

    ``transport`` is passed to ``httpx.Client`` (tests, proxies, mTLS set-ups).

    ``locale`` (``"zh-CN"`` or ``"en"``) is sent as ``Accept-Language`` and
    chooses the language of the answers' texts (reasons, notice, problem titles
    and details); without it the registry answers in its default, Chinese.
    ``content_language`` of a result says which language came back.

    Typed calls return frozen results carrying the HTTP status and headers
    (``result.http``); :meth:`call` returns an :class:`ApiResult` for any
    route; :meth:`get` and :meth:`post` return just the decoded body. Every
    error answer raises :class:`RegistryApiError`.
    """

    _http: httpx.Client

    def __init__(
        self,
        base_url: str,
        signer: Signer,
        *,
        keyservice_public_key: bytes | str | None = None,
        public_key: bytes | str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        cache_size: int = 100_000,
        default_region: str = "CN",
        sleep: Callable[[float], None] = time.sleep,
        locale: str | None = None,
    ) -> None:
        super().__init__(
            signer.for_registry(base_url),
            keyservice_public_key=_one_key(keyservice_public_key, public_key),
            cache_size=cache_size,
            retry=retry,
            default_region=default_region,
            locale=locale,
        )
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        self._sleep = sleep

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, plan: Plan[T]) -> T:
        return drive(plan, self._http.send, self._sleep)

    # -- any route

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> ApiResult:
        """Send a signed request; return the status, headers and decoded body of a 2xx answer.

        Raises :class:`RegistryApiError` for any error answer, and for a
        connection failure once the retries (idempotent calls only) are spent.
        """
        return self._run(self._call_plan(method, path, body, params))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """:meth:`call`, returning only the decoded body."""
        return self._run(self._request_plan(method, path, body, params))

    def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    # -- reports

    def file_report(self, report: Mapping[str, Any]) -> Filed:
        """File one confirmed case; ``created`` is False for a case reference filed before.

        Safe to retry (the case reference is the idempotency key); a different
        body under a used case reference raises ``report.case_reference_conflict``.
        """
        return self._run(self._file_report_plan(report))

    def file_bulk(self, reports: Iterable[Mapping[str, Any]]) -> BulkFiled:
        """File up to 10,000 reports, all or nothing (``bulk.invalid_items`` names bad ones)."""
        return self._run(self._file_bulk_plan(reports))

    def report(self, report_id: str) -> ApiResult:
        """One of this member's own reports (another member's is ``report.not_found``)."""
        return self._run(self._report_plan(report_id))

    def retract(self, report_id: str, reason: str) -> Retracted:
        return self._run(self._retract_plan(report_id, reason))

    # -- risk

    def query(self, identifiers: Iterable[Mapping[str, str]], purpose: str) -> RiskAnswer:
        """Score one buyer: ``identifiers`` are ``{"kind", "pseudonym"}`` mappings."""
        return self._run(self._query_plan(identifiers, purpose))

    def query_batch(self, queries: Iterable[tuple[Iterable[Mapping[str, str]], str]]) -> RiskBatch:
        """Score up to 1,000 buyers: ``(identifiers, purpose)`` pairs, answered in order."""
        return self._run(self._query_batch_plan(queries))

    # -- events and appeals

    def events(self, after: str = "", limit: int = 100) -> EventPage:
        """A page of this member's event feed, after the cursor ``after`` ("" for the start)."""
        return self._run(self._events_plan(after, limit))

    def respond_to_appeal(
        self, appeal_id: str, action: str, summary: str | None = None
    ) -> ApiResult:
        """Answer an appeal against one of this member's reports: ``uphold`` or ``retract``."""
        return self._run(self._respond_plan(appeal_id, action, summary))

    # -- pseudonyms

    def pseudonymise(self, kind: str, value: str) -> str:
        """The buyer's pseudonym for one identifier (86 base64url characters)."""
        return self.pseudonymise_many([(kind, value)])[0]

    def pseudonymise_many(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """Pseudonyms for ``(kind, value)`` pairs, in order; one key-service call per 100 misses.

        Raises ``IdentifierRejected`` (before any network call) for a value
        that breaks a normalisation rule, :class:`KeyServiceKeyMissing` (also
        before any call) when no key service public key was pinned,
        ``ProofInvalid`` when the key service's answer does not verify against
        it, and :class:`RegistryApiError` for an error answer (429 when over quota).
        """
        return self._run(self._pseudonymise_plan(pairs))

    # -- the access log

    def audit_receipt(
        self,
        receipt: Receipt | Mapping[str, Any],
        *,
        verifier_key: str,
        witnesses: Sequence[str] = (),
        quorum: int = 0,
    ) -> ReceiptAudit:
        """Prove ``receipt``'s entry is in the latest checkpoint with ``quorum`` cosignatures.

        ``verifier_key`` is the log's, ``witnesses`` the witness keys you trust,
        both pinned out of band. Checks the receipt's signature, the log's
        signature, ``quorum`` cosignatures by ``witnesses`` and the inclusion
        proof; raises ``CheckpointError`` saying which failed. A receipt newer
        than the latest witnessed checkpoint is not in it yet
        (``RegistryApiError`` ``audit.leaf_not_in_tree``): ask again later.
        """
        return self._run(audit_receipt_plan(self, receipt, verifier_key, witnesses, quorum))


class AsyncRegistryClient(AsyncPagedCalls):
    """:class:`RegistryClient` for asyncio code; same arguments, awaitable methods."""

    _http: httpx.AsyncClient

    def __init__(
        self,
        base_url: str,
        signer: Signer,
        *,
        keyservice_public_key: bytes | str | None = None,
        public_key: bytes | str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        cache_size: int = 100_000,
        default_region: str = "CN",
        locale: str | None = None,
    ) -> None:
        super().__init__(
            signer.for_registry(base_url),
            keyservice_public_key=_one_key(keyservice_public_key, public_key),
            cache_size=cache_size,
            retry=retry,
            default_region=default_region,
            locale=locale,
        )
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def __aenter__(self) -> AsyncRegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, plan: Plan[T]) -> T:
        return await adrive(plan, self._http.send)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> ApiResult:
        """See :meth:`RegistryClient.call`."""
        return await self._run(self._call_plan(method, path, body, params))

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """See :meth:`RegistryClient.request`."""
        return await self._run(self._request_plan(method, path, body, params))

    async def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any) -> Any:
        return await self.request("POST", path, body)

    async def file_report(self, report: Mapping[str, Any]) -> Filed:
        """See :meth:`RegistryClient.file_report`."""
        return await self._run(self._file_report_plan(report))

    async def file_bulk(self, reports: Iterable[Mapping[str, Any]]) -> BulkFiled:
        return await self._run(self._file_bulk_plan(reports))

    async def report(self, report_id: str) -> ApiResult:
        return await self._run(self._report_plan(report_id))

    async def retract(self, report_id: str, reason: str) -> Retracted:
        return await self._run(self._retract_plan(report_id, reason))

    async def query(self, identifiers: Iterable[Mapping[str, str]], purpose: str) -> RiskAnswer:
        return await self._run(self._query_plan(identifiers, purpose))

    async def query_batch(
        self, queries: Iterable[tuple[Iterable[Mapping[str, str]], str]]
    ) -> RiskBatch:
        return await self._run(self._query_batch_plan(queries))

    async def events(self, after: str = "", limit: int = 100) -> EventPage:
        return await self._run(self._events_plan(after, limit))

    async def respond_to_appeal(
        self, appeal_id: str, action: str, summary: str | None = None
    ) -> ApiResult:
        return await self._run(self._respond_plan(appeal_id, action, summary))

    async def pseudonymise(self, kind: str, value: str) -> str:
        return (await self.pseudonymise_many([(kind, value)]))[0]

    async def pseudonymise_many(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """See :meth:`RegistryClient.pseudonymise_many`."""
        return await self._run(self._pseudonymise_plan(pairs))

    async def audit_receipt(
        self,
        receipt: Receipt | Mapping[str, Any],
        *,
        verifier_key: str,
        witnesses: Sequence[str] = (),
        quorum: int = 0,
    ) -> ReceiptAudit:
        """See :meth:`RegistryClient.audit_receipt`."""
        return await self._run(audit_receipt_plan(self, receipt, verifier_key, witnesses, quorum))


def _one_key(given: bytes | str | None, former: bytes | str | None) -> bytes | str | None:
    if given is not None and former is not None and given != former:
        raise ValueError("pass the key service public key once, as keyservice_public_key")
    return given if given is not None else former


__all__ = [
    "IDEMPOTENT_POSTS",
    "AsyncRegistryClient",
    "KeyServiceKeyMissing",
    "RegistryApiError",
    "RegistryClient",
    "RetryPolicy",
    "UnexpectedAnswer",
    "afetch_keyservice_public_key",
    "answer_of",
    "fetch_keyservice_public_key",
    "is_idempotent",
]
