"""Stale and raced clicks on the review case page (issue #12.3, SPEC §2.3 and §4): the ruling and
the deadline forms answer "case changed, please reload" to a page the case has left and to the
losers of a race, never a 500, and the case moves once. Claim and release never answer a 500."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSalesCase, CaseTransition, Liable, Refund, State
from aftersales.services import cases as svc
from review import services as review_svc
from tests import factories
from tests.aftersales.clicks import live_case_in, page_form, reload_text, reviewers, says, shown
from tests.concurrency import run_in_threads
from tests.logins import signed_in

pytestmark = pytest.mark.django_db
N = 8


def case_page(case) -> str:
    return reverse("review:case", args=[case.pk])


def due_at_text(hours: int = 30) -> str:
    # Above the 24 h floor, below the 47 h left on a case opened an hour ago.
    return timezone.localtime(timezone.now() + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def load_rule(client, case) -> dict:
    data = page_form(client, case_page(case), reverse("review:rule", args=[case.pk]))
    assert {"expected_state", "expected_changed_at"} <= set(data), data
    return {**data, "liable": Liable.MERCHANT, "note": "Photos show transit damage."}


def load_shorten(client, case) -> dict:
    data = page_form(client, case_page(case), reverse("review:shorten", args=[case.pk]))
    assert {"expected_state", "expected_changed_at"} <= set(data), data
    return {**data, "due_at": due_at_text()}


def rule(client, case, data):
    return client.post(reverse("review:rule", args=[case.pk]), data, follow=True)


def shorten(client, case, data):
    return client.post(reverse("review:shorten", args=[case.pk]), data, follow=True)


def log_rows(case) -> list[str]:
    return list(CaseTransition.objects.filter(case=case).order_by("id").values_list("transition", flat=True))


def assert_told_to_reload(response, case):
    assert response.status_code == 200, response.status_code
    assert response.redirect_chain == [(case_page(case), 302)]
    assert says(shown(response), reload_text(case))


@pytest.fixture
def pending(shop):
    return live_case_in(State.PENDING_MERCHANT, shop=shop)


# --- stale ------------------------------------------------------------------------------------


class TestStaleRuling:
    def test_ruled_by_another_reviewer_after_the_page_loaded(self, intervened):
        me, other = reviewers(2)
        client = signed_in(me)
        data = load_rule(client, intervened)
        review_svc.case_review_rule(case=intervened, reviewer=other, liable=Liable.BUYER, note="seal intact")

        assert_told_to_reload(rule(client, intervened, data), intervened)
        assert log_rows(intervened) == ["open", "merchant_refuse", "escalate", "rule"]
        assert AfterSalesCase.objects.get(pk=intervened.pk).liable == Liable.BUYER
        assert not Refund.objects.filter(case=intervened).exists()

    def test_the_ruling_posted_twice_rules_once(self, intervened):
        client = signed_in(reviewers(1)[0])
        data = load_rule(client, intervened)
        first = rule(client, intervened, data)
        assert first.redirect_chain == [(reverse("review:queue"), 302)]
        assert f"Case {intervened.platform_id} ruled." in shown(first)

        assert_told_to_reload(rule(client, intervened, data), intervened)
        assert log_rows(intervened).count("rule") == 1
        assert Refund.objects.filter(case=intervened).count() == 1

    def test_the_buyer_cancelled_after_the_page_loaded(self, intervened):
        client = signed_in(reviewers(1)[0])
        data = load_rule(client, intervened)
        svc.case_cancel(case=intervened, at=timezone.now())

        assert_told_to_reload(rule(client, intervened, data), intervened)
        assert log_rows(intervened)[-1] == "cancel" and "rule" not in log_rows(intervened)

    def test_claimed_by_another_reviewer_is_a_refusal_with_its_reason_not_a_change(self, intervened):
        """A claim is work assignment, not a change of the case: the reviewer is told who holds it."""
        me, other = reviewers(2)
        client = signed_in(me)
        data = load_rule(client, intervened)
        review_svc.case_claim(case=intervened, reviewer=other)

        response = client.post(reverse("review:rule", args=[intervened.pk]), data)
        assert response.status_code == 400
        assert "already claimed by" in shown(response) and "please reload" not in shown(response)
        assert "rule" not in log_rows(intervened)


class TestStaleDeadline:
    def test_shorten_after_the_merchant_agreed(self, shop, pending):
        client = signed_in(reviewers(1)[0])
        data = load_shorten(client, pending)
        svc.case_merchant_agree(case=pending, actor=factories.member(shop, "agent"), expected_state=pending.state)

        assert_told_to_reload(shorten(client, pending, data), pending)
        assert log_rows(pending) == ["open", "merchant_agree"]
        assert Refund.objects.filter(case=pending).count() == 1

    def test_shortened_by_another_reviewer_after_the_page_loaded(self, pending):
        """Same state, new deadline: the page's last change tells it apart, and even a deadline
        shorter still is not applied over a deadline the reviewer never saw."""
        me, other = reviewers(2)
        client = signed_in(me)
        data = {**load_shorten(client, pending), "due_at": due_at_text(hours=26)}
        review_svc.case_review_shorten_deadline(
            case=pending, reviewer=other, due_at=timezone.now() + dt.timedelta(hours=40)
        )
        due = AfterSalesCase.objects.get(pk=pending.pk).due_at

        assert_told_to_reload(shorten(client, pending, data), pending)
        assert log_rows(pending) == ["open", "shorten_deadline"]
        assert AfterSalesCase.objects.get(pk=pending.pk).due_at == due

    def test_the_same_deadline_posted_twice_shortens_once(self, pending):
        client = signed_in(reviewers(1)[0])
        data = load_shorten(client, pending)
        first = shorten(client, pending, data)
        assert f"The merchant deadline of {pending.platform_id} was shortened." in shown(first)

        assert_told_to_reload(shorten(client, pending, data), pending)
        assert log_rows(pending) == ["open", "shorten_deadline"]

    def test_a_current_page_still_shows_the_rule_it_breaks(self, pending):
        client = signed_in(reviewers(1)[0])
        data = {**load_shorten(client, pending), "due_at": due_at_text(hours=20)}
        response = client.post(reverse("review:shorten", args=[pending.pk]), data)
        assert response.status_code == 400 and "24 hours" in shown(response)
        assert log_rows(pending) == ["open"]


class TestStaleClaims:
    def test_claim_of_a_case_ruled_after_the_page_loaded(self, intervened):
        me, other = reviewers(2)
        client = signed_in(me)
        page_form(client, case_page(intervened), reverse("review:claim", args=[intervened.pk]))
        review_svc.case_review_rule(case=intervened, reviewer=other, liable=Liable.MERCHANT, note="ruled")

        response = client.post(reverse("review:claim", args=[intervened.pk]), follow=True)
        assert response.status_code == 200
        assert "is no longer under intervention (now: refunded). Please reload." in shown(response)
        assert AfterSalesCase.objects.get(pk=intervened.pk).claimed_by == other

    def test_release_of_a_case_ruled_in_another_tab(self, intervened):
        me = reviewers(1)[0]
        review_svc.case_claim(case=intervened, reviewer=me)
        client = signed_in(me)
        page_form(client, case_page(intervened), reverse("review:release", args=[intervened.pk]))
        review_svc.case_review_rule(case=intervened, reviewer=me, liable=Liable.MERCHANT, note="ruled")

        response = client.post(reverse("review:release", args=[intervened.pk]), follow=True)
        assert response.status_code == 200
        assert f"Case {intervened.platform_id} is not claimed by you." in shown(response)
        assert log_rows(intervened).count("rule") == 1


# --- raced (PostgreSQL, real threads) ---------------------------------------------------------


def _race(case, post):
    outcomes = run_in_threads(N, post)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert not errors, errors  # no exception escaped a view: none would have been a 500
    assert [o.status_code for o in outcomes] == [200] * N
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestRaced:
    def test_eight_reviewers_ruling_at_once_rule_once(self, postgres_only, intervened):
        clients = [signed_in(user) for user in reviewers(N)]
        data = load_rule(clients[0], intervened)

        outcomes = _race(intervened, lambda i: rule(clients[i], intervened, data))

        won = [o for o in outcomes if o.redirect_chain == [(reverse("review:queue"), 302)]]
        told = [o for o in outcomes if o.redirect_chain == [(case_page(intervened), 302)]]
        assert (len(won), len(told)) == (1, N - 1)
        assert f"Case {intervened.platform_id} ruled." in shown(won[0])
        assert all(says(shown(o), reload_text(intervened)) for o in told)
        assert log_rows(intervened).count("rule") == 1
        assert Refund.objects.filter(case=intervened).count() == 1

    @pytest.mark.parametrize("different", [False, True], ids=["same-deadline", "shorter-each"])
    def test_eight_reviewers_shortening_at_once_shorten_once(self, postgres_only, pending, different):
        # Shorter each: without the last-change check under the lock, every later and shorter
        # deadline would also apply.
        clients = [signed_in(user) for user in reviewers(N)]
        seen = load_shorten(clients[0], pending)

        def post(i):
            due = {"due_at": due_at_text(hours=40 - i)} if different else {}
            return shorten(clients[i], pending, {**seen, **due})

        texts = [shown(o) for o in _race(pending, post)]
        won = [t for t in texts if f"The merchant deadline of {pending.platform_id} was shortened." in t]
        told = [t for t in texts if says(t, reload_text(pending))]
        assert (len(won), len(told)) == (1, N - 1), texts
        assert log_rows(pending) == ["open", "shorten_deadline"]

    def test_eight_reviewers_claiming_at_once_one_claims(self, postgres_only, intervened):
        users = reviewers(N)
        clients = [signed_in(user) for user in users]

        outcomes = _race(
            intervened, lambda i: clients[i].post(reverse("review:claim", args=[intervened.pk]), follow=True)
        )

        texts = [shown(o) for o in outcomes]
        assert sum(f"You claimed case {intervened.platform_id}." in t for t in texts) == 1
        assert sum("is already claimed by" in t for t in texts) == N - 1
        assert AfterSalesCase.objects.get(pk=intervened.pk).claimed_by in users
        assert log_rows(intervened) == ["open", "merchant_refuse", "escalate"]  # a claim is no transition
