"""The API's description: a bearer scheme, the answers every route may give, examples that
validate, and a Swagger UI page served from the node's own files, never a CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.surfaces.app import create_app
from schemas.api import CaseCreate, ErrorRead, ReferralCreate
from tests.support.federation import TestFederation, TestNode


@pytest.fixture
def openapi(pair: TestFederation, host: TestNode) -> dict[str, Any]:
    response = host.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


class TestDescription:
    def test_staff_routes_name_the_bearer_scheme(self, openapi: dict[str, Any]) -> None:
        scheme = openapi["components"]["securitySchemes"]["staff"]
        assert scheme == {
            "type": "http",
            "scheme": "bearer",
            "description": scheme["description"],
        }
        create_case = openapi["paths"]["/api/v1/cases"]["post"]
        assert create_case["security"] == [{"staff": []}]

    def test_every_api_route_documents_413_429_and_503(self, openapi: dict[str, Any]) -> None:
        routes = [
            (path, method, operation)
            for path, item in openapi["paths"].items()
            if path.startswith("/api/v1/")
            for method, operation in item.items()
        ]
        assert len(routes) > 20
        for path, method, operation in routes:
            answers = operation["responses"]
            assert {"413", "429", "503"} <= answers.keys(), (method, path)
            assert "Retry-After" in answers["503"]["headers"], (method, path)

    @pytest.mark.parametrize("model", [CaseCreate, ReferralCreate, ErrorRead])
    def test_examples_are_valid_requests(
        self, openapi: dict[str, Any], model: type[CaseCreate | ReferralCreate | ErrorRead]
    ) -> None:
        examples = openapi["components"]["schemas"][model.__name__]["examples"]
        assert examples
        for example in examples:
            model.model_validate(example)


class TestDocsPage:
    def test_page_and_its_scripts_come_from_this_node(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        page = host.client.get("/docs")
        assert page.status_code == 200
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources
        assert all(source.startswith("/docs/") for source in sources), sources
        for source in sources:
            asset = host.client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 100, source
        assert "/openapi.json" in host.client.get("/docs/init.js").text

    def test_docs_can_be_turned_off_without_losing_the_description(
        self, pair: TestFederation, host: TestNode
    ) -> None:
        settings = host.settings.model_copy(update={"api_docs": False})
        client = TestClient(create_app(settings, clock=host.clock, engine=host.engine))
        assert client.get("/docs").status_code == 404
        assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 404
        assert client.get("/openapi.json").status_code == 200
