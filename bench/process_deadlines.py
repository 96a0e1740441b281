"""Bench: `process_deadlines` over 100,000 due cases on PostgreSQL, against a bare UPDATE (issue 4).

Run: `.venv/bin/python -m bench.process_deadlines [N]`. Uses its own database (pdd_bench_b).
Each run generates N due cases with INSERT … SELECT generate_series (a mix of every state that
has a deadline), times a bare `UPDATE … SET state = …` of exactly those rows in a transaction
it rolls back, then times `process_deadlines` (log rows, refunds and all) over the same rows.
Target: within 5× of the bare UPDATE and under 60 s.
"""

import inspect
import os
import statistics
import subprocess
import sys
import time

from bench.common import ROOT, fresh_database, machine, write_result

DB_NAME = "pdd_bench_b"
RUNS = 3
# state → share of the due cases; together they exercise every automatic transition.
MIX = [
    ("pending_merchant", 40),
    ("merchant_refused", 20),
    ("awaiting_return", 15),
    ("return_shipped", 15),
    ("return_refused", 10),
]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    url = fresh_database(DB_NAME)
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "bench.process_deadlines", "--measure", str(n)], cwd=ROOT, env=env, check=False
    )
    sys.exit(done.returncode)


# --- the measuring child (Django set up on the bench database) -------------------------------


def generate(n: int, now) -> None:
    from django.db import connection

    from aftersales.models import AfterSalesCase, CaseTransition, Refund
    from pddadmin.shops.models import Goods, Order, Shop

    with connection.cursor() as cur:
        for model in (Refund, CaseTransition, AfterSalesCase, Order, Goods, Shop):
            cur.execute(f"TRUNCATE {model._meta.db_table} CASCADE")
    shop = Shop.objects.create(platform_id="S1", name="bench", opened_at=now, changed_at=now)
    goods = Goods.objects.create(shop=shop, platform_id="G1", name="g", category="c", listed_at=now, changed_at=now)
    # A CASE over i % 100 spreads the states by MIX.
    bounds, upper = [], 0
    for state, share in MIX:
        upper += share
        bounds.append(f"WHEN i %% 100 < {upper} THEN '{state}'")
    state_sql = "CASE " + " ".join(bounds) + " END"
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {Order._meta.db_table} (platform_id, shop_id, goods_id, buyer, amount, placed_at, "
            "promised_ship_by, shipped_at, tracking, ship_to, warranty, changed_at) "
            "SELECT 'O' || i, %s, %s, 'B' || i, 59.90, %s - interval '20 days', %s - interval '18 days', "
            "%s - interval '19 days', 'T' || i, '', false, %s - interval '19 days' FROM generate_series(1, %s) i",
            [shop.pk, goods.pk, now, now, now, now, n],
        )
        cur.execute(
            f"INSERT INTO {AfterSalesCase._meta.db_table} (platform_id, order_id, shop_id, kind, reason, amount, "
            "state, opened_at, submitted_at, due_at, return_tracking, reship_tracking, close_reason, liable, "
            "buyer_statement, merchant_statement, ruling_note, return_receiver, return_phone, return_region, "
            "return_detail, changed_at) "
            f"SELECT 'C' || o.platform_id, o.id, o.shop_id, 'return_refund', 'quality_issue', 59.90, {state_sql}, "
            "%s - interval '10 days', %s - interval '10 days', %s - (i %% 1000) * interval '1 minute', "
            "'', '', '', '', '', '', '', '', '', '', '', %s - interval '9 days' "
            f"FROM {Order._meta.db_table} o JOIN generate_series(1, %s) i ON o.platform_id = 'O' || i",
            [now, now, now, now, n],
        )
        cur.execute("ANALYZE")


def bare_update(now) -> float:
    """The floor: one UPDATE setting the same rows' state, rolled back."""
    from django.db import connection, transaction

    from aftersales.models import AfterSalesCase, automatic_transitions

    targets = {str(source): str(t.target) for source, t in automatic_transitions().items()}
    case_sql = "CASE state " + " ".join(f"WHEN '{s}' THEN '{t}'" for s, t in targets.items()) + " END"
    states = ", ".join(f"'{s}'" for s in targets)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"UPDATE {AfterSalesCase._meta.db_table} SET state = {case_sql} "
            f"WHERE state IN ({states}) AND due_at <= %s",
            [now],
        )
        updated = cur.rowcount
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    print(f"  bare UPDATE: {updated:,} rows in {seconds:.2f}s", flush=True)
    return seconds


def measure(n: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()
    from django.utils import timezone

    from aftersales.models import CaseTransition, Refund
    from aftersales.services.deadlines import process_deadlines

    batch_size = inspect.signature(process_deadlines).parameters["batch_size"].default
    now = timezone.now().replace(microsecond=0)
    rows = []
    for run in range(1, RUNS + 1):
        generate(n, now)
        bare = bare_update(now)
        started = time.perf_counter()
        report = process_deadlines(now=now)
        job = time.perf_counter() - started
        assert report.total == n, report.summary()
        refunds, logs = Refund.objects.count(), CaseTransition.objects.count()
        print(f"  run {run}: {report.summary()}; {refunds:,} refunds, {logs:,} log rows", flush=True)
        rows.append((bare, job, job / bare))
    bare_med = statistics.median(r[0] for r in rows)
    job_med = statistics.median(r[1] for r in rows)
    ratio_med = statistics.median(r[2] for r in rows)
    table = "\n".join(f"| {i} | {b:.2f} | {j:.2f} | {r:.1f}× |" for i, (b, j, r) in enumerate(rows, 1))
    text = (
        f"# process_deadlines: {n:,} due cases on PostgreSQL\n\n"
        f"Machine: {machine()} (shared with other work while measured).\n"
        f"Data: {n:,} due cases ({', '.join(f'{share}% {s}' for s, share in MIX)}), generated with "
        "INSERT … SELECT; every run on fresh rows. The bare UPDATE sets the same rows' state in one "
        f"statement (rolled back); `process_deadlines` (batch {batch_size:,}, SKIP LOCKED) also writes the log row "
        "of every case and the refund of every case it refunds.\n\n"
        "| run | bare UPDATE (s) | process_deadlines (s) | ratio |\n|---|---|---|---|\n"
        f"{table}\n\n"
        f"Median: bare UPDATE {bare_med:.2f}s, process_deadlines {job_med:.2f}s, ratio {ratio_med:.1f}× "
        "(target: within 5×, under 60 s).\n\n"
        "Reproduce: `.venv/bin/python -m bench.process_deadlines` (uses database pdd_bench_b).\n"
    )
    path = write_result("process_deadlines.md", text)
    print(f"median ratio {ratio_med:.1f}× (bare {bare_med:.2f}s, job {job_med:.2f}s) → {path}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]))
    else:
        main()
