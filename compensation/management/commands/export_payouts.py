import csv
import json

from django.core.management.base import BaseCommand, no_translations

from compensation.models import Payout
from compensation.selectors import PAYOUT_COLUMNS, payout_rows, safe_row


class Command(BaseCommand):
    help = "Write one row per warranty payout to standard output (SPEC §9)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    @no_translations
    def handle(self, *args, format: str, **options):
        rows = payout_rows(Payout.objects.all())
        count = 0
        if format == "csv":
            writer = csv.DictWriter(self.stdout, fieldnames=PAYOUT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow(safe_row(row))
                count += 1
        else:
            for row in rows:
                self.stdout.write(json.dumps(row, ensure_ascii=False))
                count += 1
        self.stderr.write(f"export_payouts: {count} payouts")
