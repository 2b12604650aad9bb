"""The portal's languages: message catalogs, the chosen locale, numbers and dates.

Simplified Chinese comes first (the buyers are on Chinese platforms); English
is offered by a visible switch that remembers the choice in a cookie. Every
string a page shows is in the ``.po`` catalogs under ``web/locale/``, which
the API's answers share: :mod:`refund_registry.i18n` reads them once at
start-up, and a test fails when a string is missing from either catalog.

Times are shown in China Standard Time (UTC+8, no daylight saving), the time
the platforms and their buyers live by, in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, get_currency_precision
from babel.support import Translations
from jinja2 import pass_context
from jinja2.runtime import Context

from refund_registry.i18n import DEFAULT, LOCALES, N_, TAGS, load_all, translations

__all__ = ["DEFAULT", "LOCALES", "N_", "Language", "install", "load_all", "translations"]

HTML_LANG: Final = TAGS
LANG_COOKIE: Final = "rr_lang"

CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
"""China Standard Time: the zone every date on the portal is shown in."""


def locale_of(cookie: str | None) -> str:
    """The locale a cookie value asks for; the default for anything unknown."""
    return cookie if cookie in LOCALES else DEFAULT


@dataclass(frozen=True, slots=True)
class Language:
    """What a page needs to speak one locale: words, numbers and dates."""

    locale: str

    @property
    def catalog(self) -> Translations:
        return translations(self.locale)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.locale]

    def gettext(self, message: str, **variables: Any) -> str:
        text: str = self.catalog.gettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        text: str = self.catalog.ngettext(singular, plural, num)
        return text % {"num": num, **variables}

    def money(self, minor_units: int, currency: str) -> str:
        """An amount in minor units (fen for CNY) with its currency, as the locale writes it."""
        digits = get_currency_precision(currency)
        value = Decimal(minor_units).scaleb(-digits)
        return str(format_currency(value, currency, locale=Locale.parse(self.locale)))

    def day(self, value: date | str | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, str):
            value = parse_time(value) if "T" in value else date.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(CHINA_TIME).date()
        return str(format_date(value, format="long", locale=self.locale))

    def moment(self, value: datetime | str | None) -> str:
        """A date and time in China Standard Time, for example 2025年3月11日 17:30."""
        if value is None:
            return "—"
        when = parse_time(value) if isinstance(value, str) else value
        local = when.astimezone(CHINA_TIME)
        day = format_date(local.date(), format="long", locale=self.locale)
        clock = format_time(local.time(), format="HH:mm", locale=self.locale)
        return f"{day} {clock}"


def parse_time(value: str) -> datetime:
    """A wire timestamp (ISO 8601, ``Z`` or an offset) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _language(context: Context) -> Language:
    language = context.get("language")
    return language if isinstance(language, Language) else Language(DEFAULT)


@pass_context
def _gettext(context: Context, message: str) -> str:
    text: str = _language(context).catalog.gettext(message)
    return text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, num: int) -> str:
    text: str = _language(context).catalog.ngettext(singular, plural, num)
    return text


def install(environment: Any) -> None:
    """Wire ``gettext``/``ngettext`` of the Jinja i18n extension to each page's language.

    One environment serves every locale: the callables read the page's
    :class:`Language` from the template context, so two buyers reading in two
    languages at the same moment never see each other's words.
    """
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)
