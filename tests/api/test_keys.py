"""API keys in the back-office: an owner creates one (shown once, stored hashed), lists them with
created / last used / revoked, and revokes; nobody else manages them. Last use is stamped at
most once a minute."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from api.auth import touch
from api.models import ShopApiKey
from tests.logins import signed_in

from .conftest import Api, make_key

pytestmark = pytest.mark.django_db
ADD = "/admin/api/shopapikey/add/"
LIST = "/admin/api/shopapikey/"


def test_owner_creates_a_key_and_sees_it_once(shop, owner):
    browser = signed_in(owner)
    page = browser.post(ADD, {"shop": shop.pk, "name": "Our ERP", "role": "agent"})
    assert page.status_code == 200
    secret = re.search(r'class="api-key-secret"[^>]*>([^<]+)<', page.content.decode()).group(1)
    key = ShopApiKey.objects.get(shop=shop, name="Our ERP")
    assert (key.role, key.created_by, key.revoked) == ("agent", owner, False)
    assert secret not in key.hashed_key and key.hashed_key.startswith("sha512$$")  # stored hashed
    assert secret.startswith(key.prefix + ".")
    assert Api(secret).get("/api/v1/cases/").status_code == 200
    for url in (LIST, reverse("admin:api_shopapikey_change", args=[key.pk])):
        assert secret not in browser.get(url).content.decode()  # never shown again


def test_the_list_shows_created_last_used_and_revoked(shop, owner):
    used, secret = make_key(shop, "viewer", owner, name="used key")
    Api(secret).get("/api/v1/cases/")
    revoked, _ = make_key(shop, "agent", owner, name="old key")
    browser = signed_in(owner)
    browser.post(reverse("admin:api_shopapikey_revoke", args=[revoked.pk]))
    revoked.refresh_from_db()
    used.refresh_from_db()
    assert revoked.revoked and revoked.revoked_by == owner and revoked.revoked_at is not None
    assert used.last_used_at is not None
    html = browser.get(LIST).content.decode()
    assert "used key" in html and "old key" in html


def test_revoke_selected_action(shop, owner):
    key, secret = make_key(shop, "agent", owner)
    signed_in(owner).post(LIST, {"action": "revoke_selected", "_selected_action": [key.pk]})
    assert Api(secret).get("/api/v1/cases/").status_code == 401


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_only_owners_manage_keys(shop, owner, role):
    from tests import factories

    key, _ = make_key(shop, "agent", owner)
    staff = factories.member(shop, role)
    browser = signed_in(staff)
    assert browser.get(LIST).status_code == 403
    assert browser.post(ADD, {"shop": shop.pk, "name": "x", "role": "agent"}).status_code == 403
    assert browser.post(reverse("admin:api_shopapikey_revoke", args=[key.pk])).status_code in (403, 404)
    key.refresh_from_db()
    assert not key.revoked


def test_an_owner_of_another_shop_sees_and_revokes_none_of_its_keys(shop, owner, outsider):
    key, _ = make_key(shop, "agent", owner, name="not yours")
    browser = signed_in(outsider)
    assert "not yours" not in browser.get(LIST).content.decode()
    assert browser.post(reverse("admin:api_shopapikey_revoke", args=[key.pk])).status_code == 404
    assert browser.post(ADD, {"shop": shop.pk, "name": "x", "role": "agent"}).status_code == 200  # form error
    assert not ShopApiKey.objects.filter(name="x").exists()
    key.refresh_from_db()
    assert not key.revoked


def test_last_use_is_written_at_most_once_a_minute(shop, owner):
    key, _ = make_key(shop, "agent", owner)
    t = timezone.now()
    touch(key, t)
    touch(ShopApiKey.objects.get(pk=key.pk), t + dt.timedelta(seconds=30))  # a second process, fresh row
    assert ShopApiKey.objects.get(pk=key.pk).last_used_at == t
    touch(ShopApiKey.objects.get(pk=key.pk), t + dt.timedelta(seconds=61))
    assert ShopApiKey.objects.get(pk=key.pk).last_used_at == t + dt.timedelta(seconds=61)


def test_the_librarys_unscoped_key_model_is_not_in_the_admin():
    # Keys are a shop's (ShopApiKey); the library's own model would make keys that open nothing.
    from django.contrib import admin
    from rest_framework_api_key.models import APIKey

    from api.models import ShopApiKey

    assert not admin.site.is_registered(APIKey)
    assert admin.site.is_registered(ShopApiKey)
