"""What the management commands share: argument parsing, and how a job command starts."""

import datetime as dt
import gc

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


def parse_moment_option(value: str, option: str) -> dt.datetime:
    """An ISO-8601 time for a command option such as --now.

    With a UTC offset it is taken as given; without one (or a bare date, meaning its midnight)
    it is a wall-clock time in the platform's time zone (Asia/Shanghai), as operators read it.
    """
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise CommandError(
            f"{option} must be an ISO-8601 time such as 2026-01-05T00:00:00+08:00, got {value!r}"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


class JobCommand(BaseCommand):
    """A command operators and the scheduler run for its work: it starts without Django's system
    checks, as the scheduler's call_command always has. Checking the templates and URLs imports
    every view and template tag, ~0.4 s of a 1 s start-up, and says nothing about the job
    (`manage.py check` is the command for them); --skip-checks is still accepted.

    What start-up made (modules, models, URL patterns: most of a job's objects) is frozen while the
    job runs: the collector's full passes, which a job's many allocations trigger, then skip it
    instead of walking it each time. Unfrozen after, so a process that runs commands again and again
    (the tests, a scheduler's worker) does not keep what was alive at each start."""

    def execute(self, *args, **options):
        gc.freeze()
        try:
            return super().execute(*args, **{**options, "skip_checks": True})
        finally:
            gc.unfreeze()
