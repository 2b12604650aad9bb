"""The client package (member SDK, auditor's verifier) imports nothing its users do not need.

Run in a fresh interpreter, because this test process has long since imported
the whole server; ``sys.modules`` there tells exactly what importing the SDK
pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Whole packages a member platform must not need to install or load.
FORBIDDEN = (
    "litestar",
    "asyncpg",
    "redis",
    "uvicorn",
    "refund_registry.http",
    "refund_registry.storage",
    "refund_registry.services",
    "refund_registry.runtime",
    "refund_registry.keyservice",
    "refund_registry.config",
    "refund_registry.cli",
)

PROBE = """
import json, sys
import refund_registry.client
from refund_registry.client import RegistryClient, normalise
from refund_registry.client.verify import averify, main
print(json.dumps(sorted(sys.modules)))
"""


def _loaded() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


def test_the_sdk_and_the_verifier_import_no_server_module() -> None:
    modules = _loaded()
    # A prefix test would be wrong: "refund_registry.cli" is a prefix of
    # "refund_registry.client". Match whole dotted components.
    offending = [
        m for m in modules if any(m == bad or m.startswith(bad + ".") for bad in FORBIDDEN)
    ]
    assert offending == []
    # The probe really imported the SDK and the verifier, so the empty list
    # above means something.
    assert "refund_registry.client.sdk" in modules
    assert "refund_registry.client.verify" in modules
    assert "refund_registry.client.auditlog" in modules
    assert "httpx" in modules
