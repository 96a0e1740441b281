"""The case page's panel "对商品指标的影响" (issue #17.3): what each action the user can take now,
and doing nothing, would do to the goods' quality or logistics figures, against the 3× / 5× lines.

The flag rule in Python (metrics.services.over_category, logistics_over_category) is held to the
snapshot's own SQL on the same numbers first; the pages are then read over worlds built through
the feed importer and compute_metrics, as the snapshot tests build theirs.
"""

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aftersales import case_panels
from aftersales.case_panels import Action
from aftersales.models import AfterSalesCase, ReasonClass, State
from aftersales.services import cases as case_services
from metrics.case_impact import Effect, Figures, action_effect, case_impact, case_panel
from metrics.models import GoodsDaySnapshot
from metrics.services import _WITH_FLAGS, LOGISTICS_TIMES, logistics_over_category, metrics_compute, over_category
from pddadmin.shops.models import Order, Shop
from tests import factories
from tests.conftest import at
from tests.feed.helpers import run_import
from tests.logins import sign_in

pytestmark = pytest.mark.django_db

# The columns the snapshot's flag SQL reads of a goods row, given as literal numbers.
_ROW = (
    "SELECT %(grouped)s AS grouped, %(quality)s AS quality, %(cat_grouped)s AS cat_grouped, "
    "%(cat_quality)s AS cat_quality, %(cat_goods)s AS cat_goods, %(logistics)s AS logistics, "
    "%(cat_logistics)s AS cat_logistics"
)


def sql_flags(numbers: dict) -> tuple[bool, bool, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.over3, f.over5, f.overl FROM ({_WITH_FLAGS.format(inner=_ROW)}) f",
            numbers,
        )
        over3, over5, overl = cursor.fetchone()
    return bool(over3), bool(over5), bool(overl)


small = st.integers(min_value=0, max_value=40)


@st.composite
def goods_rows(draw) -> dict:
    """A goods and its category as the snapshot sees them: the goods' counts are part of its
    category's (the category sums its goods), and a goods with grouped orders is one of the
    category's goods with grouped orders."""
    grouped = draw(small)
    quality = draw(st.integers(min_value=0, max_value=grouped + 5))
    logistics = draw(st.integers(min_value=0, max_value=grouped + 5))
    return {
        "grouped": grouped,
        "quality": quality,
        "logistics": logistics,
        "cat_grouped": grouped + draw(small),
        "cat_quality": quality + draw(small),
        "cat_logistics": logistics + draw(small),
        "cat_goods": (1 if grouped else 0) + draw(st.integers(min_value=0, max_value=8)),
    }


def python_flags(n: dict) -> tuple[bool, bool, bool]:
    quality = {
        "orders": n["quality"],
        "grouped": n["grouped"],
        "category_orders": n["cat_quality"],
        "category_grouped": n["cat_grouped"],
        "members": n["cat_goods"],
    }
    logistics = {**quality, "orders": n["logistics"], "category_orders": n["cat_logistics"]}
    return over_category(k=3, **quality), over_category(k=5, **quality), logistics_over_category(**logistics)


EDGE = {"grouped": 10, "cat_grouped": 30, "cat_goods": 3, "logistics": 0, "cat_logistics": 0}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(goods_rows())
# exactly 3× on both rate (3/10 = 3 × 3/30) and count (3 = 3 × 3/3): not over
@example({**EDGE, "quality": 3, "cat_quality": 3})
# rate 4/10 > 3 × 4/30 but count 4 = 3 × 4/3: not over
@example({**EDGE, "quality": 4, "cat_quality": 4})
# one more: both strictly above 3×, and exactly 5× of neither
@example({**EDGE, "quality": 4, "cat_quality": 3})
# exactly 5× on both (5/10 = 5 × 5/50 and 5 = 5 × 5/5)
@example(
    {
        "grouped": 10,
        "quality": 5,
        "cat_grouped": 50,
        "cat_quality": 5,
        "cat_goods": 5,
        "logistics": 0,
        "cat_logistics": 0,
    }
)
# logistics at exactly 5×: 1/(100+10) = 5 × 1/(100+450)... and count 1 = 5 × 1/5
@example(
    {
        "grouped": 10,
        "quality": 0,
        "cat_grouped": 450,
        "cat_quality": 0,
        "cat_goods": 5,
        "logistics": 1,
        "cat_logistics": 1,
    }
)
# no grouped orders: never flagged, whatever the numerators
@example(
    {
        "grouped": 0,
        "quality": 3,
        "cat_grouped": 10,
        "cat_quality": 3,
        "cat_goods": 1,
        "logistics": 3,
        "cat_logistics": 3,
    }
)
def test_python_flag_rule_agrees_with_the_snapshot_sql(numbers):
    assert python_flags(numbers) == sql_flags(numbers)


def test_the_edges_are_where_spec_puts_them():
    """Strictly above, on rate and count both: the cases the examples above were chosen for."""
    at_3x = {"orders": 3, "grouped": 10, "category_orders": 3, "category_grouped": 30, "members": 3}
    assert not over_category(k=3, **at_3x)
    assert over_category(k=3, **{**at_3x, "orders": 4, "category_orders": 3})
    assert not over_category(k=3, **{**at_3x, "orders": 4, "category_orders": 4})  # count exactly 3×
    at_5x = {"orders": 1, "grouped": 10, "category_orders": 1, "category_grouped": 450, "members": 5}
    assert LOGISTICS_TIMES == 5
    assert not logistics_over_category(**at_5x)
    assert logistics_over_category(**{**at_5x, "category_grouped": 451, "members": 6})


# --- the panel on the case page, over a world imported through the feed ------------------------
#
# D = 2026-03-20 (Shanghai), every order grouped on D-10, the page read on D+1 10:00.
# - tea (quality): Q1 … Q4, 20 orders each. Q1 has three quality refunds, Q2 one: Q1's rate 3/20
#   and count 3 are exactly 3× the category's 4/80 and 4/4, so not over; one more refund of Q1
#   (5 in the category) is over 3×, not 5×. Q1's open cases: CQ pending for quality (due D+2 15:00),
#   CR a return for a defect, CO pending for a change of mind.
# - pots (logistics): L1 has 5 orders, L2 … L6 85 each, no anomaly: one logistics refund of L1
#   puts it over 5× (rate 1/105 > 5 × 1/530, count 1 > 5 × 1/6). CL: L1's case, damaged in transit.
# - bowls (logistics): B1's order B1-0 has a delivery-time anomaly, and CB is its case, lost in
#   transit: the order counts already.

D = dt.date(2026, 3, 20)
QUERY_BOUND = 13  # the page's 11 and the panel's 2
PAGE_NOW = "2026-03-21 10:00"


class World:
    def __init__(self):
        self.events: list[dict] = []

    def __call__(self, when: str, event_type: str, **fields) -> None:
        self.events.append({"id": f"e{len(self.events)}", "type": event_type, "at": at(when).isoformat(), **fields})

    def goods(self, goods: str, category: str, orders: int) -> None:
        self("2026-02-07 09:00", "goods.listed", shop="S1", goods=goods, name=f"商品{goods}", category=category)
        for n in range(orders):
            order = f"{goods}-{n}"
            self(
                "2026-03-10 08:00",
                "order.placed",
                order=order,
                shop="S1",
                goods=goods,
                buyer=f"B{order}",
                amount="59.90",
                promised_ship_by=at("2026-03-12 08:00").isoformat(),
            )
            self("2026-03-10 08:05", "order.grouped", order=order)
            self("2026-03-10 09:00", "order.shipped", order=order, tracking=f"SF{order}")

    def case(self, case: str, order: str, opened: str, reason: str, kind: str = "refund_only") -> None:
        self(opened, "case.opened", case=case, order=order, kind=kind, reason=reason, amount="59.90")

    def refunded(self, case: str, order: str, reason: str = "quality_issue") -> None:
        self.case(case, order, "2026-03-12 10:00", reason)
        self("2026-03-13 10:00", "case.merchant_agreed", case=case)

    def lines(self) -> list[str]:
        ordered = sorted(self.events, key=lambda e: dt.datetime.fromisoformat(e["at"]))
        return [json.dumps(e, ensure_ascii=False) for e in ordered]


def build() -> World:
    w = World()
    w("2026-02-07 09:00", "shop.opened", shop="S1", name="店铺S1", hotline="13800138000")
    w(
        "2026-02-07 09:00",
        "address.added",
        shop="S1",
        address="A1",
        receiver="王",
        phone="13800138000",
        region="浙江省/杭州市/西湖区",
        detail="文三路1号",
        default=True,
    )
    for goods in ("Q1", "Q2", "Q3", "Q4"):
        w.goods(goods, "tea", 20)
    for n in range(3):
        w.refunded(f"RQ{n}", f"Q1-{n}")
    w.refunded("RQ9", "Q2-0")
    w.case("CQ", "Q1-3", "2026-03-20 15:00", "quality_issue")
    w.case("CR", "Q1-4", "2026-03-20 16:00", "defective", kind="return_refund")
    w.case("CO", "Q1-5", "2026-03-20 16:30", "changed_mind")
    w.goods("L1", "pots", 5)
    for goods in ("L2", "L3", "L4", "L5", "L6"):
        w.goods(goods, "pots", 85)
    w.case("CL", "L1-0", "2026-03-20 15:00", "damaged_in_transit")
    w.goods("B1", "bowls", 10)
    w.goods("B2", "bowls", 10)
    w("2026-03-15 10:00", "order.logistics_flagged", order="B1-0", kind="slow_delivery")
    w.case("CB", "B1-0", "2026-03-20 15:00", "lost_in_transit")
    return w


@pytest.fixture
def world(tmp_path):
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *build().lines())
    assert (code, rejected) == (0, []), err
    return Shop.objects.get(platform_id="S1")


@pytest.fixture
def snapshot(world):
    metrics_compute(day=D)


@pytest.fixture
def agent_client(client, world, monkeypatch):
    sign_in(client, factories.member(world, "agent"), language="en")
    moment = at(PAGE_NOW)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return client


ROW = re.compile(r"<tr (data-action=[^>]*)>(.*?)</tr>", re.S)
ATTR = re.compile(r'data-([a-z-]+)="([^"]*)"')


def page(client, case_id: str) -> str:
    case = AfterSalesCase.objects.get(platform_id=case_id)
    response = client.get(reverse("admin:aftersales_aftersalescase_change", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def panel_rows(html: str) -> dict[str, dict]:
    """The panel's rows by action: their data attributes, and their text as `text`."""
    panel = html[html.index('id="case-impact"') :]
    rows = {}
    for attributes, cells in ROW.findall(panel):
        row = dict(ATTR.findall(attributes))
        row["text"] = " ".join(re.sub(r"<[^>]+>", " ", cells).split())
        rows[row["action"]] = row
    return rows


def buttons(html: str) -> list[str]:
    return re.findall(r'<form [^>]*data-transition="([a-z_]+)"', html)


def goods_row(goods: str) -> GoodsDaySnapshot:
    return GoodsDaySnapshot.objects.get(date=D, goods__platform_id=goods)


def test_quality_case_agree_crosses_3x_refuse_keeps_out_waiting_refunds_at_deadline(snapshot, agent_client):
    stored = goods_row("Q1")
    assert (stored.quality_refund_orders, stored.category_quality_refund_orders, stored.flag) == (3, 4, "")
    html = page(agent_client, "CQ")
    rows = panel_rows(html)
    # one row per button, in their order, then doing nothing
    assert list(rows) == [*buttons(html), "waiting"] == ["merchant_agree", "merchant_refuse", "waiting"]
    agree, refuse, waiting = rows["merchant_agree"], rows["merchant_refuse"], rows["waiting"]
    assert (agree["effect"], agree["after-orders"], agree["crosses"]) == ("refunded", "4", "3")
    assert "crosses the 3× line" in agree["text"] and "15.00% → 20.00%" in agree["text"]
    assert (refuse["effect"], refuse["after-orders"], refuse["crosses"]) == ("unless_escalated", "3", "0")
    assert "below the lines" in refuse["text"]
    assert (waiting["effect"], waiting["after-orders"], waiting["crosses"]) == ("refunded_at_deadline", "4", "3")
    assert "2026-03-22 15:00" in waiting["text"]  # opened + 48 h, Shanghai time
    assert 'data-snapshot="2026-03-20"' in html


def test_the_panels_lines_are_the_snapshots_flags(snapshot):
    """What the panel calls over a line is what compute_metrics stores for the same numbers: after
    CQ's refund, the day's snapshot flags Q1 exactly as the panel's "after" said."""
    case = AfterSalesCase.objects.select_related("order").get(platform_id="CQ")
    impact = case_impact(case=case, actions=[Action("merchant_agree", "Agree")])
    assert impact.before.level == 0 and impact.rows[0].after.level == 3
    rows = [goods_row(g) for g in ("Q1", "Q2", "Q3", "Q4", "L1", "B1")]
    for row in rows:
        figures = Figures(
            ReasonClass.QUALITY,
            row.quality_refund_orders,
            row.grouped_orders,
            row.category_quality_refund_orders,
            row.category_grouped_orders,
            row.category_goods,
        )
        assert figures.level == {"": 0, "over_3x": 3, "over_5x": 5}[row.flag]
    # the same refund, made: the snapshot agrees with the "after"
    case_services.case_merchant_agree(
        case=case, actor=None, expected_state=State.PENDING_MERCHANT, at=at("2026-03-20 17:00")
    )
    metrics_compute(day=D)
    after = goods_row("Q1")
    assert (after.quality_refund_orders, after.category_quality_refund_orders, after.flag) == (4, 5, "over_3x")
    assert impact.rows[0].after == Figures(ReasonClass.QUALITY, 4, 20, 5, 80, 4)


def test_a_return_is_refunded_only_after_the_parcel_is_back(snapshot, agent_client):
    rows = panel_rows(page(agent_client, "CR"))
    agree = rows["merchant_agree"]
    assert (agree["effect"], agree["after-orders"], agree["crosses"]) == ("after_return", "4", "3")
    assert "would cross the 3× line" in agree["text"]
    assert rows["waiting"]["effect"] == "refunded_at_deadline"  # merchant silence refunds (§3.2)


def test_an_order_that_counts_already_changes_nothing(snapshot, agent_client):
    stored = goods_row("B1")
    assert (stored.logistics_anomaly_orders, stored.category_logistics_anomaly_orders) == (1, 1)
    html = page(agent_client, "CB")
    assert 'id="case-impact-counted"' in html
    rows = panel_rows(html)
    assert rows["merchant_agree"]["effect"] == "refunded"
    assert {r["after-orders"] for r in rows.values()} == {"1"}
    assert {r["crosses"] for r in rows.values()} == {"0"}


def test_a_quality_refund_of_an_order_counted_already_adds_nothing(snapshot, agent_client):
    """Written as rows (the open rule now keeps a refunded order from taking a new case): an open
    quality case on Q1-0, whose quality refund of D-7 counts in the window already."""
    order = Order.objects.get(platform_id="Q1-0")
    opened = at("2026-03-20 18:00")
    AfterSalesCase.objects.create(
        platform_id="CX",
        order=order,
        shop=order.shop,
        kind="refund_only",
        reason="counterfeit",
        amount=order.amount,
        state=State.PENDING_MERCHANT,
        opened_at=opened,
        submitted_at=opened,
        due_at=opened + dt.timedelta(hours=48),
        changed_at=opened,
    )
    html = page(agent_client, "CX")
    rows = panel_rows(html)
    assert 'id="case-impact-counted"' in html
    assert rows["merchant_agree"]["after-orders"] == rows["waiting"]["after-orders"] == "3"
    assert rows["merchant_agree"]["crosses"] == rows["waiting"]["crosses"] == "0"


def test_a_logistics_case_crosses_the_logistics_5x_line(snapshot, agent_client):
    stored = goods_row("L1")
    assert (stored.grouped_orders, stored.category_grouped_orders, stored.category_goods) == (5, 430, 6)
    assert (stored.logistics_anomaly_orders, stored.logistics_over_5x) == (0, False)
    html = page(agent_client, "CL")
    assert 'data-kind="logistics"' in html
    rows = panel_rows(html)
    agree, refuse, waiting = rows["merchant_agree"], rows["merchant_refuse"], rows["waiting"]
    assert (agree["after-orders"], agree["after-level"], agree["crosses"]) == ("1", "5", "5")
    # the seed's formula: 1 / (1 × 100 + 5)
    assert "0.00% → 0.95%" in agree["text"] and "crosses the 5× line" in agree["text"]
    assert (refuse["after-orders"], refuse["crosses"]) == ("0", "0")
    assert (waiting["effect"], waiting["crosses"]) == ("refunded_at_deadline", "5")


def test_a_logistics_refund_to_xinjiang_changes_nothing(snapshot, agent_client):
    """SPEC §5.1: an order shipped to Xinjiang counts only for a fake shipment."""
    Order.objects.filter(platform_id="L1-0").update(ship_to="新疆维吾尔自治区")
    html = page(agent_client, "CL")
    assert 'id="case-impact-excluded"' in html
    assert {r["crosses"] for r in panel_rows(html).values()} == {"0"}


def test_a_case_of_another_class_changes_no_figure(snapshot, agent_client):
    html = page(agent_client, "CO")
    assert 'id="case-impact-none"' in html
    rows = panel_rows(html)
    assert list(rows) == ["merchant_agree", "merchant_refuse", "waiting"]
    assert all("after-orders" not in r for r in rows.values())


def test_no_snapshot_yet(world, agent_client):
    html = page(agent_client, "CQ")
    assert 'id="case-impact-no-snapshot"' in html
    assert list(panel_rows(html)) == ["merchant_agree", "merchant_refuse", "waiting"]


def test_a_closed_case_has_no_panel(snapshot, agent_client):
    html = page(agent_client, "RQ0")
    assert 'id="case-impact"' not in html


def test_the_viewer_sees_only_doing_nothing(snapshot, client, world, monkeypatch):
    sign_in(client, factories.member(world, "viewer"), language="en")
    monkeypatch.setattr(timezone, "now", lambda: at(PAGE_NOW))
    assert list(panel_rows(page(client, "CQ"))) == ["waiting"]


def test_a_ruling_refunds_only_if_the_merchant_is_liable():
    """Read from the declaration: rule's target is chosen by the form (the liable party)."""

    def case(state, kind="refund_only"):
        return AfterSalesCase(state=state, kind=kind, reason="quality_issue")

    assert action_effect("rule", case(State.UNDER_INTERVENTION)) == Effect.IF_RULED
    assert action_effect("merchant_agree", case(State.PENDING_MERCHANT)) == Effect.REFUNDED
    assert action_effect("merchant_agree", case(State.PENDING_MERCHANT, "exchange")) == Effect.AFTER_RETURN
    assert action_effect("merchant_refuse", case(State.PENDING_MERCHANT)) == Effect.UNLESS_ESCALATED
    assert action_effect("reship", case(State.RETURN_SHIPPED, "exchange")) == Effect.NO_REFUND
    assert action_effect("confirm_refund", case(State.RETURN_SHIPPED)) == Effect.REFUNDED
    assert action_effect("shorten_deadline", case(State.PENDING_MERCHANT)) == Effect.DEADLINE_MOVED


def test_the_page_query_count_is_bounded(snapshot, agent_client, django_assert_max_num_queries):
    """The panel reads the goods' row of the shop's latest snapshot (one query) and whether the
    order counts already (one): two queries, whatever the data."""
    page(agent_client, "CQ")  # warm the session and the content types
    with django_assert_max_num_queries(QUERY_BOUND):
        page(agent_client, "CQ")
    case_panels.unregister(case_panel)
    try:
        with CaptureQueriesContext(connection) as without:
            page(agent_client, "CQ")
    finally:
        case_panels.register(case_panel)
    with CaptureQueriesContext(connection) as with_panel:
        page(agent_client, "CQ")
    assert len(with_panel) - len(without) == 2
