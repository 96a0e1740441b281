from django.core.management.base import BaseCommand, no_translations

from compensation.models import Charge
from compensation.selectors import CHARGE_COLUMNS, charge_rows
from pddadmin.exports import write_rows


class Command(BaseCommand):
    help = "Write one row per charge (warranty, late reply, late shipment, out of stock) to standard output (SPEC §9)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    @no_translations
    def handle(self, *args, format: str, **options):
        count = write_rows(self.stdout, charge_rows(Charge.objects.all()), columns=CHARGE_COLUMNS, fmt=format)
        self.stderr.write(f"export_charges: {count} charges")
