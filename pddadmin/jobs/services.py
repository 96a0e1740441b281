"""Writes of the jobs app: the django-q2 schedules of every job, kept in step with JOBS."""

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from .runner import JOBS, RUN_JOB, Job


def _wanted(job: Job) -> dict:
    return {
        "func": RUN_JOB,
        "args": repr(job.name),  # django-q2 literal_evals this string into the call's arguments
        "kwargs": None,
        "schedule_type": job.schedule_type,
        "minutes": job.minutes,
        "cron": job.cron,
        "repeats": -1,
    }


def schedules_setup() -> dict[str, str]:
    """Create or update one schedule per job, by name; per job "created", "updated" or "unchanged".

    Idempotent: a schedule that already matches is left alone, next run included, so running
    this at every start never shifts or repeats a run. A changed timing restarts from now.
    """
    outcome: dict[str, str] = {}
    for job in JOBS.values():
        wanted = _wanted(job)
        with transaction.atomic():
            existing = list(Schedule.objects.select_for_update().filter(name=job.name).order_by("pk"))
            # Duplicates (say, added by hand in the admin) would run the job twice per period.
            for extra in existing[1:]:
                extra.delete()
            if not existing:
                Schedule.objects.create(name=job.name, **wanted)  # a cron schedule computes its next run on create
                outcome[job.name] = "created"
                continue
            schedule = existing[0]
            changed = {k for k, v in wanted.items() if getattr(schedule, k) != v}
            if not changed and len(existing) == 1:
                outcome[job.name] = "unchanged"
                continue
            for key, value in wanted.items():
                setattr(schedule, key, value)
            if changed & {"schedule_type", "minutes", "cron"}:
                schedule.next_run = (
                    schedule.calculate_next_run() if job.schedule_type == Schedule.CRON else timezone.now()
                )
            schedule.save()
            outcome[job.name] = "updated"
    return outcome
