"""SPEC §5.1 logistics anomaly orders: every source, each order once, by the time it happened in
the Asia/Shanghai window, the Xinjiang exception, and the seed's rate — in the daily snapshot, the
live figures and the orders listed behind the figure alike."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics import selectors
from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
from metrics.services import metrics_compute
from tests import factories
from tests.conftest import at
from tests.metrics.helpers import flag, orders, rating, refund

D = dt.date(2026, 3, 31)  # window D-29 … D = 2026-03-02 … 2026-03-31 (Shanghai days)
XINJIANG = "新疆维吾尔自治区"

pytestmark = pytest.mark.django_db

# Each way an order becomes a logistics anomaly (SPEC §5.1), as the rows the feed leaves.
SOURCES = {
    "fake_shipment": lambda order, when: flag(order, "fake_shipment", when),
    "slow_delivery": lambda order, when: flag(order, "slow_delivery", when),
    "complaint": lambda order, when: flag(order, "complaint", when),
    "logistics_refund": lambda order, when: refund(order, when, reason="lost_in_transit"),
    "one_star": lambda order, when: rating(order, 1, when),
}


def snapshot(shop, day=D) -> ShopDaySnapshot:
    metrics_compute(day=day)
    return ShopDaySnapshot.objects.get(shop=shop, date=day)


def counted(shop, day=D) -> tuple[int, int]:
    """The shop's anomaly orders (window, day) as the snapshot stores them, after checking that the
    live figures and the orders listed behind the figure say the same."""
    snap = snapshot(shop, day)
    live = selectors.shop_figures(shop=shop, day=day)
    listed = [
        selectors.numerator_orders(shop=shop, day=day, figure="logistics_anomaly", scope=scope).count()
        for scope in ("window", "day")
    ]
    stored = (snap.logistics_anomaly_orders, snap.day_logistics_anomaly_orders)
    assert (live.logistics_anomaly_orders, live.day_logistics_anomaly_orders) == stored
    assert tuple(listed) == stored
    goods = GoodsDaySnapshot.objects.filter(shop=shop, date=day)
    assert sum(g.logistics_anomaly_orders for g in goods) == stored[0]  # the shop is the sum of its goods
    return stored


@pytest.fixture
def goods(shop):
    return factories.GoodsFactory(shop=shop)


def test_each_source_makes_an_order_an_anomaly(shop, goods):
    made = orders(goods, 5, at("2026-03-10 10:00"))
    orders(goods, 5, at("2026-03-10 10:00"))
    for order, source in zip(made, SOURCES.values(), strict=True):
        source(order, at("2026-03-20 10:00"))
    assert counted(shop) == (5, 0)


def test_look_alikes_that_are_not_anomalies(shop, goods):
    a, b, c, d = orders(goods, 4, at("2026-03-10 10:00"))
    refund(a, at("2026-03-20 10:00"), reason="quality_issue")  # a refund, not for logistics
    refund(b, at("2026-03-20 10:00"), reason="changed_mind")
    rating(c, 2, at("2026-03-20 10:00"), description=1, service=1)  # 1 star, but not for the logistics
    rating(d, 5, at("2026-03-20 10:00"))
    assert counted(shop) == (0, 0)


def test_a_logistics_refund_is_classified_by_its_reason_at_the_refund(shop, goods):
    a, b = orders(goods, 2, at("2026-03-10 10:00"))
    refund(a, at("2026-03-20 10:00"), reason="damaged_in_transit", case_reason="quality_issue")
    refund(b, at("2026-03-20 10:00"), reason="quality_issue", case_reason="wrong_or_missing")
    assert counted(shop) == (1, 0)


def test_an_order_with_several_sources_counts_once(shop, goods):
    (a, b, _) = orders(goods, 3, at("2026-03-10 10:00"))
    for source in SOURCES.values():
        source(a, at("2026-03-31 10:00"))  # all five, on day D
    flag(b, "slow_delivery", at("2026-03-12 10:00"))
    flag(b, "slow_delivery", at("2026-03-13 10:00"))  # flagged twice for the same
    flag(b, "complaint", at("2026-03-31 09:00"))
    refund(b, at("2026-03-14 10:00"), reason="not_shipped")
    assert counted(shop) == (2, 2)


@pytest.mark.parametrize("source", SOURCES)
def test_window_edges_are_shanghai_days(shop, goods, source):
    early, first, last_before, first_of_d, last, late = orders(goods, 6, at("2026-02-20 10:00"))
    orders(goods, 4, at("2026-03-10 10:00"))
    SOURCES[source](early, at("2026-03-01 23:59"))  # before D-29: out
    SOURCES[source](first, at("2026-03-02 00:00"))  # the first instant of D-29: in
    SOURCES[source](last_before, at("2026-03-30 23:59"))  # D-1: in the window, not the day
    SOURCES[source](first_of_d, at("2026-03-31 00:00"))  # the first instant of D: window and day
    SOURCES[source](last, at("2026-03-31 23:59"))  # the last minute of D
    SOURCES[source](late, at("2026-04-01 00:00"))  # D+1: out
    assert counted(shop) == (4, 2)


def test_counted_by_when_it_happened_whenever_the_order_was_grouped(shop, goods):
    (old,) = orders(goods, 1, at("2026-01-05 10:00"))  # grouped long before the window
    (never,) = orders(goods, 1, None)  # never grouped: no denominator, still the shop's order
    orders(goods, 8, at("2026-03-10 10:00"))
    flag(old, "slow_delivery", at("2026-03-20 10:00"))
    refund(never, at("2026-03-20 10:00"), reason="not_shipped")
    snap = snapshot(shop)
    assert (snap.grouped_orders, snap.logistics_anomaly_orders) == (8, 2)
    assert snap.logistics_anomaly_rate == Decimal("0.009615")  # 2 / (2 × 100 + 8) = 0.0096153…
    assert counted(shop) == (2, 0)


@pytest.mark.parametrize("source", SOURCES)
def test_an_order_shipped_to_xinjiang_counts_only_for_a_fake_shipment(shop, goods, source):
    (xinjiang,) = orders(goods, 1, at("2026-03-10 10:00"), ship_to=XINJIANG)
    (short,) = orders(goods, 1, at("2026-03-10 10:00"), ship_to="新疆")
    (elsewhere,) = orders(goods, 1, at("2026-03-10 10:00"), ship_to="西藏自治区")
    (unknown,) = orders(goods, 1, at("2026-03-10 10:00"))
    for order in (xinjiang, short, elsewhere, unknown):
        SOURCES[source](order, at("2026-03-31 10:00"))
    expected = 4 if source == "fake_shipment" else 2  # the two Xinjiang orders count only then
    assert counted(shop) == (expected, expected)


def test_a_xinjiang_order_with_a_fake_shipment_and_other_sources_counts_once(shop, goods):
    a, b = orders(goods, 2, at("2026-03-10 10:00"), ship_to=XINJIANG)
    for source in SOURCES.values():
        source(a, at("2026-03-20 10:00"))
    for name, source in SOURCES.items():
        if name != "fake_shipment":
            source(b, at("2026-03-31 10:00"))
    # the fake shipment of a is in the window, not on the day; b counts for nothing
    assert counted(shop) == (1, 0)


def test_rates_and_no_rate(shop, other_shop, goods):
    orders(goods, 4, at("2026-03-20 10:00"))
    (a,) = orders(goods, 1, at("2026-03-31 10:00"))
    flag(a, "complaint", at("2026-03-31 11:00"))
    lone = factories.GoodsFactory(shop=other_shop)
    (old,) = orders(lone, 1, at("2026-01-05 10:00"))
    rating(old, 1, at("2026-03-25 10:00"))
    nothing = factories.ShopFactory()
    snap = snapshot(shop)
    assert snap.logistics_anomaly_rate == Decimal("0.009524")  # 1 / (1 × 100 + 5) = 0.0095238…
    assert snap.day_logistics_anomaly_rate == Decimal("0.009901")  # 1 / (1 × 100 + 1) = 0.0099009…
    other = ShopDaySnapshot.objects.get(shop=other_shop, date=D)
    # anomalies and no grouped orders: 1 / (1 × 100 + 0); nothing on the day: no rate
    assert (other.logistics_anomaly_rate, other.day_logistics_anomaly_rate) == (Decimal("0.010000"), None)
    empty = ShopDaySnapshot.objects.get(shop=nothing, date=D)
    assert empty.logistics_anomaly_rate is None  # no grouped orders and no anomaly orders


def test_the_goods_rows_carry_each_goods_share(shop):
    g1, g2 = factories.GoodsFactory(shop=shop), factories.GoodsFactory(shop=shop, category="home")
    (a, b) = orders(g1, 2, at("2026-03-10 10:00"))
    (c,) = orders(g2, 1, at("2026-03-10 10:00"), ship_to=XINJIANG)
    flag(a, "slow_delivery", at("2026-03-11 10:00"))
    rating(b, 1, at("2026-03-31 10:00"))
    flag(c, "fake_shipment", at("2026-03-31 10:00"))
    metrics_compute(day=D)
    rows = {
        r.goods_id: (r.logistics_anomaly_orders, r.day_logistics_anomaly_orders)
        for r in GoodsDaySnapshot.objects.filter(date=D)
    }
    assert rows == {g1.pk: (2, 1), g2.pk: (1, 1)}
    assert counted(shop) == (3, 2)
