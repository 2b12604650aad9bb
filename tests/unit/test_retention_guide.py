"""The buyers' guides state the retention periods the registry applies."""

from __future__ import annotations

import re
from pathlib import Path

from refund_registry.domain.reports import RetentionPolicy

DOCS = Path(__file__).resolve().parents[2] / "docs"


def one_line(name: str) -> str:
    return re.sub(r"\s+", " ", (DOCS / name).read_text(encoding="utf-8"))


def test_the_english_guide_states_each_period_and_small_amount() -> None:
    policy = RetentionPolicy()
    text = one_line("buyers.md")
    assert f"{policy.small_case_years} years for a small amount" in text
    assert f"{policy.default_years} years otherwise" in text
    assert f"and {policy.repeat_years} years when another platform" in text
    for currency, limit in policy.small_case_limits.items():
        assert f"{limit // 100:,} {currency}" in text, currency


def test_the_chinese_guide_states_each_period_and_small_amount() -> None:
    policy = RetentionPolicy()
    text = one_line("buyers.zh-CN.md").replace(" ", "")
    assert f"为{policy.small_case_years}年，其他为{policy.default_years}年" in text
    assert f"则为{policy.repeat_years}年" in text
    names = {"CNY": "元人民币", "USD": "美元", "EUR": "欧元", "HKD": "港元"}
    assert set(names) == set(policy.small_case_limits)
    for currency, limit in policy.small_case_limits.items():
        assert f"{limit // 100}{names[currency]}" in text, currency
