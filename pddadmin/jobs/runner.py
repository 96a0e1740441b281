"""The scheduled jobs and the one function django-q2 calls to run any of them.

A job runs its management command in-process: the command is the thin shell over the service
function (SPEC §9), so a scheduled run and an operator's run by hand do exactly the same work and
print the same summary line. Every run leaves a JobRun row, failures included.
"""

import datetime as dt
import io
import time
import traceback
from dataclasses import dataclass, field

from django.core.management import call_command
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_q.models import Schedule

from .models import JobRun, Outcome

RUN_JOB = "pddadmin.jobs.runner.run_job"
SUMMARY_MAX = JobRun._meta.get_field("summary").max_length


@dataclass(frozen=True)
class Job:
    name: str
    command: str
    description: Promise
    every: Promise  # how often, for people
    schedule_type: str
    minutes: int | None = None
    cron: str | None = None  # read by django-q2 in Q_CLUSTER["time_zone"], default settings.TIME_ZONE
    options: dict = field(default_factory=dict)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            name="process_deadlines",
            command="process_deadlines",
            description=_("automatic after-sales transitions at their deadlines"),
            every=_("every minute"),
            schedule_type=Schedule.MINUTES,
            minutes=1,
        ),
        Job(
            name="issue_payouts",
            command="issue_payouts",
            description=_("national-warranty payouts for upheld violations"),
            every=_("every 5 minutes"),
            schedule_type=Schedule.MINUTES,
            minutes=5,
        ),
        Job(
            name="compute_metrics",
            command="compute_metrics",
            # The command's default day is yesterday in Asia/Shanghai: at 00:10 that is the day
            # that has just ended.
            description=_("service-quality snapshot of the day before"),
            every=_("daily at 00:10 (Asia/Shanghai)"),
            schedule_type=Schedule.CRON,
            cron="10 0 * * *",
        ),
    )
}


class UnknownJob(KeyError):
    pass


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:SUMMARY_MAX] if lines else ""


def run_job(name: str, **options) -> str:
    """Run job `name` (options go to its command), record the run, return its summary line.

    A failure is recorded with its traceback and then re-raised, so django-q2 also files the
    task under its failures: a failing job is never silent.
    """
    try:
        job = JOBS[name]
    except KeyError:
        raise UnknownJob(f"unknown job {name!r}; known: {', '.join(sorted(JOBS))}") from None
    started_at = timezone.now()
    clock = time.monotonic()
    run = JobRun.objects.create(job=name, started_at=started_at)
    out, err = io.StringIO(), io.StringIO()  # progress bars stay off: not a terminal
    try:
        call_command(job.command, stdout=out, stderr=err, **{**job.options, **options})
    except Exception as exc:
        _finish(
            run,
            clock,
            outcome=Outcome.FAILED,
            summary=_last_line(f"{type(exc).__name__}: {exc}"),  # the error, not half a report
            error=traceback.format_exc(),
        )
        raise
    summary = _last_line(out.getvalue())
    _finish(run, clock, outcome=Outcome.OK, summary=summary, error="")
    return summary


def _finish(run: JobRun, clock: float, *, outcome: str, summary: str, error: str) -> None:
    run.finished_at = timezone.now()
    run.duration = dt.timedelta(seconds=time.monotonic() - clock)
    run.outcome, run.summary, run.error = outcome, summary, error
    # A plain UPDATE of this row only: the job's own transaction (if it failed) is long gone.
    run.save(update_fields=["finished_at", "duration", "outcome", "summary", "error"])
