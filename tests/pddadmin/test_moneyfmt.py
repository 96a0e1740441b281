"""Money reads one way to a person (#18 fault 6): ¥, thousands separators, two places, on the
money pages and in the admin's lists alike."""

from decimal import Decimal

import pytest
from django.urls import reverse

from aftersales.models import AfterSalesCase, State
from pddadmin.moneyfmt import yuan
from pddadmin.shops.models import Order
from tests.aftersales.clicks import live_case_in


@pytest.mark.parametrize(
    "value, shown",
    [
        (Decimal("1234.5"), "¥1,234.50"),
        (Decimal("-100"), "-¥100.00"),
        (Decimal("0"), "¥0.00"),
        (Decimal("1234567.891"), "¥1,234,567.89"),
        ("12.30", "¥12.30"),
        (None, "—"),
    ],
)
def test_yuan(value, shown):
    assert yuan(value) == shown


def test_the_money_pages_filter_is_the_same_function():
    from compensation.templatetags.money import register

    assert register.filters["yuan"] is yuan


@pytest.mark.django_db
def test_case_and_order_lists_show_amounts_in_yuan(admin_client, shop):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    AfterSalesCase.objects.filter(pk=case.pk).update(amount=Decimal("12345.60"))
    Order.objects.filter(pk=case.order_id).update(amount=Decimal("23456.70"))
    cases = admin_client.get(reverse("admin:aftersales_aftersalescase_changelist")).content.decode()
    assert "¥12,345.60" in cases and "12345.60" not in cases
    orders = admin_client.get(reverse("admin:shops_order_changelist")).content.decode()
    assert "¥23,456.70" in orders and "23456.70" not in orders


@pytest.mark.django_db
def test_case_pages_and_money_lists_show_yuan(admin_client, shop):
    from compensation.models import Account

    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    AfterSalesCase.objects.filter(pk=case.pk).update(amount=Decimal("12345.60"))
    page = admin_client.get(reverse("admin:aftersales_aftersalescase_change", args=[case.pk])).content.decode()
    assert "¥12,345.60" in page
    review = admin_client.get(reverse("review:case", args=[case.pk])).content.decode()
    assert "¥12,345.60" in review
    Account.objects.filter(shop=shop, kind=Account.objects.filter(shop=shop).first().kind).update(
        balance=Decimal("-1234.50")
    )
    accounts = admin_client.get(reverse("admin:compensation_account_changelist")).content.decode()
    assert "-¥1,234.50" in accounts
