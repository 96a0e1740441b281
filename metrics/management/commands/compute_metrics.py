"""compute_metrics [--date D]: the daily shop and goods snapshots (SPEC §5, §9)."""

import datetime as dt
import time

from django.core.management.base import CommandError, no_translations

from metrics.services import metrics_compute
from metrics.windows import yesterday
from pddadmin.cli import JobCommand


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"invalid date {value!r}: expected YYYY-MM-DD") from exc


class Command(JobCommand):
    help = "Compute the service-quality snapshot of every shop and goods for one day (default: yesterday)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="day D (YYYY-MM-DD, Asia/Shanghai); default: yesterday")

    @no_translations
    def handle(self, *args, **options):
        day = parse_date(options["date"]) if options["date"] else yesterday()
        started = time.monotonic()
        result = metrics_compute(day=day)
        self.stdout.write(
            f"compute_metrics: {day.isoformat()}: {result.shops} shops, {result.goods} goods "
            f"({result.flagged_goods} flagged, {result.restricted_goods} restricted) "
            f"in {time.monotonic() - started:.2f} s"
        )
