"""Buyer sign-in settings: production needs real channels and named keys."""

from __future__ import annotations

import pytest

from refund_registry.config import ConfigError, Settings


def test_production_refuses_to_start_without_channels_and_keys() -> None:
    env = {
        "REGISTRY_ENVIRONMENT": "production",
        "DATABASE_URL": "postgresql://db/registry",
        "REDIS_URL": "redis://cache",
        "REGISTRY_LOG_KEY_FILE": "/keys/log.key",
        "REGISTRY_REGISTRY_KEY_FILE": "/keys/registry.key",
    }
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    text = "\n".join(caught.value.problems)
    for name in (
        "REGISTRY_SMTP_URL",
        "REGISTRY_SMTP_FROM",
        "REGISTRY_SMS_GATEWAY_URL",
        "REGISTRY_SMS_GATEWAY_SECRET",
        "REGISTRY_BUYER_CODE_KEY_FILE",
        "REGISTRY_PORTAL_PRINCIPAL",
        "REGISTRY_PORTAL_KID",
        "REGISTRY_PORTAL_KEY_FILE",
        "REGISTRY_KEYSERVICE_PUBLIC_KEY",
    ):
        assert name in text


def test_zero_setup_needs_none_of_them_and_reads_them_when_given() -> None:
    settings = Settings.from_env(
        {
            "REGISTRY_SMTP_URL": "smtps://mail.example.com",
            "REGISTRY_SMTP_STARTTLS": "yes",
            "REGISTRY_SMS_GATEWAY_URL": "https://sms.example.com/send",
            "REGISTRY_SMS_GATEWAY_SECRET": "whsec_c2VjcmV0",
        }
    )
    assert (settings.smtp_url, settings.smtp_starttls) == ("smtps://mail.example.com", True)
    assert Settings.from_env({}).smtp_url == ""


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"REGISTRY_SMS_GATEWAY_URL": "https://sms.example.com"}, "go together"),
        ({"REGISTRY_SMTP_URL": "http://mail.example.com"}, "smtp://"),
        ({"REGISTRY_SMTP_STARTTLS": "maybe"}, "true or false"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert problem in "\n".join(caught.value.problems)
