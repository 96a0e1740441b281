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


def run_command(name: str, *args: str) -> tuple[int, str, str]:
    """Run a management command as an operator does: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stderr(err):
            call_command(name, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def outcome(now: str) -> dict[str, str]:
    """What a feed left behind as the exports show it, once the jobs have caught up to `now`:
    the cases, the payouts and every shop's money (SPEC §9)."""
    from compensation.models import Account

    run_command("process_deadlines", "--now", now)
    run_command("issue_payouts", "--now", now)
    ledger_code, ledger, _ = run_command("check_ledger")
    assert ledger_code == 0, ledger
    accounts = sorted(
        f"{shop or '(platform)'} {kind} {balance}"
        for shop, kind, balance in Account.objects.values_list("shop__platform_id", "kind", "balance")
    )
    return {
        "cases": run_command("export_cases", "--format", "jsonl")[1],
        # Coupon codes are random by design: that one was issued is what must agree.
        "payouts": "\n".join(
            json.dumps({**row, "coupon": bool(row["coupon"])}, ensure_ascii=False)
            for row in map(json.loads, run_command("export_payouts", "--format", "jsonl")[1].splitlines())
        ),
        "accounts": "\n".join(accounts),
    }
