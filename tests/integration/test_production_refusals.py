"""Production refuses a host where the two keys (or the two OS users) meet.

``serve`` in production never starts a key-service child, needs
``REGISTRY_KEYSERVICE_URL`` and stops when it can read the OPRF key; the key
service stops when it runs as the API's OS user or can read the API's keys.
The checks run before any server is touched, so the CLI answers at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from refund_registry.cli import boundaries
from refund_registry.config import Settings


def production(tmp_path: Path, **changes: object) -> Settings:
    base = Settings(
        environment="production",
        data_dir=tmp_path,
        database_url="postgresql://registry_api:pw@db.internal/registry",
        redis_url="redis://cache.internal:6379/0",
        keyservice_url="https://keyservice.internal",
        log_key_file=tmp_path / "api-keys" / "log.key",
        registry_key_file=tmp_path / "api-keys" / "registry.key",
        keyservice_key_file=tmp_path / "ks-keys" / "keyservice.key",
        api_user="registry-api",
        keyservice_user="registry-ks",
    )
    return base.with_overrides(**changes)


def nothing_readable(path: str) -> bool:
    return False


def test_a_well_separated_host_starts_both(tmp_path: Path) -> None:
    settings = production(tmp_path)
    assert boundaries.serve_refusals(settings, user="registry-api", readable=nothing_readable) == []
    assert (
        boundaries.keyservice_refusals(settings, user="registry-ks", readable=nothing_readable)
        == []
    )


def test_serve_refuses_without_a_key_service_url(tmp_path: Path) -> None:
    settings = production(tmp_path, keyservice_url="")
    [problem] = boundaries.serve_refusals(settings, user="registry-api", readable=nothing_readable)
    assert "REGISTRY_KEYSERVICE_URL is required" in problem


def test_serve_refuses_when_it_can_read_the_oprf_key(tmp_path: Path) -> None:
    settings = production(tmp_path)
    oprf = str(settings.key_path("keyservice"))
    [problem] = boundaries.serve_refusals(
        settings, user="registry-api", readable=lambda p: p == oprf
    )
    assert "can read the OPRF key" in problem


def test_serve_refuses_to_run_as_the_key_service_user(tmp_path: Path) -> None:
    settings = production(tmp_path)
    [problem] = boundaries.serve_refusals(settings, user="registry-ks", readable=nothing_readable)
    assert "REGISTRY_KEYSERVICE_USER" in problem


def test_the_oprf_key_check_uses_the_real_file_permissions(tmp_path: Path) -> None:
    settings = production(tmp_path)
    key = settings.key_path("keyservice")
    assert boundaries.serve_refusals(settings, user="registry-api") == []  # no such file
    key.parent.mkdir()
    key.write_text("00" * 32)
    assert os.access(key, os.R_OK)
    assert any("OPRF key" in p for p in boundaries.serve_refusals(settings, user="registry-api"))


def test_keyservice_refuses_to_run_as_the_api_user(tmp_path: Path) -> None:
    settings = production(tmp_path)
    [problem] = boundaries.keyservice_refusals(
        settings, user="registry-api", readable=nothing_readable
    )
    assert "the API's OS user (REGISTRY_API_USER)" in problem


def test_keyservice_needs_to_know_the_api_user(tmp_path: Path) -> None:
    settings = production(tmp_path, api_user="")
    [problem] = boundaries.keyservice_refusals(
        settings, user="registry-ks", readable=nothing_readable
    )
    assert "REGISTRY_API_USER is required" in problem


def test_keyservice_refuses_when_it_can_read_the_api_keys(tmp_path: Path) -> None:
    settings = production(tmp_path)
    problems = boundaries.keyservice_refusals(settings, user="registry-ks", readable=lambda p: True)
    assert len(problems) == 2
    assert all("the API's" in p for p in problems)


def test_outside_production_nothing_is_refused(tmp_path: Path) -> None:
    settings = production(tmp_path, environment="development", keyservice_url="")
    assert boundaries.serve_refusals(settings, user="x", readable=lambda p: True) == []
    assert boundaries.keyservice_refusals(settings, user="x", readable=lambda p: True) == []


def _run(command: str, settings: Settings) -> str:
    """Run a command's handler as ``main`` would; return the one-line refusal."""
    import argparse
    import io

    from refund_registry.cli import keyservice, serve
    from refund_registry.cli.common import CommandError

    args = argparse.Namespace(
        settings=settings, data_dir=None, host=None, port=None, keyservice_port=None
    )
    handler = serve.cmd_serve if command == "serve" else keyservice.cmd_keyservice
    with pytest.raises(CommandError) as refused:
        handler(args, io.StringIO())
    assert refused.value.exit_code == 1
    return str(refused.value)


@pytest.mark.parametrize("given_url", [False, True])
def test_serve_command_refuses_in_production(tmp_path: Path, given_url: bool) -> None:
    settings = production(tmp_path, keyservice_url="http://127.0.0.1:9" if given_url else "")
    key = settings.key_path("keyservice")
    key.parent.mkdir()
    key.write_text("00" * 32)  # readable by this process
    message = _run("serve", settings)
    assert message.startswith("refusing to start")
    assert "can read the OPRF key" in message
    assert ("REGISTRY_KEYSERVICE_URL is required" in message) is not given_url
    assert not (tmp_path / "serve.lock").exists()  # refused before touching the folder


def test_keyservice_command_refuses_to_run_as_the_api_user(tmp_path: Path) -> None:
    settings = production(tmp_path, api_user=boundaries.os_user())
    message = _run("keyservice", settings)
    assert "the API's OS user (REGISTRY_API_USER)" in message
    assert not (tmp_path / "keyservice.lock").exists()
