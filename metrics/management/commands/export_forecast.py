"""export_forecast [--date D] [--shop S]: the do-nothing forecast of SPEC §5.2 as SPEC §9 words it."""

import json
import time

from django.core.management.base import BaseCommand, CommandError, no_translations

from metrics.forecast import export_document, goods_forecast
from metrics.management.commands.compute_metrics import parse_date
from metrics.windows import yesterday
from pddadmin.shops.models import Shop


class Command(BaseCommand):
    help = (
        "Export the goods that would be flagged within 7 days if nothing happened but the automatic "
        "transitions at their deadlines (JSON)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="day D, the last complete day (YYYY-MM-DD, Asia/Shanghai); default: yesterday"
        )
        parser.add_argument("--shop", help="platform id of one shop (default: every shop)")

    @no_translations
    def handle(self, *args, **options):
        day = parse_date(options["date"]) if options["date"] else yesterday()
        shop = None
        if options["shop"] is not None:
            shop = Shop.objects.filter(platform_id=options["shop"]).first()
            if shop is None:
                raise CommandError(f"unknown shop {options['shop']!r}")
        started = time.monotonic()
        document = export_document(goods_forecast(day=day, shop=shop))
        self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2))
        # stdout carries the data; the summary line goes to stderr so a pipe stays clean.
        rows = len(document["goods"])
        self.stderr.write(
            f"export_forecast: {day.isoformat()} + {document['days']} days"
            f"{f' for shop {shop.platform_id}' if shop else ''}: {rows} goods row{'' if rows == 1 else 's'} "
            f"in {time.monotonic() - started:.2f} s"
        )
