"""SPEC §5.1: goods against their category and shops against their main category for the
logistics anomaly rate, the `logistics_over_5x` flag (rate and count both strictly above 5×,
compared exactly) and the restriction after consecutive daily snapshots."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
from metrics.services import metrics_compute
from tests import factories
from tests.conftest import at
from tests.metrics.helpers import flag, orders

D1 = dt.date(2026, 3, 10)
D2, D3, D4 = (D1 + dt.timedelta(days=n) for n in (1, 2, 3))

pytestmark = pytest.mark.django_db


def anomalous(goods, grouped: int, anomalies: int, grouped_at: str = "2026-03-10 09:00"):
    """`grouped` orders of `goods` grouped on D1, the first `anomalies` of them flagged that day."""
    for order in orders(goods, grouped, at(grouped_at))[:anomalies]:
        flag(order, "complaint", at("2026-03-10 15:00"))
    return goods


def category(shop, name: str, members: list[tuple[int, int]]) -> list:
    """Goods of category `name`, one per (grouped orders, anomaly orders)."""
    return [anomalous(factories.GoodsFactory(shop=shop, category=name), g, a) for g, a in members]


def goods_row(goods, day=D1) -> GoodsDaySnapshot:
    return GoodsDaySnapshot.objects.get(goods=goods, date=day)


def shop_row(shop, day=D1) -> ShopDaySnapshot:
    return ShopDaySnapshot.objects.get(shop=shop, date=day)


def test_goods_against_its_category(shop, other_shop):
    # tea: T1 10 grouped, 1 anomaly; five more goods, 100 grouped each, one of them in another shop.
    # Category: 1 anomaly, 510 grouped, 6 goods. T1's rate 1 / (100 + 10) = 0.009091 is 5.5× the
    # category's 1 / (100 + 510) = 0.001639; its count 1 is 6× the category's 1/6.
    t1, t2, *_ = category(shop, "tea", [(10, 1)] + [(100, 0)] * 4)
    category(other_shop, "tea", [(100, 0)])
    metrics_compute(day=D1)
    row = goods_row(t1)
    assert (row.category_logistics_anomaly_orders, row.category_grouped_orders, row.category_goods) == (1, 510, 6)
    assert row.logistics_anomaly_rate == Decimal("0.009091")
    assert row.category_logistics_anomaly_rate == Decimal("0.001639")
    assert row.category_logistics_anomaly_count == Decimal("0.166667")
    assert (row.logistics_over_5x, row.logistics_streak, row.logistics_restricted_since) == (True, 1, None)
    assert goods_row(t2).logistics_over_5x is False
    assert shop_row(shop).logistics_flagged_goods == 1
    # the quality flags are another matter: no quality refund anywhere
    assert row.flag == ""


def test_the_rate_must_be_strictly_above_five_times(shop):
    # T1: 1 anomaly in 10 grouped; 5 more goods with 88 grouped: category 1 / (100 + 450), and
    # 1 · (100 + 450) = 5 · 1 · (100 + 10): exactly 5×, not above (the count, 6 against 5, is).
    t1, *others = category(shop, "tea", [(10, 1)] + [(88, 0)] * 5)
    metrics_compute(day=D1)
    assert goods_row(t1).logistics_over_5x is False
    # one more grouped order in the category: 1 · 551 > 5 · 110, above 5× now
    orders(others[0], 1, at("2026-03-10 09:00"))
    metrics_compute(day=D1)
    assert goods_row(t1).logistics_over_5x is True


def test_both_the_rate_and_the_count_must_be_above(shop):
    # book: B1's rate 1 / 120 is 11× the category's 1 / 1320, but with 5 goods its count 1 is exactly
    # 5× the category's 1/5: not above.
    (b1, *_) = category(shop, "book", [(20, 1)] + [(300, 0)] * 4)
    # toys: Y1's count 2 is 6× the category's 2/6, but its rate 2 / 1200 is only 1.04× 2 / 1250.
    (y1, *_) = category(shop, "toys", [(1000, 2)] + [(10, 0)] * 5)
    metrics_compute(day=D1)
    assert (goods_row(b1).logistics_over_5x, goods_row(y1).logistics_over_5x) == (False, False)
    assert goods_row(b1).logistics_anomaly_rate > 5 * goods_row(b1).category_logistics_anomaly_rate
    assert goods_row(y1).logistics_anomaly_orders > 5 * goods_row(y1).category_logistics_anomaly_count


def test_goods_without_grouped_orders_have_a_rate_but_are_never_flagged(shop):
    category(shop, "tea", [(100, 0)] * 5)
    lone = factories.GoodsFactory(shop=shop, category="tea")
    anomalous(lone, 3, 3, grouped_at="2026-01-05 09:00")  # grouped before the window, flagged in it
    metrics_compute(day=D1)
    row = goods_row(lone)
    assert (row.grouped_orders, row.logistics_anomaly_orders) == (0, 3)
    assert row.logistics_anomaly_rate == Decimal("0.010000")  # 3 / (300 + 0)
    # its anomalies are the category's; it is not one of the goods with grouped orders
    assert (row.category_logistics_anomaly_orders, row.category_goods) == (3, 5)
    assert row.logistics_over_5x is False


def test_goods_restricted_after_three_consecutive_snapshots_then_lifted(shop):
    t1, *_ = category(shop, "tea", [(10, 1)] + [(100, 0)] * 5)
    for day in (D1, D2, D3, D4):
        metrics_compute(day=day)
    assert [
        (goods_row(t1, d).logistics_streak, goods_row(t1, d).logistics_restricted_since) for d in (D1, D2, D3, D4)
    ] == [
        (1, None),
        (2, None),
        (3, D3),
        (4, D3),  # restricted from the third day, and it keeps that day
    ]
    assert shop_row(shop, D3).logistics_restricted_goods == 1
    assert goods_row(t1, D4).logistics_restricted is True
    # D5: 100 more grouped orders of T1 bring its rate to 1 / 210 against 1 / 710: under 5×
    d5 = D4 + dt.timedelta(days=1)
    orders(t1, 100, at("2026-03-14 09:00"))
    metrics_compute(day=d5)
    row = goods_row(t1, d5)
    assert (row.logistics_over_5x, row.logistics_streak, row.logistics_restricted_since) == (False, 0, None)
    assert shop_row(shop, d5).logistics_restricted_goods == 0


def test_a_missing_snapshot_breaks_the_run_and_the_days_are_a_setting(shop, settings):
    (t1, *_) = category(shop, "tea", [(10, 1)] + [(100, 0)] * 5)
    for day in (D1, D3, D4):  # no snapshot of D2
        metrics_compute(day=day)
    assert [goods_row(t1, d).logistics_streak for d in (D1, D3, D4)] == [1, 1, 2]
    assert goods_row(t1, D4).logistics_restricted_since is None
    settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS = 2
    metrics_compute(day=D4)
    assert goods_row(t1, D4).logistics_restricted_since == D4


def shops_of(main_category: str, members: list[tuple[int, int]]) -> list:
    """Shops of main category `main_category`, each one goods with (grouped, anomaly) orders."""
    made = []
    for grouped, anomalies in members:
        shop = factories.ShopFactory(category=main_category)
        anomalous(factories.GoodsFactory(shop=shop, category=f"c{len(made)}"), grouped, anomalies)
        made.append(shop)
    return made


def test_shops_against_their_main_category_and_the_shops_without_one(db):
    # 家居: A is 5.5× the category's rate with 6× its count (the goods example above, as shops).
    a, b, *_ = shops_of("家居", [(10, 1)] + [(100, 0)] * 5)
    # The shops without a main category form one group: X is flagged against it, not against 家居.
    x, *_ = shops_of("", [(10, 1)] + [(100, 0)] * 5)
    # 数码 has two shops: M's count 1 is 2× the category's 1/2, not above 5×.
    m, _n = shops_of("数码", [(10, 1), (100, 0)])
    metrics_compute(day=D1)
    row = shop_row(a)
    assert (row.category, row.category_grouped_orders, row.category_logistics_anomaly_orders, row.category_shops) == (
        "家居",
        510,
        1,
        6,
    )
    assert (row.logistics_anomaly_rate, row.category_logistics_anomaly_rate) == (
        Decimal("0.009091"),
        Decimal("0.001639"),
    )
    assert row.category_logistics_anomaly_count == Decimal("0.166667")
    assert (row.logistics_over_5x, shop_row(b).logistics_over_5x) == (True, False)
    assert (shop_row(x).category, shop_row(x).category_shops, shop_row(x).logistics_over_5x) == ("", 6, True)
    assert (shop_row(m).category_shops, shop_row(m).logistics_over_5x) == (2, False)
    # each goods is alone in its own category: no goods is flagged, only the shops
    assert not GoodsDaySnapshot.objects.filter(date=D1, logistics_over_5x=True).exists()


def test_shop_restriction_after_three_consecutive_snapshots(db):
    a, b, *_ = shops_of("家居", [(10, 1)] + [(100, 0)] * 5)
    for day in (D1, D2, D3, D4):
        metrics_compute(day=day)
    assert [(shop_row(a, d).logistics_streak, shop_row(a, d).logistics_restricted_since) for d in (D1, D2, D3, D4)] == [
        (1, None),
        (2, None),
        (3, D3),
        (4, D3),
    ]
    assert shop_row(a, D4).logistics_restricted is True
    assert shop_row(b, D4).logistics_restricted is False
    # the shop changes its main category: on D5 it is compared with its new category, alone there
    type(a).objects.filter(pk=a.pk).update(category="服装")
    d5 = D4 + dt.timedelta(days=1)
    metrics_compute(day=d5)
    row = shop_row(a, d5)
    assert (row.category, row.category_shops, row.logistics_over_5x, row.logistics_restricted_since) == (
        "服装",
        1,
        False,
        None,
    )
