"""What an answer means: the SDK's errors and the typed results of each call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
import msgspec

from refund_registry.client import pseudonyms
from refund_registry.client.results import (
    ApiResult,
    BulkFiled,
    Event,
    EventPage,
    Filed,
    Retracted,
    RiskAnswer,
    RiskBatch,
)
from refund_registry.domain import oprf

T = TypeVar("T")


class RegistryApiError(Exception):
    """The registry answered with an error (or could not be reached: ``status`` 0).

    ``code`` is the problem document's stable code (branch on it); ``detail``
    is for humans; ``problem`` is the whole RFC 9457 document, or ``{}`` when
    the answer was not one; ``headers`` the answer's headers (``retry-after``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        problem: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = dict(problem)
        self.headers = dict(headers or {})

    @property
    def content_language(self) -> str | None:
        """The language of the problem's ``title`` and ``detail``; its ``code`` never changes."""
        return self.headers.get("content-language")


class UnexpectedAnswer(RegistryApiError):
    """A 2xx answer lacking what the SDK relies on (``code``: ``client.unexpected_answer``).

    The registry's answers only ever gain fields; this means the URL points at
    something that is not a compatible registry.
    """


class KeyServiceKeyMissing(Exception):
    """Pseudonymising was asked of a client built without the key service's public key."""

    def __init__(self) -> None:
        super().__init__(
            "pseudonymising needs the key service's public key, pinned: fetch it once with "
            "refund_registry.client.fetch_keyservice_public_key(base_url), check it against "
            "the key the registry operator publishes, store it in your configuration, and "
            "pass it as RegistryClient(..., keyservice_public_key=...). The SDK does not "
            "fetch and trust a key by itself: with another key, your pseudonyms would "
            "match no other member's."
        )


def _error(response: httpx.Response) -> RegistryApiError:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    headers = dict(response.headers)
    if isinstance(doc, dict) and isinstance(doc.get("code"), str):
        detail = str(doc.get("detail", ""))
        return RegistryApiError(response.status_code, doc["code"], detail, doc, headers)
    return RegistryApiError(
        response.status_code, f"http.{response.status_code}", response.text[:300], {}, headers
    )


def answer_of(response: httpx.Response) -> ApiResult:
    """The :class:`ApiResult` of a success answer; :class:`RegistryApiError` for an error one."""
    if response.status_code >= 400:
        raise _error(response)
    body: Any = None
    if response.content:
        if "json" in response.headers.get("content-type", ""):
            body = response.json()
        else:
            body = response.text
    return ApiResult(status=response.status_code, headers=dict(response.headers), body=body)


# --------------------------------------------------------------------------- interpreting


def _convert(result: ApiResult, kind: type[T], **extra: Any) -> T:
    if not isinstance(result.body, dict):
        raise _unexpected(result, f"expected a JSON object for {kind.__name__}")
    try:
        return msgspec.convert({**result.body, **extra}, kind)
    except msgspec.ValidationError as exc:
        raise _unexpected(result, f"{kind.__name__}: {exc}") from None


def _unexpected(result: ApiResult, detail: str) -> UnexpectedAnswer:
    return UnexpectedAnswer(
        result.status, "client.unexpected_answer", detail, {}, dict(result.headers)
    )


def _body(result: ApiResult) -> Any:
    return result.body


def _same(result: ApiResult) -> ApiResult:
    return result


def _filed(result: ApiResult) -> Filed:
    return _convert(result, Filed, created=result.status == 201, http=result)


def _bulk_filed(result: ApiResult) -> BulkFiled:
    return _convert(result, BulkFiled, http=result)


def _retracted(result: ApiResult) -> Retracted:
    return _convert(result, Retracted, http=result)


def _risk(result: ApiResult) -> RiskAnswer:
    return _convert(result, RiskAnswer, http=result)


def _risk_batch(result: ApiResult) -> RiskBatch:
    return _convert(result, RiskBatch, http=result)


def _event_page(result: ApiResult) -> EventPage:
    body = result.body
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise _unexpected(result, "expected {events: [...], next_cursor}")
    events = []
    for item in body["events"]:
        if not isinstance(item, dict):
            raise _unexpected(result, "an event is not a JSON object")
        try:
            events.append(msgspec.convert({**item, "data": item}, Event))
        except msgspec.ValidationError as exc:
            raise _unexpected(result, f"Event: {exc}") from None
    cursor = body.get("next_cursor")
    if not isinstance(cursor, str):
        raise _unexpected(result, "the page has no next_cursor")
    return EventPage(events=tuple(events), next_cursor=cursor, http=result)


def _parse_keyservice_key(result: ApiResult) -> str:
    return oprf.b64e(pseudonyms.parse_public_key(result.body))
