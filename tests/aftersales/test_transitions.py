"""Every row of the SPEC §2.3 transition table, and every transition the table does not allow."""

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.errors import CaseChanged, CasePermissionDenied, CaseRuleError
from aftersales.models import (
    OPEN_STATES,
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
from tests import factories
from tests.aftersales.helpers import DAY, HOUR, OPENED, T0, case_in, last_step_at, make_order, open_case

pytestmark = pytest.mark.django_db


def log_of(case):
    return list(
        CaseTransition.objects.filter(case=case).order_by("id").values_list("transition", "from_state", "to_state")
    )


# --- open ------------------------------------------------------------------------------------


def test_open_creates_pending_case_with_48h_deadline_and_log_row():
    case = open_case(kind=Kind.RETURN_REFUND)
    assert case.state == State.PENDING_MERCHANT
    assert case.due_at == OPENED + dt.timedelta(hours=48)
    assert case.opened_at == case.submitted_at == case.changed_at == OPENED
    row = CaseTransition.objects.get(case=case)
    assert (row.transition, row.from_state, row.to_state, row.actor_kind, row.at) == (
        "open",
        "",
        State.PENDING_MERCHANT,
        "buyer",
        OPENED,
    )


def test_refund_only_on_unreceived_order_is_open_long_after_placement():
    case = open_case(at=T0 + dt.timedelta(days=90))
    assert case.state == State.PENDING_MERCHANT


@pytest.mark.parametrize(
    ("aftersales_until", "opened", "ok"),
    [
        (None, dt.timedelta(days=15), True),  # received + 15 d exactly: still inside
        (None, dt.timedelta(days=15, seconds=1), False),
        (dt.timedelta(days=30), dt.timedelta(days=29), True),  # the merchant's promise is later
        (dt.timedelta(days=5), dt.timedelta(days=16), False),  # an earlier promise does not shorten 15 d
    ],
)
def test_window_end_is_later_of_received_plus_15_days_and_aftersales_until(aftersales_until, opened, ok):
    received = T0 + DAY
    order = make_order(received=received, aftersales_until=aftersales_until and received + aftersales_until)
    if ok:
        assert open_case(order, at=received + opened).state == State.PENDING_MERCHANT
    else:
        with pytest.raises(CaseRuleError, match=r"after-sales window of order .* ended"):
            open_case(order, at=received + opened)


def test_return_refund_needs_shipped_order():
    with pytest.raises(CaseRuleError, match="is not shipped: only a refund-only case"):
        open_case(kind=Kind.RETURN_REFUND, shipped=False)
    assert open_case(kind=Kind.REFUND_ONLY, shipped=False).state == State.PENDING_MERCHANT


def test_special_goods_take_refund_only():
    with pytest.raises(CaseRuleError, match="special goods"):
        open_case(kind=Kind.RETURN_REFUND, special=True)
    assert open_case(kind=Kind.REFUND_ONLY, special=True).state == State.PENDING_MERCHANT


def test_one_open_case_per_order():
    order = make_order()
    open_case(order)
    with pytest.raises(CaseRuleError, match="already has an open case"):
        open_case(order, at=OPENED + HOUR)


def test_closed_case_lets_the_buyer_open_again_but_a_refunded_order_takes_no_case():
    closed = case_in(State.CLOSED)
    again = open_case(closed.order, at=OPENED + DAY)
    assert again.state == State.PENDING_MERCHANT
    refunded = case_in(State.REFUNDED)
    with pytest.raises(CaseRuleError, match="has been refunded and takes no new case"):
        open_case(refunded.order, at=OPENED + DAY)


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0.00", "greater than 0"), ("-1.00", "greater than 0"), ("59.91", "exceeds the order's paid amount 59.90")],
)
def test_amount_bounds(amount, message):
    with pytest.raises(CaseRuleError, match=message):
        open_case(amount=amount)


def test_amount_equal_to_order_amount_is_allowed():
    assert open_case(amount="59.90").amount == Decimal("59.90")


def test_duplicate_case_id_and_unknown_kind_or_reason_are_refused():
    case = open_case()
    with pytest.raises(CaseRuleError, match="already exists"):
        svc.case_open(
            platform_id=case.platform_id,
            order=make_order(),
            kind=Kind.REFUND_ONLY,
            reason=Reason.OTHER,
            amount=Decimal("1.00"),
            at=OPENED,
        )
    with pytest.raises(CaseRuleError, match="unknown case kind"):
        svc.case_open(
            platform_id="X1", order=make_order(), kind="swap", reason=Reason.OTHER, amount=Decimal("1.00"), at=OPENED
        )
    with pytest.raises(CaseRuleError, match="unknown reason"):
        svc.case_open(
            platform_id="X2",
            order=make_order(),
            kind=Kind.REFUND_ONLY,
            reason="bored",
            amount=Decimal("1.00"),
            at=OPENED,
        )


# --- merchant_agree ---------------------------------------------------------------------------


def test_merchant_agree_refund_only_refunds_at_once(shop, agent):
    case = open_case(make_order(shop=shop))
    case = svc.case_merchant_agree(case=case, actor=agent, at=OPENED + HOUR)
    assert case.state == State.REFUNDED and case.resolved_at == OPENED + HOUR and case.due_at is None
    refund = Refund.objects.get(case=case)
    assert (refund.amount, refund.reason, refund.reason_class, refund.intervened, refund.liable) == (
        Decimal("59.90"),
        Reason.QUALITY_ISSUE,
        "quality",
        False,
        "",
    )
    assert refund.refunded_at == OPENED + HOUR
    assert (refund.order_id, refund.shop_id, refund.goods_id) == (case.order_id, shop.pk, case.order.goods_id)
    row = CaseTransition.objects.get(case=case, transition="merchant_agree")
    assert (row.actor_kind, row.actor, row.to_state) == ("merchant", agent, State.REFUNDED)


def test_merchant_agree_return_copies_default_address_and_waits_7_days(shop):
    address = factories.ReturnAddressFactory(shop=shop, is_default=True)
    case = open_case(make_order(shop=shop), kind=Kind.RETURN_REFUND)
    case = svc.case_merchant_agree(case=case, at=OPENED + HOUR)
    assert case.state == State.AWAITING_RETURN
    assert (case.return_receiver, case.return_phone, case.return_region, case.return_detail) == (
        address.receiver,
        address.phone,
        "浙江省/杭州市/西湖区",
        address.detail,
    )
    assert case.due_at == OPENED + HOUR + dt.timedelta(days=7)
    assert not Refund.objects.filter(case=case).exists()
    address.detail = "moved"
    address.save()
    case.refresh_from_db()
    assert case.return_detail != "moved"  # the copy does not follow later edits


def test_merchant_agree_return_with_chosen_address(shop):
    factories.ReturnAddressFactory(shop=shop, is_default=True)
    chosen = factories.ReturnAddressFactory(shop=shop, detail="仓库2号")
    case = open_case(make_order(shop=shop), kind=Kind.RETURN_REFUND)
    case = svc.case_merchant_agree(case=case, at=OPENED + HOUR, address=chosen)
    assert case.return_detail == "仓库2号"


def test_merchant_agree_return_refuses_another_shops_address(shop, other_shop):
    factories.ReturnAddressFactory(shop=shop, is_default=True)
    foreign = factories.ReturnAddressFactory(shop=other_shop, is_default=True)
    case = open_case(make_order(shop=shop), kind=Kind.RETURN_REFUND)
    with pytest.raises(CaseRuleError, match="must be one of shop"):
        svc.case_merchant_agree(case=case, at=OPENED + HOUR, address=foreign)
    case.refresh_from_db()
    assert case.state == State.PENDING_MERCHANT


def test_merchant_agree_return_without_any_address_is_refused(shop):
    case = open_case(make_order(shop=shop), kind=Kind.RETURN_REFUND)
    with pytest.raises(CaseRuleError, match="has no return address"):
        svc.case_merchant_agree(case=case, at=OPENED + HOUR)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.PENDING_MERCHANT


# --- merchant_refuse, resubmit, escalate -------------------------------------------------------


def test_merchant_refuse_needs_reason_and_gives_buyer_7_days():
    case = open_case()
    with pytest.raises(CaseRuleError, match="a reason for refusing is required"):
        svc.case_merchant_refuse(case=case, reason="  ", at=OPENED + HOUR)
    case = svc.case_merchant_refuse(case=case, reason="item was used", at=OPENED + HOUR)
    assert case.state == State.MERCHANT_REFUSED
    assert case.merchant_statement == "item was used"
    assert case.refused_at == OPENED + HOUR and case.due_at == OPENED + HOUR + dt.timedelta(days=7)
    assert CaseTransition.objects.get(case=case, transition="merchant_refuse").note == "item was used"


def test_resubmit_gives_new_48h_and_may_change_amount_and_reason():
    case = case_in(State.MERCHANT_REFUSED)
    at = OPENED + DAY * 3
    case = svc.case_resubmit(case=case, at=at, amount=Decimal("20.00"), reason=Reason.DAMAGED_IN_TRANSIT)
    assert case.state == State.PENDING_MERCHANT
    assert case.due_at == at + dt.timedelta(hours=48) and case.submitted_at == at
    assert (case.amount, case.reason) == (Decimal("20.00"), Reason.DAMAGED_IN_TRANSIT)


def test_resubmit_keeps_amount_and_reason_when_not_given_and_checks_bounds():
    case = case_in(State.MERCHANT_REFUSED)
    with pytest.raises(CaseRuleError, match="exceeds the order's paid amount"):
        svc.case_resubmit(case=case, at=OPENED + DAY, amount=Decimal("60.00"))
    case = svc.case_resubmit(case=case, at=OPENED + DAY)
    assert (case.amount, case.reason) == (Decimal("59.90"), Reason.QUALITY_ISSUE)


@pytest.mark.parametrize("state", [State.MERCHANT_REFUSED, State.RETURN_REFUSED])
def test_escalate_enters_intervention_and_stamps_intervened_at(state):
    case = case_in(state)
    at = last_step_at(state) + HOUR
    case = svc.case_escalate(case=case, at=at)
    assert case.state == State.UNDER_INTERVENTION
    assert case.escalated_at == case.intervened_at == at and case.due_at is None


# --- cancel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", OPEN_STATES)
def test_cancel_from_every_open_state(state):
    case = case_in(state)
    at = last_step_at(state) + HOUR
    case = svc.case_cancel(case=case, at=at)
    assert (case.state, case.close_reason, case.resolved_at, case.due_at) == (
        State.CLOSED,
        CloseReason.BUYER_CANCELLED,
        at,
        None,
    )
    assert log_of(case)[-1] == ("cancel", state, State.CLOSED)
    assert not Refund.objects.filter(case=case).exists()


# --- the return -----------------------------------------------------------------------------


def test_ship_return_needs_tracking_and_gives_merchant_7_days():
    case = case_in(State.AWAITING_RETURN)
    at = last_step_at(State.AWAITING_RETURN) + HOUR
    with pytest.raises(CaseRuleError, match="tracking number is required"):
        svc.case_ship_return(case=case, at=at, tracking="")
    case = svc.case_ship_return(case=case, at=at, tracking="YT9")
    assert (case.state, case.return_tracking, case.return_shipped_at) == (State.RETURN_SHIPPED, "YT9", at)
    assert case.due_at == at + dt.timedelta(days=7)


def test_confirm_refund_after_return():
    case = case_in(State.RETURN_SHIPPED)
    at = last_step_at(State.RETURN_SHIPPED) + HOUR
    case = svc.case_confirm_refund(case=case, at=at)
    assert case.state == State.REFUNDED
    assert Refund.objects.get(case=case).refunded_at == at


def test_refuse_return_needs_reason_and_gives_buyer_7_days():
    case = case_in(State.RETURN_SHIPPED)
    at = last_step_at(State.RETURN_SHIPPED) + HOUR
    with pytest.raises(CaseRuleError, match="reason for refusing the refund is required"):
        svc.case_refuse_return(case=case, reason="", at=at)
    case = svc.case_refuse_return(case=case, reason="parcel was empty", at=at)
    assert (case.state, case.refused_at, case.due_at) == (State.RETURN_REFUSED, at, at + dt.timedelta(days=7))


# --- rule ------------------------------------------------------------------------------------


def test_rule_for_buyer_refunds_with_merchant_liable(reviewer):
    case = case_in(State.UNDER_INTERVENTION)
    at = last_step_at(State.UNDER_INTERVENTION) + HOUR
    case = svc.case_rule(case=case, liable=Liable.MERCHANT, note="photos show the crack", actor=reviewer, at=at)
    assert (case.state, case.liable, case.ruling_note, case.resolved_at) == (
        State.REFUNDED,
        Liable.MERCHANT,
        "photos show the crack",
        at,
    )
    refund = Refund.objects.get(case=case)
    assert (refund.intervened, refund.liable, refund.refunded_at) == (True, Liable.MERCHANT, at)
    row = CaseTransition.objects.get(case=case, transition="rule")
    assert (row.actor_kind, row.actor, row.note) == ("reviewer", reviewer, "photos show the crack")


def test_rule_for_merchant_closes_with_buyer_liable(reviewer):
    case = case_in(State.UNDER_INTERVENTION)
    case = svc.case_rule(
        case=case,
        liable=Liable.BUYER,
        note="no evidence",
        actor=reviewer,
        at=last_step_at(State.UNDER_INTERVENTION) + HOUR,
    )
    assert (case.state, case.close_reason, case.liable) == (State.CLOSED, CloseReason.RULED_FOR_MERCHANT, Liable.BUYER)
    assert not Refund.objects.filter(case=case).exists()


def test_rule_needs_note_and_a_known_liable_party(reviewer):
    case = case_in(State.UNDER_INTERVENTION)
    at = last_step_at(State.UNDER_INTERVENTION) + HOUR
    with pytest.raises(CaseRuleError, match="a ruling note is required"):
        svc.case_rule(case=case, liable=Liable.MERCHANT, note=" ", actor=reviewer, at=at)
    with pytest.raises(CaseRuleError, match="liable must be merchant or buyer"):
        svc.case_rule(case=case, liable="courier", note="n", actor=reviewer, at=at)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.UNDER_INTERVENTION


def test_refund_reason_is_the_reason_in_force_at_refund():
    case = case_in(State.MERCHANT_REFUSED)
    case = svc.case_resubmit(case=case, at=OPENED + DAY, reason=Reason.LOST_IN_TRANSIT)
    svc.case_merchant_agree(case=case, at=OPENED + DAY + HOUR)
    refund = Refund.objects.get(case=case)
    assert (refund.reason, refund.reason_class) == (Reason.LOST_IN_TRANSIT, "logistics")


# --- permissions -----------------------------------------------------------------------------


def test_merchant_transitions_need_an_owner_or_agent_of_the_case_shop(shop, owner, agent, viewer, outsider, reviewer):
    for user in (viewer, outsider, reviewer):
        case = open_case(make_order(shop=shop))
        with pytest.raises(CasePermissionDenied, match="may not merchant_agree"):
            svc.case_merchant_agree(case=case, actor=user, at=OPENED + HOUR)
    assert svc.case_merchant_agree(case=open_case(make_order(shop=shop)), actor=owner, at=OPENED + HOUR).state == (
        State.REFUNDED
    )


def test_only_reviewers_rule(agent, reviewer):
    case = case_in(State.UNDER_INTERVENTION)
    with pytest.raises(CasePermissionDenied):
        svc.case_rule(case=case, liable=Liable.BUYER, note="n", actor=agent, at=OPENED + DAY)


def test_expected_state_mismatch_is_case_changed():
    case = case_in(State.MERCHANT_REFUSED)
    with pytest.raises(CaseChanged, match=r"changed .*please reload"):
        svc.case_merchant_agree(case=case, at=OPENED + DAY, expected_state=State.PENDING_MERCHANT)


def test_event_older_than_last_change_is_refused():
    case = case_in(State.MERCHANT_REFUSED)
    with pytest.raises(CaseRuleError, match="older than the last change"):
        svc.case_escalate(case=case, at=OPENED)


# --- every illegal transition ---------------------------------------------------------------

ACTIONS = {
    "merchant_agree": lambda c, at: svc.case_merchant_agree(case=c, at=at),
    "merchant_refuse": lambda c, at: svc.case_merchant_refuse(case=c, reason="r", at=at),
    "resubmit": lambda c, at: svc.case_resubmit(case=c, at=at),
    "escalate": lambda c, at: svc.case_escalate(case=c, at=at),
    "cancel": lambda c, at: svc.case_cancel(case=c, at=at),
    "ship_return": lambda c, at: svc.case_ship_return(case=c, at=at, tracking="T"),
    "confirm_refund": lambda c, at: svc.case_confirm_refund(case=c, at=at),
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
    "refuse_return": {State.RETURN_SHIPPED},
    "rule": {State.UNDER_INTERVENTION},
    "shorten_deadline": {State.PENDING_MERCHANT},
}
ILLEGAL = [(name, state) for name in ACTIONS for state in State if state not in ALLOWED_FROM[name]]


def test_allowed_sources_match_the_fsm_declarations():
    declared: dict[str, set] = {}
    for t in AfterSalesCase._meta.get_field("state").get_all_transitions(AfterSalesCase):
        declared.setdefault(t.name, set()).add(t.source)
    assert {name: declared[name] for name in ALLOWED_FROM} == ALLOWED_FROM
    assert declared["open"] == {""}
    assert declared["auto_agree"] == {State.PENDING_MERCHANT}
    assert declared["expire"] == {State.MERCHANT_REFUSED, State.AWAITING_RETURN, State.RETURN_REFUSED}
    assert declared["auto_refund"] == {State.RETURN_SHIPPED}


@pytest.mark.parametrize(("name", "state"), ILLEGAL)
def test_illegal_transition_is_refused_with_a_clear_message(name, state):
    case = case_in(state)
    before = log_of(case)
    with pytest.raises(CaseRuleError, match=rf"case {case.platform_id} is {state}: {name} is only possible from"):
        ACTIONS[name](case, last_step_at(state) + HOUR)
    assert AfterSalesCase.objects.get(pk=case.pk).state == state
    assert log_of(case) == before


def test_state_field_cannot_be_set_directly():
    case = open_case()
    with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
        case.state = State.REFUNDED


def test_log_rows_read_as_the_transition_labels_staff_see():
    from aftersales.models import CaseTransition

    assert str(CaseTransition(transition="merchant_refuse").label) == "Refuse"
    assert str(CaseTransition(transition="no_such_transition").label) == "no_such_transition"
