import sys

from django.core.management.base import BaseCommand, no_translations

from compensation.models import Account, Entry
from compensation.services.ledger import ledger_differences


class Command(BaseCommand):
    help = "Prove every cached balance equals the sum of its ledger entries; exit 1 listing any difference."

    @no_translations
    def handle(self, *args, **options):
        problems = ledger_differences()
        for problem in problems:
            self.stdout.write(problem)
        accounts, entries = Account.objects.count(), Entry.objects.count()
        self.stdout.write(
            f"check_ledger: {accounts} accounts, {entries} entries, {len(problems)} difference(s)"
        )
        if problems:
            sys.exit(1)
