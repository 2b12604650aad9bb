"""The registry's languages, shared by the API and the buyer portal.

Simplified Chinese comes first (the buyers and platforms are in China);
English is the other language. Every text either side shows the buyer or a
platform is in the ``.po`` catalogs under ``web/locale/``: they are read once
per process (no compiled ``.mo`` to build or forget), and a test fails when a
message is missing from either catalog or its placeholders differ.

The API picks its language from the ``Accept-Language`` header
(:func:`negotiate`); the portal from the buyer's own switch, a cookie.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DEFAULT: Final = "zh_CN"
LOCALES: Final = ("zh_CN", "en")
"""Supported catalogs, default first."""

TAGS: Final[Mapping[str, str]] = MappingProxyType({"zh_CN": "zh-CN", "en": "en"})
"""The language tag (RFC 5646, as in ``Content-Language``) of each catalog."""

CATALOG_OF: Final[Mapping[str, str]] = MappingProxyType({t: c for c, t in TAGS.items()})
"""The catalog of each supported language tag."""

SUPPORTED_TAGS: Final = tuple(TAGS[c] for c in LOCALES)


def N_(message: str) -> str:
    """Mark a string for the catalogs without translating it yet (translated when shown)."""
    return message


@cache
def translations(locale: str) -> Translations:
    """The catalog of ``locale``: every ``.po`` file of its folder, read once per process.

    A concern may keep its texts in its own file (``messages.po`` for the
    portal and the API, ``console.po`` for the staff consoles, …); together
    they form one catalog, and a message id may appear in only one of them.
    Fuzzy entries are left out, as ``msgfmt`` would: a translation someone
    marked as unsure is not shown to a buyer.
    """
    merged: Translations | None = None
    for source in catalog_files(locale):
        with source.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        part = Translations(compiled)
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    if merged is None:
        raise FileNotFoundError(f"no message catalog for {locale}")
    return merged


def catalog_files(locale: str) -> list[Traversable]:
    """The ``.po`` files that make up the catalog of ``locale``, by name."""
    folder = resources.files("refund_registry.web").joinpath("locale", locale, "LC_MESSAGES")
    return sorted((e for e in folder.iterdir() if e.name.endswith(".po")), key=lambda e: e.name)


def load_all() -> None:
    """Read every catalog now, so a broken one stops the start, not an answer."""
    for locale in LOCALES:
        translations(locale)


@cache
def marked(comment: str) -> tuple[str, ...]:
    """The message ids the catalog files mark with the extracted comment ``#. comment``.

    The problem details are found this way: each sentence a detail may be
    (with ``%(name)s`` for a value it quotes) is a catalog entry marked
    ``#. problem detail``, so a new sentence needs no list in the code.
    """
    found: list[str] = []
    for source in catalog_files(LOCALES[-1]):
        with source.open("rb") as handle:
            catalog = read_po(handle, locale=LOCALES[-1])
        found.extend(
            m.id for m in catalog if isinstance(m.id, str) and m.id and comment in m.auto_comments
        )
    return tuple(found)


def gettext(tag: str, message: str) -> str:
    """``message`` in the language ``tag`` (``zh-CN`` or ``en``); itself if not in the catalog."""
    text: str = translations(CATALOG_OF[tag]).gettext(message)
    return text


# ---------------------------------------------------------------- Accept-Language

_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")
_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


def _supported(language_range: str) -> str | None:
    """The supported tag a language range asks for, or None (``*`` is handled apart)."""
    tag = language_range.lower()
    if tag in ("zh", "zh-cn") or tag == "zh-hans" or tag.startswith("zh-hans-"):
        return "zh-CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def parse_accept_language(header: str) -> list[tuple[str, float]]:
    """The well-formed ``(range, q)`` elements of an ``Accept-Language`` value, in order.

    Elements that do not parse (a bad range or q-value) are skipped, as
    RFC 9110 lets a server ignore what it does not understand.
    """
    out: list[tuple[str, float]] = []
    for element in header.split(","):
        language_range, *params = (p.strip() for p in element.split(";"))
        if not _RANGE.match(language_range):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.match(value) else -1.0
        if q >= 0:
            out.append((language_range, q))
    return out


@lru_cache(maxsize=1024)
def negotiate(header: str | None, default: str = "zh-CN") -> str:
    """The supported language tag that best fits an ``Accept-Language`` value (RFC 9110 §12.5.4).

    Ranges are tried by descending q-value, in the order given on ties.
    ``zh``, ``zh-CN`` and ``zh-Hans`` mean Simplified Chinese, ``en`` and
    ``en-*`` English; ``*`` means any language, the default first; ``q=0``
    rules a language out. No header, no match, or every language ruled out
    gives ``default``. Pure and cached on the header string: the risk query
    negotiates on every request.
    """
    if default not in CATALOG_OF:
        raise ValueError(f"unsupported default language {default!r}")
    if not header:
        return default
    ranges = parse_accept_language(header)
    excluded = {tag for r, q in ranges if q == 0 and (tag := _supported(r)) is not None}
    named = {tag for r, _ in ranges if (tag := _supported(r)) is not None}
    for language_range, _ in sorted((r for r in ranges if r[1] > 0), key=lambda r: -r[1]):
        if language_range == "*":
            # ``*`` stands for every language no other range names.
            for tag in (default, *SUPPORTED_TAGS):
                if tag not in named:
                    return tag
            continue
        tag = _supported(language_range)
        if tag is not None and tag not in excluded:
            return tag
    return default
