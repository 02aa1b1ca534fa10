"""The OpenAPI document: valid OpenAPI 3.1, served as JSON, naming every API route and method."""

from __future__ import annotations

import re

import orjson
import pytest
from flask import Flask
from openapi_spec_validator import validate

from dashapp.api import register_api
from dashapp.openapi import openapi_document


@pytest.fixture(scope="module")
def server() -> Flask:
    server = Flask("openapi-test")
    register_api(server, lambda: pytest.fail("the executor is not needed here"))
    return server


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_served_as_json(server: Flask) -> None:
    response = server.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert orjson.loads(response.data) == orjson.loads(orjson.dumps(openapi_document()))


def test_names_every_route_and_method(server: Flask) -> None:
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in server.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint != "api.no_such_endpoint"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented
    assert len(routes) == 11
