"""Automatic transitions at their deadlines (SPEC §2.3): the `process_deadlines` job and the lazy
rule the feed applies before an event touches a case (SPEC §8).

The job is set-based but is not a second state machine: which state leaves by which transition
to which target, and which fields that transition sets, all come from the @transition
declarations on AfterSalesCase; the log rows and refunds come from the same
`record_transitions` that a click in the admin uses.
"""

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from pddadmin.timefmt import shown

from ..models import AfterSalesCase, automatic_transitions
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
    are skipped, and rows it has already moved no longer match. Walking by id keeps each batch
    query a forward index scan instead of re-reading the rows already done.
    """
    started = time.monotonic()
    now = now or timezone.now()
    leaving = automatic_transitions()
    report = DeadlineReport(now=now)
    last_id = 0
    while True:
        with transaction.atomic():
            rows = list(
                due_cases(now)
                .filter(pk__gt=last_id)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", "state")[:batch_size]
            )
            if not rows:
                break
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
                report.applied[spec.name] += len(ids)
        report.batches += 1
        if on_progress:
            on_progress(len(rows))
    report.seconds = time.monotonic() - started
    return report
