"""SPEC §5 shop figures, against counts worked out by hand."""

import datetime as dt
from decimal import Decimal

import pytest

from metrics.models import ShopDaySnapshot
from metrics.selectors import shop_figures
from metrics.services import metrics_compute
from tests import factories
from tests.conftest import at
from tests.metrics.helpers import case, orders, refund

D = dt.date(2026, 3, 31)  # window D-29 … D = 2026-03-02 … 2026-03-31 (Shanghai days)

pytestmark = pytest.mark.django_db


def snapshot(shop, day=D) -> ShopDaySnapshot:
    metrics_compute(day=day)
    return ShopDaySnapshot.objects.get(shop=shop, date=day)


@pytest.fixture
def goods(shop):
    return factories.GoodsFactory(shop=shop)


def test_denominator_window_edges_in_shanghai_days(shop, goods):
    orders(goods, 1, at("2026-03-01 23:59"))  # before D-29: out
    orders(goods, 2, at("2026-03-02 00:00"))  # first instant of D-29: in
    orders(goods, 3, at("2026-03-30 23:59"))  # D-1: in the window, not the day
    orders(goods, 4, at("2026-03-31 00:00"))  # first instant of D: window and day
    orders(goods, 5, at("2026-03-31 23:59"))  # last minute of D: window and day
    orders(goods, 6, at("2026-04-01 00:00"))  # D+1: out
    orders(goods, 7, None)  # never grouped: not a 成团订单
    snap = snapshot(shop)
    assert (snap.grouped_orders, snap.day_grouped_orders) == (2 + 3 + 4 + 5, 4 + 5)


def test_quality_refunds_counted_by_refund_time_whenever_grouped(shop, goods):
    (old,) = orders(goods, 1, at("2026-01-15 12:00"))  # grouped long before the window
    edge_in, edge_out, last, after = orders(goods, 4, at("2026-03-10 12:00"))
    orders(goods, 6, at("2026-03-10 12:00"))  # 10 grouped orders in the window
    refund(old, at("2026-03-02 00:00"))  # refund at the first instant of the window: counts
    refund(edge_in, at("2026-03-31 00:00"))  # day D
    refund(edge_out, at("2026-03-01 23:59"))  # one minute early: out
    refund(last, at("2026-03-31 23:59"))  # day D
    refund(after, at("2026-04-01 00:00"))  # D+1: out
    snap = snapshot(shop)
    assert snap.grouped_orders == 10
    assert snap.quality_refund_orders == 3
    assert snap.quality_refund_rate == Decimal("0.300000")
    assert snap.day_grouped_orders == 0
    assert snap.day_quality_refund_orders == 2
    assert snap.day_quality_refund_rate is None  # refunds but no grouped order on the day: no rate


def test_reason_class_is_the_one_at_refund_time(shop, goods):
    a, b, c = orders(goods, 3, at("2026-03-20 10:00"))
    # reason changed on resubmission: the case now says "changed_mind", the refund was for quality
    refund(a, at("2026-03-21 10:00"), reason="defective", case_reason="changed_mind")
    # and the other way round: the case says quality, the refund was classified "other"
    refund(b, at("2026-03-21 10:00"), reason="changed_mind", case_reason="quality_issue")
    refund(c, at("2026-03-21 10:00"), reason="damaged_in_transit")  # logistics, not quality
    snap = snapshot(shop)
    assert snap.quality_refund_orders == 1
    assert snap.logistics_anomaly_orders == 1


def test_dispute_refund_needs_intervention_and_merchant_liability(shop, goods):
    a, b, c, d = orders(goods, 4, at("2026-03-20 10:00"))
    orders(goods, 3, at("2026-03-20 10:00"))
    refund(a, at("2026-03-25 10:00"), intervened=True, liable="merchant")  # counts
    refund(b, at("2026-03-31 09:00"), intervened=True, liable="merchant")  # counts, also day D
    refund(c, at("2026-03-25 10:00"), intervened=False, liable="merchant")  # not intervened
    refund(d, at("2026-03-25 10:00"), intervened=True, liable="")  # intervened, no merchant liability
    snap = snapshot(shop)
    assert (snap.dispute_refund_orders, snap.day_dispute_refund_orders) == (2, 1)
    assert snap.dispute_refund_rate == Decimal("0.285714")  # 2/7 = 0.2857142…
    assert snap.intervention_orders == 3  # a, b, d were intervened in the window


def test_intervention_counts_distinct_orders_by_intervened_at(shop, goods):
    a, b, c = orders(goods, 3, at("2026-03-05 10:00"))
    # one order, two cases both escalated in the window: one order
    case(a, intervened_at=at("2026-03-06 10:00"))
    case(a, intervened_at=at("2026-03-31 08:00"))
    case(b, intervened_at=at("2026-03-01 23:59"))  # before the window
    case(c, intervened_at=at("2026-04-01 00:00"))  # after D
    case(c)  # never intervened
    snap = snapshot(shop)
    assert (snap.intervention_orders, snap.day_intervention_orders) == (1, 1)
    assert snap.intervention_rate == Decimal("0.333333")


def test_two_refunded_cases_of_one_order_count_once(shop, goods):
    (a,) = orders(goods, 1, at("2026-03-05 10:00"))
    orders(goods, 1, at("2026-03-05 10:00"))
    refund(a, at("2026-03-10 10:00"), reason="counterfeit", intervened=True, liable="merchant")
    refund(a, at("2026-03-12 10:00"), reason="not_as_described", intervened=True, liable="merchant")
    snap = snapshot(shop)
    assert snap.quality_refund_orders == 1
    assert snap.dispute_refund_orders == 1
    assert snap.intervention_orders == 1
    assert snap.quality_refund_rate == Decimal("0.500000")


def test_no_grouped_orders_means_no_rate(shop, goods, other_shop):
    (a,) = orders(goods, 1, at("2026-01-05 10:00"))
    refund(a, at("2026-03-10 10:00"), intervened=True, liable="merchant")
    snap = snapshot(shop)
    assert snap.grouped_orders == 0
    assert snap.quality_refund_orders == 1
    assert snap.dispute_refund_rate is None
    assert snap.quality_refund_rate is None
    assert snap.intervention_rate is None
    empty = ShopDaySnapshot.objects.get(shop=other_shop, date=D)  # a shop with nothing at all
    assert (empty.grouped_orders, empty.quality_refund_rate) == (0, None)


def test_logistics_anomaly_rate_uses_the_seed_formula(shop, goods):
    (a, *_rest) = orders(goods, 9, at("2026-03-20 10:00"))
    refund(a, at("2026-03-22 10:00"), reason="lost_in_transit")
    snap = snapshot(shop)
    assert snap.logistics_anomaly_orders == 1
    assert snap.logistics_anomaly_rate == Decimal("0.009174")  # 1 / (1×100 + 9) = 0.0091743…


def test_shop_figures_sum_over_goods_and_shops_stay_apart(shop, other_shop):
    g1, g2 = factories.GoodsFactory(shop=shop), factories.GoodsFactory(shop=shop)
    other = factories.GoodsFactory(shop=other_shop)
    (a,) = orders(g1, 1, at("2026-03-20 10:00"))
    orders(g1, 2, at("2026-03-20 10:00"))
    (b,) = orders(g2, 1, at("2026-03-31 10:00"))
    (c,) = orders(other, 1, at("2026-03-20 10:00"))
    refund(a, at("2026-03-21 10:00"))
    refund(b, at("2026-03-31 11:00"))
    refund(c, at("2026-03-21 10:00"))
    snap = snapshot(shop)
    assert (snap.grouped_orders, snap.quality_refund_orders, snap.day_quality_refund_orders) == (4, 2, 1)
    other_snap = ShopDaySnapshot.objects.get(shop=other_shop, date=D)
    assert (other_snap.grouped_orders, other_snap.quality_refund_orders) == (1, 1)


def test_live_selector_agrees_with_the_snapshot(shop, goods):
    a, b, c = orders(goods, 3, at("2026-03-31 10:00"))
    orders(goods, 2, at("2026-03-03 10:00"))
    refund(a, at("2026-03-31 12:00"), intervened=True, liable="merchant")
    refund(b, at("2026-03-15 12:00"), reason="wrong_or_missing")
    case(c, intervened_at=at("2026-03-31 13:00"))
    snap = snapshot(shop)
    live = shop_figures(shop=shop, day=D)
    for field in ("grouped_orders", "dispute_refund_orders", "quality_refund_orders", "intervention_orders",
                  "logistics_anomaly_orders"):
        assert getattr(live, field) == getattr(snap, field), field
        assert getattr(live, f"day_{field}") == getattr(snap, f"day_{field}"), field
    assert (live.dispute_refund_orders, live.intervention_orders, live.day_intervention_orders) == (1, 2, 2)


def test_recomputing_a_day_replaces_it(shop, goods):
    orders(goods, 2, at("2026-03-20 10:00"))
    first = snapshot(shop)
    orders(goods, 3, at("2026-03-21 10:00"))
    second = snapshot(shop)
    assert (first.grouped_orders, second.grouped_orders) == (2, 5)
    assert ShopDaySnapshot.objects.filter(shop=shop, date=D).count() == 1
