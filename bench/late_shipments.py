"""Bench: `process_deadlines` over 100,000 orders falling late at once, on PostgreSQL, against a
committed floor of plain INSERT … SELECT (issues 14 and 20).

Run: `.venv/bin/python -m bench.late_shipments [N] [--runs=K]` (default 100,000 orders, 3 runs). Uses
databases pdd_bench_ls (generated), pdd_bench_ls_floor and pdd_bench_ls_job (its copies).
Each run generates, with INSERT … SELECT generate_series, N grouped, unshipped orders whose
promised_ship_by has passed, spread over SHOPS shops with small deposits and goods balances, so that
the charges cross deposit → goods balance → arrears; `late_shipment_due_at` is set as the grouping
step sets it. The data is vacuumed and copied twice (CREATE DATABASE … TEMPLATE), and on its own copy
each of the two runs as a whole process, in alternating order:
- the floor, bench/late_shipments_floor.sql by `psql -f`: the late shipments' rows (charges, ledger
  transactions, entries, coupons, account and shop balances, the orders' watch cleared) written by
  plain INSERT … SELECT / UPDATE in one transaction, committed;
- the job as an operator runs it: `manage.py process_deadlines --now T` (its wall time and peak
  RSS), whose summary line says how long `charges.apply_due` took inside it.
The floor computes each charge's split with a window sum of its own; after both, every charge must
have the same amount and split in the two copies, every account the same balance, and
`ledger_differences()` must be empty. (The cases' deadlines of the same command are
bench.process_deadlines'.)
"""

import datetime as dt
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import (
    PG_SERVER,
    ROOT,
    bytecode_cache,
    clone,
    fresh_database,
    header,
    load_average,
    psql_file_seconds,
    run_measured,
    use_database,
    write_result,
)

DB_NAME = "pdd_bench_ls"  # generated here, then copied for each subject
FLOOR_DB, JOB_DB = f"{DB_NAME}_floor", f"{DB_NAME}_job"
FLOOR_SQL = Path(__file__).with_name("late_shipments_floor.sql")
RUNS = 3
SHOPS = 200


def main() -> None:
    n = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 100_000)
    runs = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--runs=")), str(RUNS))
    url = fresh_database(DB_NAME)
    child = [sys.executable, "-m", "bench.late_shipments", "--measure", str(n), runs]
    done = subprocess.run(child, cwd=ROOT, env={**os.environ, **job_env(url)}, check=False)
    sys.exit(done.returncode)


def job_env(url: str) -> dict:
    """Production-like: DEBUG off, so Django keeps no log of the queries."""
    return {"DATABASE_URL": url, "DEBUG": "false", "SECRET_KEY": "bench-only-" + "x" * 50}


# --- the measuring child (Django set up on the bench database) -------------------------------


def generate(n: int, now) -> None:
    """N late orders over SHOPS shops (the tables emptied first), and the books opened."""
    from django.db import connection

    from compensation.models import Coupon
    from compensation.services import charges, ledger
    from pddadmin.shops.models import Goods, Order, Shop

    with connection.cursor() as cur:
        # Empties the goods, orders, charges and the ledger too (CASCADE); coupons hang off no shop.
        cur.execute(f"TRUNCATE {Shop._meta.db_table}, {Coupon._meta.db_table} CASCADE")
        # Deposits of 300 … 1,100 and goods balances of 0 … 36,000 against ~30,000 of compensation
        # per shop: every deposit runs out, most balances too (arrears), a tenth of the shops have no
        # balance (deposit straight to arrears) and a fifth keep some.
        cur.execute(
            f"INSERT INTO {Shop._meta.db_table} (platform_id, name, category, deposit, balance, hotline, "
            "opened_at, changed_at) SELECT 'LS' || s, 'late ' || s, '', 300 + (s %% 5) * 200, (s %% 10) * 4000, '', "
            "%s - interval '30 days', %s - interval '30 days' FROM generate_series(0, %s - 1) s",
            [now, now, SHOPS],
        )
        cur.execute(
            f"INSERT INTO {Goods._meta.db_table} (shop_id, platform_id, name, category, special, warranty, "
            "warranty_mandatory, listed_at, changed_at) "
            "SELECT id, 'LG' || id, 'g', 'c', false, false, false, opened_at, opened_at "
            f"FROM {Shop._meta.db_table} WHERE platform_id LIKE 'LS%%'",
        )
        # Paid 10.00 … 2,509.99, so compensations below the minimum, in range and at the maximum;
        # promised_ship_by over the last two days, ~7 orders of a shop per minute (ties by id).
        cur.execute(
            f"INSERT INTO {Order._meta.db_table} (platform_id, shop_id, goods_id, buyer, amount, placed_at, "
            "promised_ship_by, grouped_at, tracking, ship_to, warranty, late_shipment_due_at, changed_at) "
            "SELECT 'L' || i, s.id, g.id, 'LB' || i, 10 + (i * 7919 %% 250000) / 100.0, p - interval '3 days', "
            "p, p - interval '1 day', '', '', false, p, p - interval '1 day' "
            "FROM generate_series(1, %s) i "
            "CROSS JOIN LATERAL (SELECT %s - interval '1 hour' - (i %% 2880) * interval '1 minute' AS p) t "
            f"JOIN {Shop._meta.db_table} s ON s.platform_id = 'LS' || (i %% %s) "
            f"JOIN {Goods._meta.db_table} g ON g.shop_id = s.id",
            [n, now, SHOPS],
        )
    # The books open as they do for a shop the platform sends (the signal, on the ORM's create).
    ledger.books_open(shops=Shop.objects.filter(platform_id__startswith="LS"))
    for kind in sorted({charges.RECEIVER[source.kind] for source in charges.sources()}):
        ledger.platform_account(kind)  # the coupons' liability, and what the other automatic sources pay into
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")  # the floor and the job start from the same clean tables


def floor(now, url: str) -> float:
    """bench/late_shipments_floor.sql by `psql -f` on database `url`, a whole process: its seconds."""
    from django.conf import settings
    from django.db import connection
    from django.utils.translation import override

    from aftersales.models import State, automatic_transitions
    from compensation.models import Account, AccountKind, ChargeKind
    from compensation.services.charges import memo_for

    with override(None):  # the command runs without translations (@no_translations)
        memo_before, memo_after = memo_for(ChargeKind.LATE_SHIPMENT, order="\x00").split("\x00")
    refunding = [str(s) for s, t in automatic_transitions().items() if t.target == State.REFUNDED]
    variables = {
        **settings.SHIPPING_COMPENSATION["late_shipment"],  # rate, minimum, maximum
        "now": now.isoformat(),
        "refunding": "{" + ",".join(refunding) + "}",
        "liability": str(Account.objects.get(shop=None, kind=AccountKind.COUPON_LIABILITY).pk),
        "days": str(settings.SHIPPING_COUPON_DAYS),
        "memo_before": memo_before,
        "memo_after": memo_after,
    }
    connection.close()  # the floor's process has the server to itself
    return psql_file_seconds(url, FLOOR_SQL, variables)


def written() -> tuple[dict, dict]:
    """What a run wrote: its charges by cause (time, amount, split) and every account's balance."""
    from compensation.models import Account, Charge

    charges = {c[0]: c[1:] for c in Charge.objects.values_list("cause", "at", "amount", "from_deposit", "from_balance")}
    return charges, dict(Account.objects.values_list("pk", "balance"))


def check(n: int, floor_charges: dict, floor_balances: dict) -> dict:
    """The job's result is the floor's, and the ledger is clean; a few figures for the report."""
    from django.db.models import Q

    from compensation.models import Account, AccountKind, Charge, ChargeKind, Coupon, Entry
    from compensation.services.ledger import ledger_differences
    from pddadmin.shops.models import Order

    charges, balances = written()
    assert len(charges) == n == Charge.objects.filter(kind=ChargeKind.LATE_SHIPMENT).count(), len(charges)
    assert charges == floor_charges, "the job's charges differ from the floor's"
    assert balances == floor_balances, "balances differ from the floor's"
    assert Coupon.objects.count() == n
    assert not Order.objects.filter(late_shipment_due_at__isnull=False).exists()
    problems = ledger_differences()
    assert not problems, problems[:5]
    arrears = Account.objects.filter(kind=AccountKind.ARREARS, shop__platform_id__startswith="LS")
    return {
        "entries": Entry.objects.filter(transaction__kind="late_shipment").count(),
        "crossing": Charge.objects.filter(
            Q(from_deposit__gt=0, from_balance__gt=0)
            | Q(from_balance__gt=0, arrears__gt=0)
            | Q(from_deposit__gt=0, arrears__gt=0)
        ).count(),
        "in_arrears": arrears.filter(balance__lt=0).count(),
    }


def run_job(now) -> dict:
    """`manage.py process_deadlines --now T` as an operator runs it: wall seconds of the whole
    process, its peak RSS, and apply_due's own seconds as its summary line states them. It starts
    with the bench's bytecode cache (`bench.common.bytecode_cache`; `warm_job` fills it).

    The peak RSS is GNU time's report of the command (`%M`): a child forked from this process would
    count this process's memory at the fork in its own maximum (wait4's ru_maxrss), so the command
    is forked from /usr/bin/time, a small process."""
    done, seconds, _rss = run_measured(
        [
            "/usr/bin/time",
            "-f",
            "peak-rss-kib %M",
            sys.executable,
            str(ROOT / "manage.py"),
            "process_deadlines",
            "--now",
            now.isoformat(),
        ],
        env={"DATABASE_URL": os.environ["DATABASE_URL"], **bytecode_cache()},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    found = re.search(r"automatic charges .* in ([0-9.]+)s$", summary)
    assert found, summary
    rss = re.search(r"^peak-rss-kib (\d+)$", done.stderr, re.MULTILINE)
    assert rss, done.stderr[-500:]
    return {"process": seconds, "money": float(found[1]), "rss": int(rss[1]), "summary": summary}


NOTHING_DUE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # before every deadline


def warm_job() -> None:
    """One run of the job with nothing due, on the database in DATABASE_URL: it fills the bytecode
    cache the measured runs start with."""
    run_job(NOTHING_DUE)


def floor_and_job(run: int, now, floor, *, floor_db: str, job_db: str) -> tuple[float, dict, tuple[str, str]]:
    """The floor (`floor(now, url)`) on database `floor_db` and the job (`run_job`) on `job_db`, each
    on its own copy of the same data; which goes first alternates from run to run, so neither always
    meets the machine in the same state. (floor seconds, the job's figures, the order they ran in.)"""
    order = ("floor", "job") if run % 2 else ("job", "floor")
    for subject in order:
        if subject == "floor":
            use_database(floor_db)
            floor_s = floor(now, f"{PG_SERVER}/{floor_db}")
        else:
            use_database(job_db)
            os.environ["DATABASE_URL"] = f"{PG_SERVER}/{job_db}"
            job = run_job(now)
    return floor_s, job, order


def run_figures(run: int, order: tuple[str, str], floor_s: float, job: dict) -> dict:
    """One run's row of the report, printed as it ends."""
    print(f"  run {run} ({', '.join(order)}): {job['summary']}", flush=True)
    print(
        f"  run {run}: floor {floor_s:.2f}s, apply_due {job['money']:.1f}s ({job['money'] / floor_s:.2f}×), "
        f"whole process {job['process']:.2f}s ({job['process'] / floor_s:.2f}×), "
        f"peak RSS {job['rss'] / 1024:.0f} MiB",
        flush=True,
    )
    return {"floor": floor_s, "order": order[0], **job}


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def measure(n: int, n_runs: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    runs, figures, started_load = [], {}, load_average()
    warm_job()  # on the bench database, nothing due yet
    for run in range(1, n_runs + 1):
        use_database(DB_NAME)
        generate(n, now)
        vacuum()
        use_database(DB_NAME)  # a template has no one connected to it
        # The floor and the job each on their own copy of the same vacuumed data.
        clone(DB_NAME, FLOOR_DB, JOB_DB)
        floor_s, job, order = floor_and_job(run, now, floor, floor_db=FLOOR_DB, job_db=JOB_DB)
        use_database(FLOOR_DB)
        floor_charges, floor_balances = written()
        use_database(JOB_DB)
        figures = check(n, floor_charges, floor_balances)
        use_database(DB_NAME)
        runs.append(run_figures(run, order, floor_s, job))
    write_report(n, now, runs, figures, started_load)


def write_report(n: int, now, runs: list[dict], figures: dict, started_load: str) -> None:
    from compensation.services.charges import BATCH, SHOPS_PER_CLAIM

    def ratios(key: str) -> list[float]:
        return [r[key] / r["floor"] for r in runs]

    table = "\n".join(
        f"| {i} | {r['order']} | {r['floor']:.2f} | {r['money']:.1f} | {r['money'] / r['floor']:.2f}× "
        f"| {r['process']:.2f} | {r['process'] / r['floor']:.2f}× | {r['rss'] / 1024:.0f} |"
        for i, r in enumerate(runs, 1)
    )
    money, whole = ratios("money"), ratios("process")
    text = header(
        f"process_deadlines: {n:,} orders falling late at once, on PostgreSQL",
        command=f"python -m bench.late_shipments {n} --runs={len(runs)}",
        data=(
            f"fresh every run (INSERT … SELECT generate_series): {n:,} grouped, unshipped orders whose "
            f"promised_ship_by passed in the two days before now ({now.isoformat()}), over {SHOPS} shops with "
            "deposits of 300–1,100 and goods balances of 0–36,000; `late_shipment_due_at` set as the grouping "
            f"step sets it. The compensations write {figures['entries']:,} ledger entries and {n:,} coupons; "
            f"{figures['crossing']:,} charges are split across deposit/balance/arrears, and "
            f"{figures['in_arrears']} shops end in arrears."
        ),
        started_load=started_load,
    ) + (
        "Floor: `bench/late_shipments_floor.sql` by `psql -f` (a whole process, like the job): the late "
        "shipments due (SPEC §7.3 in SQL of its own: grouped by promised_ship_by, not shipped, refunded or "
        "declared out of stock by then, no shipping charge yet), each priced and split with a window sum, then "
        "the ledger transactions, entries, coupons, charges, account and shop balances and the orders' watch "
        "cleared by eight plain INSERT … SELECT / UPDATE statements in one transaction, committed (the foreign "
        "keys checked at the commit, as the job's commits check them). Each run generates the data once, "
        "vacuums it (VACUUM ANALYZE) and copies the database twice (CREATE DATABASE … TEMPLATE): the floor and "
        "the job each run on their own copy of the same rows, the floor first in odd runs, the job first in "
        "even ones (column 'first').\n"
        "Subject: `manage.py process_deadlines --now T` as a whole process (start-up with the bench's bytecode "
        "cache, warmed by one run with nothing due; the cases' deadlines: none "
        f"due here, then `charges.apply_due`: {SHOPS_PER_CLAIM} shops per claim at most, {BATCH:,} candidates per "
        "transaction); apply_due's seconds are those its summary line states (one decimal). After each run every "
        "charge's amount and split and every account's balance equal the floor's, every order has left the "
        "watch, and `ledger_differences()` is empty.\n\n"
        "| run | first | floor, whole process (s) | apply_due (s) | ratio | job, whole process (s) | ratio | "
        "peak RSS (MiB) |\n|---|---|---|---|---|---|---|---|\n"
        f"{table}\n\n"
        f"apply_due against the floor: median {statistics.median(money):.2f}×, range {min(money):.2f}–"
        f"{max(money):.2f}×; the whole process (the target, issue #20: 1.3×): median {statistics.median(whole):.2f}×, "
        f"range {min(whole):.2f}–{max(whole):.2f}× ({'met' if statistics.median(whole) <= 1.3 else 'NOT met'}). "
        "Peak RSS of "
        f"the job's process: {max(r['rss'] for r in runs) / 1024:.0f} MiB.\n\n"
        f"Reproduce: `.venv/bin/python -m bench.late_shipments` (uses databases {DB_NAME}, {FLOOR_DB} and "
        f"{JOB_DB}).\n"
    )
    path = write_result("late_shipments.md", text)
    print(f"whole process median {statistics.median(whole):.2f}× the floor → {path}")


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
