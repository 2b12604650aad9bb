"""The command line's parser: every option explains itself and shows its default."""

from __future__ import annotations

import argparse
import string
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.cli.common import redacted
from refund_registry.cli.main import build_parser


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


PARSERS = list(_parsers(build_parser()))


@pytest.mark.parametrize("parser", PARSERS, ids=[p.prog for p in PARSERS])
def test_every_option_has_help(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"


@pytest.mark.parametrize("parser", PARSERS, ids=[p.prog for p in PARSERS])
def test_help_shows_every_default(parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert "(default: None)" not in text
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {action.default})" in " ".join(text.split()), (
                f"{parser.prog} {action.option_strings[0]} does not show its default"
            )


def test_options_whose_default_comes_from_the_environment_name_it() -> None:
    serve = next(p for p in PARSERS if p.prog.endswith(" serve"))
    text = " ".join(serve.format_help().split())
    assert "$REGISTRY_PORT, else 8080" in text
    assert "$REGISTRY_HOST, else 127.0.0.1" in text
    assert "$REGISTRY_KEYSERVICE_PORT, else a free port" in text
    assert "$REGISTRY_DATA_DIR" in text


def test_principals_has_keygen_and_show_and_json() -> None:
    parser = build_parser()
    args = parser.parse_args(["principals", "keygen", "--out", "shop"])
    assert (args.out, args.alg, args.json) == ("shop", "Ed25519", False)
    args = parser.parse_args(["principals", "show", "mbr_1", "--json"])
    assert (args.id, args.json) == ("mbr_1", True)
    with pytest.raises(SystemExit):
        parser.parse_args(["principals", "keygen", "--out", "x", "--alg", "RS256"])


_PASSWORDS = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8)
_HOSTS = st.lists(
    st.tuples(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), st.integers(1, 65535)),
    min_size=1,
    max_size=3,
)


@given(password=_PASSWORDS, hosts=_HOSTS)
def test_redacted_hides_the_password_and_keeps_every_host(
    password: str, hosts: list[tuple[str, int]]
) -> None:
    where = ",".join(f"{host}:{port}" for host, port in hosts)
    url = f"postgresql://registry:{password}@{where}/db?target_session_attrs=read-write"
    # The whole URL is compared: the password may by chance spell a host name.
    assert redacted(url) == f"postgresql://registry:***@{where}/db?target_session_attrs=read-write"
