"""Each SPEC §5 figure is defined once (metrics.figures) and read three ways: the daily snapshot
(hand-written SQL), the live figures of the dashboard and the orders listed behind a figure. On a
generated world, built through the platform feed and the deadline job, the three agree for every
shop, figure, scope and day."""

import datetime as dt
import io
import json
import random

import pytest
from django.core.management import call_command
from django.db.models import Q
from django.urls import reverse

from metrics import selectors
from metrics.figures import FIGURES
from metrics.models import ShopDaySnapshot
from metrics.services import metrics_compute
from pddadmin.shops.models import LogisticsFlag, OrderRating, Shop
from tests.feed.helpers import run_import

pytestmark = pytest.mark.django_db

TZ = dt.timezone(dt.timedelta(hours=8))
FIRST_ORDER = dt.datetime(2026, 2, 1, 9, 0, tzinfo=TZ)
DAYS = [dt.date(2026, 2, 20), dt.date(2026, 3, 3), dt.date(2026, 3, 15), dt.date(2026, 3, 31)]
SHOPS, GOODS_PER_SHOP, ORDERS = 3, 2, 150
REASONS = {
    "quality": ["quality_issue", "not_as_described", "counterfeit", "defective"],
    "logistics": ["not_shipped", "damaged_in_transit", "wrong_or_missing", "lost_in_transit"],
    "other": ["changed_mind", "other"],
}
# Every path a case takes to its end (or not yet), each followed by the jobs and the feed.
STORIES = ("none", "agree", "auto_agree", "ruled_merchant", "ruled_buyer", "under_intervention", "resubmit",
           "cancel", "twice", "return", "expire")


class World:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.events: list[tuple[dt.datetime, int, dict]] = []

    def add(self, at: dt.datetime, event_type: str, **fields) -> None:
        self.events.append((at, len(self.events), {"type": event_type, "at": at.isoformat(), **fields}))

    def hours(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.rng.randint(int(low * 60), int(high * 60)))

    def reason(self) -> str:
        return self.rng.choice(self.rng.choice(list(REASONS.values())))

    def feed(self) -> list[str]:
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))  # the platform sends in time order
        return [json.dumps({"id": f"e{n}", **event}, ensure_ascii=False) for n, (_at, _i, event) in enumerate(ordered)]


def _case(world: World, case: str, order: str, at: dt.datetime, kind: str = "refund_only", reason: str | None = None):
    world.add(at, "case.opened", case=case, order=order, kind=kind, reason=reason or world.reason(), amount="59.90")


def _refused(world: World, case: str, at: dt.datetime) -> dt.datetime:
    at += world.hours(1, 40)  # within the merchant's 48 hours
    world.add(at, "case.merchant_refused", case=case, reason="不同意")
    return at


def _escalated(world: World, case: str, at: dt.datetime) -> dt.datetime:
    at = _refused(world, case, at) + world.hours(1, 150)  # within the buyer's 7 days
    world.add(at, "case.escalated", case=case)
    return at


def story(world: World, name: str, order: str, placed: dt.datetime) -> None:
    case, opened = f"C-{order}", placed + world.hours(1, 20)
    if name == "none":
        return
    if name == "return":
        world.add(placed + dt.timedelta(minutes=30), "order.shipped", order=order, tracking=f"SF{order}")
        _case(world, case, order, opened, kind="return_refund")
        agreed = opened + world.hours(1, 40)
        world.add(agreed, "case.merchant_agreed", case=case)
        shipped = agreed + world.hours(1, 100)
        world.add(shipped, "case.return_shipped", case=case, tracking=f"YT{order}")
        world.add(shipped + world.hours(1, 100), "case.merchant_refunded", case=case)
        return
    _case(world, case, order, opened)
    if name == "agree":
        world.add(opened + world.hours(1, 40), "case.merchant_agreed", case=case)
    elif name in ("ruled_merchant", "ruled_buyer"):
        escalated = _escalated(world, case, opened)
        liable = "merchant" if name == "ruled_merchant" else "buyer"
        world.add(escalated + world.hours(1, 300), "case.ruled", case=case, liable=liable, note="已核实")
    elif name == "under_intervention":
        _escalated(world, case, opened)
    elif name == "resubmit":
        resubmitted = _refused(world, case, opened) + world.hours(1, 150)
        world.add(resubmitted, "case.resubmitted", case=case, reason=world.reason())
        world.add(resubmitted + world.hours(1, 40), "case.merchant_agreed", case=case)
    elif name == "cancel":
        world.add(opened + world.hours(1, 40), "case.cancelled", case=case)
    elif name == "twice":
        cancelled = opened + world.hours(1, 40)
        world.add(cancelled, "case.cancelled", case=case)
        reopened = cancelled + world.hours(1, 100)  # the buyer may open a new case (SPEC §2.1)
        _case(world, f"{case}-2", order, reopened)
        world.add(reopened + world.hours(1, 40), "case.merchant_agreed", case=f"{case}-2")
    elif name == "expire":
        _refused(world, case, opened)  # the buyer lets 7 days pass: closed by the deadline job
    # "auto_agree": the merchant never answers; the deadline job refunds at the 48 hours


def logistics(world: World, name: str, order: str, placed: dt.datetime) -> None:
    """What the platform and the buyer say about the order's logistics (SPEC §5.1): shipped (unless
    its story ships it) and received for most, some flags, most received orders rated."""
    if name == "return":
        return  # shipped by its story, with a case open on it
    shipped = placed + dt.timedelta(minutes=25)  # before any case: an open case would stop it
    if world.rng.random() < 0.3:
        return
    world.add(shipped, "order.shipped", order=order, tracking=f"SF{order}")
    received = shipped + world.hours(24, 96)
    world.add(received, "order.received", order=order)
    for _ in range(world.rng.choice([0, 0, 1, 2])):
        kind = world.rng.choice(["fake_shipment", "slow_delivery", "complaint"])
        world.add(shipped + world.hours(1, 600), "order.logistics_flagged", order=order, kind=kind)
    if world.rng.random() < 0.7:
        stars = world.rng.choice([1, 1, 2, 3, 4, 5])
        world.add(received + world.hours(1, 300), "order.rated", order=order, logistics=stars,
                  description=world.rng.choice([None, 1, 5]), service=world.rng.choice([None, 3]))


def build(seed: int = 13) -> list[str]:
    world = World(seed)
    opened = FIRST_ORDER - dt.timedelta(days=1)
    for s in range(SHOPS):
        world.add(opened, "shop.opened", shop=f"S{s}", name=f"店铺{s}", hotline="13800138000",
                  category=world.rng.choice(["家居", None]))
        world.add(opened + dt.timedelta(minutes=1), "address.added", shop=f"S{s}", address=f"A{s}", receiver="王",
                  phone="13800138000", region="浙江省/杭州市/西湖区", detail="文三路1号", default=True)
        for g in range(GOODS_PER_SHOP):
            world.add(opened + dt.timedelta(minutes=2), "goods.listed", shop=f"S{s}", goods=f"G{s}{g}",
                      name=f"商品{s}{g}", category=world.rng.choice(["tea", "fruit_tools"]))
    span = (dt.datetime(2026, 3, 31, 12, tzinfo=TZ) - FIRST_ORDER).total_seconds()
    for n in range(ORDERS):
        order, s = f"O{n:04d}", world.rng.randrange(SHOPS)
        placed = FIRST_ORDER + dt.timedelta(seconds=int(world.rng.random() * span))
        world.add(placed, "order.placed", order=order, shop=f"S{s}", goods=f"G{s}{world.rng.randrange(GOODS_PER_SHOP)}",
                  buyer=f"B{n}", amount="59.90", promised_ship_by=(placed + dt.timedelta(days=40)).isoformat(),
                  ship_to=world.rng.choice([None, "浙江省", "新疆维吾尔自治区"]))
        if world.rng.random() < 0.9:  # a few orders never group: they count for no denominator
            world.add(placed + dt.timedelta(minutes=5), "order.grouped", order=order)
            logistics(world, STORIES[n % len(STORIES)], order, placed)
        story(world, STORIES[n % len(STORIES)], order, placed)
    return world.feed()


@pytest.fixture
def world(tmp_path):
    code, _out, rejected, err = run_import(tmp_path / "world.jsonl", *build())
    assert (code, rejected) == (0, []), err
    call_command("process_deadlines", "--now", "2026-05-01T00:00:00+08:00", stdout=io.StringIO(),
                 stderr=io.StringIO())
    for day in DAYS:
        metrics_compute(day=day)


def listed(client, shop: Shop, day: dt.date, figure: str, scope: str) -> int:
    response = client.get(
        reverse("metrics:orders"), {"shop": shop.pk, "date": day.isoformat(), "figure": figure, "scope": scope}
    )
    assert response.status_code == 200
    return response.context["table"].paginator.count


def test_snapshot_live_figures_and_listed_orders_agree(world, client, reviewer):
    client.force_login(reviewer)  # platform staff: every shop's pages
    seen = dict.fromkeys(FIGURES, 0)
    for day in DAYS:
        for shop in Shop.objects.order_by("platform_id"):
            snapshot = ShopDaySnapshot.objects.get(shop=shop, date=day)
            live = selectors.shop_figures(shop=shop, day=day)
            for figure in FIGURES:
                for scope, column in (("window", f"{figure}_orders"), ("day", f"day_{figure}_orders")):
                    stored = getattr(snapshot, column)
                    where = (day, shop.platform_id, column)
                    assert getattr(live, column) == stored, where
                    assert listed(client, shop, day, figure, scope) == stored, where
                    seen[figure] += stored
    # The world exercises every figure (a check of the test, not of the code), and every source of
    # the logistics anomalies, the Xinjiang exception included.
    assert all(seen.values()), seen
    xinjiang = Q(order__ship_to__startswith="新疆")
    assert LogisticsFlag.objects.filter(xinjiang, kind="fake_shipment").exists()
    assert LogisticsFlag.objects.filter(xinjiang).exclude(kind="fake_shipment").exists()
    assert OrderRating.objects.filter(xinjiang, logistics=1).exists()
    assert OrderRating.objects.filter(~xinjiang, logistics=1).exists()
