"""Limits: the per-key rate limit (429 with Retry-After, a problem document) and the body size
limit (413)."""

import pytest

from aftersales.models import State
from tests.aftersales.clicks import live_case_in

from .conftest import Api, make_key

pytestmark = pytest.mark.django_db


def test_rate_limit_per_key(shop, owner, api_settings):
    api_settings.API_RATE_LIMIT = "3/min"
    first, second = Api(make_key(shop, "agent", owner)[1]), Api(make_key(shop, "viewer", owner)[1])
    assert [first.get("/api/v1/cases/").status_code for _ in range(3)] == [200, 200, 200]
    answer = first.get("/api/v1/cases/")
    assert answer.status_code == 429
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "rate_limited"
    assert 1 <= int(answer["Retry-After"]) <= 60
    assert second.get("/api/v1/cases/").status_code == 200  # another key has its own count


def test_a_body_over_the_limit_is_refused_unread(shop, agent_api, api_settings):
    api_settings.API_MAX_BODY_BYTES = 100
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    answer = agent_api.post(f"/api/v1/cases/{case.platform_id}/refuse/", {"reason": "x" * 200})
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    case.refresh_from_db()
    assert case.state == State.PENDING_MERCHANT


def test_not_json_is_refused(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    path = f"/api/v1/cases/{case.platform_id}/refuse/"
    headers = {**agent_api.headers, "HTTP_IDEMPOTENCY_KEY": "k"}
    answer = agent_api.client.post(path, "reason=x", content_type="application/x-www-form-urlencoded", **headers)
    assert (answer.status_code, answer.json()["code"]) == (415, "unsupported_media_type")
    answer = agent_api.client.post(path, "{not json", content_type="application/json", **headers)
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
    answer = agent_api.client.get("/api/v1/cases/", HTTP_ACCEPT="text/html", **agent_api.headers)
    assert (answer.status_code, answer.json()["code"]) == (406, "not_acceptable")
