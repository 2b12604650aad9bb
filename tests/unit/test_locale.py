"""Accept-Language negotiation (RFC 9110 §12.5.4) and the default-language setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.config import ConfigError, Settings
from refund_registry.domain.scoring.reasons import REASON_TEXT
from refund_registry.http.locale import with_vary
from refund_registry.http.problems import translate
from refund_registry.i18n import SUPPORTED_TAGS, negotiate
from refund_registry.services.risk import REASON_TEXTS

DOCS = Path(__file__).resolve().parents[2] / "docs"

CHINESE = ("zh", "zh-CN", "zh-cn", "zh-Hans", "zh-Hans-CN", "ZH")
ENGLISH = ("en", "en-US", "en-GB", "EN-au")
UNSUPPORTED = ("fr", "de-DE", "ja", "ko-KR", "es-419", "zh-TW", "zh-Hant", "x-klingon")
TAG_OF = {**dict.fromkeys(CHINESE, "zh-CN"), **dict.fromkeys(ENGLISH, "en")}

defaults = st.sampled_from(SUPPORTED_TAGS)
qvalues = st.integers(0, 1000).map(lambda n: f"{n / 1000:.3f}".rstrip("0").rstrip("."))


@given(st.text(max_size=80), defaults)
def test_never_answers_an_unsupported_language(header: str, default: str) -> None:
    assert negotiate(header, default) in SUPPORTED_TAGS


@given(
    st.lists(st.sampled_from(CHINESE + ENGLISH + UNSUPPORTED + ("*",)), max_size=6),
    st.lists(qvalues, min_size=6, max_size=6),
    defaults,
)
def test_never_answers_an_unsupported_language_for_well_formed_headers(
    ranges: list[str], qs: list[str], default: str
) -> None:
    header = ", ".join(f"{r};q={q}" for r, q in zip(ranges, qs, strict=False))
    assert negotiate(header, default) in SUPPORTED_TAGS


@given(
    st.sampled_from(CHINESE),
    st.sampled_from(ENGLISH),
    st.integers(1, 1000),
    st.integers(1, 1000),
    st.booleans(),
    defaults,
)
def test_the_higher_q_value_wins_whatever_the_order(
    zh: str, en: str, q_zh: int, q_en: int, english_first: bool, default: str
) -> None:
    parts = [f"{zh};q={q_zh / 1000:.3f}", f"{en};q={q_en / 1000:.3f}"]
    if english_first:
        parts.reverse()
    chosen = negotiate(", ".join(parts), default)
    if q_zh > q_en:
        assert chosen == "zh-CN"
    elif q_en > q_zh:
        assert chosen == "en"
    else:  # a tie goes to the range listed first
        assert chosen == ("en" if english_first else "zh-CN")


@given(st.lists(st.sampled_from(UNSUPPORTED), max_size=5), qvalues, defaults)
def test_unsupported_languages_only_give_the_default(
    ranges: list[str], q: str, default: str
) -> None:
    assert negotiate(", ".join(f"{r};q={q}" for r in ranges), default) == default


@given(st.sampled_from(CHINESE + ENGLISH), defaults)
def test_q_zero_rules_a_language_out(language: str, default: str) -> None:
    other = "en" if TAG_OF[language] == "zh-CN" else "zh-CN"
    assert negotiate(f"{language};q=0, *;q=0.1", default) == other
    assert negotiate(f"{language};q=0", default) == default


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        (None, "zh-CN", "zh-CN"),
        ("", "en", "en"),
        ("en", "zh-CN", "en"),
        ("zh-Hans", "en", "zh-CN"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "zh-CN", "en"),
        ("*", "en", "en"),
        ("*", "zh-CN", "zh-CN"),
        ("zh-CN;q=0.1, *", "zh-CN", "en"),  # * is every language not named otherwise
        ("en;q=2, zh", "en", "zh-CN"),  # a malformed element is ignored
        ("en-US,en;q=0.9,zh-CN;q=0.8", "zh-CN", "en"),
    ],
)
def test_examples(header: str | None, default: str, expected: str) -> None:
    assert negotiate(header, default) == expected


def test_the_default_language_setting() -> None:
    assert Settings().default_locale == "zh-CN"
    assert Settings.from_env({"REGISTRY_DEFAULT_LOCALE": "en"}).default_locale == "en"
    with pytest.raises(ConfigError, match="REGISTRY_DEFAULT_LOCALE"):
        Settings.from_env({"REGISTRY_DEFAULT_LOCALE": "fr"})


def test_problem_details_keep_quoted_values_untranslated() -> None:
    detail = "query parameter 'limit': Expected `int`, got `str`"
    assert translate("zh-CN", detail) == "查询参数 'limit'：Expected `int`, got `str`"
    assert translate("en", detail) == detail
    where = "queries[2].identifiers[0].pseudonym: must be 86 base64url characters (64 bytes)"
    assert translate("zh-CN", where) == (
        "queries[2].identifiers[0].pseudonym：须为 86 个 base64url 字符（64 字节）"
    )
    assert translate("zh-CN", "an unforeseen sentence") == "an unforeseen sentence"


def _reason_table(path: Path, heading: str) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    start = text.index(heading)
    section = text[start : text.index("\n## ", start + 1)]
    return dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|$", section, re.MULTILINE))


def test_the_chinese_scoring_guide_lists_the_catalog_reasons() -> None:
    chinese_table = _reason_table(DOCS / "scoring.zh-CN.md", "## 原因代码")
    english_table = _reason_table(DOCS / "scoring.md", "## Reason codes")
    assert chinese_table == REASON_TEXTS["zh-CN"]
    assert english_table == REASON_TEXTS["en"] == dict(REASON_TEXT)


TOKENS = st.sampled_from([b"Origin", b"Authorization", b"accept-language", b"Accept-Encoding"])


@given(st.lists(TOKENS, max_size=4), st.booleans())
def test_vary_names_accept_language_once_and_keeps_the_rest(
    listed: list[bytes], has_vary: bool
) -> None:
    headers = [(b"content-type", b"application/json")]
    if has_vary and listed:
        headers.append((b"vary", b", ".join(listed)))
    out = with_vary(headers, b"Accept-Language")
    (vary,) = [v for n, v in out if n.lower() == b"vary"]
    tokens = [t.strip().lower() for t in vary.split(b",")]
    before = listed.count(b"accept-language") if has_vary else 0
    assert tokens.count(b"accept-language") == max(1, before)
    if has_vary and listed:
        assert vary.startswith(b", ".join(listed))
    assert (b"content-type", b"application/json") in out


def test_vary_star_already_covers_the_language() -> None:
    headers = [(b"vary", b"*")]
    assert with_vary(headers, b"Accept-Language") == headers
