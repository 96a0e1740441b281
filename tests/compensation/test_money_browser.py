"""An agent marks an order out of stock in a real browser and finds the compensation on the charges
page (issue #14.4, .5); the owner reads the accounts and the arrears statement, platform staff record
a settlement. Screenshots: var/screenshots/money-*.png.
"""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from compensation.models import Account, Charge, ChargeKind, Credit
from compensation.services import charges
from pddadmin.demo.users import ensure_demo_users
from pddadmin.feed.importer import import_events
from pddadmin.shops.models import Order
from tests.browsers import log_in, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("compiled_catalogues"),
]
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def feed(*events: tuple[str, dt.datetime, dict]) -> None:
    lines = [
        json.dumps({"id": f"mb{n}", "type": kind, "at": at.isoformat(), **fields}, ensure_ascii=False)
        for n, (kind, at, fields) in enumerate(events)
    ]
    report = import_events(lines=lines)
    assert report.rejections == [], report.rejections


@pytest.fixture
def world(transactional_db):
    """The first demo shop with a small deposit, an order shipped late (already compensated), one
    waiting to ship; the demo logins."""
    now = timezone.now().replace(microsecond=0)
    opened = now - 20 * D

    def order(order_id: str, placed: dt.datetime, amount: str) -> list:
        return [
            ("order.placed", placed, {"order": order_id, "shop": "S1001", "goods": "S1001-G1", "buyer": f"U{order_id}",
                                      "amount": amount, "promised_ship_by": (placed + 48 * H).isoformat()}),
            ("order.grouped", placed + 0.2 * H, {"order": order_id}),
        ]  # fmt: skip

    feed(
        ("shop.opened", opened, {"shop": "S1001", "name": "优选数码旗舰店", "deposit": "20.00"}),
        ("goods.listed", opened, {"shop": "S1001", "goods": "S1001-G1", "name": "智能手表", "category": "数码"}),
        *order("BO-LATE", now - 5 * D, "129.00"),
        ("order.shipped", now - 2 * D, {"order": "BO-LATE", "tracking": "YT0001"}),
        *order("BO-WAIT", now - 3 * H, "2999.00"),
    )  # fmt: skip
    charges.apply_due(now=now)
    ensure_demo_users()
    return now


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_an_agent_marks_an_order_out_of_stock_and_sees_the_compensation(live_server, tab, world):
    log_in(tab, live_server, "agent1", "/admin/")
    tab.locator("#pdd-nav a[data-nav=orders]").click()
    assert tab.locator("#content h1").inner_text() == "待发货订单"
    assert tab.locator("#orders tbody tr").count() == 1  # the late one has shipped
    shot(tab, "money-orders-to-ship")

    tab.locator("#orders").get_by_role("link", name="BO-WAIT").click()
    expected = charges.shipping_compensation(ChargeKind.OUT_OF_STOCK, Decimal("2999.00"))  # the policy's maximum
    assert f"¥{expected:,.2f}" in tab.inner_text("#out-of-stock-offer")
    shot(tab, "money-order-before")
    tab.click("#mark-out-of-stock")
    assert "确定将订单 BO-WAIT 标记为缺货" in tab.locator("#content h1").inner_text()
    assert f"¥{expected:,.2f}" in tab.inner_text("#compensation")
    shot(tab, "money-out-of-stock-confirm")
    assert no_horizontal_scroll(tab)

    tab.click("#confirm-out-of-stock")
    tab.wait_for_selector(".messagelist .success")
    charge = Charge.objects.get(order__platform_id="BO-WAIT")
    assert (charge.kind, charge.amount) == (ChargeKind.OUT_OF_STOCK, expected)
    message = tab.inner_text(".messagelist .success")
    assert f"买家获得 ¥{expected:.2f} 优惠券" in message and f"计入欠款 ¥{charge.arrears:.2f}" in message
    assert tab.locator(".messagelist li").count() == 1  # said once
    assert tab.locator("#mark-out-of-stock").count() == 0
    assert tab.locator("#order-charges tr[data-kind=out_of_stock]").count() == 1
    assert Order.objects.get(platform_id="BO-WAIT").out_of_stock_at is not None
    shot(tab, "money-order-after")

    tab.locator("#pdd-nav a[data-nav=charges]").click()
    first = tab.locator("#charges tbody tr").first  # newest first
    assert first.get_attribute("data-kind") == "out_of_stock"
    assert "缺货赔付" in first.inner_text() and f"¥{expected:,.2f}" in first.inner_text()
    assert tab.locator("#charges tbody tr[data-kind=late_shipment]").count() == 1
    shot(tab, "money-charges")
    assert no_horizontal_scroll(tab)
    first.get_by_role("link", name="BO-WAIT").click()
    assert "订单 BO-WAIT" in tab.locator("#content h1").inner_text()


def test_the_owner_reads_what_is_owed_and_platform_staff_record_a_settlement(live_server, chromium, tab, world):
    order = Order.objects.get(platform_id="BO-WAIT")
    from compensation.services import shipping

    shipping.order_declare_out_of_stock(order=order, at=timezone.now())  # from the feed: into arrears
    owed = -Account.objects.get(shop=order.shop, kind="arrears").balance
    assert owed > 0

    log_in(tab, live_server, "owner1", "/compensation/accounts/")
    row = tab.locator("#accounts tbody tr").first
    assert f"¥{owed:,.2f}" in row.locator("td").nth(3).inner_text()
    shot(tab, "money-accounts")
    row.locator("a[data-account=arrears]").click()
    # the deposit covered the late shipment; the out-of-stock compensation ran into arrears
    assert tab.locator("#statement tbody tr").count() == 1
    assert tab.locator("#statement a[data-cause=order]").inner_text() == "BO-WAIT"
    shot(tab, "money-arrears-statement")

    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    staff = context.new_page()
    log_in(staff, live_server, "reviewer1", "/admin/")
    staff.locator("#pdd-nav a[data-nav=accounts]").click()
    staff.locator("#accounts tbody tr").first.get_by_role("link", name="录入结算或保证金").click()
    staff.check("input[name=kind][value=settlement]")
    staff.fill("#id_amount", f"{owed + Decimal('100.00'):.2f}")
    staff.fill("#id_note", "第 48 周货款")
    shot(staff, "money-credit-form")
    staff.click("#credit-form input[type=submit]")
    staff.wait_for_selector(".messagelist .success")
    credit = Credit.objects.get(source="admin")
    assert (credit.to_arrears, credit.credited) == (owed, Decimal("100.00"))
    assert f"¥{owed:.2f} 抵扣欠款" in staff.inner_text(".messagelist .success")
    assert no_horizontal_scroll(staff)
    shot(staff, "money-credit-recorded")
    context.close()

    tab.reload()
    assert re.search(r"¥0\.00", tab.inner_text("#balance"))
