"""Schema-driven fuzzing: every operation of the OpenAPI document, valid and invalid input.

Schemathesis generates requests from ``/schema/openapi.json`` in positive mode
(data the schema allows) and negative mode (data it forbids). Each request is
signed for a role that may call its route (a member for member routes, an
auditor for audit routes, and so on), over the exact bytes that are sent, so
the fuzzer reaches the handlers rather than stopping at authentication.

Whatever the input, the registry answers no 5xx, and every 4xx is an RFC 9457
problem document with a ``code``. The run is seeded (derandomized) and bounded
per operation, so it is the same run on every machine.

The app runs on the test's event loop (its connection pool belongs to that
loop); Hypothesis runs in a worker thread and hands each prepared request to
the loop, as :class:`tests.support.bridge.LoopBridge` does for the SDK.
"""

from __future__ import annotations

import asyncio
import io
import json
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
import urllib3
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from litestar.routes import HTTPRoute
from requests.adapters import BaseAdapter, HTTPAdapter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.http import keyservice_proxy
from refund_registry.http.app import create_app
from refund_registry.keyservice.app import create_keyservice_app
from refund_registry.runtime import Runtime
from refund_registry.storage.ratelimit import Limits
from tests.support.principals import MakePrincipal

BASE_URL = "http://registry"
EXAMPLES_PER_MODE = 20
"""Examples per operation and generation mode (fewer when an operation has fewer inputs)."""
MIN_REQUESTS = 800
# The role a fuzzed request is signed for: the first of these that the route admits.
ROLE_PREFERENCE = ("member", "adjudicator", "auditor", "admin", "portal")
ROOMY = Limits(per_second=1_000_000, per_day=1_000_000_000)


def signing_roles(app: Litestar) -> dict[tuple[str, str], str]:
    """``(METHOD, OpenAPI path) -> role`` for every route that takes a signed request."""
    roles: dict[tuple[str, str], str] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            admitted = handler.opt.get("roles")
            if not admitted:
                continue
            role = next(r for r in ROLE_PREFERENCE if r in admitted)
            for method in handler.http_methods:
                roles[(method.upper(), route.path_format)] = role
    return roles


@dataclass
class Bridge(BaseAdapter):
    """A ``requests`` adapter that signs each prepared request and sends it to the app.

    The request is rebuilt as an ``httpx`` request first, so the signature covers
    the exact target (path and query, as encoded on the wire) and body bytes.
    """

    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    signers: dict[str, Signer]
    role: str | None = None
    built: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        outgoing = self.client.build_request(
            request.method or "GET", request.path_url, content=body, headers=headers
        )
        if self.role is not None:
            target = outgoing.url.raw_path.decode("ascii")
            signature = self.signers[self.role].headers(outgoing.method, target, outgoing.content)
            outgoing.headers["Authorization"] = signature["Authorization"]
        self.built += 1

        async def call() -> httpx.Response:
            answer = await self.client.send(outgoing)
            await answer.aread()
            return answer

        answer = asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=60)
        self.statuses[answer.status_code] += 1
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=urllib3.HTTPHeaderDict(answer.headers.multi_items()),
            status=answer.status_code,
            reason=answer.reason_phrase,
            version=11,
            preload_content=False,
        )
        response = HTTPAdapter().build_response(request, raw)
        response._content = answer.content
        return response

    def close(self) -> None:
        pass


def refusal_problems(response: schemathesis.Response) -> Iterator[str]:
    """Why a 4xx answer is not a problem document with a ``code`` (nothing when it is)."""
    media_type = ",".join(response.headers.get("content-type", []))
    if not media_type.startswith("application/problem+json"):
        yield f"media type {media_type!r}"
        return
    try:
        doc = json.loads(response.content)
    except ValueError:
        yield "body is not JSON"
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("code"), str) or not doc["code"]:
        yield "no code"
    elif doc.get("status") != response.status_code:
        yield f"status {doc.get('status')!r} in the document"


def describe(case: schemathesis.Case, response: schemathesis.Response, why: str) -> str:
    """A finding: the operation, what was wrong, the request sent and the answer."""
    request = response.request
    lines = [f"{case.operation.label}: {why}", f"  {request.method} {request.path_url}"]
    body = request.body
    if body:
        shown = body if isinstance(body, str) else body.decode("utf-8", "replace")
        lines.append(f"  body: {shown[:300]}")
    lines.append(f"  -> {response.status_code} {response.content[:300]!r}")
    return "\n".join(lines)


def fuzz(
    raw_schema: dict[str, Any], bridge: Bridge, roles: dict[tuple[str, str], str]
) -> list[str]:
    """Run every operation in both generation modes; the findings (empty when none)."""
    schema = schemathesis.openapi.from_dict(raw_schema)
    session = requests.Session()
    session.mount(BASE_URL, bridge)
    findings: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        role = roles.get((operation.method.upper(), operation.path))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            findings.extend(fuzz_operation(operation, mode, role, bridge, session))
    return findings


def fuzz_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    role: str | None,
    bridge: Bridge,
    session: requests.Session,
) -> Iterable[str]:
    findings: list[str] = []

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        bridge.role = role
        response = case.call(base_url=BASE_URL, session=session)
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as exc:
            findings.append(describe(case, response, f"{exc.__class__.__name__}: {exc}"))
            return
        if 400 <= response.status_code < 500:
            findings.extend(describe(case, response, why) for why in refusal_problems(response))

    try:
        run()
    except Unsatisfiable:
        # Negative mode for an operation that has nothing to get wrong (no
        # parameters, no body): there is no invalid input to send.
        pass
    except Exception:
        findings.append(f"{operation.label} ({mode.value}): {traceback.format_exc()}")
    return findings


@pytest.fixture
def fuzzed_app(settings: Settings, runtime: Runtime) -> Litestar:
    """The API, with its key-service proxy pointed at an in-process key service."""
    app = create_app(settings, runtime_override=runtime)
    keyservice = create_keyservice_app(settings, runtime_override=runtime, limits=ROOMY)
    relay = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=keyservice), base_url="http://keyservice"
    )
    setattr(app.state, keyservice_proxy.STATE_KEY, relay)
    return app


async def test_no_input_makes_a_server_error(
    fuzzed_app: Litestar, make_principal: MakePrincipal
) -> None:
    signers = {role: await make_principal(role) for role in ROLE_PREFERENCE}
    roles = signing_roles(fuzzed_app)
    transport = httpx.ASGITransport(app=fuzzed_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        raw_schema = (await client.get("/schema/openapi.json")).json()
        bridge = Bridge(client, asyncio.get_running_loop(), signers)
        findings = await asyncio.to_thread(fuzz, raw_schema, bridge, roles)
    await getattr(fuzzed_app.state, keyservice_proxy.STATE_KEY).aclose()
    print(f"fuzz: {bridge.built} requests built, {len(findings)} findings, {bridge.statuses}")
    assert not findings, "\n\n".join(findings)
    assert bridge.built > MIN_REQUESTS, bridge.built
