import io
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, no_translations
from django.utils.dateparse import parse_datetime

from pddadmin.demo.users import DEMO_PASSWORD, ensure_demo_users
from pddadmin.demo.world import demo_feed
from pddadmin.settings import VAR_DIR


class Command(BaseCommand):
    help = "Write a deterministic demo platform feed, import it, and create the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=2000)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--end", help="ISO-8601 end of the demo period (default: now)")

    @no_translations
    def handle(self, *args, orders: int, days: int, seed: int, end: str | None, **options):
        started = time.monotonic()
        feed_path = VAR_DIR / "demo" / f"feed-{seed}.jsonl"
        feed_path.parent.mkdir(parents=True, exist_ok=True)
        with feed_path.open("w", encoding="utf-8") as feed:
            for line in demo_feed(orders=orders, days=days, seed=seed, end=parse_datetime(end) if end else None):
                feed.write(line + "\n")
        out = io.StringIO()
        try:
            call_command("import_events", str(feed_path), stdout=out)
        except SystemExit as exc:
            if exc.code:
                self.stderr.write(f"the demo feed had rejected lines: see {feed_path}")
        logins = ensure_demo_users()
        self.stdout.write(out.getvalue().strip())
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in logins:
            self.stdout.write(f"  {username:<10} {what}")
        self.stdout.write(
            f"seed_demo: {orders} orders over {days} days (seed {seed}) in {time.monotonic() - started:.1f}s"
        )
