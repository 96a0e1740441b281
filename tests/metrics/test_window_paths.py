"""The two ways compute_metrics reads a window's refunds on PostgreSQL (metrics.services
refunds_by_shop): shop by shop, or the table whole. Whichever the estimates choose, every figure of
every goods and shop row is the same."""

import datetime as dt

import pytest
from django.db import connection

from metrics import services
from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
from metrics.services import metrics_compute
from tests import factories
from tests.conftest import at
from tests.metrics.helpers import case, flag, orders, rating, refund

D = dt.date(2026, 3, 31)  # window 2026-03-02 … 2026-03-31 (Shanghai days)

pytestmark = pytest.mark.django_db


def rows(day=D) -> tuple[list, list]:
    skip = {"id", "computed_at"}
    goods = GoodsDaySnapshot.objects.filter(date=day).order_by("shop_id", "goods_id").values()
    shops = ShopDaySnapshot.objects.filter(date=day).order_by("shop_id").values()
    return (
        [{k: v for k, v in row.items() if k not in skip} for row in goods],
        [{k: v for k, v in row.items() if k not in skip} for row in shops],
    )


def world(shop, other_shop) -> None:
    """Refunds on both sides of the window's edges, of every class, in two shops, with the other
    sources of the logistics figure and an order shipped to Xinjiang."""
    for s in (shop, other_shop):
        for n, goods in enumerate(factories.GoodsFactory.create_batch(3, shop=s)):
            early, inside = orders(goods, 4, at("2026-02-20 10:00")), orders(goods, 6, at(f"2026-03-{10 + n} 10:00"))
            xinjiang = orders(goods, 2, at("2026-03-20 10:00"), ship_to="新疆维吾尔自治区")
            refund(early[0], at("2026-03-02 00:00"))  # the window's first moment
            refund(early[1], at("2026-03-01 23:59"))  # just before it
            refund(early[2], at("2026-03-31 23:59"), reason="not_as_described")  # on the day
            refund(inside[0], at("2026-04-01 00:00"))  # just after it
            refund(inside[1], at("2026-03-15 10:00"), intervened=True, liable="merchant")
            refund(inside[2], at("2026-03-31 10:00"), reason="lost_in_transit")
            refund(xinjiang[0], at("2026-03-25 10:00"), reason="damaged_in_transit")  # not for Xinjiang
            flag(xinjiang[1], "fake_shipment", at("2026-03-26 10:00"))  # counts for Xinjiang too
            flag(inside[3], "slow_delivery", at("2026-03-31 12:00"))
            rating(inside[4], 1, at("2026-03-30 10:00"))
            case(inside[5], intervened_at=at("2026-03-31 09:00"))


@pytest.mark.parametrize("rerun", [False, True], ids=["fresh day", "stored day"])
def test_refunds_read_shop_by_shop_or_whole_give_the_same_rows(postgres_only, monkeypatch, shop, other_shop, rerun):
    world(shop, other_shop)
    chosen = []
    original = services.refunds_by_shop

    def choose(by_shop):
        def refunds_by_shop(cursor, params):
            original(cursor, params)  # the estimate itself runs
            chosen.append(by_shop)
            return by_shop

        monkeypatch.setattr(services, "refunds_by_shop", refunds_by_shop)

    results = []
    for by_shop in (False, True):
        choose(by_shop)
        if not rerun:
            GoodsDaySnapshot.objects.filter(date=D).delete()
            ShopDaySnapshot.objects.filter(date=D).delete()
        metrics_compute(day=D)
        results.append(rows())
    assert chosen == [False, True]
    assert results[0] == results[1]
    goods, shops = results[0]
    assert len(goods) == 6 and len(shops) == 2
    first = next(r for r in shops if r["shop_id"] == shop.pk)
    assert first["quality_refund_orders"] == 3 * 3  # three goods: the first moment, the day, the dispute
    assert first["dispute_refund_orders"] == 3
    assert first["logistics_anomaly_orders"] == 3 * 4  # logistics refund, Xinjiang fake shipment, flag, 1 star
    assert first["intervention_orders"] == 3 * 2


def test_a_long_history_is_read_shop_by_shop(postgres_only, shop, other_shop):
    world(shop, other_shop)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE aftersales_refund")
        params = services.day_params(D, dt.datetime(2026, 4, 1, tzinfo=dt.UTC), 3)
        assert services.refunds_by_shop(cursor, params) is False  # most of these refunds are in the window
        params |= services.day_params(dt.date(2027, 3, 31), dt.datetime(2027, 4, 1, tzinfo=dt.UTC), 3)
        assert services.refunds_by_shop(cursor, params) is True  # a year on: none of them are
