import sys
import time

from django.core.management.base import BaseCommand, CommandError, no_translations
from tqdm import tqdm

from compensation.services.payouts import payouts_issue, pending_lines
from pddadmin.feed.events import Rejected, parse_moment


class Command(BaseCommand):
    help = "Pay ¥100 per order of every upheld warranty violation as a platform coupon (SPEC §6)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="issue time, ISO-8601 with offset (default: now)")

    @no_translations
    def handle(self, *args, now: str | None, **options):
        try:
            moment = parse_moment(now, "--now") if now else None
        except Rejected as exc:
            raise CommandError(str(exc).replace("field '--now'", "--now")) from None
        started = time.monotonic()
        show_bar = sys.stderr.isatty()
        total = pending_lines().count() if show_bar else None
        with tqdm(total=total, unit=" payouts", disable=not show_bar, file=sys.stderr, leave=False) as bar:
            report = payouts_issue(now=moment, on_progress=bar.update)
        self.stdout.write(
            f"issue_payouts: {report.paid} payouts, {report.amount:.2f} in coupons "
            f"(deposit {report.from_deposit:.2f}, balance {report.from_balance:.2f}, "
            f"arrears {report.arrears:.2f}) in {time.monotonic() - started:.1f}s"
        )
