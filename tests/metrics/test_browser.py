"""Merchant staff open the dashboard in headless Chromium: the rates are export_metrics' and the chart is drawn."""

import io
import json

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

from tests import factories
from tests.browsers import SCREENSHOTS, log_in
from tests.conftest import at
from tests.factories import TEST_PASSWORD
from tests.metrics.helpers import case, orders, refund

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ECHARTS = "vendor/echarts/echarts.min.js"
RATES = ("dispute_refund", "quality_refund", "intervention")


def test_merchant_dashboard_shows_the_exported_rates_and_a_drawn_chart(live_server, tab):
    # The chart is part of what is tested: a missing library is a failure, not a skip.
    assert finders.find(ECHARTS), "ECharts is not installed: run `make assets`"
    shop = factories.ShopFactory(platform_id="S0042")
    agent = factories.member(shop, "agent")
    agent.save()  # the factory sets the password without saving it
    goods = factories.GoodsFactory(shop=shop)
    a, b, c, *_rest = orders(goods, 7, at("2026-03-20 10:00"))
    refund(a, at("2026-03-25 10:00"), intervened=True, liable="merchant")  # dispute + quality + intervention
    refund(b, at("2026-03-26 10:00"), reason="not_as_described")
    case(c, intervened_at=at("2026-03-27 10:00"))
    for day in range(20, 32):  # twelve days of history for the trend
        call_command("compute_metrics", "--date", f"2026-03-{day:02d}", stdout=io.StringIO())
    out = io.StringIO()
    call_command("export_metrics", "--date", "2026-03-31", "--shop", "S0042", stdout=out)
    (exported,) = json.loads(out.getvalue())["shops"]
    assert (exported["quality_refund_rate"], exported["intervention_rate"]) == (0.285714, 0.285714)

    page = tab
    log_in(page, live_server, agent.username, "/metrics/", password=TEST_PASSWORD)
    assert "S0042" in page.inner_text("#metrics-title")
    for key in RATES:
        value = page.locator(f"#rate-window-{key} .value")
        assert float(value.get_attribute("data-rate")) == exported[f"{key}_rate"]
        assert value.inner_text() == f"{exported[f'{key}_rate'] * 100:.2f}%"
        assert page.inner_text(f"#rate-window-{key} .numerator") == str(exported[f"{key}_orders"])
        assert page.inner_text(f"#rate-window-{key} .denominator") == str(exported["grouped_orders"])

    # ECharts drew the trend: a canvas with pixels in it, and the chart instance holds the 12 days of
    # snapshots × 3 rates (#18.8: from the first snapshot, not 90 days of which 78 are empty)
    page.wait_for_selector("#trend-chart[data-drawn='1'] canvas")
    series = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('trend-chart')).getOption().series"
        ".map(s => s.data.length)"
    )
    assert series == [12, 12, 12]
    painted = page.evaluate(
        """() => { const c = document.querySelector('#trend-chart canvas');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; }"""
    )
    assert painted > 1000
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "metrics_dashboard.png"), full_page=True)

    # one click from a numerator to the orders behind it
    page.click("#rate-window-quality_refund .numerator")
    rows = page.locator("#orders-table tbody tr")
    assert rows.count() == exported["quality_refund_orders"]
