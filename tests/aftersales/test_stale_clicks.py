"""Stale and raced clicks on the admin's case page (issue #12.3, SPEC §2.3): a button posted from a
page the case has since left, or by many people at once, answers "case changed, please reload",
never a 500, and the case moves once."""

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from aftersales.models import CaseTransition, Kind, Liable, Refund, State
from aftersales.services import cases as svc
from tests import factories
from tests.aftersales.clicks import live_case_in, page_form, reload_text, reviewers, says, shown
from tests.concurrency import run_in_threads
from tests.logins import signed_in

pytestmark = pytest.mark.django_db


def _due_at_text() -> str:
    # 30 h ahead: above the 24 h floor and below the 47 h left on a case opened an hour ago.
    return timezone.localtime(timezone.now() + dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class Button:
    state: str  # the case's state when the page is loaded
    by: str  # "agent" or "reviewer"
    label: str
    fields: dict = field(default_factory=dict)  # the button's own fields, beyond what the page carries
    refunds: bool = False  # whether this transition refunds the case
    kind: str | None = None  # the case's kind, when the button needs one (else the path's)


# Every button of the case page (SERVICES in aftersales/case_admin.py).
BUTTONS = {
    "merchant_agree": Button(State.PENDING_MERCHANT, "agent", "Agree", refunds=True),
    "merchant_refuse": Button(State.PENDING_MERCHANT, "agent", "Refuse", {"reason-reason": "used, not faulty"}),
    "confirm_refund": Button(State.RETURN_SHIPPED, "agent", "Confirm refund", refunds=True),
    "refuse_return": Button(State.RETURN_SHIPPED, "agent", "Refuse refund", {"reason-reason": "parcel empty"}),
    "reship": Button(
        State.RETURN_SHIPPED, "agent", "Send replacement", {"tracking-tracking": "SF900"}, kind=Kind.EXCHANGE
    ),
    "rule": Button(
        State.UNDER_INTERVENTION,
        "reviewer",
        "Rule",
        {"ruling-liable": Liable.MERCHANT, "ruling-note": "photos"},
        refunds=True,
    ),
    "shorten_deadline": Button(State.PENDING_MERCHANT, "reviewer", "Shorten deadline", {"deadline-due_at": None}),
}

# What someone else does meanwhile, by transition: the services the feed, the queue and the page call.
OTHERS = {
    "merchant_agree": lambda case, p: svc.case_merchant_agree(
        case=case, actor=p.agent, expected_state=State.PENDING_MERCHANT
    ),
    "merchant_refuse": lambda case, p: svc.case_merchant_refuse(
        case=case, actor=p.agent, reason="refused in another tab", expected_state=State.PENDING_MERCHANT
    ),
    "confirm_refund": lambda case, p: svc.case_confirm_refund(
        case=case, actor=p.agent, expected_state=State.RETURN_SHIPPED
    ),
    "refuse_return": lambda case, p: svc.case_refuse_return(
        case=case, actor=p.agent, reason="refused in another tab", expected_state=State.RETURN_SHIPPED
    ),
    "reship": lambda case, p: svc.case_reship(
        case=case, actor=p.agent, tracking="SF-other-tab", expected_state=State.RETURN_SHIPPED
    ),
    "rule": lambda case, p: svc.case_rule(
        case=case, actor=p.reviewer, liable=Liable.BUYER, note="ruled in another tab", expected_state=case.state
    ),
    "shorten_deadline": lambda case, p: svc.case_shorten_deadline(
        case=case, actor=p.reviewer, due_at=timezone.now() + dt.timedelta(hours=40)
    ),
}


@dataclass
class People:
    clicker: object  # who loads the page and clicks
    agent: object  # another agent of the shop
    reviewer: object  # another reviewer


def people(shop, by: str) -> People:
    clicker = factories.member(shop, "agent") if by == "agent" else reviewers(1)[0]
    return People(clicker=clicker, agent=factories.member(shop, "agent"), reviewer=reviewers(1)[0])


def page_url(case) -> str:
    return reverse("admin:aftersales_aftersalescase_change", args=[case.pk])


def action_url(case, name: str) -> str:
    return reverse("admin:aftersales_aftersalescase_transition", args=[case.pk, name])


def load_button(client, case, name: str) -> dict:
    """The form of button `name` as the page draws it now, filled in as the user would."""
    data = page_form(client, page_url(case), action_url(case, name))
    fields = {k: v if v is not None else _due_at_text() for k, v in BUTTONS[name].fields.items()}
    assert "expected_state" in data and "expected_changed_at" in data, data
    return {**data, **fields, f"_{name}": BUTTONS[name].label}


def log_rows(case) -> list[str]:
    return list(CaseTransition.objects.filter(case=case).order_by("id").values_list("transition", flat=True))


def assert_told_to_reload(response, case):
    assert response.status_code == 200, response.status_code
    assert response.redirect_chain == [(page_url(case), 302)]
    text = shown(response)
    assert says(text, reload_text(case))
    assert "Done:" not in text


# --- stale: the page was loaded, then the case moved on --------------------------------------

STALE = [
    # (the button clicked on the stale page, what another person did after the page loaded)
    ("merchant_agree", "merchant_agree"),  # another agent agreed first
    ("merchant_agree", "merchant_refuse"),
    ("merchant_refuse", "merchant_agree"),  # issue #12: refuse after another agent agreed
    ("merchant_refuse", "merchant_refuse"),  # issue #12: refuse an already refused case
    ("confirm_refund", "confirm_refund"),
    ("confirm_refund", "refuse_return"),
    ("refuse_return", "confirm_refund"),
    ("refuse_return", "refuse_return"),
    ("reship", "reship"),  # another agent sent the replacement first
    ("reship", "confirm_refund"),  # another agent refunded instead (no stock)
    ("reship", "refuse_return"),
    ("rule", "rule"),  # issue #12: a ruling posted twice
    ("shorten_deadline", "merchant_agree"),  # issue #12: shorten after the merchant agreed
    ("shorten_deadline", "shorten_deadline"),  # another reviewer shortened it (same state, new deadline)
]


@pytest.mark.parametrize(("name", "other"), STALE)
def test_stale_button_is_told_to_reload_and_the_case_moves_once(shop, name, other):
    button = BUTTONS[name]
    case = live_case_in(button.state, shop=shop, kind=button.kind)
    who = people(shop, button.by)
    client = signed_in(who.clicker)
    data = load_button(client, case, name)
    before = log_rows(case)

    OTHERS[other](case, who)
    response = client.post(action_url(case, name), data, follow=True)

    assert_told_to_reload(response, case)
    assert log_rows(case) == [*before, other]  # exactly the other person's transition, once
    assert Refund.objects.filter(case=case).count() <= 1


@pytest.mark.parametrize("name", BUTTONS)
def test_the_same_form_posted_twice_acts_once(shop, name):
    """A double click, or the back button and submit again: the second post meets a changed case."""
    button = BUTTONS[name]
    case = live_case_in(button.state, shop=shop, kind=button.kind)
    client = signed_in(people(shop, button.by).clicker)
    data = load_button(client, case, name)
    before = log_rows(case)

    first = client.post(action_url(case, name), data, follow=True)
    assert f"Done: {button.label}." in shown(first)
    second = client.post(action_url(case, name), data, follow=True)

    assert_told_to_reload(second, case)
    assert log_rows(case) == [*before, name]
    assert Refund.objects.filter(case=case).count() == (1 if button.refunds else 0)


def test_a_deadline_that_passed_after_the_page_loaded_is_a_changed_case(shop, agent, monkeypatch):
    """The page was current, but the merchant's 48 h ran out before the click: the service applies
    the automatic agreement first (lazy deadline rule) and the click is told to reload."""
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    client = signed_in(agent)
    data = load_button(client, case, "merchant_refuse")
    later = timezone.now() + dt.timedelta(hours=48)
    monkeypatch.setattr(timezone, "now", lambda: later)

    response = client.post(action_url(case, "merchant_refuse"), data, follow=True)

    assert_told_to_reload(response, case)
    assert log_rows(case) == ["open", "auto_agree"]
    assert Refund.objects.filter(case=case).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {},  # a page that does not say what it showed cannot be judged: treated as stale
        {"expected_state": "no_such_state"},
        {"expected_state": State.PENDING_MERCHANT, "expected_changed_at": "yesterday"},
    ],
)
def test_a_post_without_a_readable_page_state_is_told_to_reload(shop, agent, data):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    response = signed_in(agent).post(action_url(case, "merchant_refuse"), {**data, "reason-reason": "x"}, follow=True)
    assert_told_to_reload(response, case)
    assert log_rows(case) == ["open"]


def test_a_current_page_with_an_invalid_field_still_shows_the_form_error(shop, agent):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    client = signed_in(agent)
    data = {**load_button(client, case, "merchant_refuse"), "reason-reason": ""}
    response = client.post(action_url(case, "merchant_refuse"), data)
    assert response.status_code == 200 and "This field is required" in shown(response)
    assert log_rows(case) == ["open"]


def test_a_stale_page_with_an_invalid_field_is_told_to_reload_not_to_fix_the_field(shop, agent):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    client = signed_in(agent)
    data = {**load_button(client, case, "merchant_refuse"), "reason-reason": ""}
    svc.case_merchant_agree(case=case, actor=factories.member(shop, "agent"), expected_state=State.PENDING_MERCHANT)
    assert_told_to_reload(client.post(action_url(case, "merchant_refuse"), data, follow=True), case)


def test_a_refusal_on_a_current_page_keeps_its_own_reason(shop, viewer):
    """Not every refusal is a changed case: a viewer may not agree, and is told so."""
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    client = signed_in(viewer)
    data = {"expected_state": case.state, "expected_changed_at": case.changed_at.isoformat()}
    response = client.post(action_url(case, "merchant_agree"), data, follow=True)
    text = shown(response)
    assert "may not merchant_agree" in text and "please reload" not in text
    assert log_rows(case) == ["open"]


def test_the_reload_message_reads_in_chinese_by_default(shop, agent, compiled_catalogues):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    client = signed_in(agent)
    data = load_button(client, case, "merchant_refuse")
    svc.case_merchant_agree(case=case, actor=factories.member(shop, "agent"), expected_state=State.PENDING_MERCHANT)
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]  # the site's default language: Chinese

    text = shown(client.post(action_url(case, "merchant_refuse"), data, follow=True))
    assert f"售后单 {case.platform_id} 已变化（当前：退款成功），请刷新页面" in text


# --- raced: many people post the same button at once (PostgreSQL, real threads) --------------

N = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", BUTTONS)
def test_raced_button_one_wins_the_rest_are_told_to_reload(postgres_only, shop, name):
    button = BUTTONS[name]
    case = live_case_in(button.state, shop=shop, kind=button.kind)
    users = [factories.member(shop, "agent") for _ in range(N)] if button.by == "agent" else reviewers(N)
    clients = [signed_in(user) for user in users]
    data = load_button(clients[0], case, name)  # the page everyone has open
    before = log_rows(case)

    outcomes = run_in_threads(N, lambda i: clients[i].post(action_url(case, name), data, follow=True))

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert not errors, errors  # no exception escaped a view: none would have been a 500
    assert sorted(o.status_code for o in outcomes) == [200] * N
    assert all(o.redirect_chain == [(page_url(case), 302)] for o in outcomes)
    texts = [shown(o) for o in outcomes]
    won = [t for t in texts if f"Done: {button.label}." in t]
    told = [t for t in texts if says(t, reload_text(case))]
    assert (len(won), len(told)) == (1, N - 1), texts
    assert log_rows(case) == [*before, name]
    assert Refund.objects.filter(case=case).count() == (1 if button.refunds else 0)


def test_every_admin_button_is_covered():
    from aftersales.case_admin import SERVICES

    assert set(BUTTONS) == set(SERVICES) == set(OTHERS)
    assert {name for name, _ in STALE} == set(BUTTONS)
