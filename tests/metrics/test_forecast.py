"""SPEC §5.2: the do-nothing forecast matches, day by day, what the daily snapshots say once the
days have actually passed with no new event — `process_deadlines` run to the end of each day, then
`compute_metrics` — and `export_forecast` says it as SPEC §9 words it.

The world, D = 2026-03-20 (Shanghai days), every order grouped on D-10 (so the grouped orders of
every window D … D+7 are the same ones, as the forecast holds them), 20 a goods:
- tea: T1, T2 (shop S1), T3 … T6 (S2). T1 has a quality refund on D-5 and open cases: C1 refused,
  then resubmitted on D with a quality reason (now pending: auto-agreed on D+2, refunded), C2 a
  returned parcel (auto-refunded on D+5), C3 pending but for a change of mind (refunded on D+2,
  not for quality), C4 refused and left to the buyer (closed on D+7, no refund), C5 under
  intervention (stays open). T3 has an older order refunded for quality on D-27: it leaves the
  window on D+3. So T1 is over 3× from D+2 and over 5× from D+3, restricted at 3× from D+4 and at
  5× from D+5.
- fruit: F1 (S1), F2 … F6 (S2). F1 has two quality refunds on D-9: over 5× on D-2 and D-1 (stored
  snapshots). F3's pending quality case falls due on D itself, unapplied when the forecast is made:
  F1 is over 3× only from D (its 3× streak reaches 3: restricted at 3× on D); F2's pending case
  refunds on D+2, when F1 drops below 3×.
"""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from metrics.forecast import goods_forecast
from metrics.models import GoodsDaySnapshot
from metrics.services import metrics_compute
from pddadmin.shops.models import Shop
from tests.conftest import at
from tests.feed.helpers import run_command, run_import

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 20)
DAYS = [D + dt.timedelta(days=n) for n in range(8)]
COMPARED = (
    "grouped_orders",
    "quality_refund_orders",
    "category_grouped_orders",
    "category_quality_refund_orders",
    "category_goods",
    "flag",
    "streak_3x",
    "streak_5x",
    "restriction",
    "restricted_since",
)


class World:
    def __init__(self):
        self.events: list[dict] = []

    def __call__(self, when: str, event_type: str, **fields) -> None:
        self.events.append({"id": f"e{len(self.events)}", "type": event_type, "at": at(when).isoformat(), **fields})

    def goods(self, shop: str, goods: str, category: str, orders: int = 20) -> None:
        self("2026-02-07 09:00", "goods.listed", shop=shop, goods=goods, name=goods, category=category)
        for n in range(orders):
            self.order(f"{goods}-{n}", shop, goods, "2026-03-10 08:00")

    def order(self, order: str, shop: str, goods: str, placed: str) -> None:
        when = at(placed)
        self(
            placed,
            "order.placed",
            order=order,
            shop=shop,
            goods=goods,
            buyer=f"B{order}",
            amount="59.90",
            promised_ship_by=(when + dt.timedelta(days=2)).isoformat(),
        )
        self((when + dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M"), "order.grouped", order=order)
        self(
            (when + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
            "order.shipped",
            order=order,
            tracking=f"SF{order}",
        )

    def refunded(self, case: str, order: str, opened: str, agreed: str, reason: str = "quality_issue") -> None:
        self(opened, "case.opened", case=case, order=order, kind="refund_only", reason=reason, amount="59.90")
        self(agreed, "case.merchant_agreed", case=case)

    def lines(self) -> list[str]:
        ordered = sorted(self.events, key=lambda e: dt.datetime.fromisoformat(e["at"]))
        return [json.dumps(e, ensure_ascii=False) for e in ordered]


def build() -> World:
    w = World()
    for shop in ("S1", "S2"):
        w("2026-02-07 09:00", "shop.opened", shop=shop, name=f"店铺{shop}", hotline="13800138000")
        w(
            "2026-02-07 09:00",
            "address.added",
            shop=shop,
            address=f"A{shop}",
            receiver="王",
            phone="13800138000",
            region="浙江省/杭州市/西湖区",
            detail="文三路1号",
            default=True,
        )
    for goods, shop in (("T1", "S1"), ("T2", "S1"), ("T3", "S2"), ("T4", "S2"), ("T5", "S2"), ("T6", "S2")):
        w.goods(shop, goods, "tea")
    for goods, shop in (("F1", "S1"), ("F2", "S2"), ("F3", "S2"), ("F4", "S2"), ("F5", "S2"), ("F6", "S2")):
        w.goods(shop, goods, "fruit")
    # T3's old order, grouped before every window: its refund counts until it slides out
    w.order("T3-old", "S2", "T3", "2026-02-08 09:00")
    w.refunded("CT3", "T3-old", "2026-02-20 10:00", "2026-02-21 10:00")  # D-27
    w.refunded("R1", "T1-0", "2026-03-14 10:00", "2026-03-15 10:00")  # D-5
    w.refunded("RF1", "F1-0", "2026-03-10 12:00", "2026-03-11 10:00")  # D-9
    w.refunded("RF2", "F1-1", "2026-03-10 12:00", "2026-03-11 10:00")
    # C1: the buyer changes the reason on resubmission; the merchant has until D+2 10:00
    w(
        "2026-03-19 09:00",
        "case.opened",
        case="C1",
        order="T1-1",
        kind="refund_only",
        reason="changed_mind",
        amount="59.90",
    )
    w("2026-03-19 10:00", "case.merchant_refused", case="C1", reason="不同意")
    w("2026-03-20 10:00", "case.resubmitted", case="C1", reason="quality_issue")
    # C2: agreed, the buyer sent the goods back on D-2 12:00: the merchant has until D+5 12:00
    w(
        "2026-03-16 10:00",
        "case.opened",
        case="C2",
        order="T1-2",
        kind="return_refund",
        reason="defective",
        amount="59.90",
    )
    w("2026-03-16 11:00", "case.merchant_agreed", case="C2")
    w("2026-03-18 12:00", "case.return_shipped", case="C2", tracking="YT1")
    # C3: a change of mind, auto-agreed on D+2 11:00: a refund, not a quality one
    w(
        "2026-03-20 11:00",
        "case.opened",
        case="C3",
        order="T1-3",
        kind="refund_only",
        reason="changed_mind",
        amount="59.90",
    )
    # C4: refused on D-1, the buyer does nothing: closed on D+6 12:00, no refund
    w(
        "2026-03-19 10:00",
        "case.opened",
        case="C4",
        order="T1-4",
        kind="refund_only",
        reason="defective",
        amount="59.90",
    )
    w("2026-03-19 12:00", "case.merchant_refused", case="C4", reason="不同意")
    # C5: under intervention: no deadline, stays open
    w(
        "2026-03-15 10:00",
        "case.opened",
        case="C5",
        order="T1-5",
        kind="refund_only",
        reason="counterfeit",
        amount="59.90",
    )
    w("2026-03-15 12:00", "case.merchant_refused", case="C5", reason="不同意")
    w("2026-03-16 10:00", "case.escalated", case="C5")
    # fruit: F3's case falls due on D 15:00, F2's on D+2 20:00
    w(
        "2026-03-18 15:00",
        "case.opened",
        case="C7",
        order="F3-0",
        kind="refund_only",
        reason="quality_issue",
        amount="59.90",
    )
    w(
        "2026-03-20 20:00",
        "case.opened",
        case="C6",
        order="F2-0",
        kind="refund_only",
        reason="not_as_described",
        amount="59.90",
    )
    return w


def end_of(day: dt.date) -> str:
    return at(f"{day + dt.timedelta(days=1)} 00:00").isoformat()


@pytest.fixture
def world(tmp_path):
    code, _out, rejected, err = run_import(tmp_path / "world.jsonl", *build().lines())
    assert (code, rejected) == (0, []), err
    # the stored snapshots before D, computed as the daily job would have
    for day in (D - dt.timedelta(days=2), D - dt.timedelta(days=1)):
        assert run_command("process_deadlines", "--now", end_of(day))[0] == 0
        metrics_compute(day=day)


def projected(shop: str) -> dict[tuple[str, dt.date], dict]:
    found = {}
    for g in goods_forecast(day=D, shop=Shop.objects.get(platform_id=shop)).goods:
        assert [d.date for d in g.days] == DAYS
        for d in g.days:
            found[g.goods, d.date] = {name: getattr(d, name) for name in COMPARED}
    return found


def stored(day: dt.date) -> dict[tuple[str, dt.date], dict]:
    rows = GoodsDaySnapshot.objects.filter(date=day).select_related("goods")
    return {(r.goods.platform_id, day): {name: getattr(r, name) for name in COMPARED} for r in rows}


def export(*args: str) -> dict:
    out = io.StringIO()
    call_command("export_forecast", "--date", D.isoformat(), *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_the_forecast_is_what_the_days_bring_when_nothing_happens(world):
    forecast = {**projected("S1"), **projected("S2")}
    document = export()
    for day in DAYS:  # the days pass: only the deadline job runs, then the daily snapshot
        assert run_command("process_deadlines", "--now", end_of(day))[0] == 0
        metrics_compute(day=day)
        actual = stored(day)
        assert {key: forecast[key] for key in actual} == actual, day
    assert len(forecast) == 12 * 8

    # what the world was built to show (see the module's docstring), read from the snapshots
    t1 = {day: GoodsDaySnapshot.objects.get(goods__platform_id="T1", date=day) for day in DAYS}
    assert [t1[d].flag for d in DAYS] == ["", "", "over_3x", "over_5x", "over_5x", "over_5x", "over_5x", "over_5x"]
    assert [t1[d].restriction for d in DAYS] == ["", "", "", "", "over_3x", "over_5x", "over_5x", "over_5x"]
    assert [t1[d].quality_refund_orders for d in DAYS] == [1, 1, 2, 2, 2, 3, 3, 3]
    f1 = {day: GoodsDaySnapshot.objects.get(goods__platform_id="F1", date=day) for day in DAYS[:3]}
    assert [(f1[d].flag, f1[d].restriction) for d in DAYS[:3]] == [
        ("over_3x", "over_3x"),
        ("over_3x", "over_3x"),
        ("", ""),
    ]
    assert GoodsDaySnapshot.objects.get(goods__platform_id="F1", date=D - dt.timedelta(days=1)).flag == "over_5x"

    # SPEC §9: one row per goods and level not held on D but reached within the 7 days, with the
    # open cases whose projected quality refunds fall by then (C2's falls on D+5, after both)
    assert document == {
        "date": "2026-03-20",
        "days": 7,
        "goods": [
            {"goods": "T1", "shop": "S1", "level": "over_3x", "date": "2026-03-22", "cases": ["C1"]},
            {"goods": "T1", "shop": "S1", "level": "over_5x", "date": "2026-03-23", "cases": ["C1"]},
        ],
    }


def test_restrictions_continue_the_stored_streaks(world):
    by_goods = {g.goods: g for g in goods_forecast(day=D, shop=Shop.objects.get(platform_id="S1")).goods}
    restrictions = [(c.goods, c.level, c.date) for c in by_goods["T1"].restrictions_coming]
    assert restrictions == [("T1", "over_3x", DAYS[4]), ("T1", "over_5x", DAYS[5])]
    f1 = by_goods["F1"].days[0]
    # two stored 5× days, then a 3× day: the 3× streak carries on to its third day
    assert (f1.flag, f1.streak_3x, f1.streak_5x, f1.restriction, f1.restricted_since) == ("over_3x", 3, 0, "over_3x", D)
    assert by_goods["F1"].restrictions_coming == []  # held on D already
    assert [d.cases for d in by_goods["T1"].days] == [
        (),
        (),
        ("C1",),
        ("C1",),
        ("C1",),
        ("C1", "C2"),
        ("C1", "C2"),
        ("C1", "C2"),
    ]


def test_the_forecast_is_the_same_whether_the_deadlines_of_d_were_applied_or_its_snapshot_stored(world):
    before = (export(), export("--shop", "S1"), projected("S1"), projected("S2"))
    assert run_command("process_deadlines", "--now", end_of(D))[0] == 0
    assert (export(), export("--shop", "S1"), projected("S1"), projected("S2")) == before
    metrics_compute(day=D)  # its grouped orders are then read from the snapshot
    assert (export(), export("--shop", "S1"), projected("S1"), projected("S2")) == before


def test_one_shop_lists_its_goods_only_against_the_whole_category(world):
    assert export("--shop", "S2")["goods"] == []
    assert [row["goods"] for row in export("--shop", "S1")["goods"]] == ["T1", "T1"]
    s2 = projected("S2")
    assert {goods for goods, _day in s2} == {"T3", "T4", "T5", "T6", "F2", "F3", "F4", "F5", "F6"}
    assert s2["T3", D]["category_goods"] == 6  # S1's tea goods are in S2's category figures


def test_export_forecast_says_what_it_did_and_refuses_an_unknown_shop(world):
    code, out, err = run_command("export_forecast", "--date", "2026-03-20", "--shop", "S1")
    assert code == 0 and json.loads(out)["date"] == "2026-03-20"
    assert err.startswith("export_forecast: 2026-03-20 + 7 days for shop S1: 2 goods rows in ")
    with pytest.raises(Exception, match="unknown shop 'S9'"):
        call_command("export_forecast", "--date", "2026-03-20", "--shop", "S9", stdout=io.StringIO())


def test_denominators_are_held_at_day_d_while_the_numerators_slide(tmp_path):
    # G1: 10 orders grouped on D-27, which leave the window on D+3, and 10 on D-5; an open quality
    # case on one of the later ones refunds on D+2. G2 (same category): 10 grouped on D-5.
    w = World()
    w("2026-02-07 09:00", "shop.opened", shop="S1", name="店铺", hotline="13800138000")
    w("2026-02-07 09:00", "goods.listed", shop="S1", goods="G1", name="G1", category="tea")
    w("2026-02-07 09:00", "goods.listed", shop="S1", goods="G2", name="G2", category="tea")
    for n in range(10):
        w.order(f"G1-old-{n}", "S1", "G1", "2026-02-21 08:00")
        w.order(f"G1-{n}", "S1", "G1", "2026-03-15 08:00")
        w.order(f"G2-{n}", "S1", "G2", "2026-03-15 08:00")
    w.refunded("R1", "G1-old-0", "2026-02-22 10:00", "2026-02-23 10:00")  # D-25: leaves on D+5
    w(
        "2026-03-20 12:00",
        "case.opened",
        case="C1",
        order="G1-1",
        kind="refund_only",
        reason="defective",
        amount="59.90",
    )
    code, _out, rejected, err = run_import(tmp_path / "held.jsonl", *w.lines())
    assert (code, rejected) == (0, []), err
    (g1,) = [g for g in goods_forecast(day=D, shop=Shop.objects.get(platform_id="S1")).goods if g.goods == "G1"]
    assert [d.grouped_orders for d in g1.days] == [20] * 8  # held at D's, though 10 leave on D+3
    assert [d.category_grouped_orders for d in g1.days] == [30] * 8
    for day, projected_day in zip(DAYS, g1.days, strict=True):
        assert run_command("process_deadlines", "--now", end_of(day))[0] == 0
        metrics_compute(day=day)
        row = GoodsDaySnapshot.objects.get(goods__platform_id="G1", date=day)
        assert (projected_day.quality_refund_orders, projected_day.category_quality_refund_orders) == (
            row.quality_refund_orders,
            row.category_quality_refund_orders,
        ), day
    actual = [GoodsDaySnapshot.objects.get(goods__platform_id="G1", date=d).grouped_orders for d in DAYS]
    assert actual == [20, 20, 20, 10, 10, 10, 10, 10]  # what really happens to the denominator
    assert [d.quality_refund_orders for d in g1.days] == [1, 1, 2, 2, 2, 1, 1, 1]
