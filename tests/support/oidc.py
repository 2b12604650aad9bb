"""A real OpenID provider on 127.0.0.1 for the console's sign-in tests.

``oidc-provider-mock`` is a maintained provider built on authlib's server
(discovery, JWKS, authorization code grant, signed ID tokens, dynamic client
registration). It runs under werkzeug's threaded server on a free loopback
port; clients must register (so a wrong secret is refused) and send a nonce.
Its authorization page signs in whichever ``sub`` is posted to it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import oidc_provider_mock
import werkzeug.serving


@dataclass(frozen=True)
class Provider:
    issuer: str

    def register(self, redirect_uri: str) -> tuple[str, str]:
        """Register a confidential client; return its id and secret."""
        answer = httpx.post(
            f"{self.issuer}/oauth2/clients", json={"redirect_uris": [redirect_uri]}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return body["client_id"], body["client_secret"]

    def authorize(self, authorization_url: str, sub: str) -> str:
        """Sign ``sub`` in at the provider's page; return where it sends the browser back."""
        answer = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
        assert answer.status_code == 302, answer.text
        location: str = answer.headers["location"]
        return location


@contextlib.contextmanager
def running_provider() -> Iterator[Provider]:
    app = oidc_provider_mock.app(require_client_registration=True, require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
