"""Bench: one day's `compute_metrics` on an ageing database (#20.3): the same daily volume over 60
days and over 2 years (730 days) of history, each against a hand-written floor computing the same
shop and goods figures; then the merchant dashboard and the do-nothing forecast (60 days).

Run: `.venv/bin/python -m bench.metrics [--per-day N] [--runs N] [--reuse] [--database-prefix P]`
(PostgreSQL, databases pdd_c_m60 and pdd_c_m730 by default). Each size runs in a worker process of
its own, started once (Django's start-up is not in the in-process figures; the whole
`manage.py compute_metrics --date D` process is timed separately, start-up included). Day by day
the two sizes and, inside each, the floor (two access paths, see bench/metrics_floor.sql) and
`metrics_compute` take turns, so all see the same machine load. Targets: compute(2 y) /
compute(60 d) ≤ 1.2; compute / floor ≤ 1.5, the floor on the serial plan as compute_metrics runs.
Every day measured is checked afterwards: its goods and shop rows equal the floor's, column by
column.
"""

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import PG_SERVER, fresh_database, header, load_average, manage, manage_measured, write_result

SIZES = (60, 730)  # days of history, at the same daily volume
PER_DAY = 10_000  # orders a day: 600,000 and 7,300,000 orders (the earlier 16,667 a day made 2 years 12 M)
RUNS = 9
PROCESS_RUNS = 5
HISTORY_DAYS = 30
FLOOR_SQL = Path(__file__).with_name("metrics_floor.sql")
FLOORS = ("plain", "by_shop")  # the refunds as the table itself, or the window read shop by shop

GOODS_FIELDS = (
    "goods_id",
    "shop_id",
    "category",
    "grouped_orders",
    "day_grouped_orders",
    "quality_refund_orders",
    "day_quality_refund_orders",
    "dispute_refund_orders",
    "day_dispute_refund_orders",
    "logistics_anomaly_orders",
    "day_logistics_anomaly_orders",
    "category_grouped_orders",
    "category_quality_refund_orders",
    "category_goods",
    "category_logistics_anomaly_orders",
)
SHOP_FIELDS = (
    "shop_id",
    "category",
    "grouped_orders",
    "dispute_refund_orders",
    "quality_refund_orders",
    "intervention_orders",
    "logistics_anomaly_orders",
    "day_grouped_orders",
    "day_dispute_refund_orders",
    "day_quality_refund_orders",
    "day_intervention_orders",
    "day_logistics_anomaly_orders",
    "category_grouped_orders",
    "category_logistics_anomaly_orders",
    "category_shops",
)
# Session settings of metrics_compute's transaction (metrics/services.py), the floor's too.
SERIAL = "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0"


DATABASE_PREFIX = "pdd_c_m"


def database(days: int) -> str:
    return f"{DATABASE_PREFIX}{days}"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    import django

    django.setup()


def timed(fn, runs: int = RUNS) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


# ---- the worker: one process per database, driven by JSON lines on stdin ----


def floor_statements(refund: str) -> list[str]:
    from aftersales.models import Refund
    from metrics.services import window_rows

    relation = "aftersales_refund" if refund == "plain" else window_rows(Refund, "refunded_at")
    text = FLOOR_SQL.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--")).replace("{refund}", relation)
    return [sql for sql in re.split(r";\s*$", body, flags=re.MULTILINE) if sql.strip()]


def worker(url: str) -> None:
    setup_django(url)
    from django.db import connection, transaction

    from bench.metrics_data import generate
    from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
    from metrics.services import day_params, metrics_compute

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    schedstat = Path(f"/proc/{backend}/schedstat")

    def cpu() -> float:
        """CPU seconds of this worker and of its PostgreSQL backend (from the kernel's schedstat, when
        the server runs on this machine): the work done, whatever else the shared cores ran."""
        backend_ns = int(schedstat.read_text().split()[0]) if schedstat.exists() else 0
        return time.process_time() + backend_ns / 1e9

    def measured(fn) -> dict:
        wall, used = time.perf_counter(), cpu()
        fn()
        return {"wall": time.perf_counter() - wall, "cpu": cpu() - used}

    def params(day: str) -> dict:
        return day_params(dt.date.fromisoformat(day), dt.datetime.now(dt.UTC), 3)

    def floor(day: str, refund: str, check: bool = False):
        p = params(day)
        statements = floor_statements(refund)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(SERIAL)
            for sql in statements:
                cursor.execute(sql, p)
            if not check:
                return None
            found = {}
            for table, fields, model in (
                ("floor_goods", GOODS_FIELDS, GoodsDaySnapshot),
                ("floor_shops", SHOP_FIELDS, ShopDaySnapshot),
            ):
                cursor.execute(f"SELECT {', '.join(fields)} FROM {table} ORDER BY {fields[0]}")
                expected = [tuple(row) for row in cursor.fetchall()]
                got = list(model.objects.filter(date=day).order_by(fields[0]).values_list(*fields))
                assert got == expected, f"{model.__name__} rows of {day} differ from the floor's ({refund})"
                found[table] = len(got)
            return found

    def forget(days: list[str]) -> None:
        GoodsDaySnapshot.objects.filter(date__in=days).delete()
        ShopDaySnapshot.objects.filter(date__in=days).delete()
        with connection.cursor() as cursor:
            for table in (GoodsDaySnapshot._meta.db_table, ShopDaySnapshot._meta.db_table):
                cursor.execute(f"VACUUM ANALYZE {table}")

    def shape() -> dict:
        with connection.cursor() as cursor:
            out = {}
            for name, sql in (
                ("orders", "SELECT COUNT(*) FROM shops_order"),
                ("cases", "SELECT COUNT(*) FROM aftersales_aftersalescase"),
                ("refunds", "SELECT COUNT(*) FROM aftersales_refund"),
                ("logistics flags", "SELECT COUNT(*) FROM shops_logisticsflag"),
                ("ratings", "SELECT COUNT(*) FROM shops_orderrating"),
                ("goods", "SELECT COUNT(*) FROM shops_goods"),
                ("shops", "SELECT COUNT(*) FROM shops_shop"),
                ("database MB", "SELECT pg_database_size(current_database()) / 1000000"),
            ):
                cursor.execute(sql)
                out[name] = cursor.fetchone()[0]
            return out

    def breakdown(day: str) -> list:
        spent = []

        def wrapper(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent.append((time.perf_counter() - started, " ".join(sql.split())[:60]))

        forget([day])
        with connection.execute_wrapper(wrapper):
            metrics_compute(day=dt.date.fromisoformat(day))
        return [row for row in spent if row[0] >= 0.005]

    def plans(day: str) -> dict:
        from metrics.forecast import _GOODS
        from metrics.services import grouped_sql

        p = params(day)
        out = {}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(SERIAL)
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_GOODS} ON COMMIT DROP AS SELECT id, shop_id, category "
                "FROM shops_goods WHERE category IN (SELECT category FROM shops_goods WHERE shop_id = 1)"
            )
            cursor.execute(f"ANALYZE {_GOODS}")
            for name, sql in (("compute_metrics", grouped_sql()), ("export_forecast", grouped_sql(goods=_GOODS))):
                cursor.execute("EXPLAIN (COSTS OFF) " + sql, p)
                out[name] = "\n".join(row[0] for row in cursor.fetchall())
        return out

    for line in sys.stdin:
        job = json.loads(line)
        op = job["op"]
        if op == "generate":
            started = time.perf_counter()
            generate(orders=job["orders"], days=job["days"], progress=lambda *_: None)
            result = {"seconds": time.perf_counter() - started}
        elif op == "shape":
            result = shape()
        elif op == "forget":
            result = forget(job["days"])
        elif op == "compute":
            result = measured(lambda job=job: metrics_compute(day=dt.date.fromisoformat(job["day"])))
        elif op == "floor":
            result = measured(lambda job=job: floor(job["day"], job["refund"]))
        elif op == "check":
            result = {r: floor(job["day"], r, check=True) for r in FLOORS}
        elif op == "breakdown":
            result = breakdown(job["day"])
        elif op == "plans":
            result = plans(job["day"])
        elif op == "path":
            from metrics.services import refunds_by_shop

            with connection.cursor() as cursor:
                result = refunds_by_shop(cursor, params(job["day"]))
        else:
            raise ValueError(op)
        print(json.dumps(result), flush=True)


class Worker:
    def __init__(self, url: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.metrics", "--worker", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def __call__(self, op: str, **job):
        self.process.stdin.write(json.dumps({"op": op, **job}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker stopped on {op}")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


# ---- the bench ----


def orders_in(name: str) -> int | None:
    out = subprocess.run(
        ["psql", f"{PG_SERVER}/{name}", "-tAc", "SELECT COUNT(*) FROM shops_order"], capture_output=True, text=True
    )
    return int(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def spread(values: list[float], scale: float = 1, unit: str = " s", digits: int = 3) -> str:
    return (
        f"{statistics.median(values) * scale:.{digits}f}{unit} "
        f"({min(values) * scale:.{digits}f} … {max(values) * scale:.{digits}f})"
    )


def main() -> None:
    global DATABASE_PREFIX
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-day", type=int, default=PER_DAY, help="orders a day, the same for both histories")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--reuse", action="store_true", help="keep generated data of the right size")
    parser.add_argument("--database-prefix", default=DATABASE_PREFIX, help="databases <prefix>60 and <prefix>730")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    DATABASE_PREFIX = args.database_prefix

    from bench.metrics_data import LAST_DAY

    started_load = load_average()
    workers, made = {}, {}
    for days in SIZES:
        name, orders = database(days), args.per_day * days
        url = f"{PG_SERVER}/{name}"
        if args.reuse and orders_in(name) == orders:
            manage("migrate", "-v", "0", database_url=url)
            workers[days] = Worker(url)
        else:
            fresh_database(name)
            workers[days] = Worker(url)
            print(f"generating {orders:,} orders over {days} days …", flush=True)
            made[days] = workers[days]("generate", orders=orders, days=days)["seconds"]
    shapes = {days: w("shape") for days, w in workers.items()}

    day_list = [LAST_DAY - dt.timedelta(days=offset) for offset in range(args.runs - 1, -1, -1)]
    iso = [d.isoformat() for d in day_list]
    for w in workers.values():
        w("forget", days=iso)
        w("compute", day=(day_list[0] - dt.timedelta(days=1)).isoformat())  # the day before: streaks
        w("floor", day=iso[0], refund="plain")  # warm the cache
    subjects = ("compute", *FLOORS)
    times = {days: {s: [] for s in subjects} for days in SIZES}
    for i, day in enumerate(iso):
        sizes = SIZES if i % 2 == 0 else SIZES[::-1]
        for days in sizes:
            order = subjects[i % 3 :] + subjects[: i % 3]  # each goes first, second and third in turn
            for s in order:
                result = (
                    workers[days]("compute", day=day) if s == "compute" else workers[days]("floor", day=day, refund=s)
                )
                times[days][s].append(result)
        print(
            f"{day}: "
            + "; ".join(
                f"{days} d compute {times[days]['compute'][-1]['wall']:.3f} s, floor "
                f"{min(times[days][f][-1]['wall'] for f in FLOORS):.3f} s"
                for days in SIZES
            ),
            flush=True,
        )
    checked = {days: [workers[days]("check", day=day) for day in iso] for days in SIZES}

    # The whole process as the operator runs it, on the last day made fresh again each time.
    process = {days: [] for days in SIZES}
    startup = []
    # Fills the bytecode cache (bench.common.bytecode_cache) the measured processes start with.
    manage_measured("compute_metrics", "--date", iso[-1], database_url=f"{PG_SERVER}/{database(SIZES[0])}")
    for i in range(PROCESS_RUNS):
        for days in SIZES if i % 2 == 0 else SIZES[::-1]:
            workers[days]("forget", days=[iso[-1]])
            done, seconds, rss = manage_measured(
                "compute_metrics", "--date", iso[-1], database_url=f"{PG_SERVER}/{database(days)}"
            )
            assert done.returncode == 0, done.stderr
            process[days].append((seconds, rss))
        done, seconds, _rss = manage_measured(
            "compute_metrics", "--help", database_url=f"{PG_SERVER}/{database(SIZES[0])}"
        )
        startup.append(seconds)
    breakdowns = {days: workers[days]("breakdown", day=iso[-1]) for days in SIZES}
    plans = workers[SIZES[-1]]("plans", day=iso[-1])
    paths = {days: workers[days]("path", day=iso[-1]) for days in SIZES}
    for w in workers.values():
        w.close()

    lines = [results_head(args, shapes, made, started_load)]
    lines += compute_section(times, checked, iso, shapes)
    lines += process_section(process, startup, iso[-1])
    lines += breakdown_section(breakdowns, plans, paths)
    setup_django(f"{PG_SERVER}/{database(SIZES[0])}")
    lines += dashboard_section(LAST_DAY)
    lines += forecast_section(LAST_DAY)
    lines.append(f"\nLoad average (1/5/15 min) at the end of the whole bench: {load_average()}.\n")
    path = write_result("metrics.md", "".join(lines))
    print(f"wrote {path}")


def results_head(args, shapes: dict, made: dict, started_load: str) -> str:
    from bench.metrics_data import LAST_DAY

    data = "; ".join(
        f"**{days} days** ({database(days)}): "
        + ", ".join(f"{v:,} {k}" for k, v in shape.items())
        + (f" (generated in {made[days]:.0f} s)" if days in made else " (reused)")
        for days, shape in shapes.items()
    )
    text = header(
        "Metrics bench (#20.3): one day's compute_metrics on an ageing database",
        command=f"python -m bench.metrics --per-day {args.per_day} --runs {args.runs}"
        + (" --reuse" if args.reuse else ""),
        data=f"{args.per_day:,} orders a day ending {LAST_DAY}, over 60 days and over 2 years, in the same 1,000 "
        f"shops and 20,000 goods (bench/metrics_data.py); {data}. The daily volume is {args.per_day:,} orders, "
        "not the earlier bench's 16,667, so that 2 years stay affordable to generate (7.3 M orders instead of "
        "12 M); both histories have the same. The snapshot tables hold only the days the bench computes.",
        started_load=started_load,
    )
    return text


def compute_section(times: dict, checked: dict, iso: list[str], shapes: dict) -> list[str]:
    short, long = SIZES
    lines = [
        f"## One day's compute_metrics, {len(iso)} fresh days ({iso[0]} … {iso[-1]}), in-process\n\n",
        "Day by day, each size in turn, and inside each the three in rotating order: the floor with refunds "
        "read as the table (`plain`), the floor with refunds read shop by shop (`by_shop`, the path "
        "compute_metrics takes on a long history, metrics/services.py `window_rows`), and `metrics_compute` "
        "of that day, not stored yet (the daily schedule's case), committed. Floor: bench/metrics_floor.sql, "
        "the same shop **and** goods figures (logistics included) into two temporary tables, on the serial "
        "plan with jit off as compute_metrics runs; it leaves out flags and streaks (integer comparisons on "
        "the same rows) and the snapshot indexes' upkeep. Each worker is a process started once; start-up is "
        "in the next section.\n\n",
        "Two measures of each run: the wall time, and the CPU time of the worker plus its PostgreSQL backend "
        "(the kernel's schedstat of the backend process): the work itself, which the other engineers' jobs on the "
        "same two cores stretch far less than the wall time.\n\n",
    ]
    summary = {}
    for measure in ("wall", "cpu"):
        lines += [
            f"\n### {'Wall time' if measure == 'wall' else 'CPU time (worker + backend)'}\n\n",
            "| history | floor `plain` | floor `by_shop` | compute_metrics | compute / faster floor, day by day |\n"
            "|---|---|---|---|---|\n",
        ]
        t = {days: {k: [r[measure] for r in v] for k, v in times[days].items()} for days in SIZES}
        ratios, best = {}, {}
        for days in SIZES:
            best[days] = [min(pair) for pair in zip(*(t[days][f] for f in FLOORS), strict=True)]
            ratios[days] = [c / b for c, b in zip(t[days]["compute"], best[days], strict=True)]
            lines.append(
                f"| {days} days | {spread(t[days]['plain'])} | {spread(t[days]['by_shop'])} | "
                f"{spread(t[days]['compute'])} | **{statistics.median(ratios[days]):.2f}** "
                f"({min(ratios[days]):.2f} … {max(ratios[days]):.2f}) |\n"
            )
        ageing = [b / a for a, b in zip(t[short]["compute"], t[long]["compute"], strict=True)]
        floor_ageing = [b / a for a, b in zip(best[short], best[long], strict=True)]
        summary[measure] = (ageing, ratios)
        lines += [
            "\nRuns (s), in day order:\n\n",
            *(
                f"- {days} d {s}: " + ", ".join(f"{x:.3f}" for x in t[days][s]) + "\n"
                for days in SIZES
                for s in ("compute", *FLOORS)
            ),
            f"\nAgeing, compute_metrics {long} d / {short} d, day by day: **{statistics.median(ageing):.2f}** "
            f"({min(ageing):.2f} … {max(ageing):.2f}); the faster floor's own: "
            f"{statistics.median(floor_ageing):.2f} ({min(floor_ageing):.2f} … {max(floor_ageing):.2f}).\n",
        ]
    lines.append("\n### Against the targets\n\n| target | wall time | CPU time |\n|---|---|---|\n")
    rows = [("compute_metrics 2 y / 60 d ≤ 1.2", lambda m: summary[m][0], 1.2)]
    rows += [(f"compute / floor ≤ 1.5 at {days} d", lambda m, days=days: summary[m][1][days], 1.5) for days in SIZES]
    for label, values, target in rows:
        cells = []
        for measure in ("wall", "cpu"):
            v = values(measure)
            verdict = "met" if statistics.median(v) <= target else "NOT met"
            cells.append(f"{statistics.median(v):.2f} ({min(v):.2f} … {max(v):.2f}), {verdict}")
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |\n")
    lines += [
        "\nChecked after the runs: every day's "
        + ", ".join(
            f"{days} d: {checked[days][0]['plain']['floor_goods']:,} goods and "
            f"{checked[days][0]['plain']['floor_shops']:,} shop rows"
            for days in SIZES
        )
        + f" equal to both floors', all {len(GOODS_FIELDS) - 1} goods and {len(SHOP_FIELDS) - 1} shop columns.\n",
    ]
    return lines


def process_section(process: dict, startup: list[float], day: str) -> list[str]:
    short, long = SIZES
    ageing = [b[0] / a[0] for a, b in zip(process[short], process[long], strict=True)]
    lines = [
        f"\n## The whole process: `manage.py compute_metrics --date {day}`, {PROCESS_RUNS} runs a size\n\n",
        "As the operator (or the schedule) runs it, the day removed before each run so it is computed fresh; the "
        "sizes alternate. Start-up alone: `manage.py compute_metrics --help` (Python, Django set-up, no "
        f"database work): {spread(startup)}.\n\n",
        "| history | wall time | peak RSS |\n|---|---|---|\n",
    ]
    for days in SIZES:
        lines.append(
            f"| {days} days | {spread([s for s, _ in process[days]])} | "
            f"{max(r for _, r in process[days]) / 1024:.0f} MiB |\n"
        )
    lines.append(
        f"\nWhole process {long} d / {short} d, run by run: {statistics.median(ageing):.2f} "
        f"({min(ageing):.2f} … {max(ageing):.2f}).\n"
    )
    return lines


def breakdown_section(breakdowns: dict, plans: dict, paths: dict) -> list[str]:
    lines = ["\n## One run, statement by statement (≥ 5 ms)\n\n| history | statement | time |\n|---|---|---|\n"]
    for days, rows in breakdowns.items():
        lines += [f"| {days} d | `{sql}…` | {seconds:.3f} s |\n" for seconds, sql in rows]
    lines += [
        "\nWhat makes the cost follow the window (metrics/services.py):\n\n"
        "- the window's grouped orders: an index-only range scan of order_grouped_goods (grouped_at, goods), "
        "which replaced order_goods_grouped (goods, grouped_at): reading that one for a window walked the whole "
        "index, every order ever grouped, and 2 years made one day about twice as slow;\n"
        "- refunds, whose only time index leads with the shop (refund_shop_at): read shop by shop (a LATERAL range "
        "scan per shop, once for both refund figures and the logistics refunds) when the planner estimates the "
        "window under a tenth of the table (metrics.services.refunds_by_shop), else the table whole, which is "
        "cheaper while the history is short. Chosen here: "
        + ", ".join(f"{days} d {'shop by shop' if by_shop else 'the table whole'}" for days, by_shop in paths.items())
        + ". Flags and ratings have their own time indexes (logistics_flag_at, order_rating_at); interventions come "
        "from case_shop_intervened, which is small;\n"
        "- the rest as before: per-goods sums added up per shop, category figures from a small grouped CTE, "
        "streaks from yesterday's flagged rows (a partial index), serial plans, jit off.\n\n"
        "The index replaced, order_goods_grouped (goods, grouped_at), served only the metrics' per-goods grouped "
        "counts (no other query reads orders by goods: goods are never deleted, and the goods foreign key is only "
        "followed from orders to goods). The two queries that read it, planned now on the 2-year database:\n\n",
    ]
    for name, plan in plans.items():
        lines.append(f"{name}'s grouped orders:\n\n```\n{plan}\n```\n\n")
    return lines


def dashboard_section(day: dt.date) -> list[str]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from metrics.services import metrics_compute
    from pddadmin.shops.models import Shop, ShopMembership
    from tests.factories import UserFactory

    # daily snapshots behind the trend chart (it reads 90 days, whatever is there)
    started = time.perf_counter()
    for offset in range(2, HISTORY_DAYS):
        metrics_compute(day=day - dt.timedelta(days=offset))
    history = time.perf_counter() - started
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    shop = Shop.objects.get(platform_id="S00001")  # the biggest shop
    user = UserFactory(username=f"bench-{time.time_ns()}")
    user.save()  # the factory sets the password without saving; the session hash must match
    ShopMembership.objects.create(shop=shop, user=user, role="viewer")
    client = Client()
    client.force_login(user)
    page = f"{reverse('metrics:dashboard')}?shop={shop.pk}&date={day.isoformat()}"
    assert client.get(page).status_code == 200
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        client.get(page)
    times = timed(lambda: client.get(page), 20)
    orders_page = f"{reverse('metrics:orders')}?shop={shop.pk}&date={day.isoformat()}&figure=quality_refund"
    orders_times = timed(lambda: client.get(orders_page), 10)
    ms = statistics.median(times) * 1000
    print(f"dashboard {ms:.0f} ms, {len(queries)} queries")
    return [
        f"\n## Merchant dashboard `/metrics/` for the biggest shop ({shop.platform_id}), day {day}\n",
        f"({HISTORY_DAYS - 2} more daily snapshots computed first for the trend: {history:.1f} s, "
        f"{history / (HISTORY_DAYS - 2):.2f} s per day.)\n\n",
        "| page | median | p95 | queries |\n|---|---|---|---|\n",
        f"| dashboard (rates, 90-day trend, goods table) | {ms:.0f} ms | "
        f"{sorted(times)[int(len(times) * 0.95) - 1] * 1000:.0f} ms | {len(queries)} |\n",
        f"| orders behind the quality numerator | {statistics.median(orders_times) * 1000:.0f} ms | | |\n",
        "\nTarget of the earlier bench (issue 6): dashboard < 150 ms; its query bound is asserted in "
        "tests/metrics/test_dashboard.py. Since the coming-up panel (issue 17) the page runs the shop's forecast "
        "(the statements of metrics.forecast, most of the queries above and most of the time), so that target is "
        "not met here; #20 sets none for this page.\n",
    ]


def forecast_section(day: dt.date) -> list[str]:
    """`export_forecast --date D --shop S00001` (the biggest shop), as the command runs it."""
    import io
    import json

    from django.core.management import call_command
    from django.db import connection

    from metrics.forecast import goods_forecast
    from metrics.windows import local_zone
    from pddadmin.shops.models import Shop

    shop = Shop.objects.get(platform_id="S00001")
    # As in production, where the deadline job runs every minute: the cases due by the end of D
    # have moved (the generated data leaves every deadline unapplied).
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=local_zone())
    started = time.perf_counter()
    call_command("process_deadlines", "--now", end.isoformat(), stdout=io.StringIO())
    deadlines = time.perf_counter() - started
    with connection.cursor() as cursor:  # as autovacuum would, before the next reader
        for table in ("aftersales_aftersalescase", "aftersales_refund"):
            cursor.execute(f"VACUUM ANALYZE {table}")

    def export():
        out = io.StringIO()
        call_command(
            "export_forecast", "--date", day.isoformat(), "--shop", shop.platform_id, stdout=out, stderr=io.StringIO()
        )
        return json.loads(out.getvalue())

    document = export()  # warm
    times = timed(export, RUNS)
    platform = timed(lambda: goods_forecast(day=day), 3)
    rows = goods_forecast(day=day, shop=shop)
    projected_cases = sum(len(d.cases) for g in rows.goods for d in g.days[-1:])
    ms = statistics.median(times) * 1000
    print(f"export_forecast {shop.platform_id}: {ms:.0f} ms")
    return [
        f"\n## `export_forecast --date {day} --shop {shop.platform_id}` (SPEC §5.2, the biggest shop)\n",
        f"{len(rows.goods)} goods of the shop, their categories' goods across every shop projected over 8 days "
        f"(D … D+7) with held denominators; {projected_cases} of its open cases counted on D+7; "
        f"{len(document['goods'])} goods rows in the export. Before it, `process_deadlines` to the end of D, as the "
        f"job keeps it ({deadlines:.1f} s; freshly generated cases have every deadline unapplied, reused data has "
        "them applied by the run before).\n\n",
        "| | median | runs |\n|---|---|---|\n",
        f"| `export_forecast` for {shop.platform_id} (command, JSON written) | {ms:.0f} ms | "
        + ", ".join(f"{x * 1000:.0f}" for x in times)
        + " |\n",
        f"| the whole platform (`goods_forecast(day=D)`, every category) | "
        f"{statistics.median(platform) * 1000:.0f} ms | " + ", ".join(f"{x * 1000:.0f}" for x in platform) + " |\n",
        "\nTarget: < 1 s for the biggest shop.\n",
    ]


if __name__ == "__main__":
    main()
