"""Compile locale/*.po to .mo with polib, so set-up needs no gettext system package."""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile every .po file under LOCALE_PATHS and the apps' locale folders to .mo (without GNU gettext)."

    def handle(self, *args, **options):
        compiled = 0
        roots = [Path(p) for p in settings.LOCALE_PATHS]
        # Each app keeps its own catalogue in <app>/locale; collect them all.
        roots += [p for p in Path(settings.BASE_DIR).glob("**/locale") if ".venv" not in p.parts]
        for po_path in sorted({po for root in roots for po in root.glob("*/LC_MESSAGES/*.po")}):
            mo_path = po_path.with_suffix(".mo")
            # Compared by content, not by modification time: a .po restored or copied with an
            # older time than its .mo (an archive, `cp -p`, two edits within the clock's tick)
            # left the stale .mo served, and a fixed translation never reached the page.
            binary = polib.pofile(str(po_path)).to_binary()
            if mo_path.exists() and mo_path.read_bytes() == binary:
                continue
            mo_path.write_bytes(binary)
            compiled += 1
        self.stdout.write(f"compile_locale: {compiled} catalogue(s) compiled")
