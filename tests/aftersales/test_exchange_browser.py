"""An exchange in a real browser (issue 16): the agent agrees the exchange, the buyer's return
arrives through the platform feed, the agent sends the replacement with its tracking number and
the case shows 换货完成. Screenshots of each step go to var/screenshots/exchange-*.png."""

import datetime as dt
import json

import pytest

from aftersales.models import AfterSalesCase, Refund, State
from pddadmin.demo.users import ensure_demo_users
from pddadmin.feed.importer import import_events
from tests.browsers import TZ, log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CASES = "/admin/aftersales/aftersalescase/"


def feed(n: int, event_type: str, at: dt.datetime, **fields) -> None:
    line = json.dumps({"id": f"x{n}", "type": event_type, "at": at.isoformat(), **fields}, ensure_ascii=False)
    report = import_events(lines=[line])
    assert report.rejections == [], report.rejections


def world(now: dt.datetime) -> None:
    """Demo shop S1001 with its default return address, and a received order with an exchange."""
    start = now - dt.timedelta(days=6)
    feed(1, "shop.opened", start, shop="S1001", name="优选数码旗舰店", hotline="400-820-8820")
    feed(
        2,
        "address.added",
        start,
        shop="S1001",
        address="S1001-A1",
        receiver="售后组",
        phone="0571-88886666",
        region="浙江省/杭州市/西湖区",
        detail="文三路 90 号",
        default=True,
    )
    feed(3, "goods.listed", start, shop="S1001", goods="S1001-G1", name="蓝牙耳机", category="数码")
    feed(
        4,
        "order.placed",
        start,
        order="XO1",
        shop="S1001",
        goods="S1001-G1",
        buyer="U1",
        amount="129.00",
        promised_ship_by=(start + dt.timedelta(hours=48)).isoformat(),
    )
    feed(5, "order.grouped", start + dt.timedelta(minutes=10), order="XO1")
    feed(6, "order.shipped", start + dt.timedelta(hours=20), order="XO1", tracking="YTXO1")
    feed(7, "order.received", now - dt.timedelta(days=3), order="XO1")
    feed(
        8,
        "case.opened",
        now - dt.timedelta(hours=5),
        case="XC1",
        order="XO1",
        kind="exchange",
        reason="defective",
        amount="129.00",
    )
    ensure_demo_users()


def test_agent_agrees_an_exchange_and_sends_the_replacement(live_server, tab):
    now = dt.datetime.now(TZ).replace(microsecond=0)
    world(now)

    log_in(tab, live_server, "agent1", CASES)
    tab.locator("#result_list").get_by_role("link", name="XC1").click()
    assert "换货" in tab.inner_text("#content-main")
    shot(tab, "exchange-1-pending")
    tab.click("form[data-transition=merchant_agree] input[type=submit]")
    tab.wait_for_selector(".messagelist .success")
    assert "待买家退货" in tab.inner_text("#content-main strong")
    assert tab.locator("form[data-transition=reship]").count() == 0  # nothing to send before the return
    shot(tab, "exchange-2-agreed")
    assert AfterSalesCase.objects.get(platform_id="XC1").state == State.AWAITING_RETURN

    # The buyer's parcel is on its way back: the platform says so through the feed.
    feed(9, "case.return_shipped", dt.datetime.now(TZ), case="XC1", tracking="SF-RETURN-1")
    tab.reload()
    assert "买家已退货" in tab.inner_text("#content-main strong")
    reship = tab.locator("form[data-transition=reship]")
    assert reship.locator("input[type=submit]").get_attribute("value") == "发出换货"
    reship.locator("input[name=tracking-tracking]").fill("SF1234567890123")
    shot(tab, "exchange-3-returned")
    reship.locator("input[type=submit]").click()
    tab.wait_for_selector(".messagelist .success")

    assert tab.inner_text("#content-main strong") == "换货完成"
    assert tab.inner_text("#reship-tracking") == "SF1234567890123"
    assert "SF1234567890123" in tab.inner_text("#case-log")
    assert tab.locator("#case-actions form").count() == 0
    shot(tab, "exchange-4-exchanged")
    case = AfterSalesCase.objects.get(platform_id="XC1")
    assert (case.state, case.reship_tracking) == (State.EXCHANGED, "SF1234567890123")
    assert not Refund.objects.filter(case=case).exists()
