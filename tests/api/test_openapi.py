"""/api/v1/openapi.json: a valid OpenAPI 3 document naming every route and its security."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver
from openapi_spec_validator import validate

from tests.test_no_server_errors import url_templates

ROUTES = {
    ("get", "/api/v1/dependencies"),
    ("get", "/api/v1/dependencies/{name}"),
    ("post", "/api/v1/dependencies/{name}/probe"),
    ("post", "/api/v1/dependencies/{name}/acknowledge"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/maintenance"),
    ("post", "/api/v1/maintenance"),
    ("delete", "/api/v1/maintenance/{name}"),
}


@pytest.fixture
def schema() -> dict:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")
    validate(schema)  # raises on any departure from the OpenAPI specification


def test_the_schema_lists_every_route_and_no_other(schema: dict) -> None:
    listed = {(method, path) for path, item in schema["paths"].items() for method in item}

    assert listed == ROUTES
    # Every API URL pattern Django routes, and the schema's own, is in it.
    routed = {
        "/" + template.replace("%(name)s", "{name}")
        for template, _ in url_templates(get_resolver())
        if template.startswith("api/v1/")
    }
    # ninja's root is routed so that it can find its own prefix; it answers 404 only.
    assert routed == {path for _, path in ROUTES} | {"/api/v1/openapi.json", "/api/v1/"}
    assert Client().get("/api/v1/").status_code == 404


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_every_route_needs_a_bearer_token(schema: dict, method: str, path: str) -> None:
    operation = schema["paths"][path][method]
    schemes = schema["components"]["securitySchemes"]

    assert [scheme for requirement in operation["security"] for scheme in requirement]
    for requirement in operation["security"]:
        for name in requirement:
            assert schemes[name] == {"type": "http", "scheme": "bearer"}
    assert {"200", "201", "202"} & set(operation["responses"])
