from django.core.management.base import BaseCommand, no_translations

from pddadmin.jobs.services import schedules_setup


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of the scheduled jobs (idempotent)."

    @no_translations
    def handle(self, *args, **options):
        outcome = schedules_setup()
        self.stdout.write("setup_schedules: " + ", ".join(f"{name} {what}" for name, what in outcome.items()))
