"""What the merchant sees of the logistics service and the forecast (#17.3): the dashboard's
logistics tiles, its goods' logistics figures and the "coming up" panel; the reviewers' lists of
logistics restrictions on the platform overview; and the metrics pages' number formats (#18.6).

The world: one category of seven goods of one shop. `late` has 10 grouped orders and one fake
shipment; the six others 80 grouped orders each, so `late` is over 5× its category on both the
logistics rate and count (1/(100+10) > 5 × 1/(100+490), 1 > 5 × 1/7). `near` (one of the 80) has
no quality refund yet and one quality case waiting for the merchant, refunded by itself at its
deadline two days after D: one quality refund puts it over 5× (1/80 > 5 × 1/490, 1 > 5 × 1/7)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.models import AfterSalesCase
from metrics.forecast import goods_forecast
from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
from metrics.services import metrics_compute
from metrics.templatetags.metrics_tags import figure, percent
from pddadmin.shops.models import Goods, Order
from tests import factories
from tests.conftest import at
from tests.logins import sign_in
from tests.metrics.helpers import case, flag, orders, refund

D = dt.date(2026, 3, 31)
RESTRICTION_DAYS = 3  # GOODS_RESTRICTION_CONSECUTIVE_DAYS's default
pytestmark = pytest.mark.django_db


def days(n: int) -> list[dt.date]:
    return [D - dt.timedelta(days=k) for k in reversed(range(n))]


def market(shop, category: str, name: str = "迟到的充电宝") -> tuple[Goods, list[Goods]]:
    """A category of seven goods of `shop`: the late one (10 orders, one fake shipment) over 5× its
    category's logistics figures, six with 80 grouped orders each and no anomaly."""
    late = factories.GoodsFactory(shop=shop, name=name, category=category)
    first, *_rest = orders(late, 10, at("2026-03-20 10:00"))
    flag(first, "fake_shipment", at("2026-03-22 10:00"))
    others = [factories.GoodsFactory(shop=shop, category=category) for _ in range(6)]
    for goods in others:
        orders(goods, 80, at("2026-03-20 10:00"))
    return late, others


def waiting_case(goods: Goods, due: str) -> AfterSalesCase:
    """A quality case waiting for the merchant, refunded by itself at `due`."""
    waiting = case(
        Order.objects.filter(goods=goods).first(), state="pending_merchant", opened_at=at("2026-03-31 12:00")
    )
    AfterSalesCase.objects.filter(pk=waiting.pk).update(due_at=at(due))
    waiting.refresh_from_db()
    return waiting


def busy_neighbours(category: str = "数码") -> None:
    """Six shops of that main category with 500 clean orders each: one anomaly order of the shop's
    490 puts it over 5× (1/590 > 5 × 1/(100 + 3490), 1 > 5 × 1/7)."""
    for _ in range(6):
        other = factories.ShopFactory(category=category)
        orders(factories.GoodsFactory(shop=other, category="misc"), 500, at("2026-03-20 10:00"))


@pytest.fixture
def world(shop):
    late, others = market(shop, "power")
    near = others[0]
    near.name = "快到线的数据线"
    near.save()
    return late, near, waiting_case(near, "2026-04-02 12:00")


def dashboard(client, user, **params):
    sign_in(client, user)
    return client.get(reverse("metrics:dashboard"), params)


def fresh_log() -> None:
    # The log keeps the last 9000 statements: once building the world has filled it, a capture
    # would see none (its length does not change).
    connection.queries_log.clear()


def dashboard_rows(client, params) -> list:
    return client.get(reverse("metrics:dashboard"), params).context["coming_up"].rows


def rows(html: str, table_id: str) -> list[str]:
    """The opening tags of the table's body rows."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr [^>]*>", body)


def test_logistics_tiles_for_a_restricted_goods(client, owner, shop, world):
    late, _near, _waiting = world
    for day in days(RESTRICTION_DAYS):
        metrics_compute(day=day)
    response = dashboard(client, owner, shop=shop.pk, date=D.isoformat())
    html = response.content.decode()
    snapshot = ShopDaySnapshot.objects.get(shop=shop, date=D)
    tiles = html.split('id="logistics-tiles"', 1)[1].split("</section>", 1)[0]
    assert f'data-rate="{snapshot.logistics_anomaly_rate:.6f}">{percent(snapshot.logistics_anomaly_rate)}<' in tiles
    assert re.search(r'id="logistics-count">.*?class="numerator"[^>]*>1</a>', tiles, re.S)
    category = tiles.split('id="logistics-category"', 1)[1].split('id="logistics-state"', 1)[0]
    assert percent(snapshot.category_logistics_anomaly_rate) in category
    # one shop in its (empty) main category: it is its own category, never over 5× of itself
    assert 'data-state="clear"' in tiles
    # the goods: `late` first, restricted since the third day, over 5× for three days
    goods_rows = rows(tiles, "logistics-goods")
    assert goods_rows[0] == f'<tr data-goods="{late.platform_id}" data-state="restricted">'
    assert all('data-state="clear"' in row for row in goods_rows[1:])
    late_snapshot = GoodsDaySnapshot.objects.get(goods=late, date=D)
    assert late_snapshot.logistics_restricted_since == D
    first_row = tiles.split(goods_rows[0], 1)[1].split("</tr>", 1)[0]
    assert "已限制" in first_row and f"自 {D.isoformat()} 起" in first_row
    assert percent(late_snapshot.logistics_anomaly_rate) in first_row
    assert figure(late_snapshot.category_logistics_anomaly_count) in first_row


def test_shop_over_5x_shows_its_streak_and_coming_restriction(client, owner, shop, world):
    late, *_ = world
    shop.category = "数码"
    shop.save()
    busy_neighbours()
    metrics_compute(day=D)
    snapshot = ShopDaySnapshot.objects.get(shop=shop, date=D)
    assert snapshot.logistics_over_5x and snapshot.logistics_streak == 1  # the world is as meant
    html = dashboard(client, owner, shop=shop.pk, date=D.isoformat()).content.decode()
    assert 'id="logistics-state" data-state="over_5x" data-streak="1"' in html
    assert "已连续 1 天；连续 3 天即限制" in html
    # the restriction lands on the third day if the flag holds: the shop's and the goods' rows
    coming = rows(html, "coming-up-table")
    restricted_on = (D + dt.timedelta(days=RESTRICTION_DAYS - 1)).isoformat()
    assert (
        f'<tr data-goods="" data-kind="logistics" data-level="restrict" data-line="logistics_over_5x" '
        f'data-date="{restricted_on}">' in coming
    )
    assert (
        f'<tr data-goods="{late.platform_id}" data-kind="logistics" data-level="restrict" '
        f'data-line="logistics_over_5x" data-date="{restricted_on}">' in coming
    )


def test_coming_up_lists_the_forecast_most_urgent_first_with_its_cases(client, owner, shop, world):
    _late, near, waiting = world
    metrics_compute(day=D)
    response = dashboard(client, owner, shop=shop.pk, date=D.isoformat())
    html = response.content.decode()
    forecast = goods_forecast(day=D, shop=shop)
    expected = {(c.goods, "flag", c.level, c.date) for c in forecast.flags_coming} | {
        (c.goods, "restrict", c.level, c.date) for c in forecast.restrictions_coming
    }
    shown = [(r.goods, r.level, r.line, r.date) for r in response.context["coming_up"].rows if r.kind == "quality"]
    assert set(shown) == expected and (near.platform_id, "flag", "over_5x", dt.date(2026, 4, 2)) in expected
    dates = [r.date for r in response.context["coming_up"].rows]
    assert dates == sorted(dates)  # most urgent first
    coming = rows(html, "coming-up-table")
    # the first line of each: on 04-02, `late`'s logistics restriction (streak 1 on D) before
    # `near`'s quality flag, a restriction before a flag on one day
    assert [r.split('data-date="')[1][:10] for r in coming] == [d.isoformat() for d in dates]
    assert coming[0].startswith('<tr data-goods="') and 'data-level="restrict"' in coming[0]
    assert coming[1].startswith(f'<tr data-goods="{near.platform_id}" data-kind="quality" data-level="flag"')
    # the case to act on links to its page
    case_url = reverse("admin:aftersales_aftersalescase_change", args=[waiting.pk])
    assert f'<a href="{case_url}" data-case="{waiting.platform_id}">' in html
    assert "到期 2026-04-02 12:00" in html  # its deadline, in Shanghai time


def test_coming_up_says_when_nothing_is_coming(client, owner, shop):
    orders(factories.GoodsFactory(shop=shop), 3, at("2026-03-20 10:00"))
    metrics_compute(day=D)
    html = dashboard(client, owner, shop=shop.pk, date=D.isoformat()).content.decode()
    assert 'id="coming-up-empty">未来 7 天内没有商品预计会被标记或限制。</p>' in html


def test_coming_up_query_count_does_not_grow_with_goods_and_cases(
    client, owner, shop, world, django_assert_max_num_queries
):
    """Three more categories with a goods over the line, each with waiting cases: the same statements."""
    market(shop, "base")  # 14 goods: past the ten of the logistics goods list, whose count is then read
    metrics_compute(day=D)
    sign_in(client, owner)
    params = {"shop": shop.pk, "date": D.isoformat()}
    fresh_log()
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("metrics:dashboard"), params)
    statements = len(few)  # now: the capture is a slice of the log, cleared below
    before = len(dashboard_rows(client, params))
    for n in range(3):
        late, others = market(shop, f"cat{n}", name=f"late{n}")
        for goods in (late, others[0], others[1]):
            waiting_case(goods, "2026-04-03 12:00")
    metrics_compute(day=D)
    fresh_log()
    with django_assert_max_num_queries(statements):
        response = client.get(reverse("metrics:dashboard"), params)
    assert len(response.context["coming_up"].rows) > before


def test_platform_overview_lists_logistics_restrictions(client, reviewer, owner, shop, world):
    late, *_ = world
    shop.category = "数码"
    shop.save()
    busy_neighbours()
    for day in days(RESTRICTION_DAYS):
        metrics_compute(day=day)
    sign_in(client, reviewer)
    html = client.get(reverse("metrics:platform"), {"date": D.isoformat()}).content.decode()
    assert rows(html, "logistics-restricted-shops") == [f'<tr data-shop="{shop.platform_id}">']
    assert rows(html, "logistics-restricted-goods") == [f'<tr data-goods="{late.platform_id}">']
    # a day before the third: nobody restricted, and the page says so
    html = client.get(reverse("metrics:platform"), {"date": (D - dt.timedelta(days=1)).isoformat()}).content.decode()
    assert 'id="logistics-restricted-shops-empty"' in html and 'id="logistics-restricted-goods-empty"' in html


def test_platform_overview_query_count_is_bounded(client, reviewer, shop, world, django_assert_max_num_queries):
    for day in days(RESTRICTION_DAYS):
        metrics_compute(day=day)
    sign_in(client, reviewer)
    fresh_log()
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("metrics:platform"), {"date": D.isoformat()})
    statements = len(few)
    for n in range(3):  # more restricted goods (and a shop): no more queries
        market(factories.ShopFactory(), f"cat{n}")
    for day in days(RESTRICTION_DAYS):
        metrics_compute(day=day)
    fresh_log()
    with django_assert_max_num_queries(statements):
        response = client.get(reverse("metrics:platform"), {"date": D.isoformat()})
    assert len(response.context["logistics_goods"].rows) > 1


# --- #18.6: one way of writing numbers on the metrics pages --------------------------------------


def test_rates_have_two_decimals_counts_no_trailing_zeros_money_yen(client, owner, shop):
    """Before: 33.3333%, a category count 0.333333 / 4.000000, amounts 1234.50 without ¥."""
    goods = factories.GoodsFactory(shop=shop, name="红茶")
    grouped = orders(goods, 3, at("2026-03-20 10:00"))
    for order in grouped:
        order.amount = Decimal("1234.50")
        order.save()
    refund(grouped[0], at("2026-03-25 10:00"))
    metrics_compute(day=D)
    html = dashboard(client, owner, shop=shop.pk, date=D.isoformat()).content.decode()
    assert ">33.33%<" in html and "33.3333%" not in html
    goods_table = html.split('id="goods-table"', 1)[1].split("</table>", 1)[0]
    assert ">1<" in goods_table and "1.000000" not in goods_table  # the category count: 1 refund / 1 goods
    listed = client.get(
        reverse("metrics:orders"), {"shop": shop.pk, "date": D.isoformat(), "figure": "grouped"}
    ).content.decode()
    assert "¥1,234.50" in listed and ">1234.50<" not in listed


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("4.000000"), "4"), (4, "4"), (Decimal("0.333333"), "0.33"), (Decimal("1.5"), "1.5"),
     (12345, "12,345"), (None, "—")],
)  # fmt: skip
def test_figure_filter(value, shown):
    assert figure(value) == shown


@pytest.mark.parametrize(
    ("rate", "shown"),
    [(Decimal("0.011349"), "1.13%"), (Decimal("0.011350"), "1.14%"), (Decimal("1"), "100.00%"), (None, "—")],
)
def test_percent_filter(rate, shown):
    assert percent(rate) == shown
