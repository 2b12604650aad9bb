"""The language of an API answer: negotiated from ``Accept-Language``, announced in
``Content-Language``.

Every API route answers in Simplified Chinese unless the caller asks for
English (or the operator's ``REGISTRY_DEFAULT_LOCALE`` says otherwise). Only
the human texts change: the reasons' ``text``, the ``notice``, a problem
document's ``title`` and ``detail``, and the events' ``description``; codes,
bands, kinds and states never do. Every such answer says ``Vary: Accept-Language``.
The portal keeps its own switch (a cookie) and is left alone here.
"""

from __future__ import annotations

from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.types import HTTPResponseStartEvent, Scope

from refund_registry.i18n import negotiate

_STATE_KEY: Final = "refund_registry.locale"
_PORTAL: Final = "/portal"
_PORTAL_PAGES: Final = _PORTAL + "/"
FALLBACK: Final = "zh-CN"


def default_locale(scope: Scope) -> str:
    """The operator's default language (``REGISTRY_DEFAULT_LOCALE``), Chinese before start-up."""
    runtime = getattr(scope["app"].state, "runtime", None)
    settings = getattr(runtime, "settings", None)
    value = getattr(settings, "default_locale", FALLBACK)
    return value if isinstance(value, str) else FALLBACK


def locale_of_scope(scope: Scope) -> str:
    """The language of this request's answer, negotiated once and kept on the request."""
    state: dict[str, Any] = scope.setdefault("state", {})
    chosen = state.get(_STATE_KEY)
    if chosen is None:
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"accept-language":
                header = value.decode("latin-1")
                break
        chosen = state[_STATE_KEY] = negotiate(header, default_locale(scope))
    return str(chosen)


def locale_of(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The language of this request's answer: ``zh-CN`` or ``en``."""
    return locale_of_scope(request.scope)


def announce_language(message: HTTPResponseStartEvent, scope: Scope) -> None:
    """On an answer's ``http.response.start``: say which language it speaks, chosen by
    ``Accept-Language``.

    Every JSON answer of the API gets ``Content-Language`` (problem documents
    carry it already) and ``Vary: Accept-Language``, which keeps a shared
    cache from giving a Chinese answer to a caller who asked for English (and
    back); so does any other answer that carries ``Content-Language``. Portal
    pages speak the buyer's chosen language (a cookie) and are left as they
    are. Called once per answer by the app's edge (``http/edge.py``), with the
    path as routing left it; one pass over the headers.
    """
    path: str = scope.get("path", "")
    if path == _PORTAL or path.startswith(_PORTAL_PAGES):
        return
    headers = message.get("headers", ())
    language = False
    media: bytes | None = None
    vary = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-language":
            language = True
        elif lowered == b"content-type":
            if media is None:
                media = value
        elif lowered == b"vary":
            vary = True
    if language:
        out = list(headers)
    elif media is not None and b"json" in media:
        out = [*headers, (b"content-language", locale_of_scope(scope).encode("ascii"))]
    else:
        return
    if vary:
        out = with_vary(out, b"Accept-Language")
    else:
        out.append((b"vary", b"Accept-Language"))
    message["headers"] = out


def with_vary(headers: list[tuple[bytes, bytes]], field: bytes) -> list[tuple[bytes, bytes]]:
    """``headers`` whose ``Vary`` lists ``field`` (added to the list there is, once)."""
    at = next((i for i, (n, _) in enumerate(headers) if n.lower() == b"vary"), None)
    if at is None:
        return [*headers, (b"vary", field)]
    listed = {t.strip().lower() for t in headers[at][1].split(b",")}
    if field.lower() in listed or b"*" in listed:
        return headers
    out = list(headers)
    out[at] = (headers[at][0], headers[at][1] + b", " + field)
    return out
