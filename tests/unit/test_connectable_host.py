"""A listen address becomes an address to connect to: the key service's and the portal's URLs."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.cli.serve import with_public_url
from refund_registry.config import Settings
from refund_registry.http.keyservice_proxy import connectable_host, keyservice_base_url


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("::", "[::1]"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "[::1]"),
        ("fe80::2", "[fe80::2]"),
        ("localhost", "localhost"),
    ],
)
def test_a_wildcard_becomes_loopback_and_ipv6_is_bracketed(host: str, expected: str) -> None:
    assert connectable_host(host) == expected


@given(st.ip_addresses(v=6).filter(lambda a: not a.is_unspecified))
def test_every_other_ipv6_address_is_bracketed_as_it_is(address: ipaddress.IPv6Address) -> None:
    host = connectable_host(str(address))
    assert host == f"[{address}]"


def test_the_key_service_url_and_the_public_url_name_the_same_host() -> None:
    settings = Settings(environment="development", host="::", port=8000, keyservice_port=8001)
    assert keyservice_base_url(settings) == "http://[::1]:8001"
    assert with_public_url(settings).public_url == "http://[::1]:8000"
