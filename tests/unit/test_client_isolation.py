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


# The server's entry points, and the image libraries of the optional evidence
# check that they must never load.
SERVER_PROBE = """
import json, sys
import refund_registry.runtime
import refund_registry.http.app
import refund_registry.keyservice.app
import refund_registry.cli.main
print(json.dumps(sorted(sys.modules)))
"""
EVIDENCE_ONLY = ("refund_registry.client.evidence", "cv2", "imagehash", "c2pa", "PIL", "numpy")


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def _matching(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_the_server_never_loads_the_evidence_check() -> None:
    done = _run(SERVER_PROBE)
    assert done.returncode == 0, done.stderr
    assert _matching(json.loads(done.stdout), EVIDENCE_ONLY) == []


def test_the_evidence_check_imports_no_server_module() -> None:
    done = _run(
        PROBE.replace("import refund_registry.client\n", "import refund_registry.client.evidence\n")
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert _matching(modules, FORBIDDEN) == []
    assert "refund_registry.client.evidence.derived" in modules


MISSING_PROBE = """
import sys
sys.modules[sys.argv[1]] = None  # as if the evidence extra were not installed
try:
    import refund_registry.client.evidence
except ImportError as exc:
    print(type(exc).__name__ + ": " + str(exc))
"""


def test_without_the_extra_the_import_says_how_to_install_it() -> None:
    done = _run(MISSING_PROBE, "cv2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "EvidenceExtraMissing: the evidence check needs the optional extra: "
        "pip install 'refund-registry[evidence]' (missing: opencv-python-headless)"
    )
    # The rest of the SDK does not care.
    assert _run(MISSING_PROBE.replace(".evidence", ""), "cv2").stdout == ""


def test_without_the_extra_the_command_says_so_on_one_line() -> None:
    code = (
        "import sys; sys.modules['imagehash'] = None\n"
        "from refund_registry.cli.main import main\n"
        "main(['evidence', 'check', 'claim.jpg'])\n"
    )
    done = _run(code)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "refund-registry: the evidence check needs the optional extra: "
        "pip install 'refund-registry[evidence]' (missing: imagehash)\n"
    )
