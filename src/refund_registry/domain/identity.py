"""Normalisation of buyer identifiers before they are turned into pseudonyms.

Every member must derive *the same* pseudonym for the same buyer, so every member
must feed the OPRF exactly the same bytes. This module is that agreement: it maps
the many spellings of one identifier (spaces, dashes, ``+86`` / ``0086``,
full-width digits, mixed case) to one canonical string, and refuses values that
cannot identify anyone (an impossible phone number, a national ID whose check
digit is wrong) so that typos do not silently create fresh, clean records.

It is pure on purpose: no I/O, no clock, no randomness. The same code ships in the
member SDK, and the registry never sees raw identifiers at all.

The rules are versioned by :data:`NORM_VERSION`, which is part of every OPRF input
(:func:`oprf_input`). Any change that could map a previously accepted value to a
different string must bump the version, because it changes pseudonyms. Note that
the phone rules also depend on the metadata shipped with ``phonenumbers``: a
metadata update can make a previously invalid number valid (harmless) and, in
rare cases, the reverse; pin the version in the SDK and review upgrades.

Error messages never repeat the submitted value: they end up in logs and problem
documents, and the value is personal data.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from refund_registry.errors import InvalidInput

NORM_VERSION: Final = 1
"""Version of the rules below; part of every OPRF input."""

PHONE: Final = "phone"
EMAIL: Final = "email"
NATIONAL_ID: Final = "national_id"
DEVICE_ID: Final = "device_id"
PAYMENT_ACCOUNT: Final = "payment_account"

KINDS: Final[frozenset[str]] = frozenset({PHONE, EMAIL, NATIONAL_ID, DEVICE_ID, PAYMENT_ACCOUNT})

MAX_RAW_LENGTH: Final = 1024
"""Longest input looked at, in code points, before any work is done.

NFKC can expand a string (up to 18x for some code points), and ``phonenumbers``
and ``email_validator`` are not written for adversarial megabyte inputs, so the
bound is checked first. Every valid identifier is far shorter.
"""

OPAQUE_MAX_LENGTH: Final = 256
"""Longest device id or payment account, in code points, after normalisation."""

# Characters a human or a form may put between the digits of a phone number.
# Letters are refused: ``phonenumbers`` would map "1-800-FLOWERS" to digits and
# parse "... ext 5" as an extension, and neither belongs in a buyer identifier.
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE_DIGITS = re.compile(r"\+?[0-9]+")

_NATIONAL_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

# ISO 7064 MOD 11-2 weights for the 17 leading digits: 2^(17-i) mod 11.
_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK_CHARS: Final = "10X98765432"  # indexed by (weighted sum mod 11)

# Unicode general categories refused inside opaque identifiers: controls,
# invisible format characters (zero-width space/joiner: two strings that look the
# same must not be two buyers), lone surrogates (not encodable as UTF-8), private
# use, and line/paragraph separators.
_OPAQUE_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


class IdentifierRejected(InvalidInput):
    """An identifier broke one of the normalisation rules.

    ``rule`` is a short, stable slug (``"phone.impossible"``,
    ``"national_id.checksum"``, ...) that clients may branch on; ``detail`` is
    for humans and never contains the submitted value.
    """

    code = "identifier.invalid"
    title = "Invalid identifier"

    def __init__(self, kind: str, rule: str, detail: str) -> None:
        super().__init__(detail, extra={"kind": kind, "rule": rule})
        self.kind = kind
        self.rule = rule


def normalise(kind: str, value: str, *, default_region: str = "CN") -> str:
    """Return the canonical spelling of ``value`` for identifier ``kind``.

    ``default_region`` (ISO 3166 alpha-2) only matters for phone numbers written
    without an international prefix; every member of one deployment must use the
    same default or national numbers will diverge. The result is a fixed point:
    ``normalise(kind, normalise(kind, v)) == normalise(kind, v)``.

    Raises :class:`IdentifierRejected` for an unknown kind or an invalid value.
    """
    if kind not in KINDS:
        raise IdentifierRejected(kind, "kind.unknown", "unknown identifier kind")
    if len(value) > MAX_RAW_LENGTH:
        raise IdentifierRejected(
            kind, "value.too_long", f"identifier longer than {MAX_RAW_LENGTH} characters"
        )
    # NFKC first, for every kind: full-width digits and letters (common from
    # Chinese input methods) become ASCII, compatibility ligatures are split.
    text = unicodedata.normalize("NFKC", value)
    if kind == PHONE:
        return _normalise_phone(text, default_region)
    if kind == EMAIL:
        return _normalise_email(text)
    if kind == NATIONAL_ID:
        return _normalise_national_id(text)
    return _normalise_opaque(kind, text)


def oprf_input(kind: str, normalised: str) -> bytes:
    """The exact bytes fed to the OPRF: ``kind|NORM_VERSION|value`` in UTF-8.

    Precondition: ``normalised`` is the output of :func:`normalise`. This is
    checked (it costs one more normalisation) because a value hashed without
    normalising yields a valid-looking pseudonym that matches nobody, a failure
    no one would ever notice. The kind is part of the input so that the same
    string under two kinds (a device id that happens to equal a payment account)
    gives unrelated pseudonyms.
    """
    if normalise(kind, normalised) != normalised:
        raise IdentifierRejected(
            kind, "value.not_normalised", "identifier must be normalised before hashing"
        )
    return f"{kind}|{NORM_VERSION}|{normalised}".encode()


def _normalise_phone(text: str, default_region: str) -> str:
    compact = text.strip()
    if not compact:
        raise IdentifierRejected(PHONE, "phone.empty", "phone number is empty")
    digits_and_plus = _PHONE_SEPARATORS.sub("", compact)
    if _PHONE_DIGITS.fullmatch(digits_and_plus) is None:
        raise IdentifierRejected(
            PHONE,
            "phone.syntax",
            "phone number may contain only digits, spaces, dashes, dots, parentheses "
            "and a leading '+'",
        )
    # "0086..." is how a Chinese number is dialled from abroad and how many forms
    # store it; accept it whatever the default region's own dialling prefix is.
    if digits_and_plus.startswith("0086"):
        digits_and_plus = "+" + digits_and_plus[2:]
    try:
        number = phonenumbers.parse(digits_and_plus, default_region)
    except phonenumbers.NumberParseException as exc:
        rule = (
            "phone.country_code"
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            else "phone.syntax"
        )
        raise IdentifierRejected(PHONE, rule, "not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise IdentifierRejected(
            PHONE, "phone.impossible", "phone number has an impossible length for its country"
        )
    if not phonenumbers.is_valid_number(number):
        raise IdentifierRejected(
            PHONE, "phone.invalid", "phone number is not in an assigned numbering range"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _normalise_email(text: str) -> str:
    # The whole address is lower-cased, local part included. RFC 5321 lets a
    # server treat local parts case-sensitively, but no large mailbox provider
    # does, and two pseudonyms for one buyer would be worse than the theoretical
    # collision. Dots and "+tags" are *not* folded: that is provider-specific.
    # Lower-casing can leave a string that NFKC changes again (and the reverse);
    # iterate to the fixed point so that normalising twice changes nothing. Real
    # text settles in one or two rounds; the bound only guards against a cycle.
    lowered = text.strip()
    for _ in range(8):
        again = unicodedata.normalize("NFKC", lowered.lower())
        if again == lowered:
            break
        lowered = again
    else:
        raise IdentifierRejected(EMAIL, "email.syntax", "email address has no stable lower case")
    if not lowered:
        raise IdentifierRejected(EMAIL, "email.empty", "email address is empty")
    try:
        info = validate_email(lowered, check_deliverability=False)
    except EmailNotValidError:
        # The validator's message can quote the domain; keep personal data out.
        raise IdentifierRejected(
            EMAIL, "email.syntax", "not a syntactically valid email address"
        ) from None
    # The domain is written in its IDNA (A-label) form so that "例子.中国" and
    # "xn--fsqu00a.xn--fiqs8s" are one address.
    return f"{info.local_part}@{info.ascii_domain.lower()}"


def _normalise_national_id(text: str) -> str:
    compact = "".join(text.split()).upper()
    if len(compact) != 18:
        raise IdentifierRejected(
            NATIONAL_ID, "national_id.length", "resident ID number must have 18 characters"
        )
    if _NATIONAL_ID_SHAPE.fullmatch(compact) is None:
        raise IdentifierRejected(
            NATIONAL_ID,
            "national_id.format",
            "resident ID number must be 17 digits followed by a digit or X",
        )
    if not _valid_birth_date(compact[6:14]):
        raise IdentifierRejected(
            NATIONAL_ID,
            "national_id.birth_date",
            "characters 7-14 of a resident ID number must be a birth date (YYYYMMDD, 1900-2099)",
        )
    if national_id_check_char(compact[:17]) != compact[17]:
        raise IdentifierRejected(
            NATIONAL_ID, "national_id.checksum", "resident ID check character does not match"
        )
    return compact


def national_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a PRC resident ID (GB 11643).

    Precondition: ``first17`` is exactly 17 ASCII digits. Exposed so that test
    generators and the SDK's input forms compute it the same way.
    """
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _valid_birth_date(yyyymmdd: str) -> bool:
    # No clock here (the module is pure), so "not in the far future" is a fixed
    # window; a check against today belongs to whoever has a clock.
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    if not 1900 <= year <= 2099:
        return False
    try:
        _dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _normalise_opaque(kind: str, text: str) -> str:
    # Device ids and payment accounts are compared exactly after trimming: their
    # case and inner spacing may be significant to the issuer, so they are not
    # touched. Members agree on a canonical form per source (e.g. lower-case UUID).
    stripped = text.strip()
    if not 1 <= len(stripped) <= OPAQUE_MAX_LENGTH:
        raise IdentifierRejected(
            kind, "opaque.length", f"identifier must have 1 to {OPAQUE_MAX_LENGTH} characters"
        )
    if any(unicodedata.category(ch) in _OPAQUE_FORBIDDEN_CATEGORIES for ch in stripped):
        raise IdentifierRejected(
            kind, "opaque.control", "identifier contains control or invisible characters"
        )
    return stripped
