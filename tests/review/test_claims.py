"""Claim, release and "Next case": one reviewer per case, and many reviewers at once each get a different one."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse

from aftersales.models import AfterSalesCase, State
from aftersales.services import review
from aftersales.services.review import CaseClaimError
from tests import factories
from tests.review.factories import EscalatedCaseFactory, escalated_cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_reviewer(reviewer):
    user = factories.UserFactory()
    user.groups.add(*reviewer.groups.all())
    return user


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


class TestNextCase:
    def test_claims_oldest_unclaimed_in_order_then_none(self, reviewer, other_reviewer):
        first, second, third = escalated_cases(3)
        review.case_claim(case=first, reviewer=other_reviewer)
        assert review.case_claim_next(reviewer=reviewer) == second
        assert review.case_claim_next(reviewer=reviewer) == third
        assert review.case_claim_next(reviewer=reviewer) is None
        assert set(AfterSalesCase.objects.filter(claimed_by=reviewer)) == {second, third}

    def test_honours_filters(self, reviewer):
        from django.db.models import Q

        cases = escalated_cases(3)
        target = cases[2]
        assert review.case_claim_next(reviewer=reviewer, filters=Q(pk=target.pk)) == target
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
        response = client.post(reverse("review:next"))
        assert response["Location"] == reverse("review:case", args=[plain[0].pk])
        client.post(reverse("review:next"))
        response = client.post(reverse("review:next"), follow=True)
        assert response.redirect_chain[-1][0] == reverse("review:queue")
        assert any("No unclaimed case" in str(m) for m in response.context["messages"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thirty_reviewers_pressing_next_case_at_once_get_thirty_different_cases(postgres_only, reviewer):
    cases = escalated_cases(30)
    reviewers = [reviewer] + [factories.UserFactory() for _ in range(29)]
    for user in reviewers:
        user.groups.add(*reviewer.groups.all())
        user.save(update_fields=["password"])
    barrier = threading.Barrier(len(reviewers))
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def press(user):
        client = Client()
        client.force_login(user)
        try:
            barrier.wait(timeout=60)
            response = client.post(reverse("review:next"))
            results[user.pk] = response["Location"] if response.status_code == 302 else str(response.status_code)
        except BaseException as error:  # any failure in a thread must fail the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    expected = {reverse("review:case", args=[case.pk]) for case in cases}
    assert set(results.values()) == expected  # 30 redirects, each to a different case page
    claims = dict(AfterSalesCase.objects.values_list("pk", "claimed_by_id"))
    assert sorted(claims.values()) == sorted(user.pk for user in reviewers)
