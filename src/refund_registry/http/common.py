"""What every route shares: strict bodies, the signed-request hooks, typed answers.

Authentication is a before-request hook of each route, so it runs before any
parameter or body is parsed: it checks the token against the headers first (a
bad token is refused before a byte of the body is read), then reads the raw
body bytes (Litestar caches them, and enforces the route's size limit while
reading), checks them against the token's digest, and leaves the verified
caller in the request's state, where the handler finds it (:func:`caller_of`,
:func:`subject_from`, :func:`party_of`).
Buyer routes take a buyer session instead (``Authorization: Bearer rrs_…``),
resolved by the same service function the portal uses for its cookie
(``BuyerSignIn.resume``); a subject token is never accepted there, only
exchanged once at ``POST /v1/buyer/session``.
A hook rather than a guard (Litestar copies the route handler for every guard
call) and plain reads rather than dependencies (resolving one costs more than
the rest of the framework's path): on the risk query both were measurable.

Bodies are msgspec structs deriving from :class:`Body`. The :class:`StrictBodies`
plugin decodes them straight from those cached bytes with one typed decoder
per struct: strict types (a string is never taken for a number), unknown
fields refused, one pass, with the problem codes of docs/errors.md.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, TypeVar, cast

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.dto import AbstractDTO
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.spec import Reference, Schema
from litestar.plugins import SerializationPlugin
from litestar.types import Scope
from litestar.typing import FieldDefinition
from msgspec import Meta, Struct

from refund_registry import errors
from refund_registry.domain.keyring import ROLES
from refund_registry.runtime import Runtime
from refund_registry.services.appeals import AppealService, Party, Subject
from refund_registry.services.authn import Caller

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

T = TypeVar("T")

MEMBER = frozenset({"member"})
ADJUDICATOR = frozenset({"adjudicator"})
AUDITOR = frozenset({"auditor"})
ADMIN = frozenset({"admin"})
PORTAL = frozenset({"portal"})
EVALUATORS = MEMBER | PORTAL
"""Who may ask the key service for evaluations: members, and the registry's buyer portal."""
ALL_ROLES = frozenset(ROLES)

SIGNED_REQUEST: Final = "signedRequest"
BUYER_SESSION: Final = "buyerSession"
_CALLER: Final = "rr.caller"
_SUBJECT: Final = "rr.subject"
_PARTY: Final = "rr.party"
JSON: Final = "application/json"

ShortText = Annotated[str, Meta(max_length=200)]


class Body(Struct, forbid_unknown_fields=True):
    """Base of every request body: decoded strictly by :class:`StrictBodies`."""


class IdentifierIn(Body):
    """One ``{kind, pseudonym}`` of a report or a query, as the member sends it."""

    kind: Annotated[str, Meta(max_length=200, examples=["phone"])]
    pseudonym: Annotated[
        str, Meta(max_length=200, description="86 characters: unpadded base64url of 64 bytes")
    ]


# -- strict bodies ----------------------------------------------------------------------


@cache
def _decoder(typ: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(typ)


def decode_body(body: bytes, typ: Any) -> Any:
    """Strict JSON decoding: an empty body, wrong types and unknown fields are 400s."""
    if not body.strip():
        raise errors.MalformedBody("the request body is empty; a JSON object is expected")
    try:
        return _decoder(typ).decode(body)
    except msgspec.ValidationError as exc:
        raise errors.MalformedBody(f"the body does not match the schema: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise errors.MalformedBody(f"the body is not valid JSON: {exc}") from exc


class StrictBodyDTO(AbstractDTO[Any]):
    """Decodes a :class:`Body` struct from the raw bytes in one pass.

    Litestar's default path decodes JSON to builtins and converts them with
    coercion allowed (``"1"`` taken for ``1``); this one refuses anything that
    is not exactly the declared type, as the API always has.
    """

    model_type: ClassVar[Any]  # type: ignore[misc]
    optional: ClassVar[bool] = False

    def decode_bytes(self, value: bytes) -> Any:
        if self.optional and not value.strip():
            return None
        return decode_body(value, self.model_type)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        try:
            return msgspec.convert(value, self.model_type)
        except msgspec.ValidationError as exc:
            raise errors.MalformedBody(f"the body does not match the schema: {exc}") from exc

    def data_to_encodable_type(self, data: Any) -> Any:
        return data

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Any:
        raise NotImplementedError  # never called: no transfer model is built

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        """Nothing to prepare: the decoder is built on first use and cached."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))


class StrictBodies(SerializationPlugin):
    """Every handler parameter ``data: SomeBody`` is decoded by a :class:`StrictBodyDTO`."""

    def supports_type(self, field_definition: FieldDefinition) -> bool:
        return field_definition.is_subclass_of(Body)

    def create_dto_for_type(self, field_definition: FieldDefinition) -> type[AbstractDTO[Any]]:
        model = next(
            (t.annotation for t in (field_definition, *field_definition.inner_types)
             if t.is_subclass_of(Body)),
            field_definition.annotation,
        )  # fmt: skip
        return cast(
            "type[AbstractDTO[Any]]",
            type(
                f"StrictBodyDTO[{model.__name__}]",
                (StrictBodyDTO,),
                {"model_type": model, "optional": field_definition.is_optional},
            ),
        )


# -- authentication ---------------------------------------------------------------------


def runtime(request: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def appeal_service(request: ASGIConnection[Any, Any, Any, Any]) -> AppealService:
    return runtime(request).parts.appeals


def path_and_query(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The request target as the client sent it: what ``htu`` must equal."""
    return target_of(request.scope)


def target_of(scope: Scope) -> str:
    """:func:`path_and_query` of an ASGI scope."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = raw.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def refuse_announced_oversize(request: Request[Any, Any, Any]) -> None:
    """413 ``request.too_large`` from the ``Content-Length`` header alone, before reading.

    The same refusal the body reader gives a body that outgrows the limit
    while streaming (a chunked one, which announces no length).
    """
    limit = request.route_handler.resolve_request_max_body_size()
    announced = request.content_length  # a malformed header is a 400 here
    if limit is not None and announced is not None and announced > limit:
        raise RequestEntityTooLarge


async def authenticate(
    request: Request[Any, Any, Any], roles: frozenset[str]
) -> tuple[Caller, bytes]:
    """Check a signed request, headers first, then the exact body bytes.

    In order: a body announced larger than the route's limit is refused (413)
    from its ``Content-Length``; then everything the token proves from the
    headers alone (signature, times, key, ``typ``, ``htm``, ``htu``, role) is
    checked, so a bad token is refused without its body being read; only then
    is the body read, within the route's size limit, and its digest compared
    with ``bsh``; last, the ``jti`` is used up. Litestar caches the bytes, so
    decoding them later reads no more.
    """
    refuse_announced_oversize(request)
    auth = runtime(request).auth
    pending = await auth.request_head(
        request.headers.get("authorization"),
        method=request.method,
        path_and_query=path_and_query(request),
        roles=roles,
    )
    body = await request.body()
    return await auth.request_body(pending, body), body


def bearer_value(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The value of ``Authorization: Bearer …``; 401 ``auth.missing`` without one."""
    authorization = request.headers.get("authorization")
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise errors.AuthenticationFailed(
            "send 'Authorization: Bearer <buyer session>'", code="auth.missing"
        )
    return value.strip()


def _is_jws(value: str) -> bool:
    return value.count(".") == 2


async def session_of(request: ASGIConnection[Any, Any, Any, Any]) -> Subject:
    """The buyer of the session in the bearer header.

    A JWS there (a subject token, or a signed request) is refused with
    ``auth.wrong_type``: a subject token must be exchanged first.
    """
    value = bearer_value(request)
    if _is_jws(value):
        raise errors.AuthenticationFailed(
            "buyer routes take a buyer session; exchange a subject token at "
            "POST /v1/buyer/session first",
            code="auth.wrong_type",
        )
    return await runtime(request).parts.buyers.resume(value)


def _state(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    state: dict[str, Any] = connection.scope["state"]
    return state


async def signed_request(request: Request[Any, Any, Any]) -> None:
    """Hook of member, adjudicator, auditor and admin routes: ``opt["roles"]`` may call."""
    roles: frozenset[str] = request.route_handler.opt["roles"]
    caller, _ = await authenticate(request, roles)
    _state(request)[_CALLER] = caller


async def buyer_session(request: Request[Any, Any, Any]) -> None:
    """Hook of buyer routes: a live buyer session."""
    _state(request)[_SUBJECT] = await session_of(request)


async def session_or_signed(request: Request[Any, Any, Any]) -> None:
    """A buyer (session), or a signed request from one of ``opt["roles"]``.

    A JWS is checked as a signed request, so a subject token fails there on
    its ``typ`` (``auth.wrong_type``); anything else is taken for a session.
    """
    party: Party
    authorization = request.headers.get("authorization") or ""
    if _is_jws(authorization.partition(" ")[2].strip()) or not authorization:
        roles: frozenset[str] = request.route_handler.opt["roles"]
        party, _ = await authenticate(request, roles)
    else:
        party = await session_of(request)
    _state(request)[_PARTY] = party


def caller_of(request: Request[Any, Any, Any]) -> Caller:
    """The principal :func:`signed_request` verified for this request."""
    return cast("Caller", _state(request)[_CALLER])


def subject_from(request: Request[Any, Any, Any]) -> Subject:
    """The buyer :func:`buyer_session` found for this request."""
    return cast("Subject", _state(request)[_SUBJECT])


def party_of(request: Request[Any, Any, Any]) -> Party:
    """The buyer or principal :func:`session_or_signed` verified for this request."""
    return cast("Party", _state(request)[_PARTY])


def signed(roles: frozenset[str], **opt: Any) -> dict[str, Any]:
    """Handler options of a route taking a signed request from one of ``roles``.

    ``opt`` adds route options, such as ``query_refusals`` (see ``problems``).
    """
    return {
        "before_request": signed_request,
        "opt": {"roles": roles, **opt},
        "security": [{SIGNED_REQUEST: []}],
    }


def buyer() -> dict[str, Any]:
    """Handler options of a route taking a buyer session."""
    return {"before_request": buyer_session, "security": [{BUYER_SESSION: []}]}


def buyer_or_signed(roles: frozenset[str]) -> dict[str, Any]:
    """Handler options of a route taking a buyer session or a signed request."""
    return {
        "before_request": session_or_signed,
        "opt": {"roles": roles},
        "security": [{BUYER_SESSION: []}, {SIGNED_REQUEST: []}],
    }


# -- answers ----------------------------------------------------------------------------


def answer(content: Any, typ: type[T], status: int = 200) -> Response[T]:
    """A JSON answer documented as ``typ``.

    Services build their answers as plain JSON values; they are encoded as
    they are (nothing is copied into a struct on the hot path), and ``typ``
    is the schema the OpenAPI document shows. ``tests/api/test_openapi.py``
    checks real answers against these types.
    """
    response: Response[Any] = Response(
        content=msgspec.json.encode(content), status_code=status, media_type=JSON
    )
    return cast("Response[T]", response)


def json_response(content: Any, status: int = 200) -> Response[bytes]:
    return Response(content=msgspec.json.encode(content), status_code=status, media_type=JSON)
