"""Goods against their category (SPEC §5 goods level), flags and the consecutive-day restriction."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
from metrics.services import metrics_compute
from tests import factories
from tests.conftest import at
from tests.metrics.helpers import orders, refund

D1 = dt.date(2026, 3, 10)
D2, D3, D4 = (D1 + dt.timedelta(days=n) for n in (1, 2, 3))

pytestmark = pytest.mark.django_db


def goods_row(goods, day=D1) -> GoodsDaySnapshot:
    return GoodsDaySnapshot.objects.get(goods=goods, date=day)


def category(shop, name, grouped_per_goods, quality_refunds):
    """Goods of one category with `grouped_per_goods[i]` grouped orders and `quality_refunds[i]` of
    them refunded for quality, all on D1."""
    made = []
    for grouped, refunded in zip(grouped_per_goods, quality_refunds, strict=True):
        goods = factories.GoodsFactory(shop=shop, category=name)
        for order in orders(goods, grouped, at("2026-03-10 09:00"))[:refunded]:
            refund(order, at("2026-03-10 15:00"))
        made.append(goods)
    return made


def test_category_figures_and_flags(shop, other_shop):
    # tea: 5 goods × 10 grouped; T1 has 4 quality refunds. Category rate 4/50 = 0.08, count 4/5 = 0.8;
    # T1 rate 0.4 and count 4 are exactly 5× those: over 3×, not over 5× ("above", strictly).
    t1, t2, *_ = category(shop, "tea", [10] * 5, [4, 0, 0, 0, 0])
    # fruit: 10 goods × 10 grouped (one in another shop: categories span shops); F1 has 6.
    # Category rate 0.06, count 0.6; F1 rate 0.6 and count 6 are 10×: over 5×.
    f1, *_ = category(shop, "fruit", [10] * 9, [6] + [0] * 8)
    category(other_shop, "fruit", [10], [0])
    # book: B1's rate 1/1 is 33× the category's 3/100, but its count 1 is under 3 × 1.5: both must exceed.
    b1, b2 = category(shop, "book", [1, 99], [1, 2])
    metrics_compute(day=D1)

    tea = goods_row(t1)
    assert (tea.category_grouped_orders, tea.category_quality_refund_orders, tea.category_goods) == (50, 4, 5)
    assert tea.quality_refund_rate == Decimal("0.400000")
    assert tea.category_quality_refund_rate == Decimal("0.080000")
    assert tea.category_quality_refund_count == Decimal("0.800000")
    assert tea.flag == "over_3x"
    assert goods_row(t2).flag == ""
    fruit = goods_row(f1)
    assert (fruit.category_grouped_orders, fruit.category_goods) == (100, 10)
    assert fruit.flag == "over_5x"
    assert (goods_row(b1).flag, goods_row(b2).flag) == ("", "")
    # nothing restricted on the first flagged day
    assert not GoodsDaySnapshot.objects.exclude(restriction="").exists()
    assert ShopDaySnapshot.objects.get(shop=shop, date=D1).flagged_goods == 2


def test_goods_without_grouped_orders_counts_refunds_but_is_never_flagged(shop):
    category(shop, "tea", [10], [1])
    lone = factories.GoodsFactory(shop=shop, category="tea")
    (old,) = orders(lone, 1, at("2026-01-01 09:00"))  # grouped before the window
    refund(old, at("2026-03-10 15:00"))
    metrics_compute(day=D1)
    row = goods_row(lone)
    assert (row.grouped_orders, row.quality_refund_orders, row.quality_refund_rate, row.flag) == (0, 1, None, "")
    # its refund is in the category numerator; it is not among the goods with grouped orders
    assert (row.category_quality_refund_orders, row.category_goods) == (2, 1)


def test_restriction_after_three_consecutive_days_and_lifted(shop):
    t1, *_ = category(shop, "tea", [10] * 5, [4, 0, 0, 0, 0])
    for day in (D1, D2, D3):
        metrics_compute(day=day)
    assert [(goods_row(t1, d).streak_3x, goods_row(t1, d).restriction) for d in (D1, D2, D3)] == [
        (1, ""), (2, ""), (3, "over_3x")
    ]
    assert goods_row(t1, D3).restricted_since == D3
    assert ShopDaySnapshot.objects.get(shop=shop, date=D3).restricted_goods == 1

    # D4: 40 more grouped orders of T1 bring its rate to 4/50 = 0.08 against the category's 4/90:
    # under 3×, so the flag and the restriction go.
    orders(t1, 40, at("2026-03-13 09:00"))
    metrics_compute(day=D4)
    row = goods_row(t1, D4)
    assert (row.flag, row.streak_3x, row.restriction, row.restricted_since) == ("", 0, "", None)


def test_restriction_keeps_its_start_date_while_it_holds(shop):
    t1, *_ = category(shop, "tea", [10] * 5, [4, 0, 0, 0, 0])
    for day in (D1, D2, D3, D4):
        metrics_compute(day=day)
    assert (goods_row(t1, D4).restriction, goods_row(t1, D4).restricted_since) == ("over_3x", D3)


def test_a_missing_daily_snapshot_breaks_the_run(shop):
    t1, *_ = category(shop, "tea", [10] * 5, [4, 0, 0, 0, 0])
    for day in (D1, D3, D4):  # no snapshot for D2
        metrics_compute(day=day)
    assert [goods_row(t1, d).streak_3x for d in (D1, D3, D4)] == [1, 1, 2]
    assert goods_row(t1, D4).restriction == ""


def test_five_times_restriction_and_configurable_days(shop, settings):
    settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS = 2
    f1, *_ = category(shop, "fruit", [10] * 10, [6] + [0] * 9)
    metrics_compute(day=D1)
    metrics_compute(day=D2)
    assert [goods_row(f1, d).restriction for d in (D1, D2)] == ["", "over_5x"]
    assert goods_row(f1, D2).restricted_since == D2
    assert goods_row(f1, D2).streak_3x == 2  # a 5× day is also a 3× day
