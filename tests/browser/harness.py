"""The real portal in a real browser: the app served by uvicorn, a real SMTP server.

The registry runs in a thread of its own with its own event loop (the sync
Playwright API must not run inside a running loop, and the tests drive it
synchronously), on a free 127.0.0.1 port, against the test's own database.
Its key service is the in-process one of ``tests/support/buyers.py``, so
direct sign-in derives real pseudonyms. Members and adjudicators act over
HTTP with signed requests, as they would in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import re
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import httpx
import msgspec
import uvicorn
from cryptography.hazmat.primitives import serialization

from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.domain import identity
from refund_registry.domain.wire import b64url
from refund_registry.runtime import Runtime
from tests.support.buyers import attach_keyservice
from tests.support.factories import report_body
from tests.support.principals import register_principal

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[tuple[list[str], bytes]] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def code_for(self, address: str, *, after: int = 0, timeout: float = 10.0) -> str:
        """The six-digit code of the first message to ``address`` past the first ``after``."""
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: any(address in to for to, _ in self.messages[after:]), timeout
            )
            assert ok, f"no code reached {address} within {timeout} s"
            content = next(c for to, c in self.messages[after:] if address in to)
        message = email.message_from_bytes(content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else str(message)
        found = re.search(r"\b(\d{6})\b", text)
        assert found, text
        return found.group(1)


@dataclass
class Portal:
    """The registry served on ``base_url``; ``run`` executes a coroutine in its loop."""

    settings: Settings
    base_url: str
    loop: asyncio.AbstractEventLoop
    runtime: Runtime
    owner: asyncpg.Pool
    server: uvicorn.Server
    thread: threading.Thread
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)

    # -- the other parties ----------------------------------------------------------------

    def principal(self, name: str, role: str = "member") -> Signer:
        # Registering principals is the operator's job: the owner's connection, not the API's.
        signer = self.run(register_principal(self.owner, role, name))
        # This portal's public URL is its own address, and so is its token audience.
        return dataclasses.replace(signer, audience=self.settings.audience)

    def call(self, signer: Signer | None, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else msgspec.json.encode(body)
        headers = {"Content-Type": "application/json"} if data else {}
        if signer is not None:
            headers.update(signer.headers(method, path, data))
        response = self.http.request(method, path, content=data, headers=headers)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def pseudonym(self, kind: str, value: str) -> str:
        """The pseudonym a member's SDK derives for this identifier (same key service)."""
        normalised = identity.normalise(kind, value)
        raw = self.run(self.runtime.parts.buyers.pseudonyms.pseudonym(kind, normalised))
        return b64url(raw)

    def file_report(self, member: Signer, ids: list[dict[str, str]], **fields: Any) -> str:
        answer = self.call(member, "POST", "/v1/reports", report_body(identifiers=ids, **fields))
        report_id: str = answer["report_id"]
        return report_id

    def query(self, member: Signer, ids: list[dict[str, str]], purpose: str) -> None:
        self.call(member, "POST", "/v1/risk/query", {"identifiers": ids, "purpose": purpose})


async def _with_portal_principal(settings: Settings, owner: asyncpg.Pool) -> Settings:
    """The registry's own portal principal, registered by the operator as in production.

    Direct sign-in derives pseudonyms as this principal; naming it in the
    settings is what a production deployment does too.
    """
    signer = await register_principal(owner, "portal", "registry portal")
    path = settings.key_path("portal")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return settings.with_overrides(portal_principal=signer.principal_id, portal_kid=signer.kid)


def start_portal(settings: Settings) -> Portal:
    """Serve ``create_app(settings)`` from a new thread; return once it accepts requests."""
    from refund_registry.http.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = settings.with_overrides(public_url=base_url)
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        owner = await asyncpg.create_pool(
            settings.owner_database_url or settings.database_url, min_size=1, max_size=2
        )
        rt = await Runtime.start(await _with_portal_principal(settings, owner))
        try:
            attach_keyservice(rt, settings)
            app = create_app(settings, runtime_override=rt)
            config = uvicorn.Config(
                app, log_level="warning", access_log=False, lifespan="on", ws="none"
            )
            server = uvicorn.Server(config)
            holder.update(runtime=rt, owner=owner, server=server, loop=asyncio.get_running_loop())
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            # uvicorn says it has started only by a flag.
            while not server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            started.set()
            await serving
        finally:
            started.set()
            await owner.close()
            await rt.close()

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test by the missing server
            holder["error"] = exc

    thread = threading.Thread(target=target, name="portal-server", daemon=True)
    thread.start()
    assert started.wait(timeout=60), "the portal did not start within 60 s"
    if "server" not in holder or not holder["server"].started:
        raise RuntimeError(f"the portal failed to start: {holder.get('error')!r}")
    return Portal(
        settings=settings,
        base_url=base_url,
        loop=holder["loop"],
        runtime=holder["runtime"],
        owner=holder["owner"],
        server=holder["server"],
        thread=thread,
    )
