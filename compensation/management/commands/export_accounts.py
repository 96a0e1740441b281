from django.core.management.base import BaseCommand, no_translations

from compensation.selectors import ACCOUNT_COLUMNS, account_rows
from pddadmin.exports import write_rows
from pddadmin.shops.models import Shop


class Command(BaseCommand):
    help = "Write one row per shop with its deposit, goods balance and arrears to standard output (SPEC §9)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    @no_translations
    def handle(self, *args, format: str, **options):
        count = write_rows(self.stdout, account_rows(Shop.objects.all()), columns=ACCOUNT_COLUMNS, fmt=format)
        self.stderr.write(f"export_accounts: {count} shops")
