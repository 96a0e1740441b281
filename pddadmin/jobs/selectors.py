"""Reads of the jobs app: what each scheduled job did last, and what went wrong recently."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django_q.models import Schedule

from .models import JobRun, Outcome
from .runner import JOBS, Job

RECENT_FAILURES = 5


@dataclass(frozen=True)
class JobStatus:
    job: Job
    schedule: Schedule | None
    last_run: JobRun | None
    last_ok: JobRun | None
    failures: list[JobRun]
    stuck: bool  # the last run is still "running" long after the cluster would have killed it

    @property
    def failing(self) -> bool:
        return self.stuck or (self.last_run is not None and self.last_run.outcome == Outcome.FAILED)


def job_statuses(*, now: dt.datetime) -> list[JobStatus]:
    """One status per job (a handful of jobs: a few small indexed queries each)."""
    schedules = {s.name: s for s in Schedule.objects.filter(name__in=list(JOBS)).order_by("-pk")}
    timeout = dt.timedelta(seconds=settings.Q_CLUSTER.get("timeout") or 600)
    statuses = []
    for name, job in JOBS.items():
        runs = JobRun.objects.filter(job=name)
        last_run = runs.first()
        statuses.append(
            JobStatus(
                job=job,
                schedule=schedules.get(name),
                last_run=last_run,
                last_ok=runs.filter(outcome=Outcome.OK).first(),
                failures=list(runs.filter(outcome=Outcome.FAILED)[:RECENT_FAILURES]),
                stuck=last_run is not None
                and last_run.outcome == Outcome.RUNNING
                and last_run.started_at < now - timeout,
            )
        )
    return statuses
