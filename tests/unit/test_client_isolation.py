"""The member SDK imports nothing a member does not need.

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
    "refund_registry.embedded",
    "refund_registry.cli",
    "refund_registry.keyfiles",
)

PROBE = """
import json, sys
import refund_registry.client
from refund_registry.client import RegistryClient, normalise
print(json.dumps(sorted(sys.modules)))
"""


def _loaded() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


def test_the_client_package_imports_no_server_module() -> None:
    modules = _loaded()
    # A prefix test would be wrong: "refund_registry.cli" is a prefix of
    # "refund_registry.client". Match whole dotted components.
    offending = [
        m for m in modules if any(m == bad or m.startswith(bad + ".") for bad in FORBIDDEN)
    ]
    assert offending == []
    # The probe really imported the SDK, so the empty list above means something.
    assert "refund_registry.client.sdk" in modules
    assert "httpx" in modules
