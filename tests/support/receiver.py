"""A real HTTP receiver for webhook tests: a ThreadingHTTPServer on 127.0.0.1.

It records every request (path, headers, body) and answers by a script: each
request takes the next planned behaviour (a status code, or ``"slow"`` to
wait longer than the sender's timeout before answering), and when the plan is
empty it answers ``default``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body)


@dataclass
class Receiver:
    port: int = 0
    default: int | str = 200
    slow_seconds: float = 2.0
    plan: deque[int | str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def behave(self, *steps: int | str) -> None:
        with self.lock:
            self.plan.extend(steps)

    def next_step(self) -> int | str:
        with self.lock:
            return self.plan.popleft() if self.plan else self.default

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            receiver.record(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            step = receiver.next_step()
            if step == "slow":
                time.sleep(receiver.slow_seconds)
                step = 200
            assert isinstance(step, int)
            answer = b'{"ok": true}' if step < 300 else b'{"error": "down"}'
            try:
                self.send_response(step)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_receiver(default: int | str = 200) -> Iterator[Receiver]:
    receiver = Receiver(default=default)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def self_signed(host: str, folder: Any) -> tuple[str, str]:
    """A certificate for ``host`` (and its key) in ``folder``: ``(cert path, key path)``."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = f"{folder}/cert.pem", f"{folder}/key.pem"
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


@contextmanager
def running_tls_receiver(cert: str, key: str) -> Iterator[Receiver]:
    """A receiver over TLS with the given certificate; its ``url`` names 127.0.0.1."""
    import ssl

    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
