"""Write feeds and run `import_events` the way an operator does."""

import contextlib
import datetime as dt
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


def masked_charges() -> list[dict]:
    """`export_charges` rows with each coupon code replaced by whether there is one: codes are
    random by design, that a coupon was issued is what two runs must agree on."""
    _code, out, _err = run_command("export_charges", "--format", "jsonl")
    return [{**row, "coupon": bool(row["coupon"])} for row in map(json.loads, out.splitlines())]


def exported_accounts() -> list[dict]:
    """`export_accounts` rows: every shop's deposit, goods balance and arrears (SPEC §9)."""
    _code, out, _err = run_command("export_accounts", "--format", "jsonl")
    return [json.loads(row) for row in out.splitlines()]


def money() -> dict[str, list[dict]]:
    """The shops' money as the two money exports show it (coupon codes masked), the charges shop by
    shop in the order they applied: the order of two shops' charges due at one instant is the
    order they happened to be written in, which is no rule of SPEC §6.1."""
    return {"charges": sorted(masked_charges(), key=lambda row: row["shop"]), "accounts": exported_accounts()}


def ledger_clean() -> str:
    """`check_ledger`'s report, asserting it found no difference."""
    code, out, _err = run_command("check_ledger")
    assert code == 0 and "0 difference(s)" in out, out
    return out


def outcome(now: str) -> dict[str, str]:
    """What a feed left behind as the exports show it, once the jobs have caught up to `now`:
    the cases, the payouts, every charge and every shop's money (SPEC §9)."""
    from compensation.models import Account

    run_command("process_deadlines", "--now", now)
    run_command("issue_payouts", "--now", now)
    ledger_clean()
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
        "charges": "\n".join(json.dumps(row, ensure_ascii=False) for row in money()["charges"]),
        "shops": run_command("export_accounts", "--format", "jsonl")[1],
        "accounts": "\n".join(accounts),
    }


class Feed:
    """A feed written event by event, as the platform sends it: each event gets the next id
    (`prefix` + a number) and its time as ISO-8601 with the offset of the moment given."""

    def __init__(self, prefix: str = "e") -> None:
        self.prefix = prefix
        self.events: list[dict] = []

    def add(self, at: dt.datetime, event_type: str, **fields) -> dict:
        event = {"id": f"{self.prefix}{len(self.events) + 1}", "type": event_type, "at": at.isoformat(), **fields}
        self.events.append(event)
        return event

    def shop(
        self, at: dt.datetime, shop: str, *, deposit: str = "0.00", balance: str = "0.00", goods: str | None = None
    ) -> None:
        """A shop and one goods of it (`goods`, default G + the shop id without its first letter)."""
        self.add(
            at, "shop.opened", shop=shop, name=f"店铺 {shop}", deposit=deposit, balance=balance, hotline="13800138000"
        )
        self.add(at, "goods.listed", shop=shop, goods=goods or f"G{shop[1:]}", name="商品", category="home")

    def order(
        self,
        at: dt.datetime,
        order: str,
        shop: str,
        *,
        amount: str,
        promised_ship_by: dt.datetime,
        grouped: dt.datetime | None = None,
        goods: str | None = None,
        buyer: str | None = None,
    ) -> None:
        """An order placed at `at`, grouped at `grouped` (None: never)."""
        self.add(
            at,
            "order.placed",
            order=order,
            shop=shop,
            goods=goods or f"G{shop[1:]}",
            buyer=buyer or f"B-{order}",
            amount=amount,
            promised_ship_by=promised_ship_by.isoformat(),
        )
        if grouped is not None:
            self.add(grouped, "order.grouped", order=order)

    def lines(self, events: list[dict] | None = None) -> list[str]:
        return [json.dumps(e, ensure_ascii=False) for e in (self.events if events is None else events)]

    def in_time_order(self) -> list[dict]:
        """The events sorted by time (stable: events at one instant keep the order they were added)."""
        return sorted(self.events, key=lambda e: dt.datetime.fromisoformat(e["at"]))


def import_in_parts(
    directory: Path, events: list[dict], *, jobs_at: list[dt.datetime], end: dt.datetime
) -> dict[str, str]:
    """Import `events` (in time order) as an operator would with the job running between: the
    events at or before each of `jobs_at`, then `process_deadlines --now` that time, and so on;
    then the rest and `process_deadlines --now end`. {event id: reason} of the lines rejected."""
    rejected: dict[str, str] = {}
    remaining = sorted(events, key=lambda e: dt.datetime.fromisoformat(e["at"]))
    for n, job in enumerate([*sorted(jobs_at), end]):
        part = [e for e in remaining if dt.datetime.fromisoformat(e["at"]) <= job or job == end]
        remaining = remaining[len(part) :]
        if part:
            lines = [json.dumps(e, ensure_ascii=False) for e in part]
            _code, _out, numbers, err = run_import(directory / f"part-{n}.jsonl", *lines)
            reasons = dict(re.findall(r"^line (\d+): (.*)$", err, flags=re.M))
            rejected.update({part[number - 1]["id"]: reasons[str(number)] for number in numbers})
        code, out, err = run_command("process_deadlines", "--now", job.isoformat())
        assert code == 0, (out, err)
    return rejected
