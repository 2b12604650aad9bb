"""The files of ``deploy/``: every systemd unit parses and runs a real CLI command.

``systemd-analyze verify`` checks each unit (``.ci/run`` installs it); the
unit's binary is pointed at this environment's ``refund-registry`` for the
check, since ``/opt/refund-registry`` exists only on a deployed host. A
configparser check of the required keys runs beside it. Every ``ExecStart``
command line is then parsed by the CLI's own parser, so a unit cannot name a
command or an option that does not exist.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from refund_registry.cli.main import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED_BINARY = "/opt/refund-registry/bin/refund-registry"
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
}


def read_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_the_three_services_are_there() -> None:
    names = {p.name for p in UNITS}
    assert names == {
        "refund-registry-api.service",
        "refund-registry-keyservice.service",
        "refund-registry-worker.service",
    }


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_has_the_required_keys_and_hardening(unit: Path) -> None:
    parsed = read_unit(unit)
    assert parsed.get("Unit", "Description")
    service = parsed["Service"]
    assert service["ExecStart"].startswith(INSTALLED_BINARY + " ")
    assert service["User"]
    assert service["Group"]
    assert service["Restart"] == "always"
    assert parsed.get("Install", "WantedBy") == "multi-user.target"
    for key, wanted in HARDENING.items():
        assert service.get(key) == wanted, (unit.name, key)


def test_the_key_service_runs_as_its_own_user() -> None:
    users = {p.name: read_unit(p)["Service"]["User"] for p in UNITS}
    keyservice = users.pop("refund-registry-keyservice.service")
    assert keyservice not in users.values()
    assert set(users.values()) == {"registry-api"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_command_a_unit_runs_exists_in_the_cli(unit: Path) -> None:
    argv = shlex.split(read_unit(unit)["Service"]["ExecStart"])
    assert argv[0] == INSTALLED_BINARY
    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"{unit.name}: `{shlex.join(argv[1:])}` is refused by the CLI ({exc})")
    assert args.command == argv[1]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:  # .ci/run installs it
        pytest.fail("needs systemd-analyze: apt-get install systemd")
    binary = Path(sys.executable).with_name("refund-registry")
    assert binary.exists()
    local = tmp_path / unit.name
    local.write_text(unit.read_text().replace(INSTALLED_BINARY, str(binary)))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(local)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and not re.search(r"(Failed to|Cannot) (open|connect).*bus", line)
    ]
    assert done.returncode == 0, complaints
    assert not complaints, complaints


def test_the_proxy_forwards_to_the_api_port_and_hides_metrics() -> None:
    conf = (DEPLOY / "nginx" / "refund-registry.conf").read_text()
    api = read_unit(DEPLOY / "systemd" / "refund-registry-api.service")
    port = shlex.split(api["Service"]["ExecStart"])[-1]
    assert f"server 127.0.0.1:{port};" in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
    assert "proxy_request_buffering on;" in conf
    # No URI part on proxy_pass: the signed `htu` must reach the API unchanged.
    assert re.search(r"proxy_pass http://[a-z_]+;", conf)
