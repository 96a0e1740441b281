"""The product tried in a real browser (issue 8): merchant agent, shop owner, reviewer, dashboard.

Each test builds its world through the platform feed and signs in with a demo login, then checks
the outcome both on the page and in the database.
"""

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command

from aftersales.models import AfterSalesCase, Refund, ReturnAddress
from tests.browser.conftest import log_in, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CASES = "/admin/aftersales/aftersalescase/"
ADDRESSES = "/admin/aftersales/returnaddress/"


def test_agent_agrees_one_refund_and_refuses_another_with_a_reason(live_server, tab, feed):
    feed.shop()
    feed.shipped_order("BO1")
    feed.shipped_order("BO2")
    feed.case("BC1", "BO1", hours_ago=3)
    feed.case("BC2", "BO2", hours_ago=2, reason="changed_mind")

    log_in(tab, live_server, "agent1", CASES)
    assert tab.locator("#result_list").get_by_role("link", name="BC1").count() == 1
    assert tab.locator("#result_list").get_by_role("link", name="BC2").count() == 1
    shot(tab, "merchant_case_list")

    tab.locator("#result_list").get_by_role("link", name="BC1").click()
    shot(tab, "merchant_case_pending")
    tab.click("form[data-transition=merchant_agree] input[type=submit]")
    tab.wait_for_selector(".messagelist .success")
    assert tab.locator("form[data-transition=merchant_agree]").count() == 0  # nothing left to agree
    shot(tab, "merchant_case_agreed")
    bc1 = AfterSalesCase.objects.get(platform_id="BC1")
    assert bc1.state == "refunded"
    assert Refund.objects.get(case=bc1).amount == bc1.amount

    tab.goto(f"{live_server.url}{CASES}")
    tab.locator("#result_list").get_by_role("link", name="BC2").click()
    refuse = tab.locator("form[data-transition=merchant_refuse]")
    refuse.locator("textarea").fill("商品已按描述发货，请提供照片")
    refuse.locator("input[type=submit]").click()
    tab.wait_for_selector(".messagelist .success")
    assert "商品已按描述发货，请提供照片" in tab.inner_text("#case-log")
    shot(tab, "merchant_case_refused")
    bc2 = AfterSalesCase.objects.get(platform_id="BC2")
    assert bc2.state == "merchant_refused"
    assert bc2.transitions.get(transition="merchant_refuse").note == "商品已按描述发货，请提供照片"
    assert not Refund.objects.filter(case=bc2).exists()


def test_owner_adds_a_return_address_and_cannot_delete_the_default(live_server, tab, feed):
    feed.shop()
    log_in(tab, live_server, "owner1", f"{ADDRESSES}add/")
    shop = tab.locator("select[name=shop]")
    if shop.count():  # the owner's shops only
        (choice,) = [o for o in shop.locator("option").all() if "优选数码旗舰店" in o.inner_text()]
        shop.select_option(value=choice.get_attribute("value"))
    tab.fill("input[name=receiver]", "李四")
    tab.fill("input[name=phone]", "13912345678")
    tab.fill("input[name=province]", "浙江省")
    tab.fill("input[name=city]", "杭州市")
    tab.fill("input[name=district]", "余杭区")
    tab.fill("[name=detail]", "仓前街道 8 号 2 号仓")
    shot(tab, "owner_address_add")
    tab.click("input[name=_save]")
    tab.wait_for_url(f"{live_server.url}{ADDRESSES}")
    assert tab.locator("#result_list tbody tr").count() == 2
    shot(tab, "owner_address_list")
    added = ReturnAddress.objects.get(receiver="李四")
    assert (added.district, added.is_default) == ("余杭区", False)

    default = ReturnAddress.objects.get(is_default=True)
    tab.goto(f"{live_server.url}{ADDRESSES}{default.pk}/delete/")
    tab.click("#content form input[type=submit]")  # "Yes, I'm sure"
    tab.wait_for_selector(".messagelist .error")
    shot(tab, "owner_address_delete_default_refused")
    assert "默认" in tab.inner_text(".messagelist .error")  # “… is the default return address …”
    assert ReturnAddress.objects.filter(pk=default.pk, is_default=True).exists()

    # Deleting the other address is fine.
    tab.goto(f"{live_server.url}{ADDRESSES}{added.pk}/delete/")
    tab.click("#content form input[type=submit]")
    tab.wait_for_url(f"{live_server.url}{ADDRESSES}")
    assert not ReturnAddress.objects.filter(pk=added.pk).exists()


def test_reviewer_works_the_queue(live_server, tab, feed):
    feed.shop()
    for n, hours in ((1, 30), (2, 20)):
        opened = feed.shipped_order(f"RO{n}", days_ago=4)
        feed("case.opened", opened + feed_hours(2), case=f"RC{n}", order=f"RO{n}", kind="refund_only",
             reason="counterfeit", amount="129.00", statement="包装和正品不一致")  # fmt: skip
        feed("case.merchant_refused", opened + feed_hours(5), case=f"RC{n}", reason="正品，有进货凭证")
        feed("case.escalated", feed.now - feed_hours(hours), case=f"RC{n}")

    log_in(tab, live_server, "reviewer1", "/review/")
    rows = tab.locator("#review-queue tbody tr")
    assert rows.count() == 2 and rows.nth(0).inner_text().startswith("RC1")  # oldest escalation first
    shot(tab, "reviewer_queue")

    tab.click("#next-case")
    rc1 = AfterSalesCase.objects.get(platform_id="RC1")
    tab.wait_for_url(f"{live_server.url}/review/cases/{rc1.pk}/")
    assert "正品，有进货凭证" in tab.content()
    tab.check("input[name=liable][value=merchant]")
    tab.fill("textarea[name=note]", "商家未能提供有效证据，支持买家")
    shot(tab, "reviewer_case")
    tab.click("#rule-submit")
    tab.wait_for_url(f"{live_server.url}/review/")
    assert [t.split()[0] for t in tab.locator("#review-queue tbody tr").all_inner_texts()] == ["RC2"]
    shot(tab, "reviewer_queue_after_ruling")
    rc1.refresh_from_db()
    assert (rc1.state, rc1.liable) == ("refunded", "merchant")


def test_dashboard_of_the_demo_world_shows_figures(live_server, tab, transactional_db, settings):
    settings.DEBUG = True  # the demo as `make run` seeds it: logins with the shared demo password
    # A fixed end makes the world, and so the figures, the same on every run.
    call_command("seed_demo", "--orders", "600", "--days", "30", "--seed", "4", "--end", "2026-03-01T12:00:00+08:00",
                 stdout=io.StringIO())  # fmt: skip

    log_in(tab, live_server, "owner1", "/metrics/")
    values = tab.locator("#cards-window .value").all_inner_texts()
    assert len(values) == 3 and all(re.fullmatch(r"\d+(\.\d+)?%", v.strip()) for v in values), values
    assert int(tab.inner_text("#rate-window-quality_refund .denominator")) > 0
    assert sum(int(n) for n in tab.locator("#cards-window .numerator").all_inner_texts()) > 0
    shot(tab, "dashboard")

    # The platform admin sees the jobs the demo ran.
    tab.context.clear_cookies()
    log_in(tab, live_server, "admin", "/jobs/")
    for job in ("process_deadlines", "issue_payouts", "compute_metrics"):
        assert tab.get_attribute(f"#job-{job}", "data-outcome") == "ok"
    shot(tab, "jobs")


def feed_hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)
