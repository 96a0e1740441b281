import sys

from django.core.management.base import BaseCommand, no_translations

from aftersales.case_exports import write_cases


class Command(BaseCommand):
    help = "Write one row per after-sales case to standard output (SPEC §9)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")

    @no_translations  # machine-read output: codes and ids, never translated labels
    def handle(self, *args, format: str, **options):
        count = write_cases(self.stdout, fmt=format)
        # stdout carries the data; the summary line goes to stderr so a pipe stays clean.
        sys.stderr.write(f"export_cases: {count} cases written as {format}\n")
