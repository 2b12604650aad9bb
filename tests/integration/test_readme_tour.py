"""README's "A short tour" runs as written.

The tour's code blocks are read from README.md, not copied here, so the README
cannot drift from what works. ``refund-registry serve &`` starts zero-setup on
free ports in a temporary data folder (``REGISTRY_*`` variables, so the lines
themselves stay as written); every other shell line runs through ``bash`` in a
temporary working folder; the Python block runs in a fresh interpreter. The
only changes made to the text are the port (8080 → the free one) and the
``<PLACEHOLDER>`` values, filled from what earlier lines printed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*)>")
_FIELD = re.compile(r"^(\w+):\s+(\S+)\s*$", re.MULTILINE)


def tour_blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of each block of the tour section, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## A short tour")
    end = text.find("\n## ", start + 1)
    return _BLOCK.findall(text[start : end if end != -1 else len(text)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fill(text: str, values: dict[str, str], port: int) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"nothing earlier in the tour printed <{name}>"
        return values[name]

    return _PLACEHOLDER.sub(value, text.replace("127.0.0.1:8080", f"127.0.0.1:{port}"))


def _principal_placeholders(line: str, output: str) -> dict[str, str]:
    """``principals add --role member`` prints id: and kid:, for <MEMBER_ID> and <MEMBER_KID>."""
    role = re.search(r"--role (\w+)", line)
    fields = dict(_FIELD.findall(output))
    assert role is not None
    assert {"id", "kid"} <= set(fields), output
    prefix = role.group(1).upper()
    return {f"{prefix}_ID": fields["id"], f"{prefix}_KID": fields["kid"]}


@pytest.fixture
def folders() -> Iterator[tuple[Path, Path]]:
    # The data folder is short and under /tmp: the embedded Valkey's socket
    # path must stay under 100 bytes.
    data = Path(tempfile.mkdtemp(prefix="rrtour-", dir="/tmp"))
    work = Path(tempfile.mkdtemp(prefix="rrtour-cwd-"))
    yield data, work
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


def _env(data: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    bin_dir = str(Path(sys.executable).parent)  # where `refund-registry` is installed
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        REGISTRY_DATA_DIR=str(data),
        REGISTRY_PORT=str(port),
        REGISTRY_KEYSERVICE_PORT=str(_free_port()),
    )
    return env


def _wait_ready(process: subprocess.Popen[str], url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"serve exited with {process.returncode}:\n{err}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve did not become ready")


def test_the_tour_blocks_are_found_and_marked() -> None:
    blocks = tour_blocks()
    assert [language for language, _ in blocks] == ["sh", "python", "sh"]
    serve_lines = [line for line in blocks[0][1].splitlines() if " serve" in line]
    assert serve_lines
    assert serve_lines[0].split("#")[0].strip() == "refund-registry serve &"
    for _, code in blocks:
        for name in _PLACEHOLDER.findall(code):
            assert name.endswith(("_ID", "_KID")), name


def test_the_readme_tour_runs_as_written(folders: tuple[Path, Path]) -> None:
    data, work = folders
    port = _free_port()
    env = _env(data, port)
    url = f"http://127.0.0.1:{port}"
    values: dict[str, str] = {}
    outputs: list[str] = []
    serve: subprocess.Popen[str] | None = None
    try:
        for language, code in tour_blocks():
            if language == "python":
                done = subprocess.run(
                    [sys.executable, "-c", _fill(code, values, port)],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, done.stderr
                outputs.append(done.stdout)
                continue
            for line in code.splitlines():
                command = line.split("  #", 1)[0].strip()
                if not command:
                    continue
                if command.endswith(" serve &"):
                    serve = subprocess.Popen(
                        command.removesuffix("&").split(),
                        cwd=work,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    _wait_ready(serve, url)
                    continue
                done = subprocess.run(
                    ["bash", "-c", _fill(command, values, port)],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=180,
                )
                assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
                outputs.append(done.stdout)
                if "principals add" in command:
                    values.update(_principal_placeholders(command, done.stdout))
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.communicate()

    assert {"MEMBER_ID", "MEMBER_KID", "AUDITOR_ID", "AUDITOR_KID"} <= set(values)
    assert (work / "shop.pem").exists()
    listed = next(out for out in outputs if "Shop A" in out and "Audit" in out)
    assert values["MEMBER_ID"] in listed
    # The member's query: an unknown buyer scores 0, band none, and the query is logged.
    answer = next(out for out in outputs if out.startswith("0 "))
    score, band, query_id = answer.split()
    assert (score, band) == ("0", "none")
    assert query_id.startswith("q")
    # The auditor's check of the whole log, that query included.
    assert "VERIFIED" in outputs[-1], outputs[-1]
