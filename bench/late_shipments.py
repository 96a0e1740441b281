"""Bench: `process_deadlines` over 100,000 orders falling late at once, on PostgreSQL, against a
floor of plain INSERT … SELECT (issues 14 and 20).

Run: `.venv/bin/python -m bench.late_shipments [N] [--runs=K]` (default 100,000 orders, 3 runs). Uses
its own database (pdd_bench_ls).
Each run generates, with INSERT … SELECT generate_series, N grouped, unshipped orders whose
promised_ship_by has passed, spread over SHOPS shops with small deposits and goods balances, so that
the charges cross deposit → goods balance → arrears; `late_shipment_due_at` is set as the grouping
step sets it. It then times
- the floor: the late shipments' rows (charges, ledger transactions, entries, coupons, account and
  shop balances, the orders' watch cleared) written by plain INSERT … SELECT / UPDATE in one
  transaction, rolled back;
- the job as an operator runs it: `manage.py process_deadlines --now T`, a whole process (its wall
  time and peak RSS), whose summary line says how long `charges.apply_due` took inside it.
The floor computes each charge's split with a window sum of its own; after the job, every charge
must have the same amount and split as the floor computed, every account the same balance, and
`ledger_differences()` must be empty. (The cases' deadlines of the same command are
bench.process_deadlines'.)
"""

import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

from bench.common import ROOT, fresh_database, header, load_average, run_measured, write_result

DB_NAME = "pdd_bench_ls"
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


def _due_sql(now) -> tuple[str, dict]:
    """The late shipments due (SPEC §7.3, in SQL of its own) with amount and split, in apply order."""
    from django.conf import settings

    from aftersales.models import AfterSalesCase, Refund, State, automatic_transitions
    from compensation.models import Account, Charge
    from pddadmin.shops.models import Order

    policy = settings.SHIPPING_COMPENSATION["late_shipment"]
    refunding = [str(s) for s, t in automatic_transitions().items() if t.target == State.REFUNDED]
    sql = f"""
        SELECT o.id AS order_id, o.shop_id, o.platform_id, o.buyer, o.promised_ship_by AS at,
               LEAST(GREATEST(ROUND(o.amount * %(rate)s, 2), %(minimum)s), %(maximum)s) AS amount
        FROM {Order._meta.db_table} o
        WHERE o.late_shipment_due_at <= %(now)s AND o.grouped_at <= o.promised_ship_by
          AND (o.shipped_at IS NULL OR o.shipped_at > o.promised_ship_by)
          AND (o.out_of_stock_at IS NULL OR o.out_of_stock_at > o.promised_ship_by)
          AND NOT EXISTS (SELECT 1 FROM {Refund._meta.db_table} r
                          WHERE r.order_id = o.id AND r.refunded_at <= o.promised_ship_by)
          AND NOT EXISTS (SELECT 1 FROM {AfterSalesCase._meta.db_table} c WHERE c.order_id = o.id
                          AND c.state = ANY(%(refunding)s) AND c.due_at <= o.promised_ship_by)
          AND NOT EXISTS (SELECT 1 FROM {Charge._meta.db_table} ch WHERE ch.order_id = o.id
                          AND ch.kind IN ('late_shipment', 'out_of_stock'))"""
    # Deposit first, then balance (both start >= 0 here): what the charges before this one left.
    sql = f"""
        SELECT d.*, LEAST(d.amount, GREATEST(dep.balance - d.before, 0)) AS from_deposit,
               LEAST(d.amount - LEAST(d.amount, GREATEST(dep.balance - d.before, 0)),
                     GREATEST(bal.balance - GREATEST(d.before - dep.balance, 0), 0)) AS from_balance,
               dep.id AS dep_id, bal.id AS bal_id, arr.id AS arr_id
        FROM (SELECT due.*, SUM(due.amount) OVER (PARTITION BY due.shop_id
                     ORDER BY due.at, due.platform_id COLLATE "C" ROWS UNBOUNDED PRECEDING) - due.amount AS before
              FROM ({sql}) due) d
        JOIN {Account._meta.db_table} dep ON dep.shop_id = d.shop_id AND dep.kind = 'deposit'
        JOIN {Account._meta.db_table} bal ON bal.shop_id = d.shop_id AND bal.kind = 'balance'
        JOIN {Account._meta.db_table} arr ON arr.shop_id = d.shop_id AND arr.kind = 'arrears'"""
    params = {"now": now, "refunding": refunding, **{k: Decimal(v) for k, v in policy.items()}}
    return sql, params


def _floor_statements(now) -> list[tuple[str, dict]]:
    from django.conf import settings

    from compensation.models import Account, AccountKind, Charge, Coupon, Entry, LedgerTransaction
    from pddadmin.shops.models import Order, Shop

    due_sql, params = _due_sql(now)
    params = {
        **params,
        "liability": Account.objects.get(shop=None, kind=AccountKind.COUPON_LIABILITY).pk,
        "days": settings.SHIPPING_COUPON_DAYS,
    }
    txn, entry, coupon = LedgerTransaction._meta.db_table, Entry._meta.db_table, Coupon._meta.db_table
    account, shop = Account._meta.db_table, Shop._meta.db_table
    return [
        (
            "CREATE TEMP TABLE floor_due ON COMMIT DROP AS "
            f"SELECT x.*, x.amount - x.from_deposit - x.from_balance AS arrears, "
            f"nextval(pg_get_serial_sequence('{txn}', 'id')) AS txn_id, "
            f"nextval(pg_get_serial_sequence('{coupon}', 'id')) AS coupon_id FROM ({due_sql}) x",
            params,
        ),
        (
            f"INSERT INTO {txn} (id, kind, shop_id, at, memo, recorded_at) SELECT txn_id, 'late_shipment', "
            "shop_id, at, 'late-shipment compensation: order ' || platform_id, now() FROM floor_due",
            {},
        ),
        (
            f"INSERT INTO {entry} (transaction_id, account_id, amount, at) "
            "SELECT txn_id, dep_id, -from_deposit, at FROM floor_due WHERE from_deposit <> 0 UNION ALL "
            "SELECT txn_id, bal_id, -from_balance, at FROM floor_due WHERE from_balance <> 0 UNION ALL "
            "SELECT txn_id, arr_id, -arrears, at FROM floor_due WHERE arrears <> 0 UNION ALL "
            "SELECT txn_id, %(liability)s, amount, at FROM floor_due",
            params,
        ),
        (
            f"INSERT INTO {coupon} (id, code, buyer, face_value, min_spend, scope, issued_at, expires_at, status) "
            "SELECT coupon_id, upper(substr(md5(random()::text), 1, 16)), buyer, amount, 0, 'platform', at, "
            "at + %(days)s * interval '1 day', 'active' FROM floor_due",
            params,
        ),
        (
            f"INSERT INTO {Charge._meta.db_table} (kind, cause, shop_id, order_id, message, buyer, amount, "
            "from_deposit, from_balance, arrears, coupon_id, transaction_id, at) "
            "SELECT 'late_shipment', 'shipping:' || platform_id, shop_id, order_id, '', buyer, amount, "
            "from_deposit, from_balance, arrears, coupon_id, txn_id, at FROM floor_due",
            {},
        ),
        (
            f"UPDATE {account} a SET balance = a.balance + m.delta FROM ("
            "SELECT dep_id AS id, -SUM(from_deposit) AS delta FROM floor_due GROUP BY dep_id UNION ALL "
            "SELECT bal_id, -SUM(from_balance) FROM floor_due GROUP BY bal_id UNION ALL "
            "SELECT arr_id, -SUM(arrears) FROM floor_due GROUP BY arr_id UNION ALL "
            "SELECT %(liability)s, SUM(amount) FROM floor_due) m WHERE a.id = m.id",
            params,
        ),
        (
            f"UPDATE {shop} s SET deposit = d.balance, balance = b.balance FROM {account} d, {account} b "
            "WHERE d.shop_id = s.id AND d.kind = 'deposit' AND b.shop_id = s.id AND b.kind = 'balance' "
            "AND s.id IN (SELECT shop_id FROM floor_due)",
            {},
        ),
        (
            f"UPDATE {Order._meta.db_table} SET late_shipment_due_at = NULL WHERE late_shipment_due_at <= %(now)s",
            params,
        ),
    ]


def money_floor(now) -> tuple[float, dict, dict]:
    """The late shipments' rows by plain SQL in one transaction, rolled back: (seconds, the charges
    it wrote by cause, every account's balance after it)."""
    from django.db import connection, transaction

    from compensation.models import Account, Charge

    with transaction.atomic(), connection.cursor() as cur:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: checked at commit, which this
        # rolled-back floor never reaches and the job's commits do. Checked per statement here.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = time.perf_counter()
        for sql, params in _floor_statements(now):
            cur.execute(sql, params)
        seconds = time.perf_counter() - started
        charges = {
            c[0]: c[1:] for c in Charge.objects.values_list("cause", "at", "amount", "from_deposit", "from_balance")
        }
        balances = dict(Account.objects.values_list("pk", "balance"))
        transaction.set_rollback(True)
    print(f"  money floor: {len(charges):,} charges in {seconds:.2f}s", flush=True)
    return seconds, charges, balances


def check(n: int, floor_charges: dict, floor_balances: dict) -> dict:
    """The job's result is the floor's, and the ledger is clean; a few figures for the report."""
    from django.db.models import Q

    from compensation.models import Account, AccountKind, Charge, ChargeKind, Coupon, Entry
    from compensation.services.ledger import ledger_differences
    from pddadmin.shops.models import Order

    charges = {c[0]: c[1:] for c in Charge.objects.values_list("cause", "at", "amount", "from_deposit", "from_balance")}
    assert len(charges) == n == Charge.objects.filter(kind=ChargeKind.LATE_SHIPMENT).count(), len(charges)
    assert charges == floor_charges, "the job's charges differ from the floor's"
    assert dict(Account.objects.values_list("pk", "balance")) == floor_balances, "balances differ from the floor's"
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


class Statements:
    """Wall time spent in cursor.execute (the statement, and psycopg quoting its parameters) by verb
    and table, and in commits: where the job's time goes, without a profiler's overhead."""

    def __init__(self) -> None:
        self.seconds: Counter = Counter()
        self.count: Counter = Counter()

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.add(statement_kind(sql), time.perf_counter() - started)

    def add(self, key: str, seconds: float) -> None:
        self.seconds[key] += seconds
        self.count[key] += 1

    def commit(self, commit):
        """Wrap a connection's commit: the deferred foreign-key checks and the WAL flush."""

        def timed_commit():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                self.add("COMMIT", time.perf_counter() - started)

        return timed_commit


def statement_kind(sql: str) -> str:
    """ "INSERT compensation_charge", "UPDATE shops_order", "SELECT shops_order" (the table of its
    first column), "SAVEPOINT"."""
    found = re.match(r'\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT(?: DISTINCT)?)\s+"(\w+)"', sql)
    if found:
        return f"{found[1].split()[0]} {found[2]}"
    return sql.split(None, 1)[0].upper() if sql.strip() else "?"


def timed(function, **kwargs):
    """(result, wall seconds, CPU seconds of this process, statements) of one call."""
    from django.db import connection

    statements = Statements()
    connection.commit = statements.commit(connection.commit)  # on this instance, for this call
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        with connection.execute_wrapper(statements):
            result = function(**kwargs)
    finally:
        del connection.commit
    return result, time.perf_counter() - wall, time.process_time() - cpu, statements


def run_job(now) -> dict:
    """`manage.py process_deadlines --now T` as an operator runs it: wall seconds of the whole
    process, its peak RSS, and apply_due's own seconds as its summary line states them.

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
        env={"DATABASE_URL": os.environ["DATABASE_URL"]},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    found = re.search(r"automatic charges .* in ([0-9.]+)s$", summary)
    assert found, summary
    rss = re.search(r"^peak-rss-kib (\d+)$", done.stderr, re.MULTILINE)
    assert rss, done.stderr[-500:]
    return {"process": seconds, "money": float(found[1]), "rss": int(rss[1]), "summary": summary}


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def measure(n: int, n_runs: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()
    from django.db import connection
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    runs, figures, started_load = [], {}, load_average()
    for run in range(1, n_runs + 1):
        generate(n, now)
        floor, floor_charges, floor_balances = money_floor(now)
        vacuum()  # the floor's rolled-back rows are garbage no real run would find before it
        connection.close()  # the job's process has the database to itself
        job = run_job(now)
        figures = check(n, floor_charges, floor_balances)
        print(f"  run {run}: {job['summary']}", flush=True)
        print(
            f"  run {run}: floor {floor:.2f}s, apply_due {job['money']:.1f}s, whole process {job['process']:.2f}s, "
            f"peak RSS {job['rss'] / 1024:.0f} MiB",
            flush=True,
        )
        runs.append({"floor": floor, **job})
    write_report(n, now, runs, figures, started_load)


def write_report(n: int, now, runs: list[dict], figures: dict, started_load: str) -> None:
    from compensation.services.charges import BATCH, SHOPS_PER_CLAIM

    def ratios(key: str) -> list[float]:
        return [r[key] / r["floor"] for r in runs]

    table = "\n".join(
        f"| {i} | {r['floor']:.2f} | {r['money']:.1f} | {r['money'] / r['floor']:.2f}× | {r['process']:.2f} "
        f"| {r['process'] / r['floor']:.2f}× | {r['rss'] / 1024:.0f} |"
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
        "Floor (`_floor_statements` in bench/late_shipments.py): the late shipments due (SPEC §7.3 in SQL of its "
        "own: not shipped, refunded or out of stock by promised_ship_by, no shipping charge yet), each split with "
        "a window sum, then the charges, ledger transactions, entries, coupons, account and shop balances and "
        "the orders' watch cleared by eight plain INSERT … SELECT / UPDATE statements in one transaction "
        "(foreign keys checked per statement, as the job's commits check them), rolled back; timed in the "
        "bench's process, without start-up. Both start from vacuumed tables (VACUUM ANALYZE after the data is "
        "generated, and again after the floor's rollback, whose dead rows and index entries no real run would "
        "find).\n"
        "Subject: `manage.py process_deadlines --now T` as a whole process (start-up, the cases' deadlines: none "
        f"due here, then `charges.apply_due`: {SHOPS_PER_CLAIM} shops per claim at most, {BATCH:,} candidates per "
        "transaction); apply_due's seconds are those its summary line states (one decimal). After each run every "
        "charge's amount and split and every account's balance equal the floor's, every order has left the "
        "watch, and `ledger_differences()` is empty.\n\n"
        "| run | floor (s) | apply_due (s) | ratio | whole process (s) | ratio | peak RSS (MiB) |\n"
        "|---|---|---|---|---|---|---|\n"
        f"{table}\n\n"
        f"apply_due against the floor: median {statistics.median(money):.2f}×, range {min(money):.2f}–"
        f"{max(money):.2f}× (target 1.3×: {'met' if statistics.median(money) <= 1.3 else 'NOT met'}); the whole "
        f"process: median {statistics.median(whole):.2f}×, range {min(whole):.2f}–{max(whole):.2f}×. Peak RSS of "
        f"the job's process: {max(r['rss'] for r in runs) / 1024:.0f} MiB.\n\n"
        f"Reproduce: `.venv/bin/python -m bench.late_shipments` (uses database {DB_NAME}).\n"
    )
    path = write_result("late_shipments.md", text)
    print(f"apply_due median {statistics.median(money):.2f}× the floor → {path}")


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
