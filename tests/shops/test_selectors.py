"""Who may see what (one selector, `visible_to`) and who is platform staff or a platform admin
(one function each)."""

from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from aftersales.models import ReturnAddress
from pddadmin.shops.models import Order, Shop
from pddadmin.shops.selectors import (
    EDIT_CASES_ROLES,
    is_platform_admin,
    is_platform_staff,
    shops_for,
    visible_to,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return factories.UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def orders(shop, other_shop):
    return factories.OrderFactory(goods__shop=shop), factories.OrderFactory(goods__shop=other_shop)


@pytest.mark.parametrize(
    ("who", "staff", "admin"),
    [
        ("owner", False, False),
        ("agent", False, False),
        ("viewer", False, False),
        ("outsider", False, False),
        ("reviewer", True, False),
        ("superuser", True, True),
    ],
)
def test_platform_staff_and_platform_admin_mean_one_thing_each(request, who, staff, admin):
    user = request.getfixturevalue(who)
    assert (is_platform_staff(user), is_platform_admin(user)) == (staff, admin)


@pytest.mark.parametrize("who", ["reviewer", "superuser"])
def test_an_inactive_or_anonymous_user_is_neither(request, who):
    user = request.getfixturevalue(who)
    user.is_active = False
    assert not is_platform_staff(user) and not is_platform_admin(user)
    assert not is_platform_staff(AnonymousUser()) and not is_platform_admin(AnonymousUser())


@pytest.mark.parametrize("who", ["owner", "agent", "viewer"])
def test_merchant_staff_see_their_shops_rows_only(request, shop, orders, who):
    user = request.getfixturevalue(who)
    assert list(visible_to(Order.objects.all(), user=user)) == [orders[0]]
    assert list(visible_to(Shop.objects.all(), user=user, shop_path="pk")) == [shop]
    assert list(shops_for(user)) == [shop]


def test_a_path_through_a_relation(shop, other_shop, owner):
    mine = factories.ReturnAddressFactory(shop=shop)
    factories.ReturnAddressFactory(shop=other_shop)
    assert list(visible_to(ReturnAddress.objects.all(), user=owner)) == [mine]
    assert list(visible_to(Order.objects.filter(goods__shop=shop), user=owner, shop_path="goods__shop")) == []


@pytest.mark.parametrize("who", ["reviewer", "superuser"])
def test_platform_staff_see_every_row(request, shop, other_shop, orders, who):
    user = request.getfixturevalue(who)
    assert set(visible_to(Order.objects.all(), user=user)) == set(orders)
    assert set(shops_for(user)) == {shop, other_shop}


def test_roles_narrow_what_merchants_see(shop, viewer, agent, orders):
    assert list(visible_to(Order.objects.all(), user=viewer, roles=EDIT_CASES_ROLES)) == []
    assert list(visible_to(Order.objects.all(), user=agent, roles=EDIT_CASES_ROLES)) == [orders[0]]


def test_anonymous_sees_nothing(orders):
    assert list(visible_to(Order.objects.all(), user=AnonymousUser())) == []


# --- the one selector is what every scoped read calls ---------------------------------------------


def test_the_admin_scoping_uses_it(owner):
    from django.contrib import admin

    request = RequestFactory().get("/")
    request.user = owner
    with mock.patch("pddadmin.shops.admin_scope.visible_to", wraps=visible_to) as spy:
        admin.site.get_model_admin(Order).get_queryset(request)
    assert spy.call_args.kwargs["user"] == owner


def test_the_compensation_pages_use_it(owner):
    from compensation import selectors as compensation_selectors

    for read in (
        compensation_selectors.violations_for, compensation_selectors.payouts_for, compensation_selectors.accounts_for
    ):
        with mock.patch("compensation.selectors.visible_to", wraps=visible_to) as spy:
            read(owner)
        assert spy.call_args.kwargs["user"] == owner, read.__name__


def test_the_metrics_pages_use_it(client, owner):
    client.force_login(owner)
    with mock.patch("pddadmin.shops.selectors.visible_to", wraps=visible_to) as spy:
        client.get("/metrics/")
    assert any(call.kwargs["user"] == owner for call in spy.call_args_list)
