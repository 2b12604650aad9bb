"""What the portal ships besides its pages: catalogs, vendored assets, colours, headers.

No browser here: these are checks of files and of single responses.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po
from litestar.testing import TestClient

# The modules that define error classes of their own, so that every title is checked.
import refund_registry.domain.appeals.errors
import refund_registry.domain.checkpoint.format
import refund_registry.domain.identity
import refund_registry.domain.merkle.tree
import refund_registry.domain.oprf  # noqa: F401
from refund_registry import errors, i18n
from refund_registry.config import Settings
from refund_registry.domain.feed import DESCRIPTION, OTHER_EVENT
from refund_registry.domain.scoring.reasons import REASON_TEXT
from refund_registry.http.app import create_app

WEB = Path(str(resources.files("refund_registry.web")))
PACKAGE = WEB.parent
API_MODULES = ("http/problems.py", "services/risk.py", "services/buyer_codes.py")
"""Where the API marks the texts of its answers (notice, problem titles) and of code messages."""
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    """The named values of a message: ``%(name)s`` and ``{name}`` alike."""
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def api_messages() -> set[str]:
    """What API answers show in the caller's language: reasons, notice, problem texts,
    event descriptions."""
    found: set[str] = set(REASON_TEXT.values()) | set(DESCRIPTION.values()) | {OTHER_EVENT}
    for module in API_MODULES:
        for _, message, _, _ in extract_from_file("python", PACKAGE / module):
            assert isinstance(message, str)
            found.add(message)
    found.update(cls.title for cls in _error_classes(errors.RegistryError))
    return found


def _error_classes(cls: type[errors.RegistryError]) -> list[type[errors.RegistryError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _error_classes(sub))]


def extracted() -> set[str | tuple[str, ...]]:
    """Every message the templates and the portal's modules mark for translation."""
    method_map = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(WEB, method_map, options_map=options):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_string_is_in_the_catalog_and_translated(locale: str) -> None:
    entries = catalog_entries(locale)
    missing = (extracted() | api_messages()) - set(entries)
    assert not missing, f"not in the {locale} catalog: {sorted(map(str, missing))}"
    for key, message in entries.items():
        assert not message.fuzzy, key
        strings = [message.string] if isinstance(message.string, str) else message.string
        assert all(strings), f"untranslated in {locale}: {key!r}"
        wanted = placeholders(key if isinstance(key, str) else key[-1])
        for text in strings:
            assert placeholders(text) == wanted, (locale, key, text)


def test_both_catalogs_hold_the_same_messages() -> None:
    ids = [set(catalog_entries(locale)) for locale in i18n.LOCALES]
    assert ids[0] == ids[1]
    names = [[f.name for f in i18n.catalog_files(locale)] for locale in i18n.LOCALES]
    assert names[0] == names[1]


def catalog_entries(locale: str) -> dict[str | tuple[str, ...], Message]:
    """Every message of every ``.po`` file of ``locale``; an id in two files fails."""
    entries: dict[str | tuple[str, ...], Message] = {}
    for source in i18n.catalog_files(locale):
        with source.open("rb") as handle:
            for message in read_po(handle, locale=locale):
                if not message.id:
                    continue
                key = message.id if isinstance(message.id, str) else tuple(message.id)
                assert key not in entries, f"{key!r} is in two {locale} catalog files"
                entries[key] = message
    return entries


def test_placeholders_of_both_styles_are_compared() -> None:
    assert placeholders("%(portal)s and {name}") == {"%(portal)s", "{name}"}
    assert placeholders("查询参数 %(name)s") != placeholders("query parameter {name}")


def test_vendored_htmx_is_the_pinned_release() -> None:
    data = (WEB / "static" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    assert HTMX_SHA256 in (WEB / "static" / "VENDORED.md").read_text()


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    high, low = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# (text, background) pairs the stylesheet uses; WCAG AA asks 4.5:1 for body text.
PAIRS = [
    ("#1b1b1b", "#ffffff"),  # text
    ("#4b5563", "#ffffff"),  # hints, dates
    ("#4b5563", "#f3f5f7"),  # footer
    ("#0b4f8a", "#ffffff"),  # links
    ("#ffffff", "#0b3a66"),  # masthead
    ("#e6edf5", "#0b3a66"),  # masthead subtitle
    ("#ffffff", "#1d6b3a"),  # primary button
    ("#ffffff", "#155330"),  # primary button, hover
    ("#1b1b1b", "#e7eaec"),  # secondary button
    ("#ffffff", "#b3261e"),  # warning button
    ("#b3261e", "#ffffff"),  # error messages
    ("#8a1c12", "#fdecea"),  # tag: active, upheld
    ("#5c3d00", "#fff3cd"),  # tag: under appeal
    ("#1e5631", "#e6f2e9"),  # tag: no longer counts
    ("#374151", "#eef0f2"),  # tag: withdrawn
    ("#0b0c0c", "#ffdd00"),  # focus
    ("#0b3a66", "#ffffff"),  # countdown
]


@pytest.mark.parametrize(("fg", "bg"), PAIRS)
def test_colours_meet_wcag_aa(fg: str, bg: str) -> None:
    css = (WEB / "static" / "portal.css").read_text().lower()
    assert fg in css
    assert bg in css
    assert contrast(fg, bg) >= 4.5


def _portal_client(public_url: str, tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    settings = Settings(environment="test", data_dir=tmp_path, public_url=public_url)
    return TestClient(create_app(settings, runtime_override=object()))  # type: ignore[arg-type]


def test_headers_and_cookies_of_a_page(tmp_path: Path) -> None:
    with _portal_client("http://127.0.0.1:8080", tmp_path) as client:
        page = client.get("/portal/signin")
        asset = client.get("/portal/static/portal.css")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("rr_csrf=")
    assert "HttpOnly" in cookie
    assert "Path=/portal" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert asset.status_code == 200
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert asset.headers["cache-control"].startswith("public")


def test_cookies_are_secure_behind_https(tmp_path: Path) -> None:
    with _portal_client("https://registry.example", tmp_path) as client:
        page = client.get("/portal/signin")
    assert "Secure" in page.headers["set-cookie"]
