"""The member SDK's HTTP client: signed requests, retries, typed errors, pseudonyms.

:class:`RegistryClient` (``httpx.Client``) is the SDK's main face;
:class:`AsyncRegistryClient` is the same over ``httpx.AsyncClient`` for members
whose back end is asynchronous. Both share everything but the I/O loop.

Every request carries a fresh ``rr-req+jwt`` (SPEC section 10), signed over
the exact method, path-with-query and body bytes that go on the wire. A retry
is a new request with a new token: a ``jti`` is single use.

Only idempotent calls are retried: ``GET``, and the two ``POST`` routes that
are idempotent by design (``/v1/keyservice/evaluate`` evaluates the same
blinded points to the same answer; ``/v1/reports`` answers a case reference
already filed with the first report). They are retried on 503 and on
connection errors, with exponential backoff and jitter, honouring
``Retry-After``. Everything else is sent once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import msgspec

from refund_registry.client import pseudonyms
from refund_registry.client.signing import Signer
from refund_registry.domain import oprf

IDEMPOTENT_POSTS: Final = frozenset({pseudonyms.EVALUATE_PATH, "/v1/reports"})


class RegistryApiError(Exception):
    """The registry answered with an error (or could not be reached: ``status`` 0).

    ``code`` is the problem document's stable code (branch on it); ``detail``
    is for humans; ``problem`` is the whole RFC 9457 document, or ``{}`` when
    the answer was not one.
    """

    def __init__(self, status: int, code: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = dict(problem)


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
    if isinstance(doc, dict) and isinstance(doc.get("code"), str):
        return RegistryApiError(response.status_code, doc["code"], str(doc.get("detail", "")), doc)
    return RegistryApiError(
        response.status_code, f"http.{response.status_code}", response.text[:300], {}
    )


def _result(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _error(response)
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        return response.json()
    return response.text


class _Core:
    """What the sync and async clients share: signing, retry decisions, pseudonym steps."""

    def __init__(
        self,
        signer: Signer,
        *,
        public_key: bytes | str | None,
        cache_size: int,
        retry: RetryPolicy | None,
        default_region: str,
    ) -> None:
        self.signer = signer
        self.retry = retry or RetryPolicy()
        self.default_region = default_region
        self.cache = pseudonyms.PseudonymCache(cache_size)
        self._public_key = pseudonyms.pin_public_key(public_key) if public_key is not None else None

    def _sign(self, request: httpx.Request) -> None:
        # The token covers the path as it will really be sent (after the base
        # URL is joined and the path encoded), not as the caller spelled it.
        target = request.url.raw_path.decode("ascii")
        request.headers.update(self.signer.headers(request.method, target, request.content))

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
    def _prepare(
        method: str, path: str, body: Any, params: Mapping[str, str | int] | None
    ) -> tuple[str, bytes, dict[str, str], bool]:
        """What every attempt of one call sends: target, body, headers; and whether
        it may be retried."""
        target = _target(path, params)
        content = b"" if body is None else msgspec.json.encode(body)
        return target, content, _json_headers(content), is_idempotent(method, target)

    @staticmethod
    def _unreachable(exc: httpx.TransportError) -> RegistryApiError:
        return RegistryApiError(0, "client.unreachable", f"{exc.__class__.__name__}: {exc}", {})


class RegistryClient(_Core):
    """A member's connection to the registry (synchronous; safe to share between threads).

    ``public_key`` is the key service's public key (bytes or unpadded base64url).
    Pin it from the registry operator's published configuration: a proof only
    shows that *some* key was used consistently, and comparing with the pinned
    key is what makes this member's pseudonyms match every other member's.
    Without it the key is fetched once from ``/v1/keyservice/public-key`` and
    kept for the client's lifetime (trust on first use over TLS).

    ``transport`` is passed to ``httpx.Client`` (tests, proxies, mTLS set-ups).
    """

    def __init__(
        self,
        base_url: str,
        signer: Signer,
        *,
        public_key: bytes | str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        cache_size: int = 100_000,
        default_region: str = "CN",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            signer,
            public_key=public_key,
            cache_size=cache_size,
            retry=retry,
            default_region=default_region,
        )
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        self._sleep = sleep

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """Send a signed request; return the parsed JSON (or text) of a 2xx answer.

        Raises :class:`RegistryApiError` for any error answer, and for a
        connection failure once the retries (idempotent calls only) are spent.
        """
        target, content, headers, idempotent = self._prepare(method, path, body, params)
        attempt = 0
        while True:
            request = self._http.build_request(method, target, content=content, headers=headers)
            self._sign(request)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._delay(attempt, idempotent, None)
                if delay is None:
                    raise self._unreachable(exc) from exc
            else:
                delay = self._delay(attempt, idempotent, response)
                if delay is None:
                    return _result(response)
            self._sleep(delay)
            attempt += 1

    def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def public_key(self) -> bytes:
        """The pinned key, or the one fetched (once) from the registry."""
        if self._public_key is None:
            self._public_key = pseudonyms.parse_public_key(self.get(pseudonyms.PUBLIC_KEY_PATH))
        return self._public_key

    def pseudonymise(self, kind: str, value: str) -> str:
        """The buyer's pseudonym for one identifier (86 base64url characters)."""
        return self.pseudonymise_many([(kind, value)])[0]

    def pseudonymise_many(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """Pseudonyms for ``(kind, value)`` pairs, in order; one key-service call per 100 misses.

        Raises ``IdentifierRejected`` (before any network call) for a value
        that breaks a normalisation rule, ``ProofInvalid`` when the key
        service's answer does not verify against the public key, and
        :class:`RegistryApiError` for an error answer (429 when over quota).
        """
        work = pseudonyms.plan(pairs, self.cache, default_region=self.default_region)
        if work.missing:
            key = self.public_key()
            for batch in work.batches():
                state, blinded = oprf.blind(batch)
                answer = self.post(pseudonyms.EVALUATE_PATH, pseudonyms.evaluation_body(blinded))
                pseudonyms.complete(work, batch, state, answer, key, self.cache)
        return work.results()


class AsyncRegistryClient(_Core):
    """:class:`RegistryClient` for asyncio code; same arguments, awaitable methods."""

    def __init__(
        self,
        base_url: str,
        signer: Signer,
        *,
        public_key: bytes | str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        cache_size: int = 100_000,
        default_region: str = "CN",
    ) -> None:
        super().__init__(
            signer,
            public_key=public_key,
            cache_size=cache_size,
            retry=retry,
            default_region=default_region,
        )
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def __aenter__(self) -> AsyncRegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """See :meth:`RegistryClient.request`."""
        target, content, headers, idempotent = self._prepare(method, path, body, params)
        attempt = 0
        while True:
            request = self._http.build_request(method, target, content=content, headers=headers)
            self._sign(request)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._delay(attempt, idempotent, None)
                if delay is None:
                    raise self._unreachable(exc) from exc
            else:
                delay = self._delay(attempt, idempotent, response)
                if delay is None:
                    return _result(response)
            await asyncio.sleep(delay)
            attempt += 1

    async def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any) -> Any:
        return await self.request("POST", path, body)

    async def public_key(self) -> bytes:
        if self._public_key is None:
            answer = await self.get(pseudonyms.PUBLIC_KEY_PATH)
            self._public_key = pseudonyms.parse_public_key(answer)
        return self._public_key

    async def pseudonymise(self, kind: str, value: str) -> str:
        return (await self.pseudonymise_many([(kind, value)]))[0]

    async def pseudonymise_many(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """See :meth:`RegistryClient.pseudonymise_many`."""
        work = pseudonyms.plan(pairs, self.cache, default_region=self.default_region)
        if work.missing:
            key = await self.public_key()
            for batch in work.batches():
                state, blinded = oprf.blind(batch)
                answer = await self.post(
                    pseudonyms.EVALUATE_PATH, pseudonyms.evaluation_body(blinded)
                )
                pseudonyms.complete(work, batch, state, answer, key, self.cache)
        return work.results()


def _json_headers(content: bytes) -> dict[str, str]:
    headers = {"Accept": "application/json, application/problem+json"}
    if content:
        headers["Content-Type"] = "application/json"
    return headers
