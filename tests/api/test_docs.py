"""The description and the browsable docs, from our own static files only."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_schema_describes_every_case_endpoint_and_its_problems(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {"/api/v1/cases/", "/api/v1/cases/{case_id}/"} <= set(paths)
    for name in ("agree", "refuse", "confirm_refund", "refuse_return", "reship"):
        post = paths[f"/api/v1/cases/{{case_id}}/{name}/"]["post"]
        assert {"200", "400", "401", "403", "404", "409", "413", "415", "422", "429"} <= set(post["responses"])
        assert "application/problem+json" in post["responses"]["409"]["content"]
        assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_load_nothing_from_the_internet(client, page):
    html = client.get(page).content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    for source in sources:
        if "/static/" in source:
            assert finders.find(source.split("/static/", 1)[1]), source
