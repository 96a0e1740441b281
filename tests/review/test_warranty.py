"""The reviewers' national-warranty tab (SPEC §6): the reports awaiting a ruling, and a buyer's
complaint entered by hand. The ruling itself is made on compensation's violation page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation.models import Violation
from compensation.services.payouts import payouts_issue
from tests.compensation.conftest import report, upheld, warranty_orders

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:warranty")
NEW = reverse("review:warranty_report")


@pytest.fixture
def reports(shop, other_shop):
    now = timezone.now()
    orders = warranty_orders(shop, 2, placed_at=now - dt.timedelta(days=3))
    upheld(orders[:1], platform_id="V-PAID", at=now - dt.timedelta(days=2), ruled_at=now - dt.timedelta(days=1))
    payouts_issue(now=now - dt.timedelta(hours=1))
    report(orders[1:], platform_id="V-OPEN", at=now - dt.timedelta(hours=2))
    report(warranty_orders(other_shop, 1, placed_at=now - dt.timedelta(days=3)), platform_id="V-OTHER",
           at=now - dt.timedelta(hours=2))


def test_queue_lists_every_shops_reports_awaiting_a_ruling(client, login, reviewer, reports):
    login(reviewer)
    queue = client.get(QUEUE).content.decode()
    assert "V-OPEN" in queue and "V-OTHER" in queue and "V-PAID" not in queue
    assert NEW in queue and reverse("review:queue") in queue  # the tabs and the entry button


def test_merchant_cannot_open_the_warranty_tab(client, login, owner, reports):
    login(owner)
    assert client.get(QUEUE).status_code == 403
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, {"orders": "X", "reason": "extra_fee"}).status_code == 403


def test_anonymous_is_sent_to_login(client):
    for url in (QUEUE, NEW):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_reviewer_enters_a_buyers_complaint(client, login, reviewer, shop):
    orders = warranty_orders(shop, 2, placed_at=timezone.now() - dt.timedelta(days=1))
    login(reviewer)
    assert client.get(NEW).status_code == 200
    response = client.post(NEW, {"orders": f"{orders[1].platform_id}, {orders[0].platform_id}",
                                 "reason": "extra_fee", "complaint": "维修收费200元"})
    violation = Violation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("compensation:violation", args=[violation.pk])
    assert [line.order for line in violation.lines.order_by("position")] == [orders[1], orders[0]]
    assert violation.reported_by == reviewer and violation.complaint == "维修收费200元"


@pytest.mark.parametrize(
    ("orders", "error"), [("NOPE", "Unknown order NOPE."), (" , ", "Enter at least one order id.")]
)
def test_a_complaint_that_names_no_known_order_is_shown_again_with_the_error(client, login, reviewer, orders, error):
    login(reviewer)
    response = client.post(NEW, {"orders": orders, "reason": "extra_fee"})
    assert response.status_code == 200 and error in response.content.decode()
    assert not Violation.objects.exists()
