"""The deadline job's batches (SPEC §2.3, issue #20.2): on PostgreSQL one statement a batch; every
automatic transition leaves the rows the single-case path (the lazy rule) leaves, whatever the
batch size; a case another transaction holds is skipped and moved by the next run."""

import datetime as dt
import math
import threading

import pytest
from django.db import connection, connections, transaction

from aftersales.models import AfterSalesCase, CaseTransition, Kind, Refund, State
from aftersales.services.deadlines import apply_due_deadlines, process_deadlines
from tests.aftersales.helpers import HOUR, T0, case_in, open_case

pytestmark = pytest.mark.django_db
FAR = T0 + dt.timedelta(days=365)

# Every state an automatic transition leaves, and for the merchant's deadline every kind.
DUE = [
    (State.PENDING_MERCHANT, Kind.REFUND_ONLY),
    (State.PENDING_MERCHANT, Kind.RETURN_REFUND),
    (State.PENDING_MERCHANT, Kind.EXCHANGE),
    (State.MERCHANT_REFUSED, None),
    (State.AWAITING_RETURN, None),
    (State.RETURN_SHIPPED, None),
    (State.RETURN_SHIPPED, Kind.EXCHANGE),
    (State.RETURN_REFUSED, None),
]
CASE_FIELDS = ("state", "due_at", "resolved_at", "changed_at", "close_reason", "liable", "amount", "reason")
LOG_FIELDS = ("transition", "from_state", "to_state", "actor_kind", "actor", "at", "note")
REFUND_FIELDS = ("amount", "reason", "reason_class", "intervened", "liable", "refunded_at")


def written(case: AfterSalesCase) -> tuple:
    """What the deadline wrote for one case: the case's fields, its log row, its refund."""
    row = AfterSalesCase.objects.filter(pk=case.pk).values(*CASE_FIELDS).get()
    log = list(CaseTransition.objects.filter(case=case).order_by("-at", "-id").values(*LOG_FIELDS)[:1])
    refund = list(Refund.objects.filter(case=case).values(*REFUND_FIELDS))
    refund_ids = list(Refund.objects.filter(case=case).values_list("order_id", "shop_id", "goods_id"))
    expected_ids = [(case.order_id, case.shop_id, case.order.goods_id)] if refund else []
    assert refund_ids == expected_ids
    return row, log, refund


@pytest.mark.parametrize("batch_size", [1, 3, 2000])
def test_the_job_writes_what_the_lazy_rule_writes_for_every_automatic_transition(batch_size):
    pairs = [(case_in(state, kind=kind), case_in(state, kind=kind)) for state, kind in DUE]
    for _job, single in pairs:
        apply_due_deadlines(case=single, now=FAR)
    report = process_deadlines(now=FAR, batch_size=batch_size)
    assert report.total == len(DUE)
    assert report.batches == math.ceil(len(DUE) / batch_size)
    assert dict(report.applied) == {"auto_agree": 3, "expire": 3, "auto_refund": 2}
    for job, single in pairs:
        assert written(job) == written(single)
    assert Refund.objects.count() == 2 * 5
    assert process_deadlines(now=FAR).total == 0


def test_a_case_not_due_or_without_deadline_is_left_as_it_was():
    due = case_in(State.MERCHANT_REFUSED)
    waiting = case_in(State.UNDER_INTERVENTION)
    finished = case_in(State.REFUNDED)
    not_yet = open_case(at=FAR - HOUR)
    before = {c.pk: written(c) for c in (waiting, finished, not_yet)}
    report = process_deadlines(now=FAR)
    assert report.total == 1 and report.applied["expire"] == 1
    assert {c.pk: written(c) for c in (waiting, finished, not_yet)} == before
    assert AfterSalesCase.objects.get(pk=due.pk).state == State.CLOSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_case_another_transaction_holds_is_skipped_then_moved_by_the_next_run(postgres_only):
    held, free = case_in(State.PENDING_MERCHANT), case_in(State.PENDING_MERCHANT)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                AfterSalesCase.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(30)
        first = process_deadlines(now=FAR)
    finally:
        release.set()
        holder.join()
    assert first.total == 1
    assert AfterSalesCase.objects.get(pk=free.pk).state == State.REFUNDED
    assert AfterSalesCase.objects.get(pk=held.pk).state == State.PENDING_MERCHANT
    second = process_deadlines(now=FAR)
    assert second.total == 1
    assert AfterSalesCase.objects.get(pk=held.pk).state == State.REFUNDED
    assert Refund.objects.filter(case__in=[held, free]).count() == 2
    assert CaseTransition.objects.filter(case__in=[held, free], transition="auto_agree").count() == 2


@pytest.mark.postgres
def test_the_job_claims_through_the_due_cases_index_on_postgresql(postgres_only):
    """The claim can walk case_due_walk, the partial index of the cases with a deadline, in its
    order, sorting nothing (a sort of all due rows in every batch was the slowdown of issue #20.2;
    bench/results/process_deadlines.md shows the plan on 1,100,000 cases). On a test's few rows
    the planner would rather sort them: the table scans are switched off to ask what it can do."""
    from aftersales.services.deadlines import _move_params, _move_sql

    case_in(State.PENDING_MERCHANT)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + _move_sql(), _move_params(now=FAR, batch_size=2000, after=0))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    claim = plan.split("CTE candidates")[1].split("CTE moved")[0]
    assert "case_due_walk" in claim and "Sort" not in claim, plan
