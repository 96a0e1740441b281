"""Bench: `manage.py process_deadlines` over 100,000 due cases on PostgreSQL, as a whole process,
against a set-based floor doing the same work, with and without 1,000,000 finished cases beside
them (issue #20 point 2 for cases, point 5 for the due rows' memory).

Run: `.venv/bin/python -m bench.process_deadlines [DUE [FINISHED [BIG]]] [--database NAME]` (defaults
100,000, 1,000,000 and 1,000,000). Uses its own database (pdd_b1_bench unless named), dropped and
created again.

The floor is bench/process_deadlines_floor.sql, run by `psql -f` (a whole process too): one
UPDATE … RETURNING of the due cases feeding the INSERTs of their log rows and refunds, written by
hand. The subject is `manage.py process_deadlines --now T`, start-up included, as an operator
runs it. Each run regenerates the due cases (the same rows, the earlier ones and everything
written for them deleted and vacuumed away) before each of the two, which run in alternating
order; after each, a digest of the due cases, their log rows and their refunds (by platform ids,
so the row ids do not matter) must be the same for the floor and the job, or the bench fails.
Then the job alone over 1,000,000 due cases and over 100,000 gives its peak RSS (flat or not).

The job starts with the bench's bytecode cache (`bench.common.bytecode_cache`), warmed by one run
with nothing due; a start-up section times the job with nothing due with it and without it.
"""

import os
import statistics
import sys
import time
from pathlib import Path

from bench.common import ROOT, bytecode_cache, fresh_database, header, load_average, run_measured, write_result

DB_NAME = "pdd_b1_bench"
RUNS = 3
FLOOR_SQL = Path(__file__).with_name("process_deadlines_floor.sql")
# state → share of the due cases; together they exercise every automatic transition.
MIX = [
    ("pending_merchant", 40),
    ("merchant_refused", 20),
    ("awaiting_return", 15),
    ("return_shipped", 15),
    ("return_refused", 10),
]
REASONS = ["quality_issue", "not_as_described", "damaged_in_transit", "lost_in_transit", "changed_mind", "other"]
CASES, LOG, REFUNDS = "aftersales_aftersalescase", "aftersales_casetransition", "aftersales_refund"
ORDERS, GOODS, SHOPS = "shops_order", "shops_goods", "shops_shop"
NOTHING_DUE = "2000-01-01T00:00:00+00:00"  # before every deadline: the job's start-up and its empty look-ups


def database() -> str:
    args = sys.argv[1:]
    return args[args.index("--database") + 1] if "--database" in args else DB_NAME


def sizes() -> tuple[int, int, int]:
    args = [int(a) for a in sys.argv[1:] if a.isdigit()]
    defaults = [100_000, 1_000_000, 1_000_000]
    return tuple(args[i] if i < len(args) else defaults[i] for i in range(3))  # type: ignore[return-value]


def main() -> None:
    due, finished, big = sizes()
    started_load = load_average()
    url = fresh_database(database())
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    import django

    django.setup()
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    measure(Bench(url, now), due, finished, big, started_load)


def measure(bench: "Bench", due: int, finished: int, big: int, started_load: str) -> None:
    now = bench.now
    bench.base()
    bench.job(NOTHING_DUE)  # writes the bytecode cache the measured runs start with
    rows = {}
    for label, history in (("without finished cases", 0), (f"with {finished:,} finished cases", finished)):
        bench.add_finished(history)
        rows[label] = bench.interleaved(due)
    rss = {n: bench.job_alone(n) for n in (due, big)}
    startup = bench.startup()
    bench.plan_due = due
    text = report(due, finished, big, rows, rss, started_load, now)
    text = text.replace("## Closing note", startup + "## Closing note", 1)
    closing = text.index("## Closing note")
    text = text[:closing] + bench.index_plans() + "\n" + text[closing:]
    write_result("process_deadlines.md", text)
    print(f"results → {ROOT / 'bench/results/process_deadlines.md'}")


class Bench:
    def __init__(self, url: str, now):
        from django.db import connection

        self.url, self.now, self.connection = url, now, connection

    def sql(self, statement: str, params=()) -> list[tuple]:
        with self.connection.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def base(self) -> None:
        now = self.now
        self.sql(
            f"INSERT INTO {SHOPS} (platform_id, name, deposit, balance, hotline, opened_at, changed_at) "
            "VALUES ('S1', 'bench', 0, 0, '', %s, %s)",
            [now, now],
        )
        self.sql(
            f"INSERT INTO {GOODS} (platform_id, shop_id, name, category, special, warranty, warranty_mandatory, "
            "listed_at, changed_at) SELECT 'G1', id, 'g', 'c', false, false, false, %s, %s FROM shops_shop",
            [now, now],
        )

    def orders(self, prefix: str, n: int) -> None:
        now = self.now
        self.sql(
            f"INSERT INTO {ORDERS} (platform_id, shop_id, goods_id, buyer, amount, placed_at, promised_ship_by, "
            "shipped_at, tracking, ship_to, warranty, changed_at) "
            f"SELECT %s || i, g.shop_id, g.id, 'B' || i, 59.90, %s - interval '20 days', %s - interval '18 days', "
            f"%s - interval '19 days', 'T' || i, '', false, %s - interval '19 days' "
            f"FROM {GOODS} g, generate_series(1, %s) i",
            [prefix, now, now, now, now, n],
        )

    def cases(self, prefix: str, n: int, state_sql: str, due_sql: str, close_sql: str, resolved_sql: str) -> None:
        reasons = "(ARRAY[" + ", ".join(f"'{r}'" for r in REASONS) + f"])[1 + i %% {len(REASONS)}]"
        self.sql(
            f"INSERT INTO {CASES} (platform_id, order_id, shop_id, kind, reason, amount, state, opened_at, "
            "submitted_at, due_at, resolved_at, return_tracking, reship_tracking, close_reason, liable, "
            "buyer_statement, merchant_statement, ruling_note, return_receiver, return_phone, return_region, "
            "return_detail, changed_at, updated_at) "
            f"SELECT 'C' || o.platform_id, o.id, o.shop_id, "
            f"(ARRAY['refund_only', 'return_refund', 'exchange'])[1 + i %% 3], {reasons}, 59.90, {state_sql}, "
            f"%(now)s - interval '10 days', %(now)s - interval '10 days', {due_sql}, {resolved_sql}, "
            f"'', '', {close_sql}, '', '', '', '', '', '', '', '', %(now)s - interval '9 days', %(now)s "
            f"FROM {ORDERS} o JOIN generate_series(1, %(n)s) i ON o.platform_id = %(prefix)s || i",
            {"now": self.now, "n": n, "prefix": prefix},
        )

    def add_finished(self, n: int) -> None:
        """n finished cases (refunded, closed, exchanged; no deadline), each on its own order."""
        if not n:
            return
        print(f"  generating {n:,} finished cases", flush=True)
        self.orders("FO", n)
        state = "(ARRAY['refunded', 'closed', 'refunded', 'exchanged'])[1 + i %% 4]"
        close = "CASE WHEN i %% 4 = 1 THEN 'buyer_cancelled' ELSE '' END"
        self.cases("FO", n, state, "NULL", close, "%(now)s - interval '9 days'")
        self.sql("VACUUM ANALYZE")

    def fresh_due(self, n: int) -> None:
        """Delete the due set of the last run and everything written for it, then write it again."""
        self.sql(f"DELETE FROM {REFUNDS} WHERE case_id IN (SELECT id FROM {CASES} WHERE platform_id LIKE 'CDO%%')")
        self.sql(f"DELETE FROM {LOG} WHERE case_id IN (SELECT id FROM {CASES} WHERE platform_id LIKE 'CDO%%')")
        self.sql(f"DELETE FROM {CASES} WHERE platform_id LIKE 'CDO%%'")
        self.sql(f"DELETE FROM {ORDERS} WHERE platform_id LIKE 'DO%%'")
        # Rewritten, so that every subject meets the same layout: the due set appended in id order
        # after the finished cases. (Refilling the holes the last subject's writes left made the
        # next subject's layout depend on which one ran before.)
        self.sql(f"VACUUM FULL {CASES}, {LOG}, {REFUNDS}, {ORDERS}")
        bounds, upper = [], 0
        for state, share in MIX:
            upper += share
            bounds.append(f"WHEN i %% 100 < {upper} THEN '{state}'")
        self.orders("DO", n)
        due = "%(now)s - (i %% 1000) * interval '1 minute'"
        self.cases("DO", n, "CASE " + " ".join(bounds) + " END", due, "''", "NULL")
        self.sql("VACUUM ANALYZE")
        self.sql("CHECKPOINT")

    def digest(self) -> tuple[str, int, int]:
        """What the due cases became, their log rows and their refunds, by platform ids."""
        q = "quote_nullable"
        (digest,) = self.sql(
            "SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM ("
            f"SELECT concat_ws('|', 'c', c.platform_id, c.state, {q}(c.due_at), {q}(c.resolved_at), "
            f"{q}(c.changed_at), c.close_reason) x FROM {CASES} c WHERE c.platform_id LIKE 'CDO%%' "
            f"UNION ALL SELECT concat_ws('|', 'l', c.platform_id, t.transition, t.from_state, t.to_state, "
            f"t.actor_kind, {q}(t.actor_id), t.at, t.note) FROM {LOG} t JOIN {CASES} c ON c.id = t.case_id "
            "WHERE c.platform_id LIKE 'CDO%%' "
            f"UNION ALL SELECT concat_ws('|', 'r', c.platform_id, o.platform_id, s.platform_id, g.platform_id, "
            f"r.amount, r.reason, r.reason_class, r.intervened, r.liable, r.refunded_at) FROM {REFUNDS} r "
            f"JOIN {CASES} c ON c.id = r.case_id JOIN {ORDERS} o ON o.id = r.order_id "
            f"JOIN {SHOPS} s ON s.id = r.shop_id JOIN {GOODS} g ON g.id = r.goods_id "
            "WHERE c.platform_id LIKE 'CDO%%') rows"
        )[0]
        logs = self.sql(
            f"SELECT count(*) FROM {LOG} t JOIN {CASES} c ON c.id = t.case_id WHERE c.platform_id LIKE 'CDO%%'"
        )
        refunds = self.sql(
            f"SELECT count(*) FROM {REFUNDS} r JOIN {CASES} c ON c.id = r.case_id WHERE c.platform_id LIKE 'CDO%%'"
        )
        return digest, logs[0][0], refunds[0][0]

    def floor(self) -> tuple[float, int]:
        now = f"now={self.now.isoformat()}"
        done, seconds, rss = run_measured(
            ["psql", self.url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", now, "-f", str(FLOOR_SQL)]
        )
        if done.returncode:
            sys.exit(f"floor failed: {done.stderr}")
        return seconds, rss

    def job(self, now: str | None = None, *, cached: bool = True) -> tuple[float, int, str]:
        env = {"DATABASE_URL": self.url}
        if cached:
            env |= bytecode_cache()
        command = [sys.executable, str(ROOT / "manage.py"), "process_deadlines", "--now", now or self.now.isoformat()]
        done, seconds, rss = run_measured(command, env=env)
        if done.returncode:
            sys.exit(f"process_deadlines failed: {done.stderr}")
        return seconds, rss, done.stdout.strip()

    def startup(self) -> str:
        """The job with nothing due (--now before every deadline), with the bench's bytecode cache
        and with the environment as given, alternating, RUNS times each: its start-up, its empty
        look-ups of due cases and charges, its exit."""
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(RUNS):
            for cached in (True, False):
                times[cached].append(self.job(NOTHING_DUE, cached=cached)[0])
        given = os.environ.get("PYTHONDONTWRITEBYTECODE")
        label = f"PYTHONDONTWRITEBYTECODE={given}" if given else "PYTHONDONTWRITEBYTECODE not set"
        text = (
            f"## Start-up: the job with nothing due (--now {NOTHING_DUE})\n\n"
            "| bytecode | runs (s) | median (s) |\n|---|---|---|\n"
        )
        names = {True: "the bench's cache (as measured above)", False: f"environment as given ({label})"}
        for cached, name in names.items():
            runs = ", ".join(f"{t:.2f}" for t in times[cached])
            text += f"| {name} | {runs} | {statistics.median(times[cached]):.2f} |\n"
        return text + "\n"

    def index_plans(self) -> str:
        """EXPLAIN of the look-ups by each column whose own index migration 0013 dropped, on the
        whole data set (1,000,000 finished cases and more): each is served by the composite
        index that leads with that column. An unknown id (-1) makes the look-up selective, as it
        is with many shops, cases and orders (this bench has one shop)."""
        from aftersales.models import OPEN_STATES, AfterSalesCase, CaseTransition, Refund

        def plan(title: str, queryset) -> str:
            return f"{title}:\n\n```\n{queryset.explain()}\n```\n\n"

        text = (
            "## Plans: the dropped foreign-key indexes\n\n"
            "Migration 0013_b1_drop_duplicate_fk_indexes drops the own indexes of the case's order and shop, the "
            "log row's case and the refund's shop, each the leading column of a composite index. Every look-up "
            "by one of them, planned on this bench's data after the runs:\n\n"
        )
        text += plan(
            "A case by its order, as the lazy rule opening a case reads it",
            AfterSalesCase.objects.filter(order_id=-1, state__in=OPEN_STATES, due_at__lte=self.now),
        )
        text += plan("An order's cases", AfterSalesCase.objects.filter(order_id=-1).values("id"))
        text += plan("A shop's cases", AfterSalesCase.objects.filter(shop_id=-1).values("id")[:20])
        text += plan("A case's log, in its order", CaseTransition.objects.filter(case_id=-1))
        text += plan("A shop's refunds", Refund.objects.filter(shop_id=-1).values("id"))
        from aftersales.services.deadlines import _move_params, _move_sql

        self.fresh_due(self.plan_due)
        with self.connection.cursor() as cur:
            cur.execute("EXPLAIN " + _move_sql(), _move_params(now=self.now, batch_size=2000, after=0))
            claim = "\n".join(row[0] for row in cur.fetchall())
        part = claim.split("CTE candidates")[1].split("CTE moved")[0]
        walks = "walks case_due_walk" if "case_due_walk" in part else "does NOT walk case_due_walk"
        sorts = "sorts the due rows" if "Sort" in part else "sorts nothing"
        text += (
            f"The job's batch statement over {self.plan_due:,} due cases beside the finished ones (read from the "
            f"plan: the claim {walks} and {sorts}):\n\n```\n{claim}\n```\n\n"
        )
        text += (
            "PostgreSQL's own foreign-key checks (a deleted order, shop or case: `SELECT 1 … WHERE order_id = $1 "
            "FOR KEY SHARE`) are the same look-ups by the leading column.\n"
        )
        return text

    def interleaved(self, n: int) -> list[dict]:
        rows = []
        for run in range(1, RUNS + 1):
            row: dict = {"run": run}
            order = ("floor", "job") if run % 2 else ("job", "floor")
            for subject in order:
                self.fresh_due(n)
                if subject == "floor":
                    row["floor"], _ = self.floor()
                else:
                    row["job"], row["job_rss"], row["summary"] = self.job()
                row[f"{subject}_digest"] = self.digest()
            if row["floor_digest"] != row["job_digest"]:
                sys.exit(f"the job and the floor wrote different rows: {row['floor_digest']} vs {row['job_digest']}")
            if row["job_digest"][1] != n:
                sys.exit(f"{row['job_digest'][1]} log rows for {n} due cases")
            row["order"] = " then ".join(order)
            print(f"  run {run} ({row['order']}): floor {row['floor']:.2f}s, job {row['job']:.2f}s; {row['summary']}")
            rows.append(row)
        return rows

    def job_alone(self, n: int) -> tuple[float, int, str]:
        self.fresh_due(n)
        seconds, rss, summary = self.job()
        print(f"  job alone over {n:,} due: {seconds:.2f}s, peak RSS {rss / 1024:.0f} MiB", flush=True)
        return seconds, rss, summary


def job_seconds(summary: str) -> float:
    """The case part's own time, as the job's summary line reports it ('… in N batches, X.Ys')."""
    return float(summary.split(" batches, ", 1)[1].split("s", 1)[0])


def report(due: int, finished: int, big: int, rows: dict, rss: dict, started_load: str, now) -> str:
    mix = ", ".join(f"{share}% {s}" for s, share in MIX)
    text = header(
        "process_deadlines: due cases beside a history of finished ones, against a set-based floor",
        command="python -m bench.process_deadlines" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        data=(
            f"one shop; {due:,} due cases ({mix}; six reasons, three kinds; deadlines spread over the "
            f"1,000 minutes before --now {now.isoformat()}), each on its own shipped order; then the same beside "
            f"{finished:,} finished cases (refunded, closed, exchanged: no deadline) on {finished:,} more orders."
        ),
        started_load=started_load,
    )
    text += (
        "Floor: `bench/process_deadlines_floor.sql` by `psql -f` (whole process): one UPDATE … RETURNING of the "
        "due cases feeding the INSERTs of their log rows and refunds, one transaction, no batches. Subject: "
        "`manage.py process_deadlines --now T` (whole process: Python and Django start-up, the case batches, "
        "then the automatic charges, which find nothing due here), started with Python's bytecode cache (the "
        "bench's own, warmed by one run; see the start-up section). Each run regenerates the due cases before "
        "each subject (the last set and all written for it deleted, VACUUM FULL of the cases, log, refunds and "
        "orders so that both meet the same layout, then ANALYZE, CHECKPOINT); the two "
        "alternate in order; after each, a digest of the due cases, their log rows and refunds must be "
        "equal for the floor and the job (checked: the bench stops otherwise). 'case part' is the job's own "
        "time for its case batches, from its summary line (start-up and charges excluded).\n\n"
    )
    closing = []
    for label, runs in rows.items():
        text += f"## {label}\n\n| run | order | floor (s) | job, whole process (s) | ratio | case part (s) | ratio "
        text += "| log rows, refunds |\n"
        text += "|---|---|---|---|---|---|---|---|\n"
        ratios, part_ratios = [], []
        for r in runs:
            part = job_seconds(r["summary"])
            ratio, part_ratio = r["job"] / r["floor"], part / r["floor"]
            ratios.append(ratio)
            part_ratios.append(part_ratio)
            text += (
                f"| {r['run']} | {r['order']} | {r['floor']:.2f} | {r['job']:.2f} | {ratio:.2f}× | {part:.2f} | "
                f"{part_ratio:.2f}× | {r['job_digest'][1]:,}, {r['job_digest'][2]:,} |\n"
            )
        floor_med = statistics.median(r["floor"] for r in runs)
        job_med = statistics.median(r["job"] for r in runs)
        text += (
            f"\nMedian: floor {floor_med:.2f}s, job {job_med:.2f}s; whole-process ratio median "
            f"{statistics.median(ratios):.2f}× (range {min(ratios):.2f}–{max(ratios):.2f}×), case part "
            f"{statistics.median(part_ratios):.2f}× (range {min(part_ratios):.2f}–{max(part_ratios):.2f}×).\n"
            f"Last job summary: `{runs[-1]['summary']}`\n\n"
        )
        closing.append((label, ratios, part_ratios, job_med))
    text += "## Memory: the job alone\n\n| due cases | job (s) | peak RSS (MiB) |\n|---|---|---|\n"
    for n, (seconds, peak, _summary) in rss.items():
        text += f"| {n:,} | {seconds:.2f} | {peak / 1024:.0f} |\n"
    peaks = [peak for _s, peak, _ in rss.values()]
    text += f"\nPeak RSS ratio, most due / fewest: {max(peaks) / min(peaks):.2f}× (flat: the job holds one batch).\n\n"
    text += "## Closing note\n\n"
    for label, ratios, part_ratios, _job in closing:
        verdict = "met" if max(ratios) <= 1.3 else "NOT met"
        text += (
            f"- Target ≤ 1.3× the floor, {label}: whole process {statistics.median(ratios):.2f}× "
            f"(range {min(ratios):.2f}–{max(ratios):.2f}×, {verdict} on every run); case part "
            f"{statistics.median(part_ratios):.2f}× (range {min(part_ratios):.2f}–{max(part_ratios):.2f}×).\n"
        )
    slow = closing[1][3] / closing[0][3]
    text += (
        f"- History: the job's median with the finished cases / without: {slow:.2f}×.\n"
        f"- Memory: peak RSS {min(peaks) / 1024:.0f}–{max(peaks) / 1024:.0f} MiB from {min(rss):,} to "
        f"{max(rss):,} due cases.\n\n"
        f"Load average at the end: {load_average()}. Reproduce: `flock /tmp/bench.lock .venv/bin/python -m "
        f"bench.process_deadlines{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}` (database {database()}).\n"
    )
    return text


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"bench.process_deadlines: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
