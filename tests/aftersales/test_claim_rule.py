"""A claim is a rule of the domain, not of a screen (issue #13.3, SPEC §4): a case claimed by one
reviewer is ruled by that reviewer only, whether the ruling comes from the admin's case page, the
review queue (tests/review/test_ruling.py) or the platform feed. An unclaimed case may be ruled by
any reviewer."""

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.errors import CaseClaimError
from aftersales.models import AfterSalesCase, CaseTransition, Liable, Refund, State
from aftersales.services import cases as svc
from tests.aftersales.clicks import page_form, reviewers, shown
from tests.aftersales.test_feed_cases import t, world
from tests.feed.helpers import feed_line, run_import
from tests.logins import signed_in

pytestmark = pytest.mark.django_db


def claim(case: AfterSalesCase, reviewer) -> None:
    # What the review app's claim writes, and all it writes: the claim fields (no state, no log row).
    AfterSalesCase.objects.filter(pk=case.pk).update(claimed_by=reviewer, claimed_at=timezone.now())


def log_rows(case) -> list[str]:
    return list(CaseTransition.objects.filter(case=case).order_by("id").values_list("transition", flat=True))


def assert_unruled(case) -> None:
    current = AfterSalesCase.objects.get(pk=case.pk)
    assert current.state == State.UNDER_INTERVENTION and current.liable == ""
    assert "rule" not in log_rows(case) and not Refund.objects.filter(case=case).exists()


class TestService:
    def test_a_reviewer_who_did_not_claim_the_case_may_not_rule_it(self, intervened):
        claimant, other = reviewers(2)
        claim(intervened, claimant)
        with pytest.raises(CaseClaimError, match=f"claimed by {claimant.username}: only that reviewer may rule it"):
            svc.case_rule(case=intervened, actor=other, liable=Liable.MERCHANT, note="photos")
        assert_unruled(intervened)

    def test_the_claimant_rules_their_case(self, intervened):
        claimant = reviewers(1)[0]
        claim(intervened, claimant)
        ruled = svc.case_rule(case=intervened, actor=claimant, liable=Liable.BUYER, note="seal intact")
        assert (ruled.state, ruled.liable, ruled.claimed_by) == (State.CLOSED, Liable.BUYER, claimant)

    def test_an_unclaimed_case_is_ruled_by_any_reviewer_and_stays_unclaimed(self, intervened):
        ruled = svc.case_rule(case=intervened, actor=reviewers(1)[0], liable=Liable.MERCHANT, note="photos")
        assert ruled.state == State.REFUNDED and ruled.claimed_by is None
        assert Refund.objects.filter(case=intervened).count() == 1

    def test_a_ruling_naming_no_reviewer_is_refused_a_claimed_case(self, intervened):
        claimant = reviewers(1)[0]
        claim(intervened, claimant)
        with pytest.raises(CaseClaimError, match=f"claimed by {claimant.username}"):
            svc.case_rule(case=intervened, liable=Liable.MERCHANT, note="platform tool")
        assert_unruled(intervened)

    def test_a_case_that_left_the_queue_says_so_before_any_claim(self, intervened):
        # The claim stays on a ruled case; a second ruling is refused for the state, not the claim.
        claimant, other = reviewers(2)
        claim(intervened, claimant)
        svc.case_rule(case=intervened, actor=claimant, liable=Liable.MERCHANT, note="photos")
        with pytest.raises(Exception, match="only possible from under_intervention") as refused:
            svc.case_rule(case=intervened, actor=other, liable=Liable.BUYER, note="again")
        assert not isinstance(refused.value, CaseClaimError)


class TestAdminCasePage:
    def rule_url(self, case) -> str:
        return reverse("admin:aftersales_aftersalescase_transition", args=[case.pk, "rule"])

    def page_url(self, case) -> str:
        return reverse("admin:aftersales_aftersalescase_change", args=[case.pk])

    def ruling(self, case) -> dict:
        return {
            "expected_state": case.state,
            "expected_changed_at": case.changed_at.isoformat(),
            "ruling-liable": Liable.MERCHANT,
            "ruling-note": "photos",
            "_rule": "Rule",
        }

    def test_the_rule_button_refuses_a_case_claimed_by_another_reviewer(self, intervened):
        claimant, other = reviewers(2)
        claim(intervened, claimant)
        client = signed_in(other)
        page = client.get(self.page_url(intervened)).content.decode()
        assert 'data-transition="rule"' not in page  # not offered: it could only be refused
        assert f'<dd id="claimed-by">{claimant.username}</dd>' in page

        response = client.post(self.rule_url(intervened), self.ruling(intervened), follow=True)

        assert response.redirect_chain == [(self.page_url(intervened), 302)]
        text = shown(response)
        assert f"claimed by {claimant.username}: only that reviewer may rule it" in text
        assert "please reload" not in text and "Done:" not in text
        assert_unruled(intervened)

    def test_the_claimant_rules_through_the_button(self, intervened):
        claimant = reviewers(1)[0]
        claim(intervened, claimant)
        client = signed_in(claimant)
        data = page_form(client, self.page_url(intervened), self.rule_url(intervened))
        response = client.post(self.rule_url(intervened), {**self.ruling(intervened), **data}, follow=True)
        assert "Done: Rule." in shown(response)
        assert AfterSalesCase.objects.get(pk=intervened.pk).state == State.REFUNDED


class TestFeed:
    def test_case_ruled_for_a_claimed_case_is_rejected_and_nothing_is_applied(self, tmp_path):
        code, _, rejected, err = run_import(
            tmp_path / "escalate.jsonl",
            *world(),
            feed_line("c1", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="defective",
                      amount="59.90"),
            feed_line("c2", "case.merchant_refused", t(4), case="C1", reason="used"),
            feed_line("c3", "case.escalated", t(5), case="C1"),
        )
        assert (code, rejected) == (0, []), err
        case = AfterSalesCase.objects.get(platform_id="C1")
        claimant = reviewers(1)[0]
        claim(case, claimant)

        code, _, rejected, err = run_import(
            tmp_path / "rule.jsonl", feed_line("c4", "case.ruled", t(6), case="C1", liable="merchant", note="n")
        )

        assert (code, rejected) == (1, [1]), err
        assert f"line 1: case C1 is claimed by {claimant.username}: only that reviewer may rule it" in err
        assert_unruled(case)
        assert log_rows(case) == ["open", "merchant_refuse", "escalate"]
