"""export_metrics --date D [--shop S] [--format json|csv]: SPEC §9, from the day's snapshot."""

import json

from django.core.management.base import BaseCommand, CommandError, no_translations

from metrics.management.commands.compute_metrics import parse_date
from metrics.selectors import EXPORT_COLUMNS, export_rows, snapshot_exists, snapshot_get
from metrics.services import metrics_compute
from metrics.windows import WINDOW_DAYS
from pddadmin.exports import write_rows
from pddadmin.shops.models import Shop


class Command(BaseCommand):
    help = "Export the SPEC §5 shop figures of one day as JSON or CSV (computing the snapshot if missing)."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="day D (YYYY-MM-DD, Asia/Shanghai)")
        parser.add_argument("--shop", help="platform id of one shop (default: every shop)")
        parser.add_argument("--format", choices=("json", "csv"), default="json")

    @no_translations
    def handle(self, *args, **options):
        day = parse_date(options["date"])
        shop = None
        if options["shop"] is not None:
            shop = Shop.objects.filter(platform_id=options["shop"]).first()
            if shop is None:
                raise CommandError(f"unknown shop {options['shop']!r}")
        computed = not _has_snapshot(day, shop)
        if computed:
            metrics_compute(day=day)
        rows = export_rows(day=day, shop=shop)
        if options["format"] == "csv":
            write_rows(self.stdout, rows, columns=EXPORT_COLUMNS, fmt="csv")
        else:
            for row in rows:
                for col in EXPORT_COLUMNS:
                    if col.endswith("_rate") and row[col] is not None:
                        row[col] = float(row[col])  # already rounded to 6 places; JSON wants a number
            document = {"date": day.isoformat(), "window_days": WINDOW_DAYS, "shops": rows}
            self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2))
        # stdout carries the data; the summary line goes to stderr so a pipe stays clean.
        source = "snapshot computed now" if computed else "stored snapshot"
        self.stderr.write(
            f"export_metrics: {day.isoformat()}: {len(rows)} shop{'' if len(rows) == 1 else 's'} written as "
            f"{options['format']} ({source})"
        )


def _has_snapshot(day, shop) -> bool:
    if shop is not None:
        return snapshot_get(shop=shop, day=day) is not None
    return snapshot_exists(day=day)
