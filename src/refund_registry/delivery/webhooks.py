"""Outbound webhook requests, with the address checks that keep them off internal networks.

Members choose the URLs, so every request is a possible server-side request
forgery. Before each request the host is resolved, **every** address it
resolves to is checked (``domain.webhooks.address_allowed``: no loopback,
private, link-local, multicast, reserved or otherwise non-public address),
and the connection then goes to a checked address itself: the URL's host is
replaced by that address, while the ``Host`` header and the TLS server name
(SNI, and the name the certificate is verified against) stay the URL's. A
DNS answer that changes between the check and the connection (rebinding)
therefore cannot redirect the request. Redirects are never followed,
environment proxies are ignored, each request has an overall deadline, and
at most ``max_response_bytes`` of an answer are read.

``allow_private`` (``REGISTRY_WEBHOOK_ALLOW_PRIVATE=1``) lifts the address
rule, for tests and single-machine set-ups only.

Failure policy: nothing here raises for a failed delivery; :meth:`post`
reports the status, or the class of error when there was no answer, and the
service decides what follows. Nothing here logs a secret or a body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from refund_registry.domain.webhooks import EndpointUrl, address_allowed, parse_url
from refund_registry.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port)`` → the addresses it resolves to, as strings."""

MAX_RESPONSE_BYTES = 64 * 1024
"""Bytes of an answer read at most; the rest is dropped (only the status counts)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver, without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressRefused(Exception):
    """The host is, or resolves to, an address deliveries may not reach."""


class Unresolvable(Exception):
    """The host name does not resolve."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request came to: an HTTP status, or the class of error without one."""

    status: int | None
    error: str | None
    retry_after: str | None
    duration_ms: int


class WebhookSender:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.resolver = resolver
        self.verify = verify

    async def addresses(self, endpoint: EndpointUrl) -> list[IPAddress]:
        """Every address of the endpoint's host, each checked; raises when one is refused.

        One refused address refuses them all: a name that resolves to a public
        and a private address is how rebinding attacks alternate between them.
        """
        if endpoint.literal_ip is not None:
            found = [endpoint.literal_ip]
        else:
            try:
                answers = await self.resolver(endpoint.host, endpoint.port)
            except (OSError, UnicodeError) as exc:
                raise Unresolvable(type(exc).__name__) from None
            found = [ipaddress.ip_address(a) for a in answers]
            if not found:
                raise Unresolvable("no address")
        if not self.allow_private:
            for address in found:
                if not address_allowed(address):
                    raise AddressRefused(str(address))
        return found

    async def check(self, url: str, *, require_https: bool) -> EndpointUrl:
        """Registration: the URL's form, and every address its host resolves to now."""
        endpoint = parse_url(url, require_https=require_https)
        try:
            async with asyncio.timeout(self.timeout):
                await self.addresses(endpoint)
        except AddressRefused:
            raise InvalidInput(
                "the URL's host is, or resolves to, an address that is not public "
                "(loopback, private, link-local, multicast or reserved)",
                code="webhook.url_address",
            ) from None
        except (Unresolvable, TimeoutError):
            raise InvalidInput(
                "the URL's host name does not resolve", code="webhook.url_unresolvable"
            ) from None
        return endpoint

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST ``body`` once, to a checked address of ``url``'s host; never raises
        for a failed delivery."""
        started = time.monotonic()

        def answer(
            status: int | None = None, error: str | None = None, retry_after: str | None = None
        ) -> Answer:
            elapsed = int((time.monotonic() - started) * 1000)
            return Answer(status, error, retry_after, elapsed)

        try:
            endpoint = parse_url(url, require_https=False)
        except InvalidInput:
            return answer(error="invalid_url")
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    addresses = await self.addresses(endpoint)
                except AddressRefused:
                    return answer(error="address_refused")
                except Unresolvable:
                    return answer(error="dns")
                return await self._send(endpoint, addresses, body, headers, answer)
        except TimeoutError:
            return answer(error="timeout")

    async def _send(
        self,
        endpoint: EndpointUrl,
        addresses: list[IPAddress],
        body: bytes,
        headers: dict[str, str],
        answer: Callable[..., Answer],
    ) -> Answer:
        target = httpx.URL(endpoint.url)
        sent = {
            **headers,
            "host": target.netloc.decode("ascii"),
            "content-type": "application/json",
            "user-agent": "refund-registry-webhooks/1",
        }
        extensions = {} if endpoint.literal_ip else {"sni_hostname": endpoint.host}
        error = "connection"
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
            verify=self.verify,
        ) as client:
            for address in addresses:
                request = client.build_request(
                    "POST",
                    target.copy_with(host=str(address)),
                    content=body,
                    headers=sent,
                    extensions=extensions,
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.ConnectError as exc:
                    error = "tls" if _caused_by_tls(exc) else "connection"
                    continue  # the next checked address, if any
                except httpx.TimeoutException:
                    return answer(error="timeout")
                except httpx.HTTPError:
                    return answer(error="protocol")
                try:
                    await self._drain(response)
                except httpx.TimeoutException:
                    return answer(error="timeout")
                except httpx.HTTPError:
                    pass  # the status line came; a broken body does not change it
                finally:
                    await response.aclose()
                return answer(response.status_code, retry_after=response.headers.get("retry-after"))
        return answer(error=error)

    async def _drain(self, response: httpx.Response) -> None:
        """Read at most ``max_response_bytes`` of the answer, then stop."""
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= self.max_response_bytes:
                break


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
