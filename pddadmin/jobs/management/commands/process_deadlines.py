import sys

from django.core.management.base import no_translations
from django.utils import timezone
from tqdm import tqdm

from aftersales.services.deadlines import due_cases, process_deadlines
from compensation.services import charges
from pddadmin.cli import JobCommand, parse_moment_option


class Command(JobCommand):
    help = (
        "Apply every automatic after-sales transition (SPEC §2.3) and every automatic charge (SPEC §6.1) "
        "due at or before --now (default: now)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", type=str, help="ISO-8601 time, e.g. 2026-01-05T00:00:00+08:00 (no offset: Asia/Shanghai)"
        )
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--progress", action="store_true", help="show progress even when stderr is not a tty")

    @no_translations  # operators' scripts read the summary line: keep it in the source language
    def handle(self, *args, now: str | None, batch_size: int, progress: bool, **options):
        moment = parse_moment_option(now, "--now") if now else timezone.now()
        show_bar = progress or sys.stderr.isatty()
        total = due_cases(moment).count() if show_bar else None
        with tqdm(total=total, unit=" cases", disable=not show_bar, file=sys.stderr, leave=False) as bar:
            report = process_deadlines(now=moment, batch_size=max(1, batch_size), on_progress=bar.update)
        # Cases first: a refund due by a promised shipping time excuses the late shipment either
        # way (applied or not), so the order only keeps the log in the order things happened.
        with tqdm(unit=" candidates", disable=not show_bar, file=sys.stderr, leave=False) as bar:
            money = charges.apply_due(now=moment, on_progress=bar.update)
        self.stdout.write(f"{report.summary()}; {money.summary()} in {money.seconds:.1f}s")
