"""Exchanges on the merchant workbench: agree with a return address, send the replacement with its
tracking number (发出换货), and the buttons are the FSM's transitions for the user."""

import re

import pytest
from django.urls import reverse

from aftersales.models import AfterSalesCase, CaseTransition, Kind, Refund, State
from tests import factories
from tests.aftersales.clicks import live_case_in, shown
from tests.logins import sign_in

pytestmark = pytest.mark.django_db


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


def seen(case) -> dict:
    case = AfterSalesCase.objects.get(pk=case.pk)
    return {"expected_state": case.state, "expected_changed_at": case.changed_at.isoformat()}


def test_agree_an_exchange_with_the_chosen_return_address(client, shop, agent):
    factories.ReturnAddressFactory(shop=shop, is_default=True)
    chosen = factories.ReturnAddressFactory(shop=shop, detail="换货仓")
    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.EXCHANGE, address=False)
    sign_in(client, agent, language="en")
    assert buttons(client, case) == {"merchant_agree", "merchant_refuse"} == fsm_allows(case, agent)
    assert "换货仓" in client.get(page_url(case)).content.decode()  # the address choice is offered
    client.post(action_url(case, "merchant_agree"), {**seen(case), "address-address": chosen.pk})
    case.refresh_from_db()
    assert (case.state, case.return_detail) == (State.AWAITING_RETURN, "换货仓")


def test_an_exchange_back_from_the_buyer_offers_send_replacement_with_a_tracking_field(client, shop, agent):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop, kind=Kind.EXCHANGE)
    sign_in(client, agent, language="en")
    assert buttons(client, case) == {"confirm_refund", "reship", "refuse_return"} == fsm_allows(case, agent)
    page = shown(client.get(page_url(case)))
    form = re.search(r'<form[^>]*data-transition="reship".*?</form>', page, flags=re.S).group(0)
    assert 'name="tracking-tracking"' in form and "replacement tracking number" in form
    assert 'value="Send replacement"' in form


def test_a_return_and_refund_is_never_offered_a_replacement(client, shop, agent):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop, kind=Kind.RETURN_REFUND)
    sign_in(client, agent, language="en")
    assert buttons(client, case) == {"confirm_refund", "refuse_return"}
    response = client.post(action_url(case, "reship"), {**seen(case), "tracking-tracking": "SF1"}, follow=True)
    assert "is return and refund, not an exchange" in shown(response)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.RETURN_SHIPPED


def test_send_replacement_needs_the_tracking_number_then_ends_the_exchange(client, shop, agent):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop, kind=Kind.EXCHANGE)
    sign_in(client, agent, language="en")
    response = client.post(action_url(case, "reship"), {**seen(case), "tracking-tracking": ""})
    assert response.status_code == 200 and "This field is required" in shown(response)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.RETURN_SHIPPED

    response = client.post(action_url(case, "reship"), {**seen(case), "tracking-tracking": "SF777"}, follow=True)
    text = shown(response)
    assert "Done: Send replacement." in text
    assert re.search(r'id="reship-tracking">SF777<', text)
    case.refresh_from_db()
    assert (case.state, case.reship_tracking) == (State.EXCHANGED, "SF777")
    row = CaseTransition.objects.get(case=case, transition="reship")
    assert (row.actor, row.note) == (agent, "SF777")
    assert not Refund.objects.filter(case=case).exists()
    assert buttons(client, case) == set()


def test_viewers_and_reviewers_are_not_offered_the_replacement(client, shop, viewer, reviewer):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop, kind=Kind.EXCHANGE)
    for user in (viewer, reviewer):
        sign_in(client, user, language="en")
        assert buttons(client, case) == set() == fsm_allows(case, user)
    sign_in(client, viewer, language="en")
    response = client.post(action_url(case, "reship"), {**seen(case), "tracking-tracking": "SF1"}, follow=True)
    assert "may not reship" in shown(response)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.RETURN_SHIPPED


def test_the_workbench_reads_in_chinese(client, shop, agent, compiled_catalogues):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop, kind=Kind.EXCHANGE)
    sign_in(client, agent)  # no language cookie: the site's default, Chinese
    page = shown(client.get(page_url(case)))
    assert 'value="发出换货"' in page and "换货运单号" in page and "<dd>换货</dd>" in page
    client.post(action_url(case, "reship"), {**seen(case), "tracking-tracking": "SF778"})
    page = shown(client.get(page_url(case)))
    assert "<strong>换货完成</strong>" in page
    listing = shown(client.get(reverse("admin:aftersales_aftersalescase_changelist"), {"kind": Kind.EXCHANGE}))
    assert case.platform_id in listing and "换货完成" in listing


def test_the_case_list_filters_exchanges(client, shop, agent):
    exchange = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.EXCHANGE)
    refund = live_case_in(State.PENDING_MERCHANT, shop=shop)
    sign_in(client, agent, language="en")
    url = reverse("admin:aftersales_aftersalescase_changelist")
    page = client.get(url, {"kind": Kind.EXCHANGE}).content.decode()
    assert exchange.platform_id in page and refund.platform_id not in page
