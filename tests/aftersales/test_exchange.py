"""Exchanges (换货, SPEC §2.1, §2.3): who may open one and when, every row of the §2.3 tables an
exchange takes, and every transition refused from each state an exchange can be in."""

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from aftersales.errors import CasePermissionDenied, CaseRuleError
from aftersales.models import (
    EXCHANGE_REASONS,
    OPEN_STATES,
    REASON_CLASS,
    AfterSalesCase,
    CaseTransition,
    CloseReason,
    Kind,
    Liable,
    Reason,
    Refund,
    State,
)
from aftersales.services import cases as svc
from aftersales.services.deadlines import process_deadlines
from pddadmin.timefmt import shown
from tests import factories
from tests.aftersales.helpers import (
    DAY,
    EXCHANGE_PATHS,
    HOUR,
    OPENED,
    RECEIVED,
    T0,
    case_in,
    last_step_at,
    make_order,
    open_case,
    with_address,
)

pytestmark = pytest.mark.django_db
SECOND = dt.timedelta(seconds=1)
WEEK = dt.timedelta(days=7)


def exchange_order(**kw):
    order = make_order(received=kw.pop("received", RECEIVED), **kw)
    with_address(order.shop)
    return order


def open_exchange(order=None, *, reason=Reason.QUALITY_ISSUE, at=OPENED, amount="59.90", **kw):
    return open_case(order or exchange_order(**kw), kind=Kind.EXCHANGE, reason=reason, at=at, amount=amount)


def exchange_in(state: str, **kw) -> AfterSalesCase:
    return case_in(state, kind=Kind.EXCHANGE, **kw)


def log_of(case):
    return list(
        CaseTransition.objects.filter(case=case).order_by("id").values_list("transition", "from_state", "to_state")
    )


# --- open: SPEC §2.1 --------------------------------------------------------------------------


def test_open_an_exchange_on_a_received_order():
    case = open_exchange()
    assert (case.kind, case.state, case.due_at) == (Kind.EXCHANGE, State.PENDING_MERCHANT, OPENED + 48 * HOUR)
    assert log_of(case) == [("open", "", State.PENDING_MERCHANT)]


@pytest.mark.parametrize(("after_receipt", "ok"), [(WEEK - SECOND, True), (WEEK, True), (WEEK + SECOND, False)])
def test_the_exchange_window_is_7_x_24_hours_after_receipt_inclusive(after_receipt, ok):
    order = exchange_order()
    if ok:
        assert open_exchange(order, at=RECEIVED + after_receipt).state == State.PENDING_MERCHANT
    else:
        end = re.escape(shown(RECEIVED + WEEK))
        with pytest.raises(CaseRuleError, match=rf"exchange window of order {order.platform_id} .* ended at {end}"):
            open_exchange(order, at=RECEIVED + after_receipt)
        assert not AfterSalesCase.objects.filter(order=order).exists()


def test_a_longer_merchant_promise_extends_refunds_but_not_the_exchange_window():
    order = exchange_order(aftersales_until=RECEIVED + 30 * DAY)
    late = RECEIVED + WEEK + SECOND
    with pytest.raises(CaseRuleError, match="exchange window"):
        open_exchange(order, at=late)
    assert open_case(order, kind=Kind.RETURN_REFUND, at=late).state == State.PENDING_MERCHANT


def test_an_exchange_needs_a_received_order():
    shipped = make_order(shipped=True)
    with_address(shipped.shop)
    with pytest.raises(CaseRuleError, match=rf"order {shipped.platform_id} is not received: an exchange can be opened"):
        open_exchange(shipped)
    unshipped = make_order(shipped=False)
    with pytest.raises(CaseRuleError, match="is not shipped: only a refund-only case"):
        open_exchange(unshipped)
    assert not AfterSalesCase.objects.exists()


def test_special_goods_take_no_exchange():
    order = exchange_order(special=True)
    with pytest.raises(CaseRuleError, match=rf"goods {order.goods.platform_id} are special goods .*: no exchange"):
        open_exchange(order)
    assert open_case(order, kind=Kind.REFUND_ONLY).state == State.PENDING_MERCHANT


ALLOWED_REASONS = [
    *sorted(r for r in Reason.values if REASON_CLASS[r] == "quality"),
    Reason.DAMAGED_IN_TRANSIT,
    Reason.WRONG_OR_MISSING,
    Reason.OTHER,
]
REFUSED_REASONS = [Reason.CHANGED_MIND, Reason.NOT_SHIPPED, Reason.LOST_IN_TRANSIT]


def test_the_reason_lists_cover_every_reason_once():
    assert sorted(ALLOWED_REASONS + REFUSED_REASONS) == sorted(Reason.values)
    assert set(ALLOWED_REASONS) == EXCHANGE_REASONS


@pytest.mark.parametrize("reason", ALLOWED_REASONS)
def test_each_allowed_reason_opens_an_exchange(reason):
    assert open_exchange(reason=reason).reason == reason


@pytest.mark.parametrize("reason", REFUSED_REASONS)
def test_each_refused_reason_is_refused_with_the_rule(reason):
    order = exchange_order()
    with pytest.raises(CaseRuleError, match=rf"an exchange needs a quality reason .*, not {reason}"):
        open_exchange(order, reason=reason)
    # The same reason is fine for a refund: the rule is the exchange's.
    assert open_case(order, kind=Kind.RETURN_REFUND, reason=reason).state == State.PENDING_MERCHANT


def test_one_open_case_per_order_holds_for_exchanges_too():
    order = exchange_order()
    open_case(order, kind=Kind.REFUND_ONLY)
    with pytest.raises(CaseRuleError, match="already has an open case"):
        open_exchange(order, at=OPENED + HOUR)


def test_an_exchanged_order_takes_a_new_case_and_a_refunded_one_does_not():
    exchanged = exchange_in(State.EXCHANGED)
    at = last_step_at(State.EXCHANGED, Kind.EXCHANGE) + HOUR
    # Terminal for the database's one-open-case index too: the new case is the only open one.
    again = open_exchange(exchanged.order, at=at, reason=Reason.DEFECTIVE)
    assert again.state == State.PENDING_MERCHANT
    refunded = exchange_in(State.REFUNDED)
    with pytest.raises(CaseRuleError, match="has been refunded and takes no new case"):
        open_exchange(refunded.order, at=last_step_at(State.REFUNDED, Kind.EXCHANGE) + HOUR)


# --- the merchant's answer ------------------------------------------------------------------


def test_merchant_agree_copies_the_chosen_address_and_waits_for_the_return(shop, agent):
    factories.ReturnAddressFactory(shop=shop, is_default=True)
    chosen = factories.ReturnAddressFactory(shop=shop, detail="仓库2号", receiver="换货组")
    case = open_exchange(exchange_order(shop=shop))
    case = svc.case_merchant_agree(case=case, actor=agent, at=OPENED + HOUR, address=chosen)
    assert case.state == State.AWAITING_RETURN
    assert (case.return_receiver, case.return_detail, case.agreed_at) == ("换货组", "仓库2号", OPENED + HOUR)
    assert case.due_at == OPENED + HOUR + WEEK
    assert not Refund.objects.filter(case=case).exists()
    chosen.detail = "moved"
    chosen.save()
    case.refresh_from_db()
    assert case.return_detail == "仓库2号"


def test_merchant_agree_without_address_takes_the_shop_default(shop):
    default = factories.ReturnAddressFactory(shop=shop, is_default=True)
    case = svc.case_merchant_agree(case=open_exchange(exchange_order(shop=shop)), at=OPENED + HOUR)
    assert case.return_detail == default.detail


def test_an_exchange_cannot_be_agreed_while_the_shop_has_no_return_address(shop):
    case = open_case(make_order(shop=shop, received=RECEIVED), kind=Kind.EXCHANGE)
    with pytest.raises(CaseRuleError, match="has no return address"):
        svc.case_merchant_agree(case=case, at=OPENED + HOUR)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.PENDING_MERCHANT


def test_merchant_refuse_then_resubmit_with_a_new_48h():
    case = exchange_in(State.MERCHANT_REFUSED)
    at = OPENED + 3 * DAY
    case = svc.case_resubmit(case=case, at=at, amount=Decimal("30.00"), reason=Reason.WRONG_OR_MISSING)
    assert (case.state, case.amount, case.reason, case.due_at) == (
        State.PENDING_MERCHANT,
        Decimal("30.00"),
        Reason.WRONG_OR_MISSING,
        at + 48 * HOUR,
    )


@pytest.mark.parametrize("reason", REFUSED_REASONS)
def test_a_resubmitted_exchange_keeps_a_reason_an_exchange_allows(reason):
    case = exchange_in(State.MERCHANT_REFUSED)
    with pytest.raises(CaseRuleError, match=rf"an exchange needs a quality reason .*, not {reason}"):
        svc.case_resubmit(case=case, at=OPENED + DAY, amount=Decimal("10.00"), reason=reason)
    stored = AfterSalesCase.objects.get(pk=case.pk)
    assert (stored.state, stored.reason, stored.amount) == (
        State.MERCHANT_REFUSED,
        Reason.QUALITY_ISSUE,
        Decimal("59.90"),
    )
    assert svc.case_resubmit(case=case, at=OPENED + DAY).reason == Reason.QUALITY_ISSUE  # unchanged: fine


# --- the return, and the merchant's check of it ------------------------------------------------


def test_ship_return_gives_the_merchant_7_days():
    case = exchange_in(State.AWAITING_RETURN)
    at = last_step_at(State.AWAITING_RETURN, Kind.EXCHANGE) + HOUR
    case = svc.case_ship_return(case=case, at=at, tracking="YT77")
    assert (case.state, case.return_tracking, case.due_at) == (State.RETURN_SHIPPED, "YT77", at + WEEK)


def test_reship_ends_the_exchange_with_the_replacements_tracking_and_no_refund(shop, agent):
    case = exchange_in(State.RETURN_SHIPPED, shop=shop)
    at = last_step_at(State.RETURN_SHIPPED, Kind.EXCHANGE) + HOUR
    case = svc.case_reship(case=case, tracking="  SF123456789  ", actor=agent, at=at)
    stored = AfterSalesCase.objects.get(pk=case.pk)
    assert (stored.state, stored.reship_tracking, stored.resolved_at, stored.due_at) == (
        State.EXCHANGED,
        "SF123456789",
        at,
        None,
    )
    assert not Refund.objects.filter(order=stored.order).exists()
    row = CaseTransition.objects.get(case=case, transition="reship")
    assert (row.from_state, row.to_state, row.actor_kind, row.actor, row.at, row.note) == (
        State.RETURN_SHIPPED,
        State.EXCHANGED,
        "merchant",
        agent,
        at,
        "SF123456789",
    )
    assert str(row.label) == "Send replacement"


@pytest.mark.parametrize("tracking", ["", "   ", None])
def test_reship_needs_the_replacements_tracking_number(tracking):
    case = exchange_in(State.RETURN_SHIPPED)
    with pytest.raises(CaseRuleError, match="the replacement's tracking number is required"):
        svc.case_reship(case=case, tracking=tracking, at=last_step_at(State.RETURN_SHIPPED, Kind.EXCHANGE) + HOUR)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.RETURN_SHIPPED
    assert log_of(case)[-1][0] == "ship_return"


def test_only_an_exchange_is_reshipped():
    case = case_in(State.RETURN_SHIPPED, kind=Kind.RETURN_REFUND)
    with pytest.raises(CaseRuleError, match=rf"case {case.platform_id} is return and refund, not an exchange"):
        svc.case_reship(case=case, tracking="SF1", at=last_step_at(State.RETURN_SHIPPED) + HOUR)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.RETURN_SHIPPED


def test_reship_is_for_the_shops_owners_and_agents(shop, owner, viewer, outsider, reviewer):
    for user in (viewer, outsider, reviewer):
        case = exchange_in(State.RETURN_SHIPPED, shop=shop)
        with pytest.raises(CasePermissionDenied, match="may not reship"):
            svc.case_reship(case=case, tracking="SF1", actor=user, at=OPENED + DAY)
    case = exchange_in(State.RETURN_SHIPPED, shop=shop)
    assert svc.case_reship(case=case, tracking="SF1", actor=owner, at=OPENED + DAY).state == State.EXCHANGED


def test_confirm_refund_when_the_replacement_cannot_be_sent_refunds_the_case_amount():
    case = open_exchange(amount="20.00")
    case = svc.case_merchant_agree(case=case, at=OPENED + HOUR)
    case = svc.case_ship_return(case=case, at=OPENED + 2 * HOUR, tracking="YT1")
    case = svc.case_confirm_refund(case=case, at=OPENED + 3 * HOUR)
    assert case.state == State.REFUNDED
    refund = Refund.objects.get(case=case)
    assert (refund.amount, refund.refunded_at, refund.reason_class) == (Decimal("20.00"), OPENED + 3 * HOUR, "quality")


def test_refuse_return_needs_a_reason_and_gives_the_buyer_7_days():
    case = exchange_in(State.RETURN_SHIPPED)
    at = last_step_at(State.RETURN_SHIPPED, Kind.EXCHANGE) + HOUR
    with pytest.raises(CaseRuleError, match="a reason for refusing the refund is required"):
        svc.case_refuse_return(case=case, reason=" ", at=at)
    case = svc.case_refuse_return(case=case, reason="returned item was used", at=at)
    assert (case.state, case.due_at) == (State.RETURN_REFUSED, at + WEEK)


@pytest.mark.parametrize("state", [State.MERCHANT_REFUSED, State.RETURN_REFUSED])
def test_escalate_an_exchange(state):
    case = exchange_in(state)
    at = last_step_at(state, Kind.EXCHANGE) + HOUR
    case = svc.case_escalate(case=case, at=at)
    assert (case.state, case.intervened_at, case.due_at) == (State.UNDER_INTERVENTION, at, None)


@pytest.mark.parametrize("state", OPEN_STATES)
def test_cancel_an_exchange_from_every_open_state(state):
    case = exchange_in(state)
    at = last_step_at(state, Kind.EXCHANGE) + HOUR
    case = svc.case_cancel(case=case, at=at)
    assert (case.state, case.close_reason, case.resolved_at) == (State.CLOSED, CloseReason.BUYER_CANCELLED, at)
    assert not Refund.objects.filter(case=case).exists()


# --- rulings ------------------------------------------------------------------------------------


def test_an_exchange_ruled_against_the_merchant_is_refunded(reviewer):
    case = exchange_in(State.UNDER_INTERVENTION)
    at = last_step_at(State.UNDER_INTERVENTION, Kind.EXCHANGE) + HOUR
    case = svc.case_rule(case=case, liable=Liable.MERCHANT, note="goods faulty", actor=reviewer, at=at)
    assert (case.state, case.liable) == (State.REFUNDED, Liable.MERCHANT)
    refund = Refund.objects.get(case=case)
    assert (refund.intervened, refund.liable, refund.amount, refund.refunded_at) == (
        True,
        Liable.MERCHANT,
        case.amount,
        at,
    )


def test_an_exchange_ruled_for_the_merchant_is_closed(reviewer):
    case = exchange_in(State.UNDER_INTERVENTION)
    at = last_step_at(State.UNDER_INTERVENTION, Kind.EXCHANGE) + HOUR
    case = svc.case_rule(case=case, liable=Liable.BUYER, note="no fault found", actor=reviewer, at=at)
    assert (case.state, case.close_reason) == (State.CLOSED, CloseReason.RULED_FOR_MERCHANT)
    assert not Refund.objects.filter(case=case).exists()


# --- the deadlines (automatic transitions) -------------------------------------------------------


def test_merchant_silence_refunds_an_exchange_without_a_return():
    case = open_exchange()
    deadline = OPENED + 48 * HOUR
    assert process_deadlines(now=deadline - SECOND).total == 0
    report = process_deadlines(now=deadline + 30 * DAY)
    assert report.applied == {"auto_agree": 1}
    case.refresh_from_db()
    assert (case.state, case.resolved_at, case.return_receiver) == (State.REFUNDED, deadline, "")
    refund = Refund.objects.get(case=case)
    assert (refund.refunded_at, refund.amount) == (deadline, case.amount)  # stamped at its deadline
    assert log_of(case)[-1] == ("auto_agree", State.PENDING_MERCHANT, State.REFUNDED)


@pytest.mark.parametrize("state", [State.MERCHANT_REFUSED, State.AWAITING_RETURN, State.RETURN_REFUSED])
def test_buyer_silence_closes_an_exchange(state):
    case = exchange_in(state)
    deadline = last_step_at(state, Kind.EXCHANGE) + WEEK
    assert case.due_at == deadline
    process_deadlines(now=deadline)
    case.refresh_from_db()
    assert (case.state, case.close_reason, case.resolved_at) == (State.CLOSED, CloseReason.BUYER_OVERDUE, deadline)
    assert log_of(case)[-1] == ("expire", state, State.CLOSED)
    assert not Refund.objects.exists()


def test_merchant_silence_after_the_return_refunds_the_exchange():
    case = exchange_in(State.RETURN_SHIPPED)
    deadline = last_step_at(State.RETURN_SHIPPED, Kind.EXCHANGE) + WEEK
    process_deadlines(now=deadline + DAY)
    case.refresh_from_db()
    assert (case.state, case.resolved_at) == (State.REFUNDED, deadline)
    assert Refund.objects.get(case=case).refunded_at == deadline
    assert log_of(case)[-1] == ("auto_refund", State.RETURN_SHIPPED, State.REFUNDED)


def test_a_reship_after_the_merchants_deadline_meets_the_automatic_refund():
    case = exchange_in(State.RETURN_SHIPPED)
    deadline = last_step_at(State.RETURN_SHIPPED, Kind.EXCHANGE) + WEEK
    with pytest.raises(CaseRuleError, match=rf"case {case.platform_id} is refunded: reship is only possible from"):
        svc.case_reship(case=case, tracking="SF1", at=deadline + SECOND)
    case.refresh_from_db()
    assert case.state == State.REFUNDED and case.resolved_at == deadline  # the lazy rule, outside a feed line


def test_an_exchanged_case_waits_for_nothing():
    case = exchange_in(State.EXCHANGED)
    assert case.due_at is None
    assert process_deadlines(now=T0 + 365 * DAY).total == 0
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.EXCHANGED


# --- every transition an exchange refuses, from each state it can be in ------------------------

ACTIONS = {
    "merchant_agree": lambda c, at: svc.case_merchant_agree(case=c, at=at),
    "merchant_refuse": lambda c, at: svc.case_merchant_refuse(case=c, reason="r", at=at),
    "resubmit": lambda c, at: svc.case_resubmit(case=c, at=at),
    "escalate": lambda c, at: svc.case_escalate(case=c, at=at),
    "cancel": lambda c, at: svc.case_cancel(case=c, at=at),
    "ship_return": lambda c, at: svc.case_ship_return(case=c, at=at, tracking="T"),
    "confirm_refund": lambda c, at: svc.case_confirm_refund(case=c, at=at),
    "reship": lambda c, at: svc.case_reship(case=c, tracking="SF1", at=at),
    "refuse_return": lambda c, at: svc.case_refuse_return(case=c, reason="r", at=at),
    "rule": lambda c, at: svc.case_rule(case=c, liable=Liable.MERCHANT, note="n", at=at),
    "shorten_deadline": lambda c, at: svc.case_shorten_deadline(case=c, at=at, due_at=at + DAY + HOUR),
}
ALLOWED_FROM = {
    "merchant_agree": {State.PENDING_MERCHANT},
    "merchant_refuse": {State.PENDING_MERCHANT},
    "resubmit": {State.MERCHANT_REFUSED},
    "escalate": {State.MERCHANT_REFUSED, State.RETURN_REFUSED},
    "cancel": set(OPEN_STATES),
    "ship_return": {State.AWAITING_RETURN},
    "confirm_refund": {State.RETURN_SHIPPED},
    "reship": {State.RETURN_SHIPPED},
    "refuse_return": {State.RETURN_SHIPPED},
    "rule": {State.UNDER_INTERVENTION},
    "shorten_deadline": {State.PENDING_MERCHANT},
}
ILLEGAL = [(name, state) for name in ACTIONS for state in EXCHANGE_PATHS if state not in ALLOWED_FROM[name]]


def test_the_exchange_reaches_every_state_and_the_actions_are_every_declared_one():
    from aftersales.models import declared_transitions

    assert set(EXCHANGE_PATHS) == set(State)
    automatic = {"open", "auto_agree", "expire", "auto_refund"}
    assert set(ACTIONS) == set(declared_transitions()) - automatic
    assert {name: set(declared_transitions()[name]) for name in ACTIONS} == ALLOWED_FROM
    assert set(declared_transitions()["reship"]) == {State.RETURN_SHIPPED}
    assert {t.target for t in declared_transitions()["reship"].values()} == {State.EXCHANGED}


@pytest.mark.parametrize(("name", "state"), ILLEGAL)
def test_each_transition_an_exchange_refuses_in_each_state(name, state):
    case = exchange_in(state)
    before = log_of(case)
    with pytest.raises(CaseRuleError, match=rf"case {case.platform_id} is {state}: {name} is only possible from"):
        ACTIONS[name](case, last_step_at(state, Kind.EXCHANGE) + HOUR)
    stored = AfterSalesCase.objects.get(pk=case.pk)
    assert (stored.state, stored.reship_tracking) == (state, "SF300" if state == State.EXCHANGED else "")
    assert log_of(case) == before
    assert Refund.objects.filter(case=case).count() == (1 if state == State.REFUNDED else 0)


# --- export_cases (SPEC §9) ---------------------------------------------------------------------


def test_export_cases_has_the_exchange_kind_and_state(reviewer):
    exchanged = exchange_in(State.EXCHANGED)
    refunded = exchange_in(State.UNDER_INTERVENTION)
    ruled_at = last_step_at(State.UNDER_INTERVENTION, Kind.EXCHANGE) + HOUR
    svc.case_rule(case=refunded, liable=Liable.MERCHANT, note="n", actor=reviewer, at=ruled_at)
    out = io.StringIO()
    call_command("export_cases", "--format", "jsonl", stdout=out)
    rows = {row["case"]: row for row in map(json.loads, out.getvalue().splitlines())}
    assert rows[exchanged.platform_id] == {
        "case": exchanged.platform_id,
        "order": exchanged.order.platform_id,
        "shop": exchanged.shop.platform_id,
        "kind": "exchange",
        "state": "exchanged",
        "close_reason": None,
        "reason": "quality_issue",
        "amount": "59.90",
        "refund_amount": None,  # an exchange done is no refund
        "refunded_at": None,
        "intervened": False,
        "liable": None,
    }
    row = rows[refunded.platform_id]
    assert (row["kind"], row["state"], row["refund_amount"], row["intervened"], row["liable"]) == (
        "exchange",
        "refunded",
        "59.90",
        True,
        "merchant",
    )
    out = io.StringIO()
    call_command("export_cases", "--format", "csv", stdout=out)
    by_case = {r["case"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (by_case[exchanged.platform_id]["kind"], by_case[exchanged.platform_id]["state"]) == (
        "exchange",
        "exchanged",
    )
