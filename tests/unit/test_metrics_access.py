"""Who may read ``/metrics``: an allowed address, then the exact bearer token when one is set."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry import errors
from refund_registry.config import ConfigError, Settings
from refund_registry.http.metrics import MetricsAccess

tokens = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=64
)
addresses = st.sampled_from(["127.0.0.1", "::1", "10.0.0.5", "192.0.2.7", ""])


def access(token: str = "", *, production: bool = False) -> MetricsAccess:
    environment = "production" if production else "development"
    return MetricsAccess.from_settings(
        Settings(environment=environment, metrics_allow=("10.0.0.5",), metrics_token=token)
    )


def allowed(rule: MetricsAccess, client: str, header: str | None) -> bool | str:
    try:
        rule.check(client, header)
    except errors.RegistryError as exc:
        return exc.code
    return True


@given(tokens, tokens, addresses)
def test_only_the_exact_token_from_an_allowed_address_is_let_in(
    token: str, other: str, client: str
) -> None:
    rule = access(token)
    outcome = allowed(rule, client, f"Bearer {other}")
    if client not in ("127.0.0.1", "::1", "10.0.0.5"):
        assert outcome == "auth.operator_only"
    elif other == token:
        assert outcome is True
    else:
        assert outcome == "auth.metrics_token"


@given(tokens, st.sampled_from(["", "Bearer", "Bearer ", "Basic x", "Token abc"]))
def test_a_missing_or_foreign_scheme_is_refused(token: str, header: str) -> None:
    assert allowed(access(token), "127.0.0.1", header or None) == "auth.metrics_token"


@given(st.booleans(), st.one_of(st.none(), tokens.map(lambda t: f"Bearer {t}")))
def test_without_a_token_production_refuses_and_other_modes_admit_loopback(
    production: bool, header: str | None
) -> None:
    outcome = allowed(access(production=production), "127.0.0.1", header)
    assert outcome == ("auth.metrics_token" if production else True)


@pytest.mark.parametrize("raw", ["short", "has a space in it, sixteen+", "   "])
def test_a_weak_or_malformed_token_is_a_bad_setting(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REGISTRY_METRICS_TOKEN": raw})
    assert any("REGISTRY_METRICS_TOKEN" in line for line in caught.value.problems)


def test_the_token_is_read_and_kept_out_of_the_settings_repr() -> None:
    token = "0123456789abcdef0123"
    settings = Settings.from_env({"REGISTRY_METRICS_TOKEN": token})
    assert settings.metrics_token == token
    assert token not in repr(settings)
