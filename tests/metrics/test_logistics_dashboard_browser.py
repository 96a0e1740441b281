"""The demo's owner opens the dashboard in headless Chromium at 1280 × 800 (#17 acceptance): the
logistics tiles show its goods under logistics restriction (S1001-G6) and the "coming up" panel
its goods a few quality cases from the 3× line (S1001-G7) with those cases, linked to their pages;
a reviewer's platform overview lists the logistics restrictions.

The world is the demo's, small (as tests/demo/test_demo_logistics_sizes.py seeds it) and ending
now, as `make run` leaves it. The goods are found by what the data says of them (the snapshots,
export_forecast), then checked against the demo's own list of them (pddadmin.demo.logistics)."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from metrics.models import Flag, GoodsDaySnapshot, ShopDaySnapshot
from metrics.selectors import snapshot_latest_date
from metrics.templatetags.metrics_tags import percent
from pddadmin.demo.logistics import OWNER_GOODS
from pddadmin.demo.users import DEMO_PASSWORD
from pddadmin.shops.models import ShopMembership
from tests.browsers import SCREENSHOTS, log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LAPTOP = {"width": 1280, "height": 800}


def seed_small_demo() -> None:
    out = io.StringIO()
    call_command("seed_demo", "--orders", "40", "--days", "10", "--seed", "5", stdout=out, stderr=io.StringIO())
    assert " 0 rejected " in out.getvalue()
    # DEBUG is off in tests, so seed_demo gave each login a random password: the documented one here
    for user in get_user_model().objects.filter(username__in=["owner1", "reviewer1"]):
        user.set_password(DEMO_PASSWORD)
        user.save()


@pytest.fixture
def laptop(chromium):
    context = chromium.new_context(viewport=LAPTOP, locale="zh-CN")
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_owner_sees_the_demo_goods_in_the_logistics_tiles_and_coming_up(live_server, laptop):
    seed_small_demo()
    shop = ShopMembership.objects.select_related("shop").get(user__username="owner1").shop
    day = snapshot_latest_date(shop=shop)
    restricted = GoodsDaySnapshot.objects.filter(shop=shop, date=day, logistics_restricted_since__isnull=False)
    (restricted_goods,) = restricted.values_list("goods__platform_id", flat=True)
    out = io.StringIO()
    call_command("export_forecast", "--date", day.isoformat(), "--shop", shop.platform_id, stdout=out)
    coming = [r for r in json.loads(out.getvalue())["goods"] if r["level"] == Flag.OVER_3X and r["cases"]]
    near = coming[0]
    # the goods the demo means (its own list of the owner's power banks)
    assert (restricted_goods, near["goods"]) == (OWNER_GOODS[0][0], OWNER_GOODS[1][0])

    page = laptop
    log_in(page, live_server, "owner1", "/metrics/")
    tiles = page.locator("section#logistics-tiles")
    snapshot = ShopDaySnapshot.objects.get(shop=shop, date=day)
    rate = tiles.locator("#logistics-rate .value")
    assert rate.get_attribute("data-rate") == f"{snapshot.logistics_anomaly_rate:.6f}"
    assert rate.inner_text() == percent(snapshot.logistics_anomaly_rate)  # two places, "0.47%"
    assert tiles.locator("#logistics-count .numerator").inner_text() == str(snapshot.logistics_anomaly_orders)
    assert "5 倍线" in tiles.locator("#logistics-category").inner_text()
    assert tiles.locator("#logistics-state").get_attribute("data-state") in ("restricted", "over_5x", "clear")
    first_goods = tiles.locator("#logistics-goods tbody tr").first
    assert first_goods.get_attribute("data-goods") == restricted_goods
    assert first_goods.get_attribute("data-state") == "restricted"
    assert "已限制" in first_goods.inner_text()

    panel = page.locator("section#coming-up")
    row = panel.locator(
        f'tr[data-goods="{near["goods"]}"][data-kind="quality"][data-level="flag"][data-line="over_3x"]'
    )
    assert row.count() == 1
    assert row.get_attribute("data-date") == near["date"]
    linked = [a.get_attribute("data-case") for a in row.locator("a[data-case]").all()]
    assert linked == near["cases"]
    dates = [d for d in panel.locator("tr[data-date]").evaluate_all("rows => rows.map(r => r.dataset.date)")]
    assert dates == sorted(dates)  # most urgent first
    # the page fits the laptop's width
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "metrics_logistics_dashboard")
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "metrics_coming_up.png"))

    # one click to the first case to act on
    row.locator("a[data-case]").first.click()
    page.wait_for_url("**/admin/aftersales/aftersalescase/*/change/")
    assert near["cases"][0] in page.inner_text("body")


def test_reviewer_sees_the_logistics_restrictions(live_server, laptop):
    seed_small_demo()
    day = snapshot_latest_date()
    restricted_shops = ShopDaySnapshot.objects.filter(date=day, logistics_restricted_since__isnull=False)
    restricted_goods = GoodsDaySnapshot.objects.filter(date=day, logistics_restricted_since__isnull=False)
    page = laptop
    log_in(page, live_server, "reviewer1", "/metrics/platform/")
    shops = page.locator("#logistics-restricted-shops tbody tr").evaluate_all("rows => rows.map(r => r.dataset.shop)")
    goods = page.locator("#logistics-restricted-goods tbody tr").evaluate_all("rows => rows.map(r => r.dataset.goods)")
    assert set(shops) == set(restricted_shops.values_list("shop__platform_id", flat=True)) != set()
    assert set(goods) == set(restricted_goods.values_list("goods__platform_id", flat=True))
    assert OWNER_GOODS[0][0] in goods
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "metrics_platform_logistics")
