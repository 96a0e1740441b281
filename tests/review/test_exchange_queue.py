"""Exchanges in the review queue (SPEC §4): listed with their kind, filtered by it, and ruled like
any case: against the merchant the exchange is refunded (SPEC §2.3), for the merchant it closes."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import CloseReason, Kind, Refund, State
from tests import factories
from tests.logins import sign_in
from tests.review.factories import EscalatedCaseFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def escalated_exchange(**kw):
    """An exchange the merchant refused and the buyer escalated (the goods received 3 days ago)."""
    received = timezone.now() - dt.timedelta(days=3)
    order = factories.OrderFactory(
        placed_at=received - dt.timedelta(days=3),
        shipped_at=received - dt.timedelta(days=2),
        tracking="SF1",
        received_at=received,
        changed_at=received,
    )
    return EscalatedCaseFactory(order=order, kind=Kind.EXCHANGE, **kw)


def rows(response) -> list[tuple[str, str]]:
    return [(row.record.platform_id, row.get_cell("kind")) for row in response.context["table"].paginated_rows]


def test_the_queue_lists_an_exchange_with_its_kind_and_filters_by_it(client, reviewer):
    exchange = escalated_exchange(platform_id="EX1")
    refund = EscalatedCaseFactory(platform_id="RF1")
    sign_in(client, reviewer, language="en")
    listed = dict(rows(client.get(QUEUE)))
    assert listed == {"EX1": "exchange", "RF1": "refund only"}
    assert rows(client.get(QUEUE, {"kind": Kind.EXCHANGE})) == [(exchange.platform_id, "exchange")]
    assert [r[0] for r in rows(client.get(QUEUE, {"kind": Kind.REFUND_ONLY}))] == [refund.platform_id]
    export = client.get(QUEUE, {"kind": Kind.EXCHANGE, "_export": "csv"}).content.decode()
    assert "EX1" in export and "exchange" in export and "RF1" not in export


def test_the_queue_and_case_page_say_exchange_in_chinese(client, login, reviewer, settings, compiled_catalogues):
    settings.LANGUAGE_CODE = "zh-hans"
    case = escalated_exchange()
    login(reviewer)
    assert dict(rows(client.get(QUEUE)))[case.platform_id] == "换货"
    page = client.get(reverse("review:case", args=[case.pk])).content.decode()
    assert "<td>换货</td>" in page


@pytest.mark.parametrize(
    ("liable", "state", "refunded"), [("merchant", State.REFUNDED, True), ("buyer", State.CLOSED, False)]
)
def test_a_reviewer_rules_an_exchange_from_the_review_page(client, login, reviewer, liable, state, refunded):
    case = escalated_exchange(amount="30.00")
    login(reviewer)
    data = {"expected_state": State.UNDER_INTERVENTION, "liable": liable, "note": "checked the photos"}
    response = client.post(reverse("review:rule", args=[case.pk]), data)
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.state, case.liable) == (state, liable)
    assert Refund.objects.filter(case=case).count() == (1 if refunded else 0)
    if refunded:
        assert Refund.objects.get(case=case).amount == case.amount
    else:
        assert case.close_reason == CloseReason.RULED_FOR_MERCHANT
    assert dict(rows(client.get(QUEUE))) == {}
