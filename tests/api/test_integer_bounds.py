"""Every integer of every request body is bounded before it reaches the driver.

The body structs of ``http/`` are enumerated (every ``Body`` subclass); each
integer field they can hold must declare ``ge``/``le`` bounds (which the
OpenAPI document shows) and have a route below that carries it. Hypothesis
then sends integers in and far out of range through the API: never a 5xx,
always a problem document with a stable code, and never the driver's words.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import refund_registry.http as http_package
from refund_registry.domain.reports import MAX_AMOUNT_MINOR
from refund_registry.http.common import Body
from tests.support.api import Api
from tests.support.factories import report_body
from tests.support.principals import MakePrincipal

INT64_MAX = 2**63 - 1


def _bodies() -> set[type[Body]]:
    for module in pkgutil.iter_modules(http_package.__path__):
        importlib.import_module(f"{http_package.__name__}.{module.name}")
    found: set[type[Body]] = set()
    todo: list[type[Body]] = [Body]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def _int_fields(info: Any, path: str = "") -> Iterator[tuple[str, msgspec.inspect.IntType]]:
    if isinstance(info, msgspec.inspect.Metadata):
        yield from _int_fields(info.type, path)
    elif isinstance(info, msgspec.inspect.IntType):
        yield path, info
    elif isinstance(info, msgspec.inspect.StructType):
        for field in info.fields:
            yield from _int_fields(field.type, f"{path}.{field.name}")
    elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.VarTupleType):
        yield from _int_fields(info.item_type, f"{path}[]")
    elif isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            yield from _int_fields(member, path)
    elif isinstance(info, msgspec.inspect.DictType):
        yield from _int_fields(info.value_type, f"{path}{{}}")


# (route, method, body builder taking the integer) for every integer a route
# body can hold; the keys must match the enumeration below exactly.
Send = tuple[str, str, Callable[[int], Any]]
CARRIERS: dict[tuple[str, str], Send] = {
    ("ReportIn", ".amount.minor_units"): (
        "POST",
        "/v1/reports",
        lambda n: report_body(amount={"minor_units": n, "currency": "CNY"}),
    ),
    ("BulkIn", ".reports[].amount.minor_units"): (
        "POST",
        "/v1/reports/bulk",
        lambda n: {
            "reports": [report_body(), report_body(amount={"minor_units": n, "currency": "CNY"})]
        },
    ),
}
# Nested parts of the bodies above: covered through them.
NESTED = {"AmountIn"}


def test_every_integer_field_is_bounded_and_carried_by_a_test() -> None:
    fields = {
        (body.__name__, path): info
        for body in _bodies()
        for path, info in _int_fields(msgspec.inspect.type_info(body))
    }
    for (name, path), info in fields.items():
        assert info.ge is not None, f"{name}{path} has no lower bound"
        assert info.le is not None, f"{name}{path} has no upper bound"
        assert info.le <= INT64_MAX, f"{name}{path} overflows"
        assert info.ge >= -INT64_MAX - 1, f"{name}{path} overflows"
    carried = {key for key in fields if key[0] not in NESTED}
    assert carried == set(CARRIERS), "add every new integer field to CARRIERS"


def test_the_bounds_show_in_the_openapi_document() -> None:
    from refund_registry.config import Settings
    from refund_registry.http.app import create_app

    schema = create_app(Settings(environment="test")).openapi_schema.to_schema()
    amount = schema["components"]["schemas"]["AmountIn"]["properties"]["minor_units"]
    assert amount["maximum"] == float(INT64_MAX)  # JSON Schema numbers
    assert str(MAX_AMOUNT_MINOR) in amount["description"]


STABLE = {
    "request.invalid_body",
    "report.amount",
    "report.amount_too_large",
    "bulk.invalid_items",
}


def out_of_range() -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(min_value=MAX_AMOUNT_MINOR + 1, max_value=INT64_MAX),
        st.integers(min_value=INT64_MAX + 1, max_value=2**200),
        st.integers(max_value=0, min_value=-(2**200)),
        st.sampled_from([2**63, 2**64, -(2**63) - 1, INT64_MAX, 0, -1]),
    )


@pytest.mark.parametrize("carrier", sorted(CARRIERS), ids=lambda k: f"{k[0]}{k[1]}")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(number=out_of_range())
async def test_out_of_range_integers_are_problems_never_5xx(
    api: Api, make_principal: MakePrincipal, carrier: tuple[str, str], number: int
) -> None:
    method, path, build = CARRIERS[carrier]
    member = await make_principal()
    response = await api.call(member, method, path, build(number))
    assert response.status_code < 500, response.text
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc = response.json()
    assert doc["code"] in STABLE, doc
    assert "int64" not in response.text
    assert "asyncpg" not in response.text
    if number > INT64_MAX or number < -INT64_MAX:
        assert doc["code"] == "request.invalid_body"


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/reports/bulk"])
async def test_two_to_the_63_is_a_problem_not_a_driver_error(
    api: Api, make_principal: MakePrincipal, path: str
) -> None:
    member = await make_principal()
    for number, status, code in (
        (2**63, 400, "request.invalid_body"),
        (INT64_MAX, 422, "report.amount_too_large"),
        (MAX_AMOUNT_MINOR + 1, 422, "report.amount_too_large"),
    ):
        amount = {"minor_units": number, "currency": "CNY"}
        body: Any = report_body(amount=amount)
        if path.endswith("bulk"):
            body = {"reports": [report_body(), body]}
        response = await api.call(member, "POST", path, body)
        assert response.status_code == status, response.text
        assert response.json()["code"] in {code, "bulk.invalid_items"}
        assert code in response.text
    ok = await api.call(
        member,
        "POST",
        "/v1/reports",
        report_body(amount={"minor_units": MAX_AMOUNT_MINOR, "currency": "CNY"}),
    )
    assert ok.status_code == 201, ok.text
