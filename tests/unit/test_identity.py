"""Identifier normalisation: one spelling per buyer, every rule enforced, idempotent."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from refund_registry.domain import identity
from refund_registry.domain.identity import (
    KINDS,
    NORM_VERSION,
    IdentifierRejected,
    national_id_check_char,
    normalise,
    oprf_input,
)
from refund_registry.errors import InvalidInput

FAST = settings(max_examples=60, deadline=None)

_FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789+-()abcdefghijklmnopqrstuvwxyz"}
_FULL_WIDTH.update({ord(c): ord(c) + 0xFEE0 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ.@"})


def full_width(text: str) -> str:
    """The same text as a Chinese input method in full-width mode would type it."""
    return text.translate(_FULL_WIDTH)


# --- generators ----------------------------------------------------------------

_CN_MOBILE_PREFIXES = ["130", "135", "138", "139", "150", "158", "176", "186", "189", "199"]


@st.composite
def cn_mobiles(draw: st.DrawFn) -> str:
    """An 11-digit Chinese mobile number (national form) in an assigned range."""
    prefix = draw(st.sampled_from(_CN_MOBILE_PREFIXES))
    rest = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    number = prefix + rest
    assume(phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")))
    return number


@st.composite
def national_ids(draw: st.DrawFn) -> str:
    """A valid PRC resident ID: region, birth date, sequence, computed check character."""
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)))
    sequence = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    first17 = region + born.strftime("%Y%m%d") + sequence
    return first17 + national_id_check_char(first17)


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True).filter(
    lambda s: "--" not in s
)
_local = st.from_regex(r"[a-z0-9]([a-z0-9_+]{0,10}[a-z0-9])?", fullmatch=True)


@st.composite
def emails(draw: st.DrawFn) -> str:
    """A plain ASCII address whose normal form is itself."""
    labels = draw(st.lists(_label, min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "cn", "net", "org", "com.cn"]))
    return f"{draw(_local)}@{'.'.join([*labels, tld])}"


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


_opaque_text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp")),
    min_size=1,
    max_size=80,
)


# --- idempotence ---------------------------------------------------------------


def _attempt(kind: str, value: str) -> str | IdentifierRejected:
    try:
        return normalise(kind, value)
    except IdentifierRejected as exc:
        return exc


@FAST
@given(cn_mobiles())
def test_phone_normal_form_is_e164_and_a_fixed_point(number: str) -> None:
    once = normalise("phone", number)
    assert once == "+86" + number
    assert normalise("phone", once) == once


@FAST
@given(emails())
def test_email_normal_form_is_a_fixed_point(address: str) -> None:
    once = normalise("email", address)
    assert once == address
    assert normalise("email", once) == once


@FAST
@given(national_ids())
def test_national_id_normal_form_is_a_fixed_point(number: str) -> None:
    once = normalise("national_id", number)
    assert once == number
    assert normalise("national_id", once) == once


@FAST
@given(st.sampled_from(["device_id", "payment_account"]), _opaque_text)
def test_opaque_normal_form_is_a_fixed_point(kind: str, value: str) -> None:
    once = _attempt(kind, value)
    if isinstance(once, IdentifierRejected):
        assert once.rule == "opaque.length"  # only whitespace, or too long after NFKC
        return
    assert normalise(kind, once) == once


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.text(max_size=40))
def test_any_text_is_either_rejected_or_normalised_to_a_fixed_point(kind: str, text: str) -> None:
    once = _attempt(kind, text)
    if isinstance(once, IdentifierRejected):
        assert once.kind == kind
        return
    assert normalise(kind, once) == once


@FAST
@given(
    st.text(
        alphabet=st.sampled_from("aAİıßẞﬁǅΣσςＡａ０Ⅻ㎒ǰ.+_-é\u0301"),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["example.com", "EXAMPLE.COM", "例子.中国", "bücher.de"]),
)
def test_unicode_email_local_parts_settle_in_one_pass(local: str, domain: str) -> None:
    # Characters whose lower case or NFKC form changes again are where a naive
    # "lower() then NFKC" pipeline stops being idempotent.
    try:
        once = normalise("email", f"{local}@{domain}")
    except IdentifierRejected:
        return
    assert normalise("email", once) == once


# --- equivalent spellings ------------------------------------------------------


@FAST
@given(cn_mobiles(), st.data())
def test_every_spelling_of_a_mobile_number_is_one_identifier(
    number: str, data: st.DataObject
) -> None:
    grouped = f"{number[:3]} {number[3:7]} {number[7:]}"
    dashed = f"{number[:3]}-{number[3:7]}-{number[7:]}"
    spellings = [
        number,
        grouped,
        dashed,
        f"+86{number}",
        f"+86 {grouped}",
        f"+86-{dashed}",
        f"0086{number}",
        f"0086 {grouped}",
        f"00 86 {dashed}",
        f"(+86) {grouped}",
        f"(86) {number}",
        f"86{number}",
        f"  {number}\t",
        full_width(number),
        full_width(f"+86 {dashed}"),
        full_width(f"0086{number}"),
    ]
    expected = "+86" + number
    spelling = data.draw(st.sampled_from(spellings))
    assert normalise("phone", spelling) == expected
    assert {normalise("phone", s) for s in spellings} == {expected}


def test_landline_with_area_code_and_full_width_digits() -> None:
    assert normalise("phone", "010-12345678") == "+861012345678"
    assert normalise("phone", "０１０－１２３４５６７８") == "+861012345678"
    assert normalise("phone", "+86 10 1234 5678") == "+861012345678"


def test_default_region_only_matters_without_international_prefix() -> None:
    assert normalise("phone", "+1 650-253-0000", default_region="CN") == "+16502530000"
    assert normalise("phone", "(650) 253-0000", default_region="US") == "+16502530000"
    # "0086" is accepted whatever the default region's own dialling prefix is.
    assert normalise("phone", "0086 138 0013 8000", default_region="US") == "+8613800138000"


@FAST
@given(emails(), st.data())
def test_every_spelling_of_an_email_is_one_identifier(address: str, data: st.DataObject) -> None:
    mixed = data.draw(random_case(address))
    spellings = [address, address.upper(), mixed, f"  {mixed}\n", full_width(mixed)]
    assert {normalise("email", s) for s in spellings} == {address}


def test_international_domain_is_idna_encoded() -> None:
    expected = "用户@xn--fsqu00a.xn--fiqs8s"
    for spelling in [
        "用户@例子.中国",
        "用户@例子。中国",
        "用户@XN--FSQU00A.XN--FIQS8S",
        " 用户@例子.中国 ",
    ]:
        assert normalise("email", spelling) == expected
    assert normalise("email", "Anna@Bücher.DE") == "anna@xn--bcher-kva.de"


def test_dots_and_plus_tags_are_not_folded() -> None:
    # Folding is provider-specific (Gmail ignores dots, most others do not).
    assert normalise("email", "a.b+tag@example.com") == "a.b+tag@example.com"
    assert normalise("email", "a.b+tag@example.com") != normalise("email", "ab@example.com")


@FAST
@given(national_ids(), st.data())
def test_every_spelling_of_a_national_id_is_one_identifier(
    number: str, data: st.DataObject
) -> None:
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}"
    spellings = [number, number.lower(), spaced, f" {spaced.lower()} ", full_width(number)]
    assert {normalise("national_id", s) for s in spellings} == {number}


def test_known_national_id_with_x_check_character() -> None:
    # The worked example of GB 11643-1999.
    assert normalise("national_id", "11010519491231002x") == "11010519491231002X"


def test_opaque_identifiers_are_trimmed_but_otherwise_kept() -> None:
    assert normalise("device_id", "  AbC-123 \n") == "AbC-123"
    assert normalise("payment_account", "6222 0000 1111") == "6222 0000 1111"
    assert normalise("device_id", "ＡＢＣ") == "ABC"  # NFKC still applies


# --- one failing example per rule ----------------------------------------------


def _bad_check(number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != number[17])
    return number[:17] + wrong


_VALID_ID = "11010519491231002X"

REJECTIONS = [
    ("fax", "+8613800138000", "kind.unknown"),
    ("phone", "1" * 1025, "value.too_long"),
    ("phone", "   ", "phone.empty"),
    ("phone", "1-800-FLOWERS", "phone.syntax"),
    ("phone", "138 0013 8000 ext 12", "phone.syntax"),
    ("phone", "86+13800138000", "phone.syntax"),
    ("phone", "+999 1234 5678", "phone.country_code"),
    ("phone", "123", "phone.impossible"),
    ("phone", "11111111111", "phone.invalid"),
    ("email", " \t", "email.empty"),
    ("email", "no-at-sign.example.com", "email.syntax"),
    ("email", "a@localhost", "email.syntax"),
    ("email", '"quoted"@example.com', "email.syntax"),
    ("national_id", "1101051949123100", "national_id.length"),
    ("national_id", "11010519491231002Y", "national_id.format"),
    ("national_id", "110105194912310A2X", "national_id.format"),
    ("national_id", "110105" + "19490231" + "0021", "national_id.birth_date"),
    ("national_id", "110105" + "18991231" + "0021", "national_id.birth_date"),
    ("national_id", "110105" + "21000101" + "0021", "national_id.birth_date"),
    ("national_id", _bad_check(_VALID_ID), "national_id.checksum"),
    ("device_id", "  ", "opaque.length"),
    ("payment_account", "9" * 257, "opaque.length"),
    ("device_id", "abc\u0000def", "opaque.control"),
    ("device_id", "abc\u200bdef", "opaque.control"),
    ("payment_account", "line\nbreak", "opaque.control"),
]


@pytest.mark.parametrize(("kind", "value", "rule"), REJECTIONS)
def test_each_rule_rejects_its_example(kind: str, value: str, rule: str) -> None:
    with pytest.raises(IdentifierRejected) as caught:
        normalise(kind, value)
    exc = caught.value
    assert isinstance(exc, InvalidInput)
    assert exc.code == "identifier.invalid"
    assert exc.rule == rule
    assert exc.extra == {"kind": kind, "rule": rule}
    # The value is personal data and must not leak into logs via the message.
    if len(value.strip()) > 3:
        assert value.strip() not in exc.detail


def test_every_rule_slug_in_the_module_has_an_example() -> None:
    # A rule added without a failing example here would go untested.
    source = Path(identity.__file__).read_text(encoding="utf-8")
    slugs = set(re.findall(r'"([a-z_]+\.[a-z_]+)"', source)) - {"identifier.invalid"}
    exercised = {rule for _, _, rule in REJECTIONS} | {"value.not_normalised"}
    assert slugs == exercised


@FAST
@given(national_ids(), st.integers(min_value=0, max_value=16), st.integers(1, 9))
def test_changing_one_digit_breaks_the_checksum_or_the_date(
    number: str, position: int, delta: int
) -> None:
    digit = (int(number[position]) + delta) % 10
    altered = number[:position] + str(digit) + number[position + 1 :]
    with pytest.raises(IdentifierRejected) as caught:
        normalise("national_id", altered)
    assert caught.value.rule in {"national_id.checksum", "national_id.birth_date"}


# --- OPRF input ----------------------------------------------------------------


def test_oprf_input_layout() -> None:
    assert NORM_VERSION == 1
    assert oprf_input("phone", "+8613800138000") == b"phone|1|+8613800138000"
    assert oprf_input("email", "用户@xn--fsqu00a.xn--fiqs8s") == (
        "email|1|用户@xn--fsqu00a.xn--fiqs8s".encode()
    )


def test_oprf_input_refuses_values_that_were_not_normalised() -> None:
    with pytest.raises(IdentifierRejected) as caught:
        oprf_input("phone", "138 0013 8000")
    assert caught.value.rule == "value.not_normalised"
    with pytest.raises(IdentifierRejected) as caught:
        oprf_input("sms", "+8613800138000")
    assert caught.value.rule == "kind.unknown"


def test_same_value_under_two_kinds_gives_different_inputs() -> None:
    assert oprf_input("device_id", "abc") != oprf_input("payment_account", "abc")
