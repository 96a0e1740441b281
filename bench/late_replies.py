"""Bench: `process_deadlines` over 100,000 buyer messages falling due at once, on PostgreSQL, against
a floor of plain INSERT … SELECT (issues 15 and 20).

Run: `.venv/bin/python -m bench.late_replies [N] [--runs=K]` (default 100,000 messages, 3 runs). Uses its
own databases (pdd_bench_lr, and its copies pdd_bench_lr_floor and pdd_bench_lr_job; BENCH_LR_DB names
another first one).
Each run generates, with INSERT … SELECT generate_series, N unanswered buyer messages whose reply due
(received + 48 h) has passed, over SHOPS shops with small deposits and goods balances, so that the
fines cross deposit → goods balance → arrears. The messages fall into conversations of one, two and
three messages (by thirds): the second message of a conversation comes an hour after the first and
is covered by its violation; the third comes 50 h after the first, after that violation's due, and
starts a second one. Two conversations of a shop share their times, so violations tie on their due
and rank by message id as plain strings. `now` is 12:00 on 2 January (Shanghai), so the dues span
the turn of the year and each shop's ladder starts again in January. Every conversation also has an
earlier exchange answered in time (a buyer message and its reply), as a real thread has. The columns
are set as `message_receive` and `message_reply` set them. The data is vacuumed and copied twice
(CREATE DATABASE … TEMPLATE), and the bench times, each on its own copy, in alternating order:
- the floor, bench/late_replies_floor.sql by `psql -f`, a whole process: the violations (a recursive
  query: the first late message of a conversation, then the first late one after the last
  violation's due), their rank per shop and year (a window function) and the ¥100/¥200/¥300 fine,
  the covered messages, the conversations, charges, ledger transactions, entries, account and shop
  balances, written by plain INSERT … SELECT / UPDATE in one transaction, committed;
- the job as an operator runs it: `manage.py process_deadlines --now T`, a whole process (its wall
  time and peak RSS), whose summary line says how long `charges.apply_due` took inside it.
The target (issue #20) compares the two whole processes. The floor used to be timed inside the
bench's process and rolled back: that left out what the job cannot leave out, a process of its own
(connecting) and committing (the commit's WAL flush), so each side is now timed as the process an
operator would run, on data neither has touched (no rolled-back rows for a VACUUM to clean up).
After the job every charge must have the floor's amount, split, buyer and memo, every violation the
floor's due, year, rank and fine, every message the floor's violation, every conversation the
floor's last violation and every account the floor's balance; `ledger_differences()` must be empty.
"""

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import (
    ROOT,
    clone,
    fresh_database,
    header,
    load_average,
    psql_file_seconds,
    use_database,
    write_result,
)

DB_NAME = os.environ.get("BENCH_LR_DB", "pdd_bench_lr")  # generated here, then copied for each subject
FLOOR_DB, JOB_DB = f"{DB_NAME}_floor", f"{DB_NAME}_job"
FLOOR_SQL = Path(__file__).with_name("late_replies_floor.sql")
RUNS = 3
SHOPS = 2000
# A conversation is due 100 h … ~145 h before `now`: SLOTS time slots of SLOT minutes (two
# conversations of a shop per slot), shifted by up to an hour per shop.
SLOTS, SLOT = 13, 221
TEXTS = ("请问什么时候发货？", "这个还有现货吗", "能便宜一点吗？", "Is this still available?")


def main() -> None:
    n = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 100_000)
    runs = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--runs=")), str(RUNS))
    url = fresh_database(DB_NAME)
    # Production-like: DEBUG off, so Django keeps no log of the queries.
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "SECRET_KEY": "bench-only-" + "x" * 50}
    child = [sys.executable, "-m", "bench.late_replies", "--measure", str(n), runs]
    done = subprocess.run(child, cwd=ROOT, env=env, check=False)
    sys.exit(done.returncode)


# --- the measuring child (Django set up on the bench database) -------------------------------


def bench_now() -> dt.datetime:
    """12:00 on 2 January (Shanghai) of this year, or of last year while that is still ahead."""
    from django.conf import settings
    from django.utils import timezone

    zone = ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(zone)
    now = dt.datetime(today.year, 1, 2, 12, tzinfo=zone)
    if now > today:
        now = now.replace(year=today.year - 1)
    return now.astimezone(dt.UTC)


def generate(n: int, now: dt.datetime) -> None:
    """N late buyer messages over SHOPS shops (the tables emptied first), and the books opened."""
    from django.db import connection

    from compensation.services import charges, ledger
    from customerservice.models import REPLY_WITHIN, Conversation, Message
    from pddadmin.shops.models import Shop

    shop, conversation, message = Shop._meta.db_table, Conversation._meta.db_table, Message._meta.db_table
    texts = "ARRAY[" + ", ".join(f"'{t}'" for t in TEXTS) + "]"
    columns = (
        f"INSERT INTO {message} (platform_id, conversation_id, direction, text, order_id, at, source, author_id, "
        "reply_due_at, answered_at, answered_by_id, violation_id) "
    )
    p = {"now": now, "n": n, "shops": SHOPS, "within": REPLY_WITHIN, "slots": SLOTS, "slot": SLOT}
    with connection.cursor() as cur:
        # Empties the conversations, messages, violations, charges and the ledger too (CASCADE).
        cur.execute(f"TRUNCATE {shop} CASCADE")
        # Deposits of 300 … 1,100 and goods balances of 0 … 10,800 against ~9,600 of fines per shop:
        # every deposit runs out, most balances too (arrears), a tenth of the shops have no balance
        # (deposit straight to arrears) and a tenth keep some.
        cur.execute(
            f"INSERT INTO {shop} (platform_id, name, category, deposit, balance, hotline, opened_at, changed_at) "
            "SELECT 'RS' || s, 'reply ' || s, '', 300 + (s %% 5) * 200, (s %% 10) * 1200, '', "
            "%(now)s - interval '30 days', %(now)s - interval '30 days' FROM generate_series(0, %(shops)s - 1) s",
            p,
        )
        # Message i goes to conversation c at position pos: by blocks of six messages, conversations
        # of one, two and three messages. Conversation c belongs to shop c % SHOPS; its k-th of that
        # shop (c / SHOPS) starts in slot k / 2, so two of a shop start at the same moment b.
        cur.execute(
            "CREATE TEMP TABLE bench_plan AS "
            "SELECT i, p.c, p.pos, t.b, t.b + (ARRAY[0, 1, 50])[p.pos + 1] * interval '1 hour' AS at "
            "FROM generate_series(0, %(n)s - 1) i "
            "CROSS JOIN LATERAL (SELECT (i / 6) * 3 + (ARRAY[0, 1, 1, 2, 2, 2])[i %% 6 + 1] AS c, "
            "(ARRAY[0, 0, 1, 0, 1, 2])[i %% 6 + 1] AS pos) p "
            "CROSS JOIN LATERAL (SELECT %(now)s - interval '100 hours' "
            "- ((p.c / %(shops)s / 2) %% %(slots)s) * %(slot)s * interval '1 minute' "
            "- (p.c %% %(shops)s %% 60) * interval '1 minute' AS b) t",
            p,
        )
        # As message_receive leaves it: the last message's time, the oldest unanswered one's due.
        cur.execute(
            f"INSERT INTO {conversation} (shop_id, buyer, last_message_at, reply_due_at, last_violation_at) "
            "SELECT s.id, 'RB' || x.c, x.last_at, x.first_at + %(within)s, NULL FROM "
            "(SELECT c, MIN(at) AS first_at, MAX(at) AS last_at FROM bench_plan GROUP BY c) x "
            f"JOIN {shop} s ON s.platform_id = 'RS' || (x.c %% %(shops)s)",
            p,
        )
        # The thread's history, a week before: a buyer message and the reply that answered it in time
        # (message_reply: answered_at and answered_by on the buyer's message).
        cur.execute(
            columns + "SELECT 'RR' || x.c, v.id, 'replied', '您好，已为您安排发货', NULL, "
            "x.b - interval '7 days' + interval '2 hours', 'feed', NULL, NULL, NULL, NULL, NULL "
            f"FROM (SELECT DISTINCT c, b FROM bench_plan) x JOIN {conversation} v ON v.buyer = 'RB' || x.c",
        )
        cur.execute(
            columns + "SELECT 'RH' || substr(r.platform_id, 3), r.conversation_id, 'received', '在吗？', NULL, "
            "r.at - interval '2 hours', 'feed', NULL, r.at - interval '2 hours' + %(within)s, r.at, r.id, NULL "
            f"FROM {message} r WHERE r.platform_id LIKE 'RR%%'",
            p,
        )
        # The late ones: unanswered, as message_receive writes a buyer message.
        cur.execute(
            columns + f"SELECT 'M' || x.i, v.id, 'received', ({texts})[x.i %% {len(TEXTS)} + 1], NULL, x.at, "
            "'feed', NULL, x.at + %(within)s, NULL, NULL, NULL "
            f"FROM bench_plan x JOIN {conversation} v ON v.buyer = 'RB' || x.c ORDER BY x.i",
            p,
        )
        cur.execute("DROP TABLE bench_plan")
    # The books open as they do for a shop the platform sends (the signal, on the ORM's create).
    ledger.books_open(shops=Shop.objects.filter(platform_id__startswith="RS"))
    for kind in sorted({charges.RECEIVER[source.kind] for source in charges.sources()}):
        ledger.platform_account(kind)  # the fines, and what the other automatic sources pay into
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")  # the floor and the job start from the same clean tables


CHARGE_FIELDS = (
    *("cause", "kind", "at", "amount", "from_deposit", "from_balance", "arrears", "buyer", "message"),
    *("transaction__memo", "transaction__at", "late_reply_violation__message__platform_id"),
)


def result() -> dict:
    """What the job (or the floor) leaves, in terms both can be compared in."""
    from compensation.models import Account, Charge
    from customerservice.models import Conversation, LateReplyViolation, Message

    return {
        "charges": {c[0]: c[1:] for c in Charge.objects.values_list(*CHARGE_FIELDS)},
        "violations": {
            v[0]: v[1:]
            for v in LateReplyViolation.objects.values_list(
                "message__platform_id", "conversation_id", "shop_id", "due_at", "year", "rank", "fine"
            )
        },
        "covered": dict(
            Message.objects.filter(violation__isnull=False).values_list(
                "platform_id", "violation__message__platform_id"
            )
        ),
        "last_violation": dict(
            Conversation.objects.filter(last_violation_at__isnull=False).values_list("pk", "last_violation_at")
        ),
        "balances": dict(Account.objects.values_list("pk", "balance")),
    }


def floor(now: dt.datetime, url: str) -> float:
    """bench/late_replies_floor.sql by `psql -f` on database `url`, a whole process: its seconds."""
    from django.conf import settings
    from django.db import connection
    from django.utils.translation import override

    from compensation.models import Account, AccountKind, ChargeKind
    from compensation.services.charges import memo_for

    with override(None):  # the command runs without translations (@no_translations)
        memo_before, memo_after = memo_for(ChargeKind.LATE_REPLY, message="\x00").split("\x00")
    fines = Account.objects.get(shop=None, kind=AccountKind.FINES).pk
    connection.close()  # the floor's process has the server to itself
    variables = {"now": now.isoformat(), "zone": settings.TIME_ZONE, "fines": str(fines)}
    variables |= {"memo_before": memo_before, "memo_after": memo_after}
    return psql_file_seconds(url, FLOOR_SQL, variables)


def check(n: int, floor_rows: dict) -> dict:
    """The job's result is the floor's, and the ledger is clean; a few figures for the report."""
    from django.db.models import Count, Max, Q

    from compensation.models import Account, AccountKind, Charge, ChargeKind, Entry
    from compensation.services.ledger import ledger_differences
    from customerservice.models import LATE_REPLY_WATCH, LateReplyViolation, Message

    rows = result()
    for key in ("charges", "violations", "covered", "last_violation", "balances"):
        differ = {k for k in rows[key].keys() | floor_rows[key].keys() if rows[key].get(k) != floor_rows[key].get(k)}
        assert not differ, f"{key}: {len(differ)} differ from the floor's, e.g. " + ", ".join(
            f"{k}: job {rows[key].get(k)} floor {floor_rows[key].get(k)}" for k in sorted(differ, key=str)[:3]
        )
    late = Message.objects.filter(platform_id__startswith="M")
    assert late.count() == n == len(rows["covered"]), (late.count(), len(rows["covered"]))
    assert not Message.objects.filter(LATE_REPLY_WATCH).exists()
    assert Charge.objects.filter(kind=ChargeKind.LATE_REPLY).count() == len(rows["violations"])
    problems = ledger_differences()
    assert not problems, problems[:5]
    arrears = Account.objects.filter(kind=AccountKind.ARREARS, shop__platform_id__startswith="RS")
    per_conversation = LateReplyViolation.objects.values("conversation").annotate(n=Count("id"))
    years = LateReplyViolation.objects.values("year").annotate(n=Count("id"), top=Max("rank")).order_by("year")
    return {
        "violations": len(rows["violations"]),
        "conversations": per_conversation.count(),
        "second": per_conversation.filter(n__gt=1).count(),
        "multi": LateReplyViolation.objects.annotate(k=Count("covered")).filter(k__gt=1).count(),
        "years": [(y["year"], y["n"], y["top"]) for y in years],
        "entries": Entry.objects.filter(transaction__kind="late_reply").count(),
        "crossing": Charge.objects.filter(
            Q(from_deposit__gt=0, from_balance__gt=0)
            | Q(from_balance__gt=0, arrears__gt=0)
            | Q(from_deposit__gt=0, arrears__gt=0)
        ).count(),
        "in_arrears": arrears.filter(balance__lt=0).count(),
        "messages": Message.objects.count(),
    }


def measure(n: int, n_runs: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()

    from bench.late_shipments import floor_and_job, run_figures, warm_job

    now = bench_now()
    runs, figures, started_load = [], {}, load_average()
    warm_job()  # on the bench database, nothing due yet
    for run in range(1, n_runs + 1):
        started = time.perf_counter()
        use_database(DB_NAME)
        generate(n, now)
        use_database(DB_NAME)  # a template has no one connected to it
        # The floor and the job each on their own copy of the same vacuumed data.
        clone(DB_NAME, FLOOR_DB, JOB_DB)
        print(f"  run {run}: generated and copied in {time.perf_counter() - started:.1f}s", flush=True)
        floor_s, job, order = floor_and_job(run, now, floor, floor_db=FLOOR_DB, job_db=JOB_DB)
        use_database(FLOOR_DB)
        floor_rows = result()
        print(
            f"  run {run}: floor {len(floor_rows['violations']):,} violations covering "
            f"{len(floor_rows['covered']):,} messages",
            flush=True,
        )
        use_database(JOB_DB)
        figures = check(n, floor_rows)
        use_database(DB_NAME)
        runs.append(run_figures(run, order, floor_s, job))
    write_report(n, now, runs, figures, started_load)


def write_report(n: int, now: dt.datetime, runs: list[dict], figures: dict, started_load: str) -> None:
    from django.conf import settings

    from compensation.services.charges import BATCH, SHOPS_PER_CLAIM

    money = [r["money"] / r["floor"] for r in runs]
    whole = [r["process"] / r["floor"] for r in runs]
    table = "\n".join(
        f"| {i} | {r['order']} | {r['floor']:.2f} | {r['money']:.1f} | {r['money'] / r['floor']:.2f}× "
        f"| {r['process']:.2f} | {r['process'] / r['floor']:.2f}× | {r['rss'] / 1024:.0f} |"
        for i, r in enumerate(runs, 1)
    )
    years = "; ".join(f"{year}: {count:,} (ranks 1–{top})" for year, count, top in figures["years"])
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    data = (
        f"fresh every run (INSERT … SELECT generate_series): {n:,} unanswered buyer messages whose "
        f"reply due (received + 48 h) passed 2 to ~97 hours before now ({local:%Y-%m-%d %H:%M} Shanghai), in "
        f"{figures['conversations']:,} conversations of one, two or three messages over {SHOPS:,} shops (deposits "
        "300–1,100, goods balances 0–10,800); the second message of a conversation is covered by the first's "
        "violation, the third comes after that violation's due and starts a second one; two conversations of "
        "a shop share their times, so violations tie on their due and rank by message id. Every conversation "
        "also has an exchange answered in time a week earlier (a buyer message and its reply): "
        f"{figures['messages']:,} message rows in all. Columns as `message_receive` / `message_reply` set them.\n"
        f"Result: {figures['violations']:,} violations ({figures['multi']:,} covering more than one message; "
        f"{figures['second']:,} conversations with a second one), by fine year {years}; "
        f"{figures['entries']:,} ledger entries; {figures['crossing']:,} fines are split across "
        f"deposit/balance/arrears, and {figures['in_arrears']:,} shops end in arrears."
    )
    text = header(
        f"process_deadlines: {n:,} buyer messages falling due at once, on PostgreSQL",
        command=f"python -m bench.late_replies {n} --runs={len(runs)}",
        data=data,
        started_load=started_load,
    ) + (
        "Floor: `bench/late_replies_floor.sql` by `psql -f` (a whole process, like the job): the violations (a "
        "recursive query: each conversation's first late message, then the first late one after the last "
        "violation's due), their rank per shop and Shanghai year (ROW_NUMBER) and fine, each split with a window "
        "sum, then the violations, covered messages, conversations, charges, ledger transactions, entries, account "
        "and shop balances by nine plain INSERT … SELECT / UPDATE statements in one transaction, committed (the "
        "foreign keys checked at the commit, as the job's commits check them). Each run generates the data once, "
        "vacuums it (VACUUM ANALYZE) and copies the database twice (CREATE DATABASE … TEMPLATE): the floor and the "
        "job each run on their own copy of the same rows, the floor first in odd runs, the job first in even ones "
        "(column 'first').\n"
        "Subject: `manage.py process_deadlines --now T` as a whole process (start-up, the cases' deadlines: none "
        f"due here, then `charges.apply_due`: {SHOPS_PER_CLAIM} shops per claim at most, {BATCH:,} candidates per "
        "transaction); apply_due's seconds are those its summary line states (one decimal). After each run every "
        "charge (amount, split, buyer, memo), violation (due, year, rank, fine), covered message, conversation's "
        "last violation and account balance equals the floor's, nothing is left in the late-reply watch, and "
        "`ledger_differences()` is empty.\n\n"
        "| run | first | floor, whole process (s) | apply_due (s) | ratio | job, whole process (s) | ratio "
        "| peak RSS (MiB) |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"{table}\n\n"
        f"apply_due against the floor: median {statistics.median(money):.2f}×, range {min(money):.2f}–"
        f"{max(money):.2f}×; the whole process (the target, issue #20: 1.3×): median {statistics.median(whole):.2f}×, "
        f"range {min(whole):.2f}–{max(whole):.2f}× "
        f"({'met' if statistics.median(whole) <= 1.3 else 'NOT met'}). Peak RSS of "
        f"the job's process: {max(r['rss'] for r in runs) / 1024:.0f} MiB.\n\n"
        f"Reproduce: `.venv/bin/python -m bench.late_replies` (uses databases {DB_NAME}, {FLOOR_DB} and {JOB_DB}).\n"
    )
    path = write_result("late_replies.md", text)
    print(f"whole process median {statistics.median(whole):.2f}× the floor → {path}")


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
