"""The member SDK's HTTP client: signed requests, retries, typed answers, pseudonyms.

:class:`RegistryClient` (``httpx.Client``) is the SDK's main face;
:class:`AsyncRegistryClient` is the same over ``httpx.AsyncClient`` for members
whose back end is asynchronous. Both share everything but the I/O: each call
is a *plan* (a generator in :class:`_Core`) that prepares the request, asks
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
honouring ``Retry-After``. Everything else is sent once.

Pseudonyms need the key service's public key, pinned by the member: a proof
only shows that *some* key was used consistently, and comparing with the
pinned key is what makes this member's pseudonyms match every other member's.
The SDK never fetches and trusts a key by itself; :func:`fetch_keyservice_public_key`
is there for the one time a member looks it up, checks it against the key the
operator publishes, and stores it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from refund_registry.client import pseudonyms
from refund_registry.client.results import (
    ApiResult,
    BulkFiled,
    Event,
    EventPage,
    Filed,
    Retracted,
    RiskAnswer,
    RiskBatch,
)
from refund_registry.client.signing import Signer
from refund_registry.domain import oprf

IDEMPOTENT_POSTS: Final = frozenset({pseudonyms.EVALUATE_PATH, "/v1/reports"})

T = TypeVar("T")


class RegistryApiError(Exception):
    """The registry answered with an error (or could not be reached: ``status`` 0).

    ``code`` is the problem document's stable code (branch on it); ``detail``
    is for humans; ``problem`` is the whole RFC 9457 document, or ``{}`` when
    the answer was not one; ``headers`` the answer's headers (``retry-after``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        problem: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = dict(problem)
        self.headers = dict(headers or {})

    @property
    def content_language(self) -> str | None:
        """The language of the problem's ``title`` and ``detail``; its ``code`` never changes."""
        return self.headers.get("content-language")


class UnexpectedAnswer(RegistryApiError):
    """A 2xx answer lacking what the SDK relies on (``code``: ``client.unexpected_answer``).

    The registry's answers only ever gain fields; this means the URL points at
    something that is not a compatible registry.
    """


class KeyServiceKeyMissing(Exception):
    """Pseudonymising was asked of a client built without the key service's public key."""

    def __init__(self) -> None:
        super().__init__(
            "pseudonymising needs the key service's public key, pinned: fetch it once with "
            "refund_registry.client.fetch_keyservice_public_key(base_url), check it against "
            "the key the registry operator publishes, store it in your configuration, and "
            "pass it as RegistryClient(..., keyservice_public_key=...). The SDK does not "
            "fetch and trust a key by itself: with another key, your pseudonyms would "
            "match no other member's."
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` counts the first try; delays are capped at ``max_delay`` seconds.

    A ``Retry-After`` longer than ``max_delay`` is not waited out: the error is
    raised at once, since the server has said it will not be ready in time.
    """

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 10.0


def is_idempotent(method: str, path: str) -> bool:
    """True for calls that may be repeated with the same effect (see module docstring)."""
    method = method.upper()
    return method in ("GET", "HEAD") or (
        method == "POST" and path.split("?", 1)[0] in IDEMPOTENT_POSTS
    )


def _target(path: str, params: Mapping[str, str | int] | None) -> str:
    if not path.startswith("/"):
        raise ValueError("path must start with '/'")
    if params:
        # Encoded here, once, so that what is signed (htu) is what is sent.
        return f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"
    return path


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def _error(response: httpx.Response) -> RegistryApiError:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    headers = dict(response.headers)
    if isinstance(doc, dict) and isinstance(doc.get("code"), str):
        detail = str(doc.get("detail", ""))
        return RegistryApiError(response.status_code, doc["code"], detail, doc, headers)
    return RegistryApiError(
        response.status_code, f"http.{response.status_code}", response.text[:300], {}, headers
    )


def answer_of(response: httpx.Response) -> ApiResult:
    """The :class:`ApiResult` of a success answer; :class:`RegistryApiError` for an error one."""
    if response.status_code >= 400:
        raise _error(response)
    body: Any = None
    if response.content:
        if "json" in response.headers.get("content-type", ""):
            body = response.json()
        else:
            body = response.text
    return ApiResult(status=response.status_code, headers=dict(response.headers), body=body)


# --------------------------------------------------------------------------- interpreting


def _convert(result: ApiResult, kind: type[T], **extra: Any) -> T:
    if not isinstance(result.body, dict):
        raise _unexpected(result, f"expected a JSON object for {kind.__name__}")
    try:
        return msgspec.convert({**result.body, **extra}, kind)
    except msgspec.ValidationError as exc:
        raise _unexpected(result, f"{kind.__name__}: {exc}") from None


def _unexpected(result: ApiResult, detail: str) -> UnexpectedAnswer:
    return UnexpectedAnswer(
        result.status, "client.unexpected_answer", detail, {}, dict(result.headers)
    )


def _body(result: ApiResult) -> Any:
    return result.body


def _same(result: ApiResult) -> ApiResult:
    return result


def _filed(result: ApiResult) -> Filed:
    return _convert(result, Filed, created=result.status == 201, http=result)


def _bulk_filed(result: ApiResult) -> BulkFiled:
    return _convert(result, BulkFiled, http=result)


def _retracted(result: ApiResult) -> Retracted:
    return _convert(result, Retracted, http=result)


def _risk(result: ApiResult) -> RiskAnswer:
    return _convert(result, RiskAnswer, http=result)


def _risk_batch(result: ApiResult) -> RiskBatch:
    return _convert(result, RiskBatch, http=result)


def _event_page(result: ApiResult) -> EventPage:
    body = result.body
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise _unexpected(result, "expected {events: [...], next_cursor}")
    events = []
    for item in body["events"]:
        if not isinstance(item, dict):
            raise _unexpected(result, "an event is not a JSON object")
        try:
            events.append(msgspec.convert({**item, "data": item}, Event))
        except msgspec.ValidationError as exc:
            raise _unexpected(result, f"Event: {exc}") from None
    cursor = body.get("next_cursor")
    if not isinstance(cursor, str):
        raise _unexpected(result, "the page has no next_cursor")
    return EventPage(events=tuple(events), next_cursor=cursor, http=result)


def _parse_keyservice_key(result: ApiResult) -> str:
    return oprf.b64e(pseudonyms.parse_public_key(result.body))


# --------------------------------------------------------------------------- the shared plans

# A plan yields what its driver must do next (send a request, or sleep so many
# seconds) and is sent back what came of it (the answer, or the transport error).
Step = httpx.Request | float
Outcome = httpx.Response | httpx.TransportError | None
Plan = Generator[Step, Outcome, T]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What every attempt of one call sends, and whether it may be retried."""

    method: str
    target: str
    content: bytes
    headers: dict[str, str]
    idempotent: bool
    signed: bool = True


class _Core:
    """What the sync and async clients share: preparing, signing, retrying, interpreting."""

    def __init__(
        self,
        signer: Signer,
        *,
        keyservice_public_key: bytes | str | None,
        cache_size: int,
        retry: RetryPolicy | None,
        default_region: str,
        locale: str | None = None,
    ) -> None:
        self.signer = signer
        # Sent as Accept-Language: the language of the answers' texts (``zh-CN``
        # or ``en``; the registry answers in its default for None or anything else).
        self.locale = locale
        self.retry = retry or RetryPolicy()
        self.default_region = default_region
        self.cache = pseudonyms.PseudonymCache(cache_size)
        self._keyservice_key = (
            pseudonyms.pin_public_key(keyservice_public_key)
            if keyservice_public_key is not None
            else None
        )

    @property
    def keyservice_public_key(self) -> bytes | None:
        """The pinned key service public key (raw bytes), or None when none was given."""
        return self._keyservice_key

    def public_key(self) -> bytes:
        """The pinned key service public key; :class:`KeyServiceKeyMissing` without one."""
        if self._keyservice_key is None:
            raise KeyServiceKeyMissing
        return self._keyservice_key

    # -- prepare, send, interpret

    @staticmethod
    def _prepare(
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        *,
        signed: bool = True,
    ) -> _Prepared:
        target = _target(path, params)
        content = b"" if body is None else msgspec.json.encode(body)
        method = method.upper()
        return _Prepared(
            method, target, content, _json_headers(content), is_idempotent(method, target), signed
        )

    def _sign(self, request: httpx.Request) -> None:
        # The token covers the path as it will really be sent (after the base
        # URL is joined and the path encoded), not as the caller spelled it.
        target = request.url.raw_path.decode("ascii")
        request.headers.update(self.signer.headers(request.method, target, request.content))

    _http: httpx.Client | httpx.AsyncClient

    def _exchange(self, call: _Prepared) -> Plan[ApiResult]:
        """Send ``call`` (retrying when allowed) and return its success answer."""
        attempt = 0
        while True:
            request = self._http.build_request(
                call.method, call.target, content=call.content, headers=call.headers
            )
            if self.locale is not None:
                request.headers["Accept-Language"] = self.locale
            if call.signed:
                self._sign(request)
            outcome = yield request
            if isinstance(outcome, httpx.Response):
                delay = self._delay(attempt, call.idempotent, outcome)
                if delay is None:
                    return answer_of(outcome)
            elif isinstance(outcome, httpx.TransportError):
                delay = self._delay(attempt, call.idempotent, None)
                if delay is None:
                    raise self._unreachable(outcome) from outcome
            else:
                raise TypeError("a driver must answer a request with a response or an error")
            yield delay
            attempt += 1

    def _plan(self, call: _Prepared, interpret: Callable[[ApiResult], T]) -> Plan[T]:
        result = yield from self._exchange(call)
        return interpret(result)

    def _delay(
        self, attempt: int, idempotent: bool, response: httpx.Response | None
    ) -> float | None:
        """Seconds to wait before trying again, or None to stop now."""
        if not idempotent or attempt + 1 >= self.retry.attempts:
            return None
        if response is not None and response.status_code != 503:
            return None
        asked = _retry_after(response.headers.get("retry-after")) if response is not None else None
        if asked is not None:
            return asked if asked <= self.retry.max_delay else None
        backoff = min(self.retry.max_delay, self.retry.base_delay * 2.0**attempt)
        # Jitter spreads the retries of many clients after a shared outage.
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    @staticmethod
    def _unreachable(exc: httpx.TransportError) -> RegistryApiError:
        return RegistryApiError(0, "client.unreachable", f"{exc.__class__.__name__}: {exc}", {})

    # -- the plans of the typed calls

    def _call_plan(
        self, method: str, path: str, body: Any, params: Mapping[str, str | int] | None
    ) -> Plan[ApiResult]:
        return self._plan(self._prepare(method, path, body, params), _same)

    def _request_plan(
        self, method: str, path: str, body: Any, params: Mapping[str, str | int] | None
    ) -> Plan[Any]:
        return self._plan(self._prepare(method, path, body, params), _body)

    def _file_report_plan(self, report: Mapping[str, Any]) -> Plan[Filed]:
        return self._plan(self._prepare("POST", "/v1/reports", report), _filed)

    def _file_bulk_plan(self, reports: Iterable[Mapping[str, Any]]) -> Plan[BulkFiled]:
        body = {"reports": list(reports)}
        return self._plan(self._prepare("POST", "/v1/reports/bulk", body), _bulk_filed)

    def _report_plan(self, report_id: str) -> Plan[ApiResult]:
        return self._plan(self._prepare("GET", f"/v1/reports/{_segment(report_id)}"), _same)

    def _retract_plan(self, report_id: str, reason: str) -> Plan[Retracted]:
        path = f"/v1/reports/{_segment(report_id)}/retract"
        return self._plan(self._prepare("POST", path, {"reason": reason}), _retracted)

    def _query_plan(
        self, identifiers: Iterable[Mapping[str, str]], purpose: str
    ) -> Plan[RiskAnswer]:
        body = _query_body(identifiers, purpose)
        return self._plan(self._prepare("POST", "/v1/risk/query", body), _risk)

    def _query_batch_plan(
        self, queries: Iterable[tuple[Iterable[Mapping[str, str]], str]]
    ) -> Plan[RiskBatch]:
        body = {"queries": [_query_body(ids, purpose) for ids, purpose in queries]}
        return self._plan(self._prepare("POST", "/v1/risk/query/batch", body), _risk_batch)

    def _events_plan(self, after: str, limit: int) -> Plan[EventPage]:
        params: dict[str, str | int] = {"after": after, "limit": limit}
        return self._plan(self._prepare("GET", "/v1/events", params=params), _event_page)

    def _respond_plan(self, appeal_id: str, action: str, summary: str | None) -> Plan[ApiResult]:
        body: dict[str, Any] = {"action": action}
        if summary is not None:
            body["summary"] = summary
        path = f"/v1/appeals/{_segment(appeal_id)}/response"
        return self._plan(self._prepare("POST", path, body), _same)

    def _pseudonymise_plan(self, pairs: Iterable[tuple[str, str]]) -> Plan[list[str]]:
        work = pseudonyms.plan(pairs, self.cache, default_region=self.default_region)
        if work.missing:
            key = self.public_key()  # before any network call
            for batch in work.batches():
                state, blinded = oprf.blind(batch)
                call = self._prepare(
                    "POST", pseudonyms.EVALUATE_PATH, pseudonyms.evaluation_body(blinded)
                )
                answer = yield from self._exchange(call)
                pseudonyms.complete(work, batch, state, answer.body, key, self.cache)
        return work.results()


def _segment(value: str) -> str:
    """A path segment as sent: ids never hold '/', but a typo must not reach another route."""
    if not value or "/" in value or "?" in value or "#" in value:
        raise ValueError(f"{value!r} is not an id")
    return value


def _query_body(identifiers: Iterable[Mapping[str, str]], purpose: str) -> dict[str, Any]:
    return {
        "identifiers": [{"kind": i["kind"], "pseudonym": i["pseudonym"]} for i in identifiers],
        "purpose": purpose,
    }


def _drive(
    plan: Plan[T], send: Callable[[httpx.Request], httpx.Response], sleep: Callable[[float], None]
) -> T:
    """Carry out a plan's steps with blocking I/O."""
    outcome: Outcome = None
    while True:
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result
        if isinstance(step, httpx.Request):
            try:
                outcome = send(step)
            except httpx.TransportError as exc:
                outcome = exc
        else:
            sleep(step)
            outcome = None


async def _adrive(plan: Plan[T], send: Callable[[httpx.Request], Any]) -> T:
    """Carry out a plan's steps with asyncio I/O."""
    outcome: Outcome = None
    while True:
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result
        if isinstance(step, httpx.Request):
            try:
                outcome = await send(step)
            except httpx.TransportError as exc:
                outcome = exc
        else:
            await asyncio.sleep(step)
            outcome = None


# --------------------------------------------------------------------------- the key service key


def fetch_keyservice_public_key(
    base_url: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 10.0
) -> str:
    """The key service's public key as served at ``base_url`` (unpadded base64url).

    Call it once, when setting the integration up: compare the result with the
    key the registry operator publishes out of band, store it in your
    configuration, and pass it to every client as ``keyservice_public_key``.
    Fetching it again at every start would trust whatever answers at that URL.
    Raises :class:`RegistryApiError` for an error answer and
    :class:`~refund_registry.domain.oprf.InvalidKey` for an answer that is not
    a key of the registry's suite.
    """
    with httpx.Client(base_url=base_url, transport=transport, timeout=timeout) as http:
        try:
            response = http.get(pseudonyms.PUBLIC_KEY_PATH, headers=_json_headers(b""))
        except httpx.TransportError as exc:
            raise _Core._unreachable(exc) from exc
    return _parse_keyservice_key(answer_of(response))


async def afetch_keyservice_public_key(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - httpx's own timeout, as for the clients
) -> str:
    """:func:`fetch_keyservice_public_key` for asyncio code."""
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout) as http:
        try:
            response = await http.get(pseudonyms.PUBLIC_KEY_PATH, headers=_json_headers(b""))
        except httpx.TransportError as exc:
            raise _Core._unreachable(exc) from exc
    return _parse_keyservice_key(answer_of(response))


# --------------------------------------------------------------------------- the clients


class RegistryClient(_Core):
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
            signer,
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
        return _drive(plan, self._http.send, self._sleep)

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


class AsyncRegistryClient(_Core):
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
            signer,
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
        return await _adrive(plan, self._http.send)

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


def _one_key(given: bytes | str | None, former: bytes | str | None) -> bytes | str | None:
    if given is not None and former is not None and given != former:
        raise ValueError("pass the key service public key once, as keyservice_public_key")
    return given if given is not None else former


def _json_headers(content: bytes) -> dict[str, str]:
    headers = {"Accept": "application/json, application/problem+json"}
    if content:
        headers["Content-Type"] = "application/json"
    return headers
