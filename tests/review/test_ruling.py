"""Ruling from the review page goes through the same FSM transition as the feed's `case.ruled`."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSalesCase, CaseTransition, CloseReason, Refund, State
from review import services as review
from tests import factories
from tests.aftersales.clicks import live_case_in
from tests.review.factories import EscalatedCaseFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def rule(client, case, liable, note="Photos show transit damage.", **kwargs):
    # The page posts the state it showed; the ruling form is only shown under intervention.
    data = {"expected_state": State.UNDER_INTERVENTION, "liable": liable, "note": note}
    return client.post(reverse("review:rule", args=[case.pk]), data, **kwargs)


def queue_ids(client) -> list[str]:
    return [row.record.platform_id for row in client.get(QUEUE).context["table"].paginated_rows]


class TestRuling:
    def test_merchant_liable_refunds_logs_and_leaves_the_queue(self, client, login, reviewer):
        case = EscalatedCaseFactory(amount="42.50")
        login(reviewer)
        assert queue_ids(client) == [case.platform_id]
        response = rule(client, case, "merchant")
        assert response.status_code == 302 and response["Location"] == QUEUE
        case.refresh_from_db()
        assert (case.state, case.liable) == (State.REFUNDED, "merchant")
        assert case.ruling_note == "Photos show transit damage."
        assert case.claimed_by == reviewer  # ruling an unclaimed case claims it
        refund = Refund.objects.get(case=case)
        assert (refund.amount, refund.intervened, refund.liable) == (case.amount, True, "merchant")
        log = CaseTransition.objects.get(case=case, transition="rule")
        assert (log.transition, log.from_state, log.to_state, log.actor_kind, log.actor, log.note) == (
            "rule", State.UNDER_INTERVENTION, State.REFUNDED, "reviewer", reviewer, "Photos show transit damage."
        )
        assert queue_ids(client) == []

    def test_buyer_liable_closes_ruled_for_merchant_without_refund(self, client, login, reviewer):
        case = EscalatedCaseFactory(claimed_by=reviewer, claimed_at=timezone.now())
        login(reviewer)
        assert rule(client, case, "buyer", "Seal intact on the merchant's video.").status_code == 302
        case.refresh_from_db()
        assert (case.state, case.close_reason, case.liable) == (State.CLOSED, CloseReason.RULED_FOR_MERCHANT, "buyer")
        assert not Refund.objects.filter(case=case).exists()
        log = CaseTransition.objects.get(case=case, transition="rule")
        assert (log.from_state, log.to_state, log.actor, log.note) == (
            State.UNDER_INTERVENTION, State.CLOSED, reviewer, "Seal intact on the merchant's video."
        )
        assert queue_ids(client) == []

    @pytest.mark.parametrize("note", ["", "   "])
    def test_note_is_required(self, client, login, reviewer, note):
        case = EscalatedCaseFactory()
        login(reviewer)
        response = rule(client, case, "merchant", note)
        assert response.status_code == 400
        assert response.context["rule_form"].errors
        case.refresh_from_db()
        assert case.state == State.UNDER_INTERVENTION and case.claimed_by is None
        assert not CaseTransition.objects.filter(case=case, transition="rule").exists()

    def test_service_refuses_an_empty_note_and_keeps_the_case_unclaimed(self, reviewer):
        case = EscalatedCaseFactory()
        with pytest.raises(ValidationError):
            review.case_review_rule(case=case, reviewer=reviewer, liable="merchant", note="")
        case.refresh_from_db()
        # The claim taken on the way is rolled back with the refused ruling.
        assert case.state == State.UNDER_INTERVENTION and case.claimed_by is None

    def test_only_the_claimer_may_rule_a_claimed_case(self, client, login, reviewer, other_reviewer):
        case = EscalatedCaseFactory(claimed_by=other_reviewer, claimed_at=timezone.now())
        login(reviewer)
        page = client.get(reverse("review:case", args=[case.pk])).content.decode()
        assert 'id="rule-submit"' not in page
        response = rule(client, case, "merchant")
        assert response.status_code == 400
        assert "already claimed" in response.content.decode()
        case.refresh_from_db()
        assert case.state == State.UNDER_INTERVENTION and not Refund.objects.exists()

    def test_second_ruling_of_the_same_case_is_refused_and_nothing_is_refunded_twice(self, client, login, reviewer):
        case = EscalatedCaseFactory()
        login(reviewer)
        stale = AfterSalesCase.objects.get(pk=case.pk)
        review.case_review_rule(case=case, reviewer=reviewer, liable="merchant", note="first")
        with pytest.raises(ValidationError, match="no longer under intervention"):
            review.case_review_rule(case=stale, reviewer=reviewer, liable="buyer", note="second")
        response = rule(client, case, "buyer", follow=True)
        assert response.redirect_chain == [(reverse("review:case", args=[case.pk]), 302)]
        assert "please reload" in response.content.decode()
        assert Refund.objects.filter(case=case).count() == 1
        assert CaseTransition.objects.filter(case=case, transition="rule").count() == 1

    def test_merchant_staff_cannot_rule(self, client, login):
        case = EscalatedCaseFactory()
        login(factories.member(case.shop, "owner"))
        assert rule(client, case, "buyer").status_code == 403
        case.refresh_from_db()
        assert case.state == State.UNDER_INTERVENTION


class TestShortenDeadline:
    @pytest.fixture
    def pending(self):
        return live_case_in(State.PENDING_MERCHANT, shop=factories.ShopFactory())  # due in 47 h

    def test_reviewer_shortens_a_pending_deadline(self, client, login, reviewer, pending):
        login(reviewer)
        page = client.get(reverse("review:case", args=[pending.pk])).content.decode()
        assert reverse("review:shorten", args=[pending.pk]) in page
        new_due = timezone.localtime(timezone.now() + dt.timedelta(hours=30)).replace(second=0, microsecond=0)
        response = client.post(
            reverse("review:shorten", args=[pending.pk]),
            {"expected_state": State.PENDING_MERCHANT, "due_at": new_due.strftime("%Y-%m-%dT%H:%M")},
        )
        assert response.status_code == 302
        pending.refresh_from_db()
        assert pending.due_at == new_due and pending.state == State.PENDING_MERCHANT
        log = CaseTransition.objects.get(case=pending, transition="shorten_deadline")
        assert (log.transition, log.actor) == ("shorten_deadline", reviewer)

    def test_never_below_24_hours(self, client, login, reviewer, pending):
        login(reviewer)
        before = pending.due_at
        too_soon = timezone.localtime(timezone.now() + dt.timedelta(hours=20))
        response = client.post(
            reverse("review:shorten", args=[pending.pk]),
            {"expected_state": State.PENDING_MERCHANT, "due_at": too_soon.strftime("%Y-%m-%dT%H:%M")},
        )
        assert response.status_code == 400 and "24" in response.content.decode()
        pending.refresh_from_db()
        assert pending.due_at == before
        assert not CaseTransition.objects.filter(case=pending, transition="shorten_deadline").exists()
