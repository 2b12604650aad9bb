"""How the member SDK makes one call: prepare, sign, send, retry, interpret.

Each call is a *plan*: a generator that yields the request to send (or the
seconds to wait before a retry), receives the answer or the transport error,
and returns the typed result. The sync and async clients in
:mod:`refund_registry.client.sdk` only carry the steps out, so they cannot
drift apart. The errors a call raises live here too.
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
from refund_registry.client.answers import (
    KeyServiceKeyMissing,
    RegistryApiError,
    _body,
    _bulk_filed,
    _event_page,
    _filed,
    _parse_keyservice_key,
    _retracted,
    _risk,
    _risk_batch,
    _same,
    answer_of,
)
from refund_registry.client.receipts import ASK_FOR_V2
from refund_registry.client.results import (
    ApiResult,
    BulkFiled,
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


def _replay_window(response: httpx.Response) -> bool:
    """A 401 ``auth.replay_window``: the token predates the replay store's record; sign anew."""
    return response.status_code == 401 and "auth.replay_window" in response.headers.get(
        "www-authenticate", ""
    )


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


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


class CallCore:
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
            method, target, content, json_headers(content), is_idempotent(method, target), signed
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
        if attempt + 1 >= self.retry.attempts:
            return None
        if response is not None and _replay_window(response):
            # Refused before it took effect, so safe to send again whatever the
            # call: re-signed once the clock has moved past the refused second.
            return 1.05 - (time.time() % 1.0)
        if not idempotent:
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


def drive(
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


async def adrive(plan: Plan[T], send: Callable[[httpx.Request], Any]) -> T:
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


def json_headers(content: bytes) -> dict[str, str]:
    headers = {"Accept": "application/json, application/problem+json", **ASK_FOR_V2}
    if content:
        headers["Content-Type"] = "application/json"
    return headers


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
            response = http.get(pseudonyms.PUBLIC_KEY_PATH, headers=json_headers(b""))
        except httpx.TransportError as exc:
            raise CallCore._unreachable(exc) from exc
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
            response = await http.get(pseudonyms.PUBLIC_KEY_PATH, headers=json_headers(b""))
        except httpx.TransportError as exc:
            raise CallCore._unreachable(exc) from exc
    return _parse_keyservice_key(answer_of(response))
