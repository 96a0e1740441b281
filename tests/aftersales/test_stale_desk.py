"""Stale clicks on the after-sales desk (issue #18, fault 1 and SPEC §2.3): a row's one-click button
posted after the case moved on answers "case changed, please reload" as the case page does, never a
500 nor a second transition; a bulk action over a case that moved on skips it in words that fit."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import CaseTransition, Kind, Refund, State
from aftersales.services import cases as svc
from tests import factories
from tests.aftersales.clicks import live_case_in, reload_text, says, shown
from tests.logins import signed_in

pytestmark = pytest.mark.django_db
DESK = reverse("aftersales_desk:desk")

# The desk's one-click buttons: (transition, the case's state and kind, the filter that lists it).
CLICKS = {
    "agree_refund": ("merchant_agree", State.PENDING_MERCHANT, Kind.REFUND_ONLY, "pending"),
    "agree_return": ("merchant_agree", State.PENDING_MERCHANT, Kind.RETURN_REFUND, "pending"),
    "agree_exchange": ("merchant_agree", State.PENDING_MERCHANT, Kind.EXCHANGE, "pending"),
    "confirm_refund": ("confirm_refund", State.RETURN_SHIPPED, Kind.RETURN_REFUND, "return_shipped"),
}

# What someone else did after the desk was loaded, from each state.
OTHERS = {
    State.PENDING_MERCHANT: {
        "merchant_agree": lambda case, agent: svc.case_merchant_agree(case=case, actor=agent),
        "merchant_refuse": lambda case, agent: svc.case_merchant_refuse(case=case, actor=agent, reason="另一个标签页"),
        "cancel": lambda case, agent: svc.case_cancel(case=case, at=timezone.now()),
    },
    State.RETURN_SHIPPED: {
        "confirm_refund": lambda case, agent: svc.case_confirm_refund(case=case, actor=agent),
        "refuse_return": lambda case, agent: svc.case_refuse_return(case=case, actor=agent, reason="空包裹"),
        "cancel": lambda case, agent: svc.case_cancel(case=case, at=timezone.now()),
    },
}
STALE = [(click, other) for click, (_n, state, _k, _f) in CLICKS.items() for other in OTHERS[state]]


def log_rows(case) -> list[str]:
    return list(CaseTransition.objects.filter(case=case).order_by("id").values_list("transition", flat=True))


def row_button(client, case, name: str, key: str) -> dict:
    """The row's form for `name`, filled as the desk drew it."""
    response = client.get(DESK, {"filter": key})
    assert response.status_code == 200
    text = response.content.decode()
    action = reverse("aftersales_desk:act", args=[case.pk])
    (form,) = [
        part.split("</form>")[0]
        for part in text.split(f'action="{action}"')[1:]
        if f'name="action" value="{name}"' in part.split("</form>")[0]
    ]
    data = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    assert {"expected_state", "expected_changed_at", "action"} <= data.keys(), data
    return data


@pytest.mark.parametrize(("click", "other"), STALE)
def test_a_stale_row_button_is_told_to_reload_and_the_case_moves_once(shop, click, other):
    name, state, kind, key = CLICKS[click]
    case = live_case_in(state, shop=shop, kind=kind)
    agent = factories.member(shop, "agent")
    client = signed_in(agent)
    data = row_button(client, case, name, key)
    before = log_rows(case)

    OTHERS[state][other](case, factories.member(shop, "agent"))
    response = client.post(reverse("aftersales_desk:act", args=[case.pk]), data, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(DESK)
    case.refresh_from_db()
    assert says(shown(response), reload_text(case))
    assert log_rows(case) == [*before, other]  # the other person's transition, once
    assert Refund.objects.filter(case=case).count() <= 1


@pytest.mark.parametrize("click", CLICKS)
def test_the_same_row_button_posted_twice_acts_once(shop, click):
    name, state, kind, key = CLICKS[click]
    case = live_case_in(state, shop=shop, kind=kind)
    client = signed_in(factories.member(shop, "agent"))
    data = row_button(client, case, name, key)
    url = reverse("aftersales_desk:act", args=[case.pk])
    client.post(url, data)
    case.refresh_from_db()
    moved = log_rows(case)
    assert moved[-1] == name
    assert says(shown(client.post(url, data, follow=True)), reload_text(case))
    assert log_rows(case) == moved


@pytest.mark.parametrize("data", [{}, {"expected_state": "nonsense"}, {"expected_changed_at": "yesterday"}])
def test_a_row_post_without_a_readable_page_state_is_told_to_reload(shop, data):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    client = signed_in(factories.member(shop, "agent"))
    seen = {"expected_state": case.state, "expected_changed_at": case.changed_at.isoformat()}
    posted = {**seen, **data} if data else {}
    response = client.post(
        reverse("aftersales_desk:act", args=[case.pk]), {**posted, "action": "merchant_agree"}, follow=True
    )
    assert response.status_code == 200 and says(shown(response), reload_text(case))
    assert log_rows(case) == ["open"]


def test_a_bulk_action_over_a_case_another_agent_refused_skips_it_by_its_state(shop):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    agent = factories.member(shop, "agent")
    svc.case_merchant_refuse(case=case, actor=factories.member(shop, "agent"), reason="另一个标签页")
    response = signed_in(agent).post(
        reverse("aftersales_desk:bulk"), {"action": "merchant_agree", "case": [case.pk]}, follow=True
    )
    text = shown(response)
    assert f"<strong>{case.platform_id}</strong> · skipped: not awaiting merchant (now refused by merchant)" in text
    assert "changed" not in text.split('id="desk-report"')[1].split("</section>")[0]
    assert log_rows(case) == ["open", "merchant_refuse"]
