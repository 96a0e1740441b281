"""Automatic transitions at their deadlines (SPEC §2.3): the `process_deadlines` job and the lazy
rule the feed applies before an event touches a case (SPEC §8).

The job is set-based but is not a second state machine: which state leaves by which transition
to which target, and which fields that transition sets, all come from the @transition
declarations on AfterSalesCase. Elsewhere than PostgreSQL the log rows and refunds come from the
same `record_transitions` that a click in the admin uses; on PostgreSQL one statement a batch
writes those same columns from the rows its UPDATE returns (tests/aftersales/
test_deadline_batches.py holds every automatic transition's rows equal to the lazy rule's).
"""

import datetime as dt
import functools
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import Transition

from pddadmin.shops.models import Order
from pddadmin.timefmt import shown

from ..models import REASON_CLASS, AfterSalesCase, CaseTransition, Refund, State, automatic_transitions
from .cases import apply_due_locked, case_lock, record_transitions


@dataclass
class DeadlineReport:
    now: dt.datetime
    batches: int = 0
    applied: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.applied.values())

    def summary(self) -> str:
        parts = ", ".join(f"{n} {name}" for name, n in sorted(self.applied.items())) or "nothing due"
        return (
            f"process_deadlines: {self.total} cases moved at their deadlines up to {shown(self.now, seconds=True)} "
            f"({parts}) in {self.batches} batches, {self.seconds:.1f}s"
        )


def apply_due_deadlines(*, case: AfterSalesCase, now: dt.datetime) -> AfterSalesCase:
    """The lazy rule: apply the case's automatic transition if it fell due at or before `now`."""
    with transaction.atomic():
        case = case_lock(case)
        apply_due_locked(case, now)
    return case


def due_cases(now: dt.datetime):
    return AfterSalesCase.objects.filter(state__in=list(automatic_transitions()), due_at__lte=now)


def process_deadlines(
    *,
    now: dt.datetime | None = None,
    batch_size: int = 2000,
    on_progress: Callable[[int], None] | None = None,
) -> DeadlineReport:
    """Apply every automatic transition due at or before `now`, each stamped with its deadline.

    Batches are claimed with SELECT … FOR UPDATE SKIP LOCKED, so two copies of the job (or the
    job and a merchant clicking) never handle one case twice: rows another transaction holds
    are skipped, and rows it has already moved no longer match. On PostgreSQL a batch is one
    statement (`_move_sql`); elsewhere it is the portable loop below, which writes the same
    rows through `record_transitions`.
    """
    started = time.monotonic()
    now = now or timezone.now()
    report = DeadlineReport(now=now)
    batches = _batches_postgresql if connection.vendor == "postgresql" else _batches_portable
    for applied in batches(now, batch_size):
        report.applied.update(applied)
        report.batches += 1
        if on_progress:
            on_progress(sum(applied.values()))
    report.seconds = time.monotonic() - started
    return report


# --- PostgreSQL: one statement a batch ------------------------------------------------------------


def _batches_postgresql(now: dt.datetime, batch_size: int) -> Iterator[Counter]:
    """Batches walk the partial index `case_due` (id, due_at), which holds only the cases that
    have a deadline: finished cases cost nothing, the rows come in the index's order (no sort)
    and, ids following the table's order, each batch writes a few neighbouring heap pages. The
    keyset id > the last batch's keeps a batch from re-reading the rows already done (their
    entries stay in the index until vacuum) and the rows another worker holds."""
    last_id = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_move_sql(), _move_params(now=now, batch_size=batch_size, after=last_id))
            rows = cursor.fetchall()
        if not rows:
            return
        last_id = rows[0][2]
        applied = Counter({name: n for name, n, _last in rows if name is not None})
        if applied:
            yield applied


@functools.cache
def _move_sql() -> str:
    """The batch statement, built from the @transition declarations (which state leaves by which
    transition to which target, setting which fields) and writing the log rows and refunds that
    `record_transitions` writes, column for column.

    candidates: the next due rows by id, locked (SKIP LOCKED). The state test is a step of its
    own, after the lock: beside the deadline it would make PostgreSQL multiply two selectivities
    of the same rows (the open states, the cases with a deadline) and guess a tenth of the due
    rows, and so sort them all in every batch instead of walking the index. claimed: those in a
    state an automatic transition leaves (all of them: only such a state has a deadline); moved:
    their UPDATE, RETURNING the new row and the state it left; then the log row of every moved
    case and the refund of every case that entered `refunded`, from what `moved` returned (the
    other parts of one statement see the table as it was before the UPDATE). The answer: one row
    per transition with its count, and the batch's last id (the next keyset); no row at all when
    nothing was due."""
    qn = connection.ops.quote_name
    leaving = automatic_transitions()
    cases = qn(AfterSalesCase._meta.db_table)

    def col(model, name: str) -> str:
        return qn(model._meta.get_field(name).column)

    def by_state(value: Callable[[Transition], Any], otherwise: str) -> str:
        whens = " ".join(f"WHEN {_literal(s)} THEN {_literal(value(t))}" for s, t in leaving.items())
        return f"CASE claimed.state {whens} ELSE {otherwise} END"

    # deadline_changes() says what an automatic transition sets; F("due_at") is the deadline.
    stamped: dict[str, str] = {"state": by_state(lambda t: t.target, "c.state")}
    set_by: dict[str, dict[str, Any]] = {}
    for source, spec in leaving.items():
        for name, value in AfterSalesCase.deadline_changes(spec, F("due_at")).items():
            set_by.setdefault(name, {})[source] = value
    for name, values in set_by.items():
        column = col(AfterSalesCase, name)
        if name == "updated_at":
            stamped[name] = "%(stamp)s"
        elif all(isinstance(v, F) and v.name == "due_at" for v in values.values()) and len(values) == len(leaving):
            stamped[name] = f"c.{col(AfterSalesCase, 'due_at')}"
        elif all(v is None for v in values.values()) and len(values) == len(leaving):
            stamped[name] = "NULL"
        else:
            whens = " ".join(f"WHEN {_literal(s)} THEN {_literal(v)}" for s, v in values.items())
            stamped[name] = f"CASE claimed.state {whens} ELSE c.{column} END"
    sets = ", ".join(f"{col(AfterSalesCase, name)} = {expr}" for name, expr in stamped.items())
    log_columns = ", ".join(
        col(CaseTransition, n)
        for n in ("case", "transition", "from_state", "to_state", "actor_kind", "actor", "at", "note", "recorded_at")
    )
    refund_columns = ", ".join(
        col(Refund, n)
        for n in ("case", "order", "shop", "goods", "amount", "reason", "reason_class", "intervened", "liable")
    )
    reason_class = " ".join(f"WHEN {_literal(r)} THEN {_literal(c)}" for r, c in REASON_CLASS.items())
    return f"""
        WITH candidates AS (
            SELECT id, state FROM {cases} WHERE due_at <= %(now)s AND id > %(after)s
            ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        ), claimed AS (
            SELECT id, state FROM candidates WHERE state = ANY(%(states)s)
        ), moved AS (
            UPDATE {cases} c SET {sets} FROM claimed WHERE c.id = claimed.id
            RETURNING c.id, c.state, c.changed_at, c.order_id, c.shop_id, c.amount, c.reason, c.intervened_at,
                c.liable, claimed.state AS from_state, {by_state(lambda t: t.name, "NULL")} AS transition,
                {by_state(lambda t: t.custom["actor"], "NULL")} AS actor_kind
        ), logged AS (
            INSERT INTO {qn(CaseTransition._meta.db_table)} ({log_columns})
            SELECT id, transition, from_state, state, actor_kind, NULL, changed_at, '', %(stamp)s FROM moved
        ), refunded AS (
            INSERT INTO {qn(Refund._meta.db_table)} ({refund_columns}, {col(Refund, "refunded_at")})
            SELECT m.id, m.order_id, m.shop_id, o.goods_id, m.amount, m.reason, CASE m.reason {reason_class} END,
                m.intervened_at IS NOT NULL, m.liable, m.changed_at
            FROM moved m JOIN {qn(Order._meta.db_table)} o ON o.id = m.order_id
            WHERE m.state = {_literal(State.REFUNDED)}
        ), counted AS (
            SELECT transition, count(*) AS n FROM moved GROUP BY transition
        )
        SELECT counted.transition, counted.n, last.id
        FROM (SELECT max(id) AS id FROM candidates) last LEFT JOIN counted ON true
        WHERE last.id IS NOT NULL
        ORDER BY counted.transition
    """


def _move_params(*, now: dt.datetime, batch_size: int, after: int) -> dict[str, Any]:
    return {
        "now": now,
        "after": after,
        "limit": batch_size,
        "states": [str(s) for s in automatic_transitions()],
        "stamp": timezone.now(),
    }


def _literal(value: str | None) -> str:
    """A string constant of the batch statement (the declarations' names, states and reasons:
    identifiers of our own, never user input); None is NULL. Anything else (a value a future
    declaration sets that is not a string) fails here rather than being written as its str()."""
    if value is None:
        return "NULL"
    if not isinstance(value, str) or "'" in value or "%" in value:
        raise TypeError(f"not a plain string constant: {value!r}")
    return f"'{value!s}'"  # !s: a choice's value, whatever its enum formats as


# --- other databases: the portable loop -----------------------------------------------------------


def _batches_portable(now: dt.datetime, batch_size: int) -> Iterator[Counter]:
    """Walking by id keeps each batch query a forward index scan instead of re-reading the rows
    already done."""
    leaving = automatic_transitions()
    last_id = 0
    while True:
        applied: Counter = Counter()
        with transaction.atomic():
            rows = list(
                due_cases(now)
                .filter(pk__gt=last_id)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", "state")[:batch_size]
            )
            if not rows:
                return
            last_id = rows[-1][0]
            by_state: dict[str, list[int]] = defaultdict(list)
            for pk, state in rows:
                by_state[state].append(pk)
            for state, ids in by_state.items():
                spec = leaving[state]
                AfterSalesCase.objects.filter(pk__in=ids, state=state).update(
                    state=spec.target, **AfterSalesCase.deadline_changes(spec, F("due_at"))
                )
                record_transitions(
                    case_ids=ids,
                    transition=spec.name,
                    from_state=state,
                    to_state=spec.target,
                    actor_kind=spec.custom["actor"],
                )
                applied[spec.name] += len(ids)
        yield applied
