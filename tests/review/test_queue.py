"""The queue page: who may see it, what it lists, filters, SLA, bounded queries."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSalesCase, Kind, Reason, State
from tests import factories
from tests.review.factories import EscalatedCaseFactory, escalated_cases, with_history

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def queue_ids(response) -> list[str]:
    return [row.record.platform_id for row in response.context["table"].paginated_rows]


class TestPermissions:
    def test_anonymous_is_sent_to_login_everywhere(self, client, login):
        case = EscalatedCaseFactory()
        for url in (QUEUE, reverse("review:case", args=[case.pk]), reverse("review:find") + "?case=x"):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
        for name in ("claim", "release", "rule", "shorten"):
            response = client.post(reverse(f"review:{name}", args=[case.pk]), {"liable": "merchant", "note": "x"})
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
        response = client.post(reverse("review:next"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        case.refresh_from_db()
        assert case.claimed_by is None and case.state == State.UNDER_INTERVENTION

    @pytest.mark.parametrize("role", ["owner", "agent", "viewer"])
    def test_merchant_staff_get_403_and_change_nothing(self, client, login, role):
        case = EscalatedCaseFactory()
        login(factories.member(case.shop, role))
        assert client.get(QUEUE).status_code == 403
        assert client.get(QUEUE + "?_export=csv").status_code == 403
        assert client.get(reverse("review:case", args=[case.pk])).status_code == 403
        for name in ("claim", "release", "rule", "shorten"):
            response = client.post(reverse(f"review:{name}", args=[case.pk]), {"liable": "merchant", "note": "x"})
            assert response.status_code == 403
        assert client.post(reverse("review:next")).status_code == 403
        case.refresh_from_db()
        assert case.claimed_by is None and case.state == State.UNDER_INTERVENTION

    def test_reviewer_sees_every_shop(self, client, login, reviewer):
        cases = [EscalatedCaseFactory(), EscalatedCaseFactory()]
        assert cases[0].shop != cases[1].shop
        login(reviewer)
        response = client.get(QUEUE)
        assert response.status_code == 200
        assert sorted(queue_ids(response)) == sorted(c.platform_id for c in cases)


class TestListing:
    def test_only_cases_under_intervention_oldest_escalation_first(self, client, login, reviewer):
        now = timezone.now()
        newer = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=1))
        older = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=30))
        EscalatedCaseFactory(state=State.MERCHANT_REFUSED, escalated_at=None)
        EscalatedCaseFactory(state=State.REFUNDED, escalated_at=now - dt.timedelta(hours=50))
        login(reviewer)
        assert queue_ids(client.get(QUEUE)) == [older.platform_id, newer.platform_id]

    def test_sla_hours_shown_and_highlighted_past_48h(self, client, login, reviewer):
        now = timezone.now()
        late = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=49, minutes=30))
        fresh = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=47))
        login(reviewer)
        html = client.get(QUEUE).content.decode()
        rows = {case.platform_id: html[html.index(case.platform_id):][:1500] for case in (late, fresh)}
        # django-tables2 sorts the class names of a cell.
        assert '<td class="pdd-overdue pdd-sla">49.5</td>' in rows[late.platform_id]
        assert '<td class="pdd-sla">47.0</td>' in rows[fresh.platform_id]

    def test_sort_by_sla_descending_puts_longest_waiting_first_and_amount_sorts(self, client, login, reviewer):
        now = timezone.now()
        a = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=3), amount="10.00")
        b = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=9), amount="30.00")
        c = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=6), amount="20.00")
        login(reviewer)
        assert queue_ids(client.get(QUEUE + "?sort=-sla")) == [b.platform_id, c.platform_id, a.platform_id]
        assert queue_ids(client.get(QUEUE + "?sort=sla")) == [a.platform_id, c.platform_id, b.platform_id]
        assert queue_ids(client.get(QUEUE + "?sort=-amount")) == [b.platform_id, c.platform_id, a.platform_id]

    def test_filters(self, client, login, reviewer):
        now = timezone.now()
        shop = factories.ShopFactory(name="Fruit Garden")
        fruit = EscalatedCaseFactory(
            order=factories.OrderFactory(goods=factories.GoodsFactory(shop=shop)),
            escalated_at=now - dt.timedelta(hours=60), kind=Kind.RETURN_REFUND, reason=Reason.NOT_SHIPPED,
        )
        mid = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=30))
        new = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=2), claimed_by=reviewer, claimed_at=now)
        other_reviewer = factories.UserFactory()
        taken = EscalatedCaseFactory(escalated_at=now - dt.timedelta(hours=1), claimed_by=other_reviewer,
                                     claimed_at=now)
        login(reviewer)

        def ids(query):
            response = client.get(QUEUE + query)
            assert response.status_code == 200
            return queue_ids(response)

        assert ids("?shop=fruit") == [fruit.platform_id]
        assert ids(f"?shop={shop.platform_id}") == [fruit.platform_id]
        assert ids("?kind=return_refund") == [fruit.platform_id]
        assert ids("?reason=not_shipped") == [fruit.platform_id]
        assert ids("?age=gt48") == [fruit.platform_id]
        assert ids("?age=24to48") == [mid.platform_id]
        assert ids("?age=lt24") == [new.platform_id, taken.platform_id]
        assert ids("?claim=mine") == [new.platform_id]
        assert ids("?claim=unclaimed") == [fruit.platform_id, mid.platform_id]
        assert ids("?claim=others") == [taken.platform_id]
        assert ids("?claim=unclaimed&age=gt48") == [fruit.platform_id]

    def test_pagination(self, client, login, reviewer):
        cases = escalated_cases(30)
        login(reviewer)
        first = client.get(QUEUE)
        second = client.get(QUEUE + "?page=2")
        assert queue_ids(first) == [c.platform_id for c in cases[:25]]
        assert queue_ids(second) == [c.platform_id for c in cases[25:]]
        assert "page 2 of 2" in second.content.decode()
        # A stale or hand-typed page number shows a page, never an error.
        assert queue_ids(client.get(QUEUE + "?page=99")) == [c.platform_id for c in cases[25:]]
        assert queue_ids(client.get(QUEUE + "?page=abc")) == [c.platform_id for c in cases[:25]]

    def test_query_count_is_bounded(self, client, login, reviewer, django_assert_max_num_queries):
        for case in escalated_cases(60):
            AfterSalesCase.objects.filter(pk=case.pk).update(claimed_by=reviewer)
        login(reviewer)
        # session, user, reviewer group, bounded count, one page of cases (shop and claimer joined), its
        # orders, the shop box's suggestions. PostgreSQL adds one EXPLAIN (row estimate) past 10,000
        # cases (bench/pages.py).
        with django_assert_max_num_queries(7):
            response = client.get(QUEUE + "?sort=shop")
        assert response.status_code == 200 and len(queue_ids(response)) == 25


class TestCasePage:
    def test_shows_facts_evidence_log_prior_cases(self, client, login, reviewer, django_assert_max_num_queries):
        # The order's earlier case, closed before this one was opened (one open case per order).
        prior = EscalatedCaseFactory(
            platform_id="PRIOR-1", state=State.CLOSED, escalated_at=None, buyer_statement="first try"
        )
        case = with_history(EscalatedCaseFactory(order=prior.order, buyer_statement="Screen cracked on arrival"))
        login(reviewer)
        with django_assert_max_num_queries(10):
            response = client.get(reverse("review:case", args=[case.pk]))
        html = response.content.decode()
        assert response.status_code == 200
        for text in ("Screen cracked on arrival", "It left the warehouse intact.", "crack.jpg", "box.jpg",
                     case.order.platform_id, case.order.goods.name, "merchant_refuse", "escalate", "PRIOR-1"):
            assert text in html, text
        assert prior.platform_id in html
        assert 'id="rule-submit"' in html

    def test_unknown_case_is_404(self, client, login, reviewer):
        login(reviewer)
        assert client.get(reverse("review:case", args=[999999])).status_code == 404

    def test_find_by_platform_id(self, client, login, reviewer):
        case = EscalatedCaseFactory()
        login(reviewer)
        response = client.get(reverse("review:find") + f"?case={case.platform_id}")
        assert response.status_code == 302 and response["Location"] == reverse("review:case", args=[case.pk])
        assert client.get(reverse("review:find") + "?case=nope")["Location"] == QUEUE


def test_pages_of_equal_sort_keys_neither_repeat_nor_skip_a_case(client, login, reviewer, monkeypatch):
    # A sort on a column with equal values (every case escalated at the same moment, one kind)
    # still pages through every case once: the case id breaks the tie, in the sort's direction.
    from review import views

    monkeypatch.setattr(views.QueueView, "table_pagination", {"per_page": 4})
    cases = escalated_cases(10)
    first = cases[0]
    AfterSalesCase.objects.filter(pk__in=[c.pk for c in cases]).update(escalated_at=first.escalated_at, kind=first.kind)
    login(reviewer)
    by_id = [c.platform_id for c in sorted(cases, key=lambda c: c.pk)]
    for sort, ids in (("kind", by_id), ("-escalated_at", by_id[::-1])):
        seen = []
        for page in (1, 2, 3):
            seen += queue_ids(client.get(QUEUE, {"sort": sort, "page": page}))
        assert seen == ids, sort
