"""An agent works the customer-service workbench in a real browser (issue #15, acceptance): the
waiting list sorted by time left and counting down, a refused reply that says why and marks the
part, the edited reply sent, and the conversation gone from the list. Screenshots:
var/screenshots/cs-*.png.
"""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from compensation.services import charges
from customerservice.models import Conversation, Direction, LateReplyViolation, Message
from pddadmin.demo.users import ensure_demo_users
from pddadmin.feed.importer import import_events
from tests.browsers import log_in, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("compiled_catalogues"),
]
H = dt.timedelta(hours=1)
REFUSED = "亲，这款耳机今天有货。加我微信 shop_helper88，给您再优惠 10 元"
EDITED = "亲，这款耳机今天有货，下单后 24 小时内发货，单号会在订单里更新。"


def feed(*events: tuple[str, dt.datetime, dict]) -> None:
    lines = [
        json.dumps({"id": f"cb{n}", "type": kind, "at": at.isoformat(), **fields}, ensure_ascii=False)
        for n, (kind, at, fields) in enumerate(events)
    ]
    report = import_events(lines=lines)
    assert report.rejections == [], report.rejections


@pytest.fixture
def world(transactional_db):
    """The first demo shop and its logins; three buyers waiting (one overdue and already fined,
    one with 4 h left, one with 45 h left) and one answered."""
    now = timezone.now().replace(microsecond=0)
    opened = now - 30 * 24 * H

    def asked(message: str, buyer: str, at: dt.datetime, text: str) -> tuple:
        return ("message.received", at, {"message": message, "shop": "S1001", "buyer": buyer, "text": text})

    feed(
        ("shop.opened", opened, {"shop": "S1001", "name": "优选数码旗舰店", "deposit": "2000.00"}),
        asked("CB-M1", "U-overdue", now - 60 * H, "退货地址是哪里？"),
        asked("CB-M2", "U-calm", now - 3 * H, "可以开发票吗？"),
        asked("CB-M3", "U-urgent", now - 44 * H, "蓝牙耳机今天能发货吗？"),
        asked("CB-M4", "U-urgent", now - 43 * H, "在吗？急用"),
        asked("CB-M5", "U-done", now - 20 * H, "尺码偏大吗？"),
        ("message.replied", now - 19 * H, {"message": "CB-R5", "shop": "S1001", "buyer": "U-done",
                                           "text": "亲，尺码标准，按平时的尺码选即可。"}),
    )  # fmt: skip
    charges.apply_due(now=now)  # the overdue buyer's message is a violation: ¥100, the next ¥200
    assert LateReplyViolation.objects.count() == 1
    ensure_demo_users()
    return now


def rows(tab) -> list[dict]:
    return tab.locator("#waiting tbody tr[data-conversation]").evaluate_all(
        """rows => rows.map(r => ({
            buyer: r.cells[0].innerText.trim(),
            due: r.querySelector('.cs-clock').dataset.due,
            clock: r.querySelector('.cs-clock').innerText.trim(),
            css: r.className,
        }))"""
    )


def no_horizontal_scroll(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_an_agent_answers_the_most_urgent_buyer_after_a_refused_reply(live_server, tab, world):
    log_in(tab, live_server, "agent1", "/admin/")
    tab.locator("#pdd-nav a[data-nav=service]").click()
    assert tab.locator("#content h1").inner_text() == "客服工作台"
    listed = rows(tab)
    assert [r["buyer"] for r in listed] == ["U-overdue", "U-urgent", "U-calm"]
    dues = [dt.datetime.fromisoformat(r["due"]) for r in listed]
    assert dues == sorted(dues)
    assert "cs-overdue" in listed[0]["css"] and listed[0]["clock"].startswith("已超时 ")
    assert "cs-urgent" in listed[1]["css"] and "cs-urgent" not in listed[2]["css"]
    hours, minutes, seconds = (int(p) for p in listed[1]["clock"].split(":"))
    left = dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    assert 4 * H - dt.timedelta(minutes=2) < left <= 4 * H  # the oldest waiting message's clock (44 h ago)
    assert tab.locator("#cs-fines .cs-next-fine").inner_text() == "¥200.00"
    # The clock counts down without reloading the page.
    first = tab.locator("tr[data-conversation] .cs-clock").nth(2).inner_text()
    tab.wait_for_function(
        "before => document.querySelectorAll('tr[data-conversation] .cs-clock')[2].innerText !== before", arg=first
    )
    color = tab.locator("tr.cs-urgent .cs-clock").evaluate("e => getComputedStyle(e).color")
    assert color not in ("rgb(0, 0, 0)", "rgb(51, 51, 51)")  # red, not body text
    assert no_horizontal_scroll(tab)
    shot(tab, "cs-workbench")

    tab.locator("#waiting").get_by_role("link", name="U-urgent").click()
    assert "U-urgent" in tab.locator("#content h1").inner_text()
    assert tab.locator("#thread li[data-direction=received]").count() == 2
    shot(tab, "cs-conversation")

    tab.fill("#id_text", REFUSED)
    tab.click("#send-reply")
    tab.wait_for_selector("#cs-refused")
    assert "未发送：回复不得包含支付账号。" in tab.inner_text("#cs-refused")
    marked = tab.inner_text("#cs-refused mark")
    assert "shop_helper88" in marked and marked in REFUSED
    assert tab.input_value("#id_text") == REFUSED  # the text stays in the form
    selected = tab.evaluate("() => { const t = document.getElementById('id_text'); "
                            "return t.value.substring(t.selectionStart, t.selectionEnd); }")  # fmt: skip
    assert selected == marked
    assert not Message.objects.filter(direction=Direction.REPLIED, source="admin").exists()
    assert no_horizontal_scroll(tab)
    shot(tab, "cs-refused")

    tab.fill("#id_text", EDITED)
    tab.click("#send-reply")
    tab.wait_for_selector(".messagelist .success")
    assert "已回复 U-urgent，本次回复了 2 条消息。" in tab.inner_text(".messagelist .success")
    assert [r["buyer"] for r in rows(tab)] == ["U-overdue", "U-calm"]
    reply = Message.objects.get(direction=Direction.REPLIED, source="admin")
    assert (reply.text, reply.author.username) == (EDITED, "agent1")
    assert Conversation.objects.get(buyer="U-urgent").reply_due_at is None
    shot(tab, "cs-sent")

    tab.locator("#cs-violations-link").click()
    assert re.search(r"回复超时违规 · 优选数码旗舰店", tab.locator("#content h1").inner_text())
    assert tab.locator("#violations tbody tr[data-rank]").count() == 1
    assert tab.inner_text("#cs-next-fine") == "¥200.00"
    shot(tab, "cs-violations")


def test_the_dashboard_tile_leads_to_the_workbench(live_server, tab, world):
    log_in(tab, live_server, "owner1", "/metrics/")
    at_risk = Conversation.objects.filter(reply_due_at__lte=world + 6 * H).count()
    assert tab.inner_text("#service-at-risk") == str(at_risk)
    shot(tab, "cs-dashboard-tile")
    tab.click("#service-at-risk")
    assert tab.locator("#content h1").inner_text() == "客服工作台"
