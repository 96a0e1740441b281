"""Shops opened the way the feed opens them, and their accounts read the way the pages read them
(a shop's books open at the first use of its money, or when its accounts are listed)."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from compensation.models import Account
from compensation.services import ledger, violations
from pddadmin.shops.models import Shop
from pddadmin.shops.services import shop_open
from tests import factories

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 1, 1, 10, 0, tzinfo=TZ)
_ids = itertools.count(1)


def open_shop(deposit: str = "0.00", balance: str = "0.00", **fields):
    n = next(_ids)
    return shop_open(
        platform_id=fields.pop("platform_id", f"CS{n:04d}"),
        name=f"Compensation shop {n}",
        at=fields.pop("at", T0),
        deposit=Decimal(deposit),
        balance=Decimal(balance),
        hotline="13800138000",
    )


def balances(shop) -> dict[str, Decimal]:
    """{account kind: balance} of the shop, as the account pages show them."""
    ledger.books_open(shops=Shop.objects.filter(pk=shop.pk))
    return dict(Account.objects.filter(shop=shop).values_list("kind", "balance"))


def warranty_orders(shop, count: int = 1, *, warranty: bool = True, **fields):
    goods = factories.GoodsFactory(shop=shop, warranty=warranty)
    return [factories.OrderFactory(goods=goods, **fields) for _ in range(count)]


def report(orders, *, reason: str = "refused_service", at=None, platform_id=None):
    return violations.violation_report(
        platform_id=platform_id or f"V{next(_ids):05d}",
        orders=orders,
        reason=reason,
        at=at or T0 + dt.timedelta(days=1),
    )


def upheld(orders, *, ruled_at=None, **kwargs):
    violation = report(orders, **kwargs)
    return violations.violation_rule(
        violation=violation,
        breach=True,
        note="merchant refused repair",
        at=ruled_at or T0 + dt.timedelta(days=2),
    )


@pytest.fixture
def rich_shop(db):
    return open_shop(deposit="1000.00")


@pytest.fixture(autouse=True)
def english():
    """Assertions match the English source messages; the Chinese catalogue is tested separately."""
    from django.utils import translation

    with translation.override("en"):
        yield


def headed(columns) -> tuple[str, ...]:
    """The header a page's download in English gives `columns` (the commands keep SPEC §9's column
    names; the pages say them to people, in their language)."""
    from django.utils import translation

    from compensation.selectors import COLUMN_LABELS

    with translation.override("en"):
        return tuple(str(COLUMN_LABELS[c]) for c in columns)


def keyed(lines: list[dict], columns) -> list[dict]:
    """A download's rows (csv.DictReader) keyed by the column names again."""
    names = dict(zip(headed(columns), columns, strict=True))
    return [{names[k]: v for k, v in line.items()} for line in lines]
