"""The after-sales desk in Chromium (issue #18) at 1280 x 800 and 1440 x 900, in Chinese: each counter
says how many rows its list shows, the list runs by time left, j / k move and Enter opens the case,
a bulk agree reports each case (a case that moved on meanwhile is skipped in words that fit it),
and no page of the desk scrolls sideways. Screenshots: var/screenshots/desk-<width>-*.png."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.desk_selectors import today_bounds
from aftersales.models import AfterSalesCase, Kind, Reason, State
from aftersales.services import cases as svc
from pddadmin.shops.models import ShopMembership
from tests import factories
from tests.browsers import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESK = "/desk/"
FILTERS = ["pending", "urgent", "awaiting_return", "return_shipped", "intervention", "today"]
LONG_GOODS = "超长名称的蓝牙降噪耳机 Pro Max 旗舰版（2026 款，附赠充电仓与三对耳塞，全国联保）"
LONG_STATEMENT = "收到的耳机左耳没有声音，换了手机也一样，" * 6


def opened(shop, n: int, *, hours_ago: float, kind=Kind.REFUND_ONLY, goods_name: str = "蓝牙耳机", statement=None):
    now = timezone.now()
    start = now - dt.timedelta(hours=hours_ago)
    goods = factories.GoodsFactory(shop=shop, name=goods_name)
    order = factories.OrderFactory(
        goods=goods,
        amount=Decimal("1299.00"),
        placed_at=start - dt.timedelta(days=2),
        promised_ship_by=start - dt.timedelta(days=1),
        shipped_at=start - dt.timedelta(days=1, hours=-1),
        tracking=f"SF{n}",
        changed_at=start - dt.timedelta(days=1, hours=-1),
    )
    return svc.case_open(
        platform_id=f"DC{n:04d}",
        order=order,
        kind=kind,
        reason=Reason.QUALITY_ISSUE,
        amount=Decimal("1299.00"),
        at=start,
        statement=statement or "左耳没有声音",
    )


def world():
    """An agent of two shops (the shop column shows: the widest list) with cases behind every counter."""
    now = timezone.now()
    shop = factories.ShopFactory(name="优选数码旗舰店（杭州西湖区文三路总店）")
    second = factories.ShopFactory(name="优选数码专营店")
    for s in (shop, second):
        factories.ReturnAddressFactory(shop=s, is_default=True)
    agent = factories.member(shop, "agent")
    ShopMembership.objects.create(shop=second, user=agent, role="agent")
    cases = {
        "late": opened(shop, 1, hours_ago=44, goods_name=LONG_GOODS, statement=LONG_STATEMENT),  # 4 h left
        "mid": opened(second, 2, hours_ago=20),
        "new": opened(shop, 3, hours_ago=1, kind=Kind.RETURN_REFUND),
        "fresh": opened(shop, 4, hours_ago=0.5),
    }
    returned = opened(shop, 5, hours_ago=30, kind=Kind.RETURN_REFUND)
    today_began, _ = today_bounds(now)  # handled today in Shanghai, whenever the test runs
    svc.case_merchant_agree(case=returned, actor=agent, at=max(today_began, now - dt.timedelta(hours=2)))
    shipped = opened(second, 6, hours_ago=100, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=shipped, actor=agent, at=now - dt.timedelta(hours=99))
    svc.case_ship_return(case=shipped, at=now - dt.timedelta(hours=98), tracking="YT6")
    escalated = opened(shop, 7, hours_ago=30)
    svc.case_merchant_refuse(case=escalated, actor=agent, reason="已使用", at=now - dt.timedelta(hours=29))
    svc.case_escalate(case=escalated, at=now - dt.timedelta(hours=28))
    return agent, cases


def no_sideways_scroll(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def rows(tab) -> list[str]:
    return tab.eval_on_selector_all("#desk-list tbody tr[data-case]", "trs => trs.map(tr => tr.dataset.case)")


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1440, 900)])
def test_the_desk_in_a_browser(live_server, chromium, compiled_catalogues, width, height):
    agent, cases = world()
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        log_in(tab, live_server, agent.username, DESK, password=factories.TEST_PASSWORD)
        assert tab.locator("h1").all_inner_texts() == ["售后工作台"]

        # Each counter is its list: clicking it shows as many rows as it says, least time left first.
        for key in FILTERS:
            tab.click(f'.desk-counter[data-filter="{key}"]')
            tab.wait_for_url(f"**{DESK}?filter={key}")
            count = int(tab.inner_text(f'.desk-counter[data-filter="{key}"] .desk-count'))
            shown = rows(tab)
            assert count == len(shown) > 0, (key, count, shown)
            dues = tab.eval_on_selector_all("#desk-list tbody tr[data-case]", "trs => trs.map(tr => tr.dataset.due)")
            assert [d for d in dues if d] == sorted(d for d in dues if d), (key, dues)
            assert no_sideways_scroll(tab), key
            # Nor is any cell's control cut off: the action buttons fit (or wrap in) their cell.
            cut = tab.eval_on_selector_all(
                "#desk-list td.desk-actions", "tds => tds.filter(td => td.scrollWidth > td.clientWidth).length"
            )
            assert cut == 0, key
            shot(tab, f"desk-{width}-{key}")

        tab.click('.desk-counter[data-filter="pending"]')
        tab.wait_for_url(f"**{DESK}?filter=pending")
        order = [cases[name].pk for name in ("late", "mid", "new", "fresh")]
        assert rows(tab) == [str(pk) for pk in order]
        late_row = tab.locator(f'tr[data-case="{cases["late"].pk}"]')
        assert "¥1,299.00" in late_row.inner_text()
        assert late_row.get_attribute("class") == "desk-urgent"
        color = late_row.locator(".desk-left").evaluate("td => getComputedStyle(td).color")
        assert color not in ("rgb(0, 0, 0)", "rgb(51, 51, 51)"), color  # red, not the body's colour

        # j / k move the selection, Enter opens the selected case.
        tab.keyboard.press("j")
        tab.keyboard.press("j")
        tab.keyboard.press("j")
        tab.keyboard.press("k")
        selected = tab.eval_on_selector_all("#desk-list tr.desk-selected", "trs => trs.map(tr => tr.dataset.case)")
        assert selected == [str(order[1])]
        shot(tab, f"desk-{width}-selected")
        tab.keyboard.press("Enter")
        tab.wait_for_url(f"**{reverse('admin:aftersales_aftersalescase_change', args=[order[1]])}")
        tab.go_back()
        tab.wait_for_url(f"**{DESK}?filter=pending")

        # Bulk agree over three ticked rows; one of them another agent refused meanwhile.
        for name in ("mid", "new", "fresh"):
            tab.check(f'input[name="case"][value="{cases[name].pk}"]')
        svc.case_merchant_refuse(case=cases["fresh"], actor=agent, reason="另一个客服已拒绝")
        tab.select_option("#desk-bulk-action", "merchant_agree")
        tab.click("#desk-bulk button[type=submit]")
        tab.wait_for_selector("#desk-report")
        report = {line.get_attribute("data-case"): line.inner_text() for line in tab.locator("#desk-report li").all()}
        assert report.keys() == {str(cases[name].pk) for name in ("mid", "new", "fresh")}
        assert report[str(cases["mid"].pk)] == "DC0002 · 同意：现为退款成功"
        assert report[str(cases["new"].pk)] == "DC0003 · 同意：现为待买家退货"
        assert report[str(cases["fresh"].pk)] == "DC0004 · 已跳过：不是待商家处理状态（现为商家已拒绝）"
        assert "2 个已完成，1 个已跳过" in tab.inner_text("#desk-report h2")
        assert no_sideways_scroll(tab)
        shot(tab, f"desk-{width}-bulk-report")
        states = dict(AfterSalesCase.objects.filter(pk__in=order).values_list("pk", "state"))
        assert states[cases["mid"].pk] == State.REFUNDED and states[cases["new"].pk] == State.AWAITING_RETURN
        assert states[cases["fresh"].pk] == State.MERCHANT_REFUSED
    finally:
        context.close()
