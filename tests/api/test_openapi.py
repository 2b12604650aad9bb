"""The OpenAPI document is a contract: bodies, parameters, answers, errors, security.

Also checks that real answers match the documented answer types (unknown
fields refused), so the document cannot drift from what the service sends.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import msgspec
import pytest

from refund_registry.http import answers
from tests.support.api import Api
from tests.support.factories import pseudonym, report_body
from tests.support.principals import MakePrincipal

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
async def document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_version_is_the_package_version(document: dict[str, Any]) -> None:
    assert document["info"]["version"] == metadata.version("refund-registry")


async def test_every_body_route_declares_its_body_with_limits(document: dict[str, Any]) -> None:
    ops = operations(document)
    bodies = {key for key, op in ops.items() if "requestBody" in op}
    assert {
        ("POST", "/v1/reports"),
        ("POST", "/v1/reports/bulk"),
        ("POST", "/v1/reports/{report_id}/retract"),
        ("POST", "/v1/risk/query"),
        ("POST", "/v1/risk/query/batch"),
        ("POST", "/v1/subject/statement"),
        ("POST", "/v1/appeals"),
        ("POST", "/v1/appeals/{appeal_id}/withdraw"),
        ("POST", "/v1/appeals/{appeal_id}/response"),
        ("POST", "/v1/appeals/{appeal_id}/decision"),
        ("POST", "/v1/keyservice/evaluate"),
    } <= bodies
    report = resolve(
        document,
        ops["POST", "/v1/reports"]["requestBody"]["content"]["application/json"]["schema"],
    )
    assert report["properties"]["case_reference"]["maxLength"] == 128
    assert "case_reference" in report["required"]
    query = resolve(
        document,
        ops["POST", "/v1/risk/query"]["requestBody"]["content"]["application/json"]["schema"],
    )
    assert set(query["required"]) == {"identifiers", "purpose"}


async def test_query_parameters_are_declared_with_their_bounds(document: dict[str, Any]) -> None:
    ops = operations(document)
    params = {p["name"]: p for p in ops["GET", "/v1/events"]["parameters"] if p["in"] == "query"}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == 1000
    entries = {p["name"] for p in ops["GET", "/v1/audit/entries"]["parameters"]}
    assert entries >= {"after", "limit", "member", "subject_key", "action", "purpose", "since"}
    inclusion = {p["name"]: p for p in ops["GET", "/v1/audit/proof/inclusion"]["parameters"]}
    assert inclusion["leaf_hash"]["required"] is True


async def test_status_codes_are_the_ones_answered(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert "200" in ops["POST", "/v1/risk/query"]["responses"]
    assert "201" not in ops["POST", "/v1/risk/query"]["responses"]
    assert "200" in ops["POST", "/v1/reports/{report_id}/retract"]["responses"]
    assert "201" not in ops["POST", "/v1/reports/{report_id}/retract"]["responses"]
    assert {"200", "201"} <= set(ops["POST", "/v1/reports"]["responses"])
    assert "201" in ops["POST", "/v1/appeals"]["responses"]


async def test_every_success_answer_has_a_schema(document: dict[str, Any]) -> None:
    for key, op in operations(document).items():
        for status, response in op["responses"].items():
            if status.startswith("2") and status != "204":  # 204: no content, by definition
                content = response.get("content") or {}
                assert content, (key, status)
                schema = next(iter(content.values())).get("schema")
                assert schema, (key, status)


async def test_errors_are_problem_documents_with_examples(document: dict[str, Any]) -> None:
    ops = operations(document)
    responses = ops["POST", "/v1/risk/query"]["responses"]
    for status, code in (
        ("401", "auth.replayed"),
        ("403", "auth.forbidden_role"),
        ("400", "request.invalid_body"),
        ("422", "query.purpose"),
        ("429", "rate.limited"),
        ("503", "db.unavailable"),
    ):
        media = responses[status]["content"]["application/problem+json"]
        problem = resolve(document, media["schema"])
        assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
        codes = [e["value"]["code"] for e in media["examples"].values()]
        assert code in codes, (status, codes)
    assert "404" in ops["GET", "/v1/reports/{report_id}"]["responses"]
    assert "409" in ops["POST", "/v1/reports"]["responses"]


async def test_signed_routes_carry_the_security_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["signedRequest"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    for claim in ("rr-req+jwt", "iss", "aud", "iat", "exp", "120 s", "jti", "htm", "htu", "bsh"):
        assert claim in scheme["description"], claim
    ops = operations(document)
    assert ops["POST", "/v1/risk/query"]["security"] == [{"signedRequest": []}]
    assert {"buyerSession": []} in ops["GET", "/v1/subject/record"]["security"]
    assert "security" not in ops["GET", "/health/live"]


async def test_documented_counts(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert len(ops) >= 26
    assert sum("requestBody" in op for op in ops.values()) >= 11
    assert sum(len(op.get("parameters", [])) for op in ops.values()) >= 21
    assert len(document["components"]["schemas"]) >= 30


def conforms(body: Any, typ: type[Any]) -> None:
    """The answer decodes as its documented type, unknown fields refused."""
    msgspec.json.decode(msgspec.json.encode(body), type=typ)


async def test_answers_match_their_documented_types(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    conforms((await api.client.get("/health/live")).json(), answers.Liveness)
    conforms((await api.call(member, "GET", "/v1/whoami")).json(), answers.WhoAmI)
    body = report_body()
    filed = await api.call(member, "POST", "/v1/reports", body)
    assert filed.status_code == 201, filed.text
    conforms(filed.json(), answers.ReportFiled)
    report_id = filed.json()["report_id"]
    shown = await api.call(member, "GET", f"/v1/reports/{report_id}")
    conforms(shown.json(), answers.ReportView)
    ident = body["identifiers"][0]
    asked = await api.call(
        member, "POST", "/v1/risk/query", {"identifiers": [ident], "purpose": "refund_decision"}
    )
    assert asked.status_code == 200, asked.text
    conforms(asked.json(), answers.RiskAnswer)
    unknown = {"kind": "phone", "pseudonym": pseudonym()}
    batch = await api.call(
        member,
        "POST",
        "/v1/risk/query/batch",
        {"queries": [{"identifiers": [unknown], "purpose": "refund_decision"}]},
    )
    conforms(batch.json(), answers.RiskBatchAnswer)
    retracted = await api.call(
        member, "POST", f"/v1/reports/{report_id}/retract", {"reason": "filed in error"}
    )
    assert retracted.status_code == 200, retracted.text
    conforms(retracted.json(), answers.Retracted)
    conforms((await api.call(member, "GET", "/v1/events?limit=10")).json(), answers.EventPage)
