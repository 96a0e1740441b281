import sys
import time

from django.core.management.base import no_translations
from django.utils import timezone
from tqdm import tqdm

from compensation.services.payouts import payouts_issue, pending_lines
from pddadmin.cli import JobCommand, parse_moment_option


class Command(JobCommand):
    help = "Pay ¥100 per order of every upheld warranty violation as a platform coupon (SPEC §6)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="issue time, ISO-8601 (no offset: Asia/Shanghai; default: now)")

    @no_translations
    def handle(self, *args, now: str | None, **options):
        moment = parse_moment_option(now, "--now") if now else timezone.now()
        started = time.monotonic()
        show_bar = sys.stderr.isatty()
        total = pending_lines(moment).count() if show_bar else None
        with tqdm(total=total, unit=" payouts", disable=not show_bar, file=sys.stderr, leave=False) as bar:
            report = payouts_issue(now=moment, on_progress=bar.update)
        self.stdout.write(
            f"issue_payouts: {report.paid} payouts, {report.amount:.2f} in coupons "
            f"(deposit {report.from_deposit:.2f}, balance {report.from_balance:.2f}, "
            f"arrears {report.arrears:.2f}) in {time.monotonic() - started:.1f}s"
        )
