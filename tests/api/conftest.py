"""Keys, clients and cases for the open API's tests."""

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.services import api_key_create
from tests import factories


@pytest.fixture(autouse=True)
def api_settings(settings):
    # Lists show every write at once (the settle time is tested by itself), no limit is met
    # unless a test asks for one, and each test counts its calls from zero.
    settings.API_SYNC_SETTLE_SECONDS = 0
    settings.API_RATE_LIMIT = "100000/min"
    cache.clear()
    yield settings
    cache.clear()


def make_key(shop, role: str, owner=None, name: str = "erp"):
    owner = owner or factories.member(shop, "owner")
    key, secret = api_key_create(shop=shop, role=role, name=name, created_by=owner)
    return key, secret


class Api:
    """A client that speaks with one key: `api.get(path)`, `api.post(path, body, key=…)`."""

    def __init__(self, secret: str | None, language: str = "en"):
        self.client = APIClient()
        self.headers = {"HTTP_ACCEPT_LANGUAGE": language}
        if secret is not None:
            self.headers["HTTP_AUTHORIZATION"] = f"Api-Key {secret}"

    def get(self, path: str, params=None, **headers):
        return self.client.get(path, params or {}, **{**self.headers, **headers})

    def post(self, path: str, body=None, *, idempotency_key: str | None = "new", **headers):
        if idempotency_key == "new":
            idempotency_key = str(uuid.uuid4())
        if idempotency_key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return self.client.post(path, body if body is not None else {}, format="json", **{**self.headers, **headers})


@pytest.fixture
def agent_key(shop, owner):
    return make_key(shop, "agent", owner)


@pytest.fixture
def viewer_key(shop, owner):
    return make_key(shop, "viewer", owner)


@pytest.fixture
def agent_api(agent_key):
    return Api(agent_key[1])


@pytest.fixture
def viewer_api(viewer_key):
    return Api(viewer_key[1])


@pytest.fixture
def other_api(other_shop):
    """An agent key of another shop: must never see or touch `shop`."""
    return Api(make_key(other_shop, "agent")[1])
