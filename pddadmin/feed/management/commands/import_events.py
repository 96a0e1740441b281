import os
import sys
import time

from django.conf import settings
from django.core.management.base import CommandError, no_translations
from tqdm import tqdm

from pddadmin.cli import JobCommand
from pddadmin.feed.importer import import_events


class Command(JobCommand):
    # Bytes, not text: a line with broken UTF-8 is rejected alone instead of ending the import.
    help = "Apply a JSON Lines platform feed (SPEC §8). PATH '-' reads standard input."

    def add_arguments(self, parser):
        parser.add_argument("path", help="feed file, or - for standard input")
        parser.add_argument("--batch-size", type=int, default=settings.FEED_BATCH_SIZE)
        parser.add_argument(
            "--progress", action="store_true", help="show a progress bar even when stderr is not a terminal"
        )

    @no_translations  # operators' scripts read these lines: keep them in the source language
    def handle(self, *args, path: str, batch_size: int, progress: bool, **options):
        started = time.monotonic()
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        show_bar = progress or sys.stderr.isatty()
        with stream, tqdm(unit=" lines", disable=not show_bar, file=sys.stderr, leave=False) as bar:
            report = import_events(
                lines=stream,
                batch_size=max(1, batch_size),
                on_reject=lambda line, reason: bar.write(f"line {line}: {reason}", file=sys.stderr),
                on_progress=bar.update,
                # A pipe's read may wait for ever: an interrupted import must not wait for it.
                read_ahead=os.path.isfile(path),
            )
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"import_events: {report.lines} lines, {report.applied} applied, "
            f"{report.skipped} skipped as already imported, {report.rejected} rejected "
            f"in {elapsed:.1f}s"
        )
        if report.rejected:
            sys.exit(1)
