"""Bench: `process_deadlines` over 100,000 orders falling late at once, plus the 100,000 due cases of
bench.process_deadlines, on PostgreSQL, against a floor of plain INSERT … SELECT (issue 14).

Run: `.venv/bin/python -m bench.late_shipments [N]`. Uses its own database (pdd_bench_ls).
Each run generates, with INSERT … SELECT generate_series, the N due cases of bench.process_deadlines
(its own generator) and N grouped, unshipped orders whose promised_ship_by has passed, spread over
SHOPS shops with small deposits and goods balances, so that the charges cross deposit → goods balance
→ arrears; `late_shipment_due_at` is set as the grouping step sets it. It then times
- the floor: bench.process_deadlines' bare UPDATE of the cases, and the money rows of the late
  shipments (charges, ledger transactions, entries, coupons, account and shop balances, the orders'
  watch cleared) written by plain INSERT … SELECT / UPDATE in one transaction, rolled back;
- the job, as the command runs it: `aftersales.services.deadlines.process_deadlines`, then
  `compensation.services.charges.apply_due`.
The floor computes each charge's split with a window sum of its own; after the job, every charge
must have the same amount and split as the floor computed, every account the same balance, and
`ledger_differences()` must be empty.
"""

import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

from bench.common import ROOT, fresh_database, machine, write_result

DB_NAME = "pdd_bench_ls"
RUNS = 3
SHOPS = 200


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    url = fresh_database(DB_NAME)
    # Production-like: DEBUG off, so Django keeps no log of the queries.
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "SECRET_KEY": "bench-only-" + "x" * 50}
    child = [sys.executable, "-m", "bench.late_shipments", "--measure", str(n)]
    done = subprocess.run(child, cwd=ROOT, env=env, check=False)
    sys.exit(done.returncode)


# --- the measuring child (Django set up on the bench database) -------------------------------


def generate_late(n: int, now) -> None:
    """N late orders over SHOPS shops (after bench.process_deadlines.generate, which empties the
    shops, orders and cases and so, by CASCADE, the ledger; coupons hang off no shop)."""
    from django.db import connection

    from compensation.models import AccountKind, Coupon
    from compensation.services import ledger
    from pddadmin.shops.models import Goods, Order, Shop

    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {Coupon._meta.db_table} CASCADE")
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
    ledger.platform_account(AccountKind.COUPON_LIABILITY)  # exists once any coupon was issued
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def generate(n: int, now) -> None:
    from bench import process_deadlines

    process_deadlines.generate(n, now)
    generate_late(n, now)


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


def measure(n: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()
    from django.utils import timezone

    from aftersales.services.deadlines import process_deadlines
    from bench.process_deadlines import bare_update
    from compensation.services import charges

    now = timezone.now().replace(microsecond=0)
    runs, figures, load = [], {}, os.getloadavg()[0]
    for run in range(1, RUNS + 1):
        generate(n, now)
        bare = bare_update(now)
        floor, floor_charges, floor_balances = money_floor(now)
        cases, cases_s, _cpu, _st = timed(process_deadlines, now=now)
        money, money_s, money_cpu, statements = timed(charges.apply_due, now=now)
        assert cases.total == n, cases.summary()
        figures = check(n, floor_charges, floor_balances)
        print(f"  run {run}: {cases.summary()}; {money.summary()} in {money.batches} batches", flush=True)
        print(f"  run {run}: floor {bare + floor:.2f}s, job {cases_s:.2f}s + {money_s:.2f}s", flush=True)
        runs.append(
            {"bare": bare, "floor": floor, "cases": cases_s, "money": money_s, "cpu": money_cpu, "st": statements}
        )
    write_report(n, runs, figures, (load, os.getloadavg()[0]))


def _breakdown(run: dict) -> str:
    """The apply_due of one run: its statements by time, then the process's CPU and the rest."""
    statements: Statements = run["st"]
    top = statements.seconds.most_common(8)
    lines = [f"| {key} | {statements.count[key]:,} | {seconds:.2f} |" for key, seconds in top]
    others = [key for key in statements.seconds if key not in dict(top)]
    rest = sum(statements.seconds[key] for key in others)
    lines.append(f"| {len(others)} other kinds | {sum(statements.count[key] for key in others):,} | {rest:.2f} |")
    in_sql = sum(statements.seconds.values())
    return (
        "| statement | count | seconds |\n|---|---|---|\n" + "\n".join(lines) + "\n\n"
        f"Of its {run['money']:.2f}s, {in_sql:.2f}s were spent in the database calls above (a statement's time "
        "includes psycopg quoting its parameters on the client; COMMIT includes the deferred foreign-key "
        f"checks), {run['money'] - in_sql:.2f}s outside them (the ORM building rows and statements, coupon "
        f"codes, memos, splits); this process used {run['cpu']:.2f}s of CPU in all, the rest of the wall time it "
        "waited: for the database and, on a shared machine, for a core."
    )


def write_report(n: int, runs: list[dict], figures: dict, load: tuple[float, float]) -> None:
    from compensation.services.charges import BATCH, SHOPS_PER_CLAIM

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    table = "\n".join(
        f"| {i} | {r['bare']:.2f} | {r['floor']:.2f} | {r['cases']:.2f} | {r['money']:.2f} "
        f"| {r['money'] / r['floor']:.1f}× | {(r['cases'] + r['money']) / (r['bare'] + r['floor']):.1f}× |"
        for i, r in enumerate(runs, 1)
    )
    money_ratio = statistics.median(r["money"] / r["floor"] for r in runs)
    total_ratio = statistics.median((r["cases"] + r["money"]) / (r["bare"] + r["floor"]) for r in runs)
    median_run = sorted(runs, key=lambda r: r["money"])[len(runs) // 2]
    text = (
        f"# process_deadlines: {n:,} orders falling late at once, plus {n:,} due cases, on PostgreSQL\n\n"
        f"Machine: {machine()} (shared with other work while measured: 1-minute load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end).\n"
        f"Data, fresh every run (INSERT … SELECT generate_series): the {n:,} due cases of "
        f"`bench.process_deadlines` (its generator) and {n:,} grouped, unshipped orders whose "
        f"promised_ship_by passed in the last two days, over {SHOPS} shops with deposits of 300–1,100 and "
        f"goods balances of 0–36,000; `late_shipment_due_at` set as the grouping step sets it. The "
        f"compensations write {figures['entries']:,} ledger entries; {figures['crossing']:,} charges are split "
        f"across deposit/balance/arrears, and {figures['in_arrears']} shops end in arrears.\n\n"
        "Floor: the cases' bare `UPDATE … SET state` of `bench.process_deadlines`, and the late shipments' "
        "rows (charges, ledger transactions, entries, coupons, account and shop balances, the orders' "
        "watch cleared) by eight plain INSERT … SELECT / UPDATE statements in one transaction (foreign keys "
        "checked per statement, as the job's commits check them), each split computed with a window sum; "
        "both rolled back. Job: `process_deadlines` (cases, batch 2,000) then "
        f"`charges.apply_due` ({SHOPS_PER_CLAIM} shops per claim, {BATCH:,} candidates per transaction), "
        "called as the command calls them. After each run every charge's amount and split and every "
        "account's balance equal the floor's, and `ledger_differences()` is empty.\n\n"
        "| run | cases: bare UPDATE (s) | money floor (s) | cases: process_deadlines (s) | money: apply_due (s) "
        "| money ratio | total ratio |\n|---|---|---|---|---|---|---|\n"
        f"{table}\n\n"
        f"Median: money floor {med('floor'):.2f}s, apply_due {med('money'):.2f}s, ratio {money_ratio:.1f}×; "
        f"cases: bare UPDATE {med('bare'):.2f}s, process_deadlines {med('cases'):.2f}s; whole job "
        f"{med('cases') + med('money'):.2f}s against a floor of {med('bare') + med('floor'):.2f}s, "
        f"ratio {total_ratio:.1f}×.\n\n"
        f"## Where apply_due's time goes (run {runs.index(median_run) + 1}, the median one)\n\n"
        f"{_breakdown(median_run)}\n\n"
        "Reproduce: `.venv/bin/python -m bench.late_shipments` (uses database pdd_bench_ls).\n"
    )
    path = write_result("late_shipments.md", text)
    print(f"median money ratio {money_ratio:.1f}×, total {total_ratio:.1f}× → {path}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]))
    else:
        main()
