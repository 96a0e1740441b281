"""Claim, release and "Next case": one reviewer per case, and many reviewers at once each get a different one."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.test import Client
from django.urls import reverse

from aftersales.errors import CaseClaimError
from aftersales.models import AfterSalesCase, State
from review import services as review
from tests import factories
from tests.concurrency import run_in_threads
from tests.review.factories import EscalatedCaseFactory, escalated_cases

pytestmark = pytest.mark.django_db


class TestClaimService:
    def test_claim_and_claim_again_is_idempotent(self, reviewer):
        case = EscalatedCaseFactory()
        changed_at = case.changed_at
        claimed = review.case_claim(case=case, reviewer=reviewer)
        assert claimed.claimed_by == reviewer and claimed.claimed_at is not None
        assert review.case_claim(case=case, reviewer=reviewer).claimed_at == claimed.claimed_at
        # A claim is work assignment, not a case change: the feed's staleness check must not see it.
        assert claimed.changed_at == changed_at and claimed.state == State.UNDER_INTERVENTION

    def test_second_reviewer_cannot_claim_a_claimed_case(self, reviewer, other_reviewer):
        case = EscalatedCaseFactory()
        review.case_claim(case=case, reviewer=reviewer)
        with pytest.raises(CaseClaimError, match="already claimed"):
            review.case_claim(case=case, reviewer=other_reviewer)
        case.refresh_from_db()
        assert case.claimed_by == reviewer

    def test_cases_not_under_intervention_cannot_be_claimed(self, reviewer):
        case = EscalatedCaseFactory(state=State.MERCHANT_REFUSED, escalated_at=None)
        with pytest.raises(CaseClaimError, match="no longer under intervention"):
            review.case_claim(case=case, reviewer=reviewer)
        case.refresh_from_db()
        assert case.claimed_by is None

    def test_merchant_staff_cannot_claim(self, owner):
        case = EscalatedCaseFactory(order=factories.OrderFactory(goods=factories.GoodsFactory(shop=owner.shops.get())))
        with pytest.raises(PermissionDenied):
            review.case_claim(case=case, reviewer=owner)
        with pytest.raises(PermissionDenied):
            review.case_claim_next(reviewer=owner)
        assert not AfterSalesCase.objects.filter(claimed_by__isnull=False).exists()

    def test_release_only_by_claimer(self, reviewer, other_reviewer):
        case = EscalatedCaseFactory()
        review.case_claim(case=case, reviewer=reviewer)
        with pytest.raises(CaseClaimError, match="not claimed by you"):
            review.case_release(case=case, reviewer=other_reviewer)
        released = review.case_release(case=case, reviewer=reviewer)
        assert released.claimed_by is None and released.claimed_at is None
        # Back in the pool: the other reviewer can now take it.
        assert review.case_claim(case=case, reviewer=other_reviewer).claimed_by == other_reviewer


def rule(case, reviewer):
    review.case_review_rule(case=case, reviewer=reviewer, liable="merchant", note="photos")


class TestNextCase:
    def test_claims_oldest_unclaimed_in_order_then_none(self, reviewer, other_reviewer):
        first, second, third = escalated_cases(3)
        review.case_claim(case=first, reviewer=other_reviewer)
        assert review.case_claim_next(reviewer=reviewer) == second
        rule(second, reviewer)
        assert review.case_claim_next(reviewer=reviewer) == third
        rule(third, reviewer)
        assert review.case_claim_next(reviewer=reviewer) is None
        assert set(AfterSalesCase.objects.filter(claimed_by=reviewer)) == {second, third}

    def test_hands_back_the_reviewers_own_unruled_claim_before_a_new_one(self, reviewer):
        first, second = escalated_cases(2)
        claimed = review.case_claim_next(reviewer=reviewer)
        assert claimed == first
        again = review.case_claim_next(reviewer=reviewer, at=claimed.claimed_at + dt.timedelta(minutes=5))
        assert again == first and again.claimed_at == claimed.claimed_at  # the same claim, not a new one
        assert list(AfterSalesCase.objects.filter(claimed_by=reviewer)) == [first]
        review.case_release(case=first, reviewer=reviewer)
        assert review.case_claim_next(reviewer=reviewer) == first  # released: the oldest unclaimed again
        rule(first, reviewer)
        assert review.case_claim_next(reviewer=reviewer) == second

    def test_an_explicit_claim_is_handed_back_first_too(self, reviewer):
        older, newer = escalated_cases(2)
        review.case_claim(case=newer, reviewer=reviewer)
        assert review.case_claim_next(reviewer=reviewer) == newer
        assert AfterSalesCase.objects.get(pk=older.pk).claimed_by is None

    def test_honours_filters(self, reviewer):
        cases = escalated_cases(3)
        target = cases[2]
        assert review.case_claim_next(reviewer=reviewer, filters=Q(pk=target.pk)) == target
        # The own claim comes first whatever the filters: a reviewer never holds two through it.
        assert review.case_claim_next(reviewer=reviewer, filters=Q(pk=cases[0].pk)) == target
        rule(target, reviewer)
        assert review.case_claim_next(reviewer=reviewer, filters=Q(pk=target.pk)) is None


class TestClaimViews:
    def test_claim_release_through_the_pages(self, client, login, reviewer):
        case = EscalatedCaseFactory()
        login(reviewer)
        response = client.post(reverse("review:claim", args=[case.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("review:case", args=[case.pk])
        case.refresh_from_db()
        assert case.claimed_by == reviewer
        page = client.get(reverse("review:queue") + "?claim=mine").content.decode()
        assert case.platform_id in page and reverse("review:release", args=[case.pk]) in page
        response = client.post(reverse("review:release", args=[case.pk]))
        assert response.status_code == 302
        case.refresh_from_db()
        assert case.claimed_by is None

    def test_claim_of_someone_elses_case_shows_message(self, client, login, reviewer, other_reviewer):
        case = EscalatedCaseFactory(claimed_by=other_reviewer)
        login(reviewer)
        response = client.post(reverse("review:claim", args=[case.pk]), follow=True)
        assert response.status_code == 200
        assert any("already claimed" in str(m) for m in response.context["messages"])
        case.refresh_from_db()
        assert case.claimed_by == other_reviewer

    def test_next_case_button_keeps_the_filters(self, client, login, reviewer):
        plain = escalated_cases(2)
        shop = factories.ShopFactory(name="Tea House")
        tea = escalated_cases(1, shop=shop, start=plain[-1].escalated_at)[0]
        login(reviewer)
        response = client.post(reverse("review:next"), {"shop": "tea house"})
        assert response["Location"] == reverse("review:case", args=[tea.pk])
        rule(tea, reviewer)
        response = client.post(reverse("review:next"))
        assert response["Location"] == reverse("review:case", args=[plain[0].pk])
        rule(plain[0], reviewer)
        client.post(reverse("review:next"))
        rule(plain[1], reviewer)
        response = client.post(reverse("review:next"), follow=True)
        assert response.redirect_chain[-1][0] == reverse("review:queue")
        assert any("No unclaimed case" in str(m) for m in response.context["messages"])

    def test_next_case_with_an_unruled_claim_says_the_case_is_still_yours(self, client, login, reviewer):
        first, _second = escalated_cases(2)
        login(reviewer)
        response = client.post(reverse("review:next"), follow=True)
        assert response.redirect_chain == [(reverse("review:case", args=[first.pk]), 302)]
        assert [str(m) for m in response.context["messages"]] == [f"You claimed case {first.platform_id}."]
        response = client.post(reverse("review:next"), follow=True)
        assert response.redirect_chain == [(reverse("review:case", args=[first.pk]), 302)]
        assert [str(m) for m in response.context["messages"]] == [
            f"Case {first.platform_id} is still yours: rule it or release it before you take another."
        ]
        assert AfterSalesCase.objects.filter(claimed_by=reviewer).count() == 1


def press_next(client: Client) -> str:
    response = client.post(reverse("review:next"))
    return response["Location"] if response.status_code == 302 else str(response.status_code)


def signed_in_reviewers(reviewer, n: int) -> list:
    users = [reviewer] + [factories.UserFactory() for _ in range(n - 1)]
    for user in users:
        user.groups.add(*reviewer.groups.all())
        user.save(update_fields=["password"])
    return users


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestNextCaseAtOnce:
    def test_thirty_reviewers_pressing_next_case_at_once_get_thirty_different_cases(self, postgres_only, reviewer):
        cases = escalated_cases(30)
        reviewers = signed_in_reviewers(reviewer, 30)
        clients = [client_of(user) for user in reviewers]

        results = run_in_threads(30, lambda i: press_next(clients[i]))

        assert not [r for r in results if isinstance(r, Exception)], results
        expected = {reverse("review:case", args=[case.pk]) for case in cases}
        assert set(results) == expected  # 30 redirects, each to a different case page
        claims = dict(AfterSalesCase.objects.values_list("pk", "claimed_by_id"))
        assert sorted(claims.values()) == sorted(user.pk for user in reviewers)

    def test_ten_reviewers_at_once_each_get_a_different_case(self, postgres_only, reviewer):
        cases = escalated_cases(12)
        clients = [client_of(user) for user in signed_in_reviewers(reviewer, 10)]

        results = run_in_threads(10, lambda i: press_next(clients[i]))

        # Different cases, and the ten oldest: nobody skipped a case another was not taking.
        assert sorted(results) == sorted(reverse("review:case", args=[case.pk]) for case in cases[:10])
        assert AfterSalesCase.objects.filter(claimed_by__isnull=False).count() == 10

    def test_one_reviewer_pressing_next_case_ten_times_at_once_ends_with_one_claim(self, postgres_only, reviewer):
        first = escalated_cases(10)[0]
        reviewer.save(update_fields=["password"])
        clients = [client_of(reviewer) for _ in range(10)]  # ten tabs, or a very impatient finger

        results = run_in_threads(10, lambda i: press_next(clients[i]))

        assert results == [reverse("review:case", args=[first.pk])] * 10
        assert list(AfterSalesCase.objects.filter(claimed_by__isnull=False)) == [first]
