"""The merchant workbench: buttons are exactly the FSM's transitions for the user, scoped per shop."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSalesCase, Kind, Refund, State
from tests import factories
from tests.aftersales.clicks import live_case_in
from tests.aftersales.helpers import case_in, make_order, open_case
from tests.logins import sign_in

pytestmark = pytest.mark.django_db


def login(client, user):
    sign_in(client, user, language="en")


def page_url(case):
    return reverse("admin:aftersales_aftersalescase_change", args=[case.pk])


def action_url(case, name):
    return reverse("admin:aftersales_aftersalescase_transition", args=[case.pk, name])


def buttons(client, case) -> set[str]:
    response = client.get(page_url(case))
    assert response.status_code == 200
    return set(re.findall(r'data-transition="([a-z_]+)"', response.content.decode()))


def fsm_allows(case, user) -> set[str]:
    return {t.name for t in AfterSalesCase.objects.get(pk=case.pk).get_available_user_state_transitions(user)}


@pytest.mark.parametrize("kind", [Kind.REFUND_ONLY, Kind.RETURN_REFUND])
def test_buttons_are_exactly_the_fsm_transitions_for_each_user(client, shop, owner, agent, viewer, reviewer, kind):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=kind, address=False)
    for user in (owner, agent, viewer, reviewer):
        login(client, user)
        assert buttons(client, case) == fsm_allows(case, user), user
    login(client, agent)
    if kind == Kind.REFUND_ONLY:
        assert buttons(client, case) == {"merchant_agree", "merchant_refuse"}
    else:  # no return address yet: the FSM's condition hides "agree"
        assert buttons(client, case) == {"merchant_refuse"}
        factories.ReturnAddressFactory(shop=shop, is_default=True)
        assert buttons(client, case) == {"merchant_agree", "merchant_refuse"} == fsm_allows(case, agent)
    login(client, viewer)
    assert buttons(client, case) == set()
    login(client, reviewer)
    assert buttons(client, case) == {"shorten_deadline"}


@pytest.mark.parametrize(
    "state",
    [
        State.MERCHANT_REFUSED,
        State.AWAITING_RETURN,
        State.RETURN_SHIPPED,
        State.RETURN_REFUSED,
        State.UNDER_INTERVENTION,
        State.REFUNDED,
        State.CLOSED,
    ],
)
def test_buttons_in_other_states_match_the_fsm(client, shop, agent, reviewer, state, monkeypatch):
    case = case_in(state, shop=shop)
    # These cases live in 2026; look at them from just after their last step so no deadline has passed.
    monkeypatch.setattr(timezone, "now", lambda: case.changed_at + dt.timedelta(minutes=1))
    for user in (agent, reviewer):
        login(client, user)
        assert buttons(client, case) == fsm_allows(case, user)
    login(client, agent)
    expected = {State.RETURN_SHIPPED: {"confirm_refund", "refuse_return"}}.get(state, set())
    assert buttons(client, case) == expected
    login(client, reviewer)
    assert buttons(client, case) == ({"rule"} if state == State.UNDER_INTERVENTION else set())


def test_overdue_case_offers_no_button(client, shop, agent):
    case = open_case(make_order(shop=shop))  # due in 2026-01, long past
    login(client, agent)
    assert buttons(client, case) == set()
    assert "overdue" in client.get(reverse("admin:aftersales_aftersalescase_changelist")).content.decode()


def test_agree_button_refunds_and_a_stale_page_is_told_to_reload(client, shop, agent):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    login(client, agent)
    response = client.post(action_url(case, "merchant_agree"), {"expected_state": State.PENDING_MERCHANT}, follow=True)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.REFUNDED
    assert Refund.objects.filter(case=case).count() == 1
    # The same click again, from the page as it was: nothing happens twice.
    response = client.post(action_url(case, "merchant_agree"), {"expected_state": State.PENDING_MERCHANT}, follow=True)
    assert "please reload" in response.content.decode()
    assert Refund.objects.filter(case=case).count() == 1


def test_refuse_needs_a_reason(client, shop, agent):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    login(client, agent)
    response = client.post(action_url(case, "merchant_refuse"), {"expected_state": case.state, "reason-reason": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.PENDING_MERCHANT
    client.post(action_url(case, "merchant_refuse"), {"expected_state": case.state, "reason-reason": "used"})
    case.refresh_from_db()
    assert (case.state, case.merchant_statement) == (State.MERCHANT_REFUSED, "used")


def test_agree_return_with_the_chosen_address(client, shop, agent):
    factories.ReturnAddressFactory(shop=shop, is_default=True)
    chosen = factories.ReturnAddressFactory(shop=shop, detail="二号仓")
    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.RETURN_REFUND, address=False)
    login(client, agent)
    page = client.get(page_url(case)).content.decode()
    assert "二号仓" in page
    client.post(action_url(case, "merchant_agree"), {"expected_state": case.state, "address-address": chosen.pk})
    case.refresh_from_db()
    assert (case.state, case.return_detail) == (State.AWAITING_RETURN, "二号仓")


def test_viewer_and_outsider_cannot_act(client, shop, viewer, outsider):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    login(client, viewer)
    response = client.post(action_url(case, "merchant_agree"), {"expected_state": case.state}, follow=True)
    assert "may not merchant_agree" in response.content.decode()
    login(client, outsider)
    assert client.get(page_url(case)).status_code == 404
    assert client.post(action_url(case, "merchant_agree"), {"expected_state": case.state}).status_code == 404
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.PENDING_MERCHANT


def test_case_list_is_scoped_filtered_and_searchable(client, shop, other_shop, agent):
    mine = live_case_in(State.PENDING_MERCHANT, shop=shop)
    theirs = live_case_in(State.PENDING_MERCHANT, shop=other_shop)
    login(client, agent)
    url = reverse("admin:aftersales_aftersalescase_changelist")
    page = client.get(url).content.decode()
    assert mine.platform_id in page and theirs.platform_id not in page
    assert mine.platform_id in client.get(url, {"q": mine.order.platform_id}).content.decode()
    assert mine.platform_id not in client.get(url, {"q": "nothing"}).content.decode()
    # mine is due in 47 h: not within 24 h, not overdue
    assert mine.platform_id not in client.get(url, {"due": "24h"}).content.decode()
    assert mine.platform_id not in client.get(url, {"due": "overdue"}).content.decode()
    assert mine.platform_id in client.get(url, {"state": "pending_merchant", "kind": "refund_only"}).content.decode()


def test_deadline_filter_within_6_hours(client, shop, agent, reviewer):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    from aftersales.services import cases as svc

    now = timezone.now()
    svc.case_shorten_deadline(case=case, due_at=now + dt.timedelta(hours=24, minutes=30), actor=reviewer, at=now)
    login(client, agent)
    url = reverse("admin:aftersales_aftersalescase_changelist")
    assert case.platform_id not in client.get(url, {"due": "6h"}).content.decode()
    assert case.platform_id not in client.get(url, {"due": "24h"}).content.decode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timezone, "now", lambda: now + dt.timedelta(hours=20))
        assert case.platform_id in client.get(url, {"due": "6h"}).content.decode()


def test_bulk_agree_reports_each_failure(client, shop, agent):
    ok = live_case_in(State.PENDING_MERCHANT, shop=shop)
    no_address = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.RETURN_REFUND, address=False)
    refused = case_in(State.MERCHANT_REFUSED, shop=shop)
    login(client, agent)
    response = client.post(
        reverse("admin:aftersales_aftersalescase_changelist"),
        {"action": "agree_selected", "_selected_action": [ok.pk, no_address.pk, refused.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert AfterSalesCase.objects.get(pk=ok.pk).state == State.REFUNDED
    assert AfterSalesCase.objects.get(pk=no_address.pk).state == State.PENDING_MERCHANT
    assert "Agreed 1 cases." in text
    assert f"{no_address.platform_id}: shop {shop.platform_id} has no return address" in text
    assert refused.platform_id in text and "2 not agreed" in text
