"""Write feeds and run `import_events` the way an operator does."""

import contextlib
import io
import json
import re
from pathlib import Path

from django.core.management import call_command


def feed_line(event_id: str, event_type: str, at: str = "2026-01-01T10:00:00+08:00", **fields) -> str:
    return json.dumps({"id": event_id, "type": event_type, "at": at, **fields}, ensure_ascii=False)


def run_import(path: Path | str, *lines: str, **options) -> tuple[int, str, list[int], str]:
    """Write `lines` to `path` (if given) and import it; (exit code, stdout, rejected lines, stderr)."""
    if lines:
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stderr(err):
            call_command("import_events", str(path), stdout=out, **options)
    except SystemExit as exc:
        code = int(exc.code or 0)
    text = err.getvalue()
    rejected = [int(n) for n in re.findall(r"^line (\d+): ", text, flags=re.M)]
    return code, out.getvalue(), rejected, text
