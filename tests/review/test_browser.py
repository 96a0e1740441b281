"""A reviewer in headless Chromium: log in, open the queue, take the next case, rule it, see it gone."""

import datetime as dt

import pytest
from django.utils import timezone

from aftersales.models import Refund, State
from tests.browsers import SCREENSHOTS, log_in
from tests.factories import TEST_PASSWORD
from tests.review.factories import EscalatedCaseFactory, with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reviewer_claims_next_case_rules_merchant_liable_and_it_leaves_the_queue(live_server, tab, reviewer):
    now = timezone.now()
    oldest = with_history(EscalatedCaseFactory(platform_id="CASE-OLDEST", escalated_at=now - dt.timedelta(hours=60)))
    middle = EscalatedCaseFactory(platform_id="CASE-MIDDLE", escalated_at=now - dt.timedelta(hours=20))
    newest = EscalatedCaseFactory(platform_id="CASE-NEWEST", escalated_at=now - dt.timedelta(hours=2))
    reviewer.set_password(TEST_PASSWORD)
    reviewer.save()
    page = tab

    log_in(page, live_server, reviewer.username, "/review/", password=TEST_PASSWORD)
    rows = page.locator("#review-queue tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).inner_text().startswith("CASE-OLDEST")
    assert "pdd-overdue" in rows.nth(0).locator("td.pdd-sla").get_attribute("class")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review_queue.png"), full_page=True)

    page.click("#next-case")
    page.wait_for_url(f"{live_server.url}/review/cases/{oldest.pk}/")
    assert "crack" in page.inner_text("#side-buyer")
    # The log reads as labels; the transition's code is kept in the cell's title.
    assert page.locator('#transitions td[title="merchant_refuse"]').count() == 1
    page.check("input[name=liable][value=merchant]")
    page.fill("textarea[name=note]", "Buyer's photos show the crack; merchant liable.")
    page.screenshot(path=str(SCREENSHOTS / "review_case.png"), full_page=True)
    page.click("#rule-submit")

    page.wait_for_url(f"{live_server.url}/review/")
    ids = [text.split()[0] for text in page.locator("#review-queue tbody tr").all_inner_texts()]
    assert ids == [middle.platform_id, newest.platform_id]
    assert page.locator(".messagelist .success").count() == 1
    oldest.refresh_from_db()
    assert oldest.state == State.REFUNDED and oldest.claimed_by_id == reviewer.pk
    assert Refund.objects.filter(case=oldest).count() == 1
