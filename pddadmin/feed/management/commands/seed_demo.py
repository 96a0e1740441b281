"""seed_demo: a living demo world (issue 8), entered the way real data enters.

The world is written as a platform feed (SPEC §8) and applied by the feed importer, then the
scheduled jobs run once over it (deadlines, a daily metrics snapshot per day of the period,
payouts), so the workbench, the queue, the dashboard and the job page all have something to show.
"""

import datetime as dt
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, no_translations
from tqdm import tqdm

from metrics.services import metrics_compute
from metrics.windows import local_zone
from pddadmin.cli import parse_moment_option
from pddadmin.demo.users import DEMO_PASSWORD, ensure_demo_users
from pddadmin.demo.world import SHANGHAI, demo_feed, world_exists
from pddadmin.feed.importer import import_events
from pddadmin.jobs.runner import run_job
from pddadmin.settings import VAR_DIR

MAX_REJECTIONS_SHOWN = 20


class Command(BaseCommand):
    help = "Write a deterministic demo platform feed, import it, run the jobs over it and create the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=2000)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--end", help="ISO-8601 end of the demo period (no offset: Asia/Shanghai; default: now)")
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the site is served, for the home page printed next to each login (make run's address)",
        )
        parser.add_argument(
            "--force", action="store_true", help="import even if a demo world is already there (ids seen are skipped)"
        )

    @no_translations
    def handle(self, *args, orders: int, days: int, seed: int, end: str | None, force: bool, **options):
        started = time.monotonic()
        moment = _parse_end(end) if end else dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0)
        if world_exists() and not force:
            self.stdout.write("seed_demo: the demo world is already imported; use --force to import another on top")
        else:
            self._import(orders=orders, days=days, seed=seed, end=moment)
            self._compute_metrics(first=(moment - dt.timedelta(days=days)).date(), end=moment)
        # The regular jobs, through the runner, so the job page shows their first runs.
        for name in ("process_deadlines", "issue_payouts"):
            self.stdout.write(run_job(name, now=moment.isoformat()))
        self.stdout.write(run_job("compute_metrics", date=_yesterday(moment).isoformat()))
        # DEBUG off: no shared, documented password; each new login gets its own, shown only here.
        logins = ensure_demo_users(password=DEMO_PASSWORD if settings.DEBUG else None)
        self.stdout.write(
            "Demo logins: login, password (a new login's is shown this once; existing logins keep theirs), "
            "its home page, who it is:"
        )
        base = options["base_url"].rstrip("/")
        for login in logins:
            home = f"{base}{login.home}"
            self.stdout.write(f"  {login.username:<10} {login.password or '(unchanged)':<16} {home:<48} {login.what}")
        self.stdout.write(
            f"seed_demo: {orders} orders over {days} days (seed {seed}) in {time.monotonic() - started:.1f}s"
        )

    def _import(self, *, orders: int, days: int, seed: int, end: dt.datetime) -> None:
        feed_path = VAR_DIR / "demo" / f"feed-{seed}.jsonl"
        feed_path.parent.mkdir(parents=True, exist_ok=True)
        clock = time.monotonic()
        with feed_path.open("w", encoding="utf-8") as feed:
            lines = 0
            for line in demo_feed(orders=orders, days=days, seed=seed, end=end):
                feed.write(line + "\n")
                lines += 1
        self.stdout.write(f"seed_demo: wrote {lines} events to {feed_path} in {time.monotonic() - clock:.1f}s")
        clock = time.monotonic()
        show_bar = sys.stderr.isatty()
        # The feed importer itself (what `import_events` runs), so rejections can be collected.
        with (
            feed_path.open("rb") as stream,
            tqdm(total=lines, unit=" events", disable=not show_bar, file=sys.stderr, leave=False) as bar,
        ):
            report = import_events(lines=stream, on_progress=bar.update)
        self.stdout.write(
            f"import_events: {report.lines} lines, {report.applied} applied, "
            f"{report.skipped} skipped as already imported, {report.rejected} rejected "
            f"in {time.monotonic() - clock:.1f}s"
        )
        if report.rejected:
            # A rejected demo line is a bug in the generator; say so loudly but keep the demo usable.
            for line, reason in report.rejections[:MAX_REJECTIONS_SHOWN]:
                self.stderr.write(f"line {line}: {reason}")
            self.stderr.write(f"the demo feed had {report.rejected} rejected lines: see {feed_path}")

    def _compute_metrics(self, *, first: dt.date, end: dt.datetime) -> None:
        """A snapshot for every day of the period, oldest first (goods streaks build on the day before)."""
        clock = time.monotonic()
        day, last = first, _yesterday(end) - dt.timedelta(days=1)  # the last day: run_job below
        count = 0
        while day <= last:
            metrics_compute(day=day)
            day += dt.timedelta(days=1)
            count += 1
        self.stdout.write(f"seed_demo: metrics snapshots for {count} days in {time.monotonic() - clock:.1f}s")


def _parse_end(value: str) -> dt.datetime:
    return parse_moment_option(value, "--end")


def _yesterday(moment: dt.datetime) -> dt.date:
    return moment.astimezone(local_zone()).date() - dt.timedelta(days=1)
