"""The merchant dashboard, the orders behind a figure and the platform overview."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.forecast import goods_forecast
from metrics.services import metrics_compute
from tests import factories
from tests.conftest import at
from tests.logins import sign_in
from tests.metrics.helpers import case, orders, refund

D = dt.date(2026, 3, 31)
pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(shop):
    """shop: 4 grouped orders in the window; 1 quality refund (dispute), 1 logistics, 1 intervention."""
    goods = factories.GoodsFactory(shop=shop, name="绿茶")
    a, b, c, _d = orders(goods, 4, at("2026-03-20 10:00"))
    refund(a, at("2026-03-31 10:00"), reason="counterfeit", intervened=True, liable="merchant")
    refund(b, at("2026-03-21 10:00"), reason="lost_in_transit")
    case(c, intervened_at=at("2026-03-22 10:00"))
    for day in (D - dt.timedelta(days=1), D):
        metrics_compute(day=day)
    return goods, a, b, c


def login(client, user):
    sign_in(client, user)


def page(client, user, name="metrics:dashboard", **params):
    login(client, user)
    return client.get(reverse(name), params)


def test_merchant_sees_own_rates_with_numerator_and_denominator(client, owner, shop, figures):
    response = page(client, owner)  # defaults: own shop, latest snapshot day
    assert response.status_code == 200
    assert response.context["day"] == D
    cards = {card["key"]: card for card in response.context["window_cards"]}
    assert (cards["dispute_refund"]["numerator"], cards["dispute_refund"]["denominator"]) == (1, 4)
    assert (cards["intervention"]["numerator"], cards["intervention"]["denominator"]) == (2, 4)
    html = response.content.decode()
    assert 'data-rate="0.250000">25.00%' in html  # dispute and quality: 1/4
    assert 'data-rate="0.500000">50.00%' in html  # intervention: 2/4
    assert "绿茶" in html  # the goods table
    day_cards = {card["key"]: card for card in response.context["day_cards"]}
    assert (day_cards["quality_refund"]["numerator"], day_cards["quality_refund"]["denominator"]) == (1, 0)
    assert day_cards["quality_refund"]["rate"] is None
    assert ">—</div>" in html  # no grouped order on the day: no rate
    assert [point["date"] for point in response.context["trend"]] == ["2026-03-30", "2026-03-31"]
    assert response.context["trend"][-1]["quality_refund"] == 0.25


def test_trend_title_says_the_span_of_data_shown(client, owner, shop, figures):
    """#18.8: the title said 90 days whatever the data; it says the days the chart shows: from the
    first snapshot within 90 days (a day without one inside the span stays a gap)."""
    metrics_compute(day=D - dt.timedelta(days=5))
    response = page(client, owner)
    trend = response.context["trend"]
    assert (trend[0]["date"], trend[-1]["date"], len(trend)) == ("2026-03-26", "2026-03-31", 6)
    assert trend[1]["quality_refund"] is None  # no snapshot on 03-27
    html = response.content.decode()
    title = html.split('id="trend-title">', 1)[1].split("</h2>", 1)[0]
    assert title == "30 天比率趋势：2026-03-26 – 2026-03-31（6 天）"


def test_trend_title_without_snapshots(client, owner, shop):
    html = page(client, owner, shop=shop.pk, date="2026-03-31").content.decode()
    assert 'id="trend-title">30 天比率趋势：尚无每日快照</h2>' in html


def test_dashboard_query_count_is_bounded(client, owner, shop, figures, django_assert_max_num_queries):
    for n in range(30):  # more goods must not mean more queries
        goods = factories.GoodsFactory(shop=shop)
        orders(goods, 1, at(f"2026-03-{1 + n % 28:02d} 10:00"))
    metrics_compute(day=D)
    login(client, owner)
    # The coming-up panel runs the forecast: a fixed number of statements into temporary tables
    # (metrics.forecast), counted here as it runs for this shop and day.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as forecast:
        goods_forecast(day=D, shop=shop)
    forecast_statements = len(forecast)  # read now: the capture is a slice of the log cleared below
    # session, user, groups, shops, snapshot, trend, goods count + page, customer-service tile (2),
    # the logistics goods (and their count past ten), the logistics flags running (shop, goods),
    # the cases of the coming-up panel, and the forecast's own
    connection.queries_log.clear()  # a full log (9000 statements) would capture none
    with django_assert_max_num_queries(11 + 2 + 2 + 1 + forecast_statements):
        response = client.get(reverse("metrics:dashboard"), {"shop": shop.pk, "date": "2026-03-31"})
    assert response.status_code == 200


def test_other_shops_staff_get_404(client, outsider, shop, figures):
    assert page(client, outsider, shop=shop.pk).status_code == 404
    assert (
        page(client, outsider, "metrics:orders", shop=shop.pk, date="2026-03-31", figure="quality_refund").status_code
        == 404
    )


def test_reviewer_may_pick_any_shop_by_id(client, reviewer, shop, figures):
    response = page(client, reviewer, shop_id=shop.platform_id, date="2026-03-31")
    assert response.status_code == 200
    assert response.context["shop"] == shop


def test_user_without_shop_is_refused_and_anonymous_sent_to_login(client, figures):
    assert page(client, factories.UserFactory()).status_code == 403
    client.logout()
    assert client.get(reverse("metrics:dashboard")).status_code == 302


def test_day_without_snapshot_is_computed_live(client, owner, shop, figures):
    response = page(client, owner, shop=shop.pk, date="2026-04-01")
    assert response.context["snapshot"] is None
    cards = {card["key"]: card for card in response.context["window_cards"]}
    assert (cards["dispute_refund"]["numerator"], cards["dispute_refund"]["denominator"]) == (1, 4)
    assert "live-note" in response.content.decode()


def test_orders_behind_a_numerator(client, owner, shop, figures):
    _goods, a, b, c = figures

    def listed(**p):
        response = page(client, owner, "metrics:orders", shop=shop.pk, date="2026-03-31", **p)
        return [o.platform_id for o in response.context["table"].data]

    assert listed(figure="dispute_refund") == [a.platform_id]
    assert listed(figure="quality_refund", scope="day") == [a.platform_id]
    assert listed(figure="logistics_anomaly") == [b.platform_id]
    assert sorted(listed(figure="intervention")) == sorted([a.platform_id, c.platform_id])
    assert len(listed(figure="grouped")) == 4
    assert page(client, owner, "metrics:orders", shop=shop.pk, date="2026-03-31", figure="x").status_code == 404


def test_goods_table_exports_csv(client, owner, shop, figures):
    response = page(client, owner, shop=shop.pk, date="2026-03-31", _export="csv")
    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    assert ",1,0.250000," in lines[1]  # goods: 4 grouped, 1 quality refund, rate exported to 6 places


def test_missing_chart_library_is_said_not_hidden(client, owner, shop, figures, monkeypatch):
    monkeypatch.setattr("metrics.views.finders.find", lambda path: None)
    html = page(client, owner).content.decode()
    assert 'id="chart-missing"' in html
    assert "echarts.min.js" not in html


def test_platform_overview_ranks_shops_for_reviewers_only(client, reviewer, owner, shop, other_shop, figures):
    assert page(client, owner, "metrics:platform").status_code == 403
    third = factories.ShopFactory()
    orders(factories.GoodsFactory(shop=third), 1, at("2026-03-20 10:00"))
    metrics_compute(day=D)
    response = page(client, reviewer, "metrics:platform", date="2026-03-31")
    ranked = [row.shop for row in response.context["table"].data]
    assert ranked[0] == shop  # 25 % dispute refunds; `third` has 0 %; other_shop has no rate: last
    assert ranked[-1] == other_shop
    by_intervention = page(client, reviewer, "metrics:platform", date="2026-03-31", sort="intervention_rate")
    assert [row.shop for row in by_intervention.context["table"].data] == [third, shop, other_shop]


def test_goods_export_neutralises_formula_cells(client, owner, shop):
    goods = factories.GoodsFactory(shop=shop, name='=HYPERLINK("http://evil.example","点我")')
    orders(goods, 2, at("2026-03-20 10:00"))
    metrics_compute(day=D)

    response = page(client, owner, _export="csv", date=D.isoformat())

    assert response.status_code == 200
    body = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body
    assert "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
