"""The demo world's logistics facts and its goods near the quality line (issue #17.4,
pddadmin/demo/logistics.py), read through the product: export_metrics, the click-through's
numerator orders, the daily snapshots the reviewers' restriction lists read, export_forecast.
Nothing here names a shop, goods or order the demo made: each is found by what it is."""

import collections
import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from aftersales.models import REASON_CLASS, AfterSalesCase, ReasonClass, State
from metrics.forecast import goods_forecast
from metrics.models import Flag, GoodsDaySnapshot, ShopDaySnapshot
from metrics.selectors import numerator_orders
from pddadmin.demo.world import SHANGHAI, demo_feed
from pddadmin.shops.models import XINJIANG, LogisticsFlag, LogisticsFlagKind, Order, OrderRating, ShopMembership

END = "2026-03-01T12:00:00+08:00"
END_AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)
LAST_DAY = dt.date(2026, 2, 28)  # seed_demo's yesterday: the last snapshotted day
RESTRICTION_DAYS = 3  # GOODS_RESTRICTION_CONSECUTIVE_DAYS's default
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with override_settings(PASSWORD_HASHERS=FAST_HASHER):
        call_command("seed_demo", *args, stdout=out, stderr=err)
    assert err.getvalue() == ""
    assert " 0 rejected " in out.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo at its default size (as `make run` seeds it), built once for the module."""
    with django_db_blocker.unblock():
        seed("--seed", "1", "--end", END)
        yield
        call_command("flush", interactive=False, verbosity=0)


def owner_shop():
    """The shop of the demo's owner login (pddadmin.demo.users)."""
    return ShopMembership.objects.select_related("shop").get(user__username="owner1").shop


def export(command: str, *args: str) -> dict:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_the_feed_has_destinations_categories_flags_and_ratings():
    events = [json.loads(line) for line in demo_feed(orders=2000, days=60, seed=1, end=END_AT)]
    shops = [e for e in events if e["type"] == "shop.opened"]
    assert all(e["category"] for e in shops)
    placed = [e for e in events if e["type"] == "order.placed"]
    provinces = collections.Counter(e["ship_to"] for e in placed)
    assert len(provinces) > 20 and sum(provinces.values()) == len(placed)
    xinjiang = sum(n for province, n in provinces.items() if province.startswith(XINJIANG))
    assert 0.005 < xinjiang / len(placed) < 0.05  # some, not many
    flags = [e for e in events if e["type"] == "order.logistics_flagged"]
    assert {e["kind"] for e in flags} == set(LogisticsFlagKind.values)
    # spread over the period: flags in each third of it
    start = END_AT - dt.timedelta(days=60)
    thirds = {int((dt.datetime.fromisoformat(e["at"]) - start) / dt.timedelta(days=20)) for e in flags}
    assert thirds == {0, 1, 2}
    stars = collections.Counter(e["logistics"] for e in events if e["type"] == "order.rated")
    assert stars[1] > 0
    assert (stars[4] + stars[5]) / sum(stars.values()) > 0.75


@pytest.mark.django_db
def test_the_owner_shop_has_logistics_anomaly_orders(demo):
    shop = owner_shop()
    (row,) = export("export_metrics", "--date", LAST_DAY.isoformat(), "--shop", shop.platform_id)["shops"]
    assert row["logistics_anomaly_orders"] > 0 and row["logistics_anomaly_rate"] > 0
    # and one of its goods is over 5× its category for its logistics on the last day
    assert GoodsDaySnapshot.objects.filter(shop=shop, date=LAST_DAY, logistics_over_5x=True).exists()


@pytest.mark.django_db
def test_xinjiang_orders_count_only_for_a_fake_shipment(demo):
    shop = owner_shop()
    counted = set(numerator_orders(shop=shop, day=LAST_DAY, figure="logistics_anomaly").values_list("pk", flat=True))
    window_start = dt.datetime.combine(LAST_DAY - dt.timedelta(days=29), dt.time(), SHANGHAI)
    window_end = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), SHANGHAI)
    in_window = {"flagged_at__gte": window_start, "flagged_at__lt": window_end}
    xinjiang = Order.objects.filter(shop=shop, ship_to__startswith=XINJIANG)
    fake = set(
        LogisticsFlag.objects.filter(order__in=xinjiang, kind=LogisticsFlagKind.FAKE_SHIPMENT, **in_window).values_list(
            "order_id", flat=True
        )
    )
    assert fake and fake <= counted
    # Xinjiang orders with another source in the window (a delivery-time anomaly, a complaint, a
    # 1-star logistics rating) and no fake shipment: none of them counts.
    other_flags = LogisticsFlag.objects.filter(order__in=xinjiang, **in_window).exclude(
        kind=LogisticsFlagKind.FAKE_SHIPMENT
    )
    one_star = OrderRating.objects.filter(
        order__in=xinjiang, logistics=1, rated_at__gte=window_start, rated_at__lt=window_end
    )
    others = (
        set(other_flags.values_list("order_id", flat=True)) | set(one_star.values_list("order_id", flat=True))
    ) - fake
    assert others and not others & counted


@pytest.mark.django_db
def test_a_shop_and_a_goods_are_under_logistics_restriction(demo):
    goods = GoodsDaySnapshot.objects.filter(date=LAST_DAY, logistics_restricted_since__isnull=False)
    shops = ShopDaySnapshot.objects.filter(date=LAST_DAY, logistics_restricted_since__isnull=False)
    assert goods.exists() and shops.exists()
    for snapshot in (*goods, *shops):
        assert snapshot.logistics_over_5x and snapshot.logistics_streak >= RESTRICTION_DAYS
        assert snapshot.logistics_restricted_since < LAST_DAY  # restricted for a few days already
    # the reviewers' lists include the owner's goods
    assert goods.filter(shop=owner_shop()).exists()


@pytest.mark.django_db
def test_the_forecast_shows_a_goods_of_the_owner_coming_over_its_quality_line(demo):
    shop = owner_shop()
    document = export("export_forecast", "--date", LAST_DAY.isoformat(), "--shop", shop.platform_id)
    rows = [r for r in document["goods"] if r["shop"] == shop.platform_id and r["level"] == Flag.OVER_3X]
    assert rows, document
    row = rows[0]
    snapshot = GoodsDaySnapshot.objects.get(goods__platform_id=row["goods"], date=LAST_DAY)
    assert snapshot.flag == "" and snapshot.quality_refund_orders > 0  # under the line, not far
    assert LAST_DAY < dt.date.fromisoformat(row["date"]) <= LAST_DAY + dt.timedelta(days=7)
    # its cases: quality cases waiting for the merchant, refunded by themselves within 7 days
    waiting = AfterSalesCase.objects.filter(order__goods=snapshot.goods, state=State.PENDING_MERCHANT)
    assert 2 <= waiting.count() <= 4
    assert all(REASON_CLASS[c.reason] == ReasonClass.QUALITY for c in waiting)
    assert all(END_AT < c.due_at <= END_AT + dt.timedelta(days=7) for c in waiting)
    assert len(row["cases"]) >= 2 and set(row["cases"]) <= {c.platform_id for c in waiting}
    # and, the flag holding, restricted within the 7 days too
    coming = goods_forecast(day=LAST_DAY, shop=shop).restrictions_coming
    assert any(c.goods == row["goods"] and c.date > dt.date.fromisoformat(row["date"]) for c in coming)
