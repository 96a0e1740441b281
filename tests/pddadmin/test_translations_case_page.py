"""The merchant's case page in Chinese (#18.3, #18.7): the case's opening time is 申请时间 (the shops'
catalogue says 开店时间 for the same msgid, and is served first without a context), and after a
refusal the deadline shown is the buyer's, said so, with what happens at it."""

import re

import pytest
from django.urls import reverse

from aftersales.models import State
from aftersales.services import cases as svc
from tests import factories
from tests.aftersales.clicks import live_case_in, shown
from tests.logins import signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogues")]


def page(case, user) -> str:
    response = signed_in(user, language="zh-hans").get(
        reverse("admin:aftersales_aftersalescase_change", args=[case.pk])
    )
    assert response.status_code == 200
    return shown(response)


def deadline_label(text: str) -> str:
    return re.search(r'<span id="deadline-label">(.*?)</span>', text).group(1)


def test_the_case_page_says_when_the_case_was_opened_not_the_shop(shop):
    agent = factories.member(shop, "agent")
    text = page(live_case_in(State.PENDING_MERCHANT, shop=shop), agent)
    assert "申请时间" in text and "开店时间" not in text


def test_the_merchants_deadline_is_said_to_be_the_merchants(shop):
    agent = factories.member(shop, "agent")
    label = deadline_label(page(live_case_in(State.PENDING_MERCHANT, shop=shop), agent))
    assert label.startswith("商家") and "自动同意退款" in label


def test_after_refusing_the_deadline_is_the_buyers_and_closes_the_case(shop):
    agent = factories.member(shop, "agent")
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    svc.case_merchant_refuse(case=case, actor=agent, reason="商品无质量问题", expected_state=State.PENDING_MERCHANT)
    case.refresh_from_db()
    assert case.state == State.MERCHANT_REFUSED and case.due_at is not None
    label = deadline_label(page(case, agent))
    assert label.startswith("买家") and "关闭" in label and "商家" not in label


@pytest.mark.parametrize(
    ("state", "whose"),
    [(State.AWAITING_RETURN, "买家"), (State.RETURN_SHIPPED, "商家"), (State.RETURN_REFUSED, "买家")],
)
def test_every_waiting_state_names_whose_deadline_it_is(shop, state, whose):
    agent = factories.member(shop, "agent")
    case = live_case_in(state, shop=shop)
    assert case.due_at is not None
    assert deadline_label(page(case, agent)).startswith(whose)
