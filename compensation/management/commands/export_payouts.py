from django.core.management.base import BaseCommand, no_translations

from compensation.selectors import PAYOUT_COLUMNS, payout_rows, payouts
from pddadmin.exports import write_rows


class Command(BaseCommand):
    help = "Write one row per warranty payout to standard output (SPEC §9)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    @no_translations
    def handle(self, *args, format: str, **options):
        count = write_rows(self.stdout, payout_rows(payouts()), columns=PAYOUT_COLUMNS, fmt=format)
        self.stderr.write(f"export_payouts: {count} payouts")
