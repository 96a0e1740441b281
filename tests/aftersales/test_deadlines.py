"""Deadlines (SPEC §2.3): each waiting state's due moment, the automatic transitions stamped with
it, the job and the lazy rule taking the same path, and the reviewer's shortening floor."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from aftersales.errors import CaseChanged, CaseRuleError
from aftersales.models import AfterSalesCase, CaseTransition, CloseReason, Kind, Refund, State
from aftersales.services import cases as svc
from aftersales.services.deadlines import apply_due_deadlines, process_deadlines
from tests.aftersales.helpers import DAY, HOUR, OPENED, T0, case_in, last_step_at, make_order, open_case

pytestmark = pytest.mark.django_db
H48 = dt.timedelta(hours=48)
D7 = dt.timedelta(days=7)
FAR = T0 + dt.timedelta(days=365)


def transition_row(case, name):
    return CaseTransition.objects.get(case=case, transition=name)


# --- due moments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("promised", "expected"),
    [
        (dt.timedelta(hours=10), dt.timedelta(hours=10)),  # promised shipping comes first
        (dt.timedelta(hours=100), H48),  # 48 h comes first
        (-dt.timedelta(hours=5), dt.timedelta(0)),  # promise already broken: due at once
    ],
)
def test_unshipped_refund_only_deadline_is_earlier_of_48h_and_promised_ship_by(promised, expected):
    order = make_order(shipped=False, promised_ship_by=OPENED + promised)
    case = open_case(order)
    assert case.due_at == OPENED + expected


def test_shipped_order_or_return_refund_ignores_promised_ship_by():
    shipped = open_case(make_order(promised_ship_by=OPENED + HOUR))
    assert shipped.due_at == OPENED + H48


def test_waiting_states_due_moments():
    assert case_in(State.MERCHANT_REFUSED).due_at == last_step_at(State.MERCHANT_REFUSED) + D7
    assert case_in(State.AWAITING_RETURN).due_at == last_step_at(State.AWAITING_RETURN) + D7
    assert case_in(State.RETURN_SHIPPED).due_at == last_step_at(State.RETURN_SHIPPED) + D7
    assert case_in(State.RETURN_REFUSED).due_at == last_step_at(State.RETURN_REFUSED) + D7
    assert case_in(State.UNDER_INTERVENTION).due_at is None


# --- automatic transitions through the job --------------------------------------------------


def test_auto_agree_refunds_at_the_deadline_not_the_run_time():
    case = open_case()
    report = process_deadlines(now=FAR)
    assert report.applied == {"auto_agree": 1}
    case.refresh_from_db()
    deadline = OPENED + H48
    assert (case.state, case.resolved_at, case.changed_at, case.due_at) == (State.REFUNDED, deadline, deadline, None)
    assert Refund.objects.get(case=case).refunded_at == deadline
    row = transition_row(case, "auto_agree")
    assert (row.from_state, row.to_state, row.actor_kind, row.actor, row.at) == (
        State.PENDING_MERCHANT,
        State.REFUNDED,
        "system",
        None,
        deadline,
    )


def test_auto_agree_of_a_return_refund_refunds_without_return():
    case = case_in(State.PENDING_MERCHANT, kind=Kind.RETURN_REFUND)
    process_deadlines(now=FAR)
    case.refresh_from_db()
    assert case.state == State.REFUNDED and case.return_shipped_at is None
    assert Refund.objects.filter(case=case).count() == 1


@pytest.mark.parametrize("state", [State.MERCHANT_REFUSED, State.AWAITING_RETURN, State.RETURN_REFUSED])
def test_expire_closes_for_buyer_overdue_after_7_days(state):
    case = case_in(state)
    deadline = last_step_at(state) + D7
    process_deadlines(now=deadline - dt.timedelta(seconds=1))
    assert AfterSalesCase.objects.get(pk=case.pk).state == state  # not yet due
    process_deadlines(now=deadline)  # due "at or before" now
    case.refresh_from_db()
    assert (case.state, case.close_reason, case.resolved_at) == (State.CLOSED, CloseReason.BUYER_OVERDUE, deadline)
    assert transition_row(case, "expire").at == deadline
    assert not Refund.objects.filter(case=case).exists()


def test_auto_refund_after_7_days_of_merchant_silence_on_a_return():
    case = case_in(State.RETURN_SHIPPED)
    deadline = last_step_at(State.RETURN_SHIPPED) + D7
    process_deadlines(now=FAR)
    case.refresh_from_db()
    assert (case.state, case.resolved_at) == (State.REFUNDED, deadline)
    assert Refund.objects.get(case=case).refunded_at == deadline


def test_job_is_idempotent_and_leaves_cases_without_deadline_alone():
    due = [case_in(s) for s in (State.PENDING_MERCHANT, State.MERCHANT_REFUSED, State.RETURN_SHIPPED)]
    waiting = case_in(State.UNDER_INTERVENTION)
    not_due = open_case(at=FAR - HOUR)
    first = process_deadlines(now=FAR, batch_size=2)
    assert first.total == 3 and first.batches == 2
    assert process_deadlines(now=FAR).total == 0
    assert AfterSalesCase.objects.get(pk=waiting.pk).state == State.UNDER_INTERVENTION
    assert AfterSalesCase.objects.get(pk=not_due.pk).state == State.PENDING_MERCHANT
    assert CaseTransition.objects.filter(case__in=due, at__gt=OPENED + DAY).count() == 3


def test_job_and_single_case_path_write_the_same_rows():
    batch, single = open_case(), open_case()
    apply_due_deadlines(case=single, now=FAR)
    process_deadlines(now=FAR)
    fields = ("transition", "from_state", "to_state", "actor_kind", "actor", "at", "note")
    rows = [
        CaseTransition.objects.filter(case=c, transition="auto_agree").values(*fields).get() for c in (batch, single)
    ]
    assert rows[0] == rows[1]
    refunds = [
        Refund.objects.filter(case=c)
        .values("amount", "reason", "reason_class", "intervened", "liable", "refunded_at")
        .get()
        for c in (batch, single)
    ]
    assert refunds[0] == refunds[1]
    for c in (batch, single):
        c.refresh_from_db()
    assert (batch.state, batch.resolved_at, batch.changed_at) == (single.state, single.resolved_at, single.changed_at)


# --- the lazy rule in the services --------------------------------------------------------------


def test_merchant_acting_after_the_deadline_meets_the_auto_agreed_case():
    case = open_case()
    with pytest.raises(CaseChanged):
        svc.case_merchant_refuse(
            case=case, reason="late", at=OPENED + H48 + HOUR, expected_state=State.PENDING_MERCHANT
        )
    case.refresh_from_db()
    assert case.state == State.REFUNDED  # the lazy rule's own work is kept
    assert Refund.objects.get(case=case).refunded_at == OPENED + H48


def test_reopening_after_buyer_overdue_without_running_the_job():
    refused = case_in(State.MERCHANT_REFUSED)
    later = last_step_at(State.MERCHANT_REFUSED) + D7 + DAY
    again = open_case(refused.order, at=later)
    refused.refresh_from_db()
    assert (refused.state, refused.close_reason) == (State.CLOSED, CloseReason.BUYER_OVERDUE)
    assert again.state == State.PENDING_MERCHANT and again.order_id == refused.order_id


def test_open_case_not_yet_due_still_blocks_a_new_one():
    refused = case_in(State.MERCHANT_REFUSED)
    with pytest.raises(CaseRuleError, match="already has an open case"):
        open_case(refused.order, at=last_step_at(State.MERCHANT_REFUSED) + D7 - HOUR)


# --- shortening ---------------------------------------------------------------------------------


def test_reviewer_shortens_merchant_deadline_not_below_24h(reviewer):
    case = open_case(make_order(promised_ship_by=FAR))
    now = OPENED + HOUR
    with pytest.raises(CaseRuleError, match="earlier than 24 hours from now"):
        svc.case_shorten_deadline(case=case, due_at=now + dt.timedelta(hours=23, minutes=59), actor=reviewer, at=now)
    case = svc.case_shorten_deadline(case=case, due_at=now + dt.timedelta(hours=24), actor=reviewer, at=now)
    assert case.due_at == now + dt.timedelta(hours=24) and case.state == State.PENDING_MERCHANT
    row = transition_row(case, "shorten_deadline")
    assert (row.from_state, row.to_state, row.actor, row.at) == (
        State.PENDING_MERCHANT,
        State.PENDING_MERCHANT,
        reviewer,
        now,
    )
    process_deadlines(now=now + dt.timedelta(hours=24))
    case.refresh_from_db()
    assert case.state == State.REFUNDED and case.resolved_at == now + dt.timedelta(hours=24)


def test_shortening_never_extends(reviewer):
    case = open_case()
    with pytest.raises(CaseRuleError, match="does not shorten"):
        svc.case_shorten_deadline(case=case, due_at=OPENED + H48 + HOUR, actor=reviewer, at=OPENED + HOUR)


def test_shortening_is_for_reviewers_and_pending_cases_only(agent, reviewer):
    case = open_case()
    with pytest.raises(CaseRuleError, match="may not shorten_deadline"):
        svc.case_shorten_deadline(case=case, due_at=OPENED + DAY + HOUR, actor=agent, at=OPENED)
    refused = case_in(State.MERCHANT_REFUSED)
    with pytest.raises(CaseRuleError, match="shorten_deadline is only possible from pending_merchant"):
        svc.case_shorten_deadline(case=refused, due_at=OPENED + DAY * 3, actor=reviewer, at=OPENED + DAY)


# --- the command ------------------------------------------------------------------------------


def test_process_deadlines_command_prints_one_summary_line():
    open_case()
    case_in(State.MERCHANT_REFUSED)
    out = io.StringIO()
    call_command("process_deadlines", "--now", FAR.isoformat(), stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("process_deadlines: 2 cases moved") and "1 auto_agree, 1 expire" in lines[0]
    out = io.StringIO()
    call_command("process_deadlines", "--now", FAR.isoformat(), stdout=out)
    assert "0 cases moved" in out.getvalue()


def test_process_deadlines_command_rejects_a_bad_time():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ISO-8601"):
        call_command("process_deadlines", "--now", "tomorrow")
