"""Bench: the case desk, the review queue and the open API's case list with 1,000,000 cases (issue 20.4).

Run: `.venv/bin/python -m bench.pages [N] [--reuse]` (default 1,000,000 cases). Uses its own database
(pdd_bench_pages); `--reuse` measures again on the data of the previous run. A gunicorn server (one
sync worker, DEBUG off, CONN_MAX_AGE=60, as bench/api.py starts it) answers a client on one HTTP/1.1
keep-alive connection (http.client), each call timed from the request to the last byte of the body.

Data, by INSERT … SELECT generate_series: N cases over SHOPS shops, each on an order of its own; the
biggest shop holds BIG_SHARE of them (150,000 at 1,000,000). A hash of the case number gives its
state: 10 % under platform intervention (a queue of 100,000, a third claimed by one of REVIEWERS
reviewers), 3 % awaiting the merchant (deadlines from 2 h past to 48 h ahead), 2 % awaiting the
buyer's return, 1 % returned, 2 % refused by the merchant, the rest finished (refunded, closed,
exchanged). Each case has its opening in the log, and each one past the merchant's review a
merchant's (or reviewer's) row; the history is spread over ~4 months, so today's rows are a day's.

Who asks:
- the desk (/desk/): the big shop's owner, signed in by a session cookie made by Django's session
  engine (as the login form makes it); the default filter and each other counter's filter, a page
  deep;
- the review queue (/review/): a reviewer, the same way; default, sorted, filtered, page 400;
- the API (GET /api/v1/cases/?page_size=100): an agent key of the big shop; the first page, pages
  after cursors spread over the history, a state filter.

Per page: n calls after WARMUP, median, p95 and max wall ms, and the SQL queries of one request
(the same URL and user through Django's test client in this process, with the queries captured).
Target: p95 < 100 ms for every page.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import signal
import statistics
import subprocess
import sys
import time

from bench.api import bench_env, free_port, percentile
from bench.api import start_server as api_server
from bench.common import PG_SERVER, ROOT, fresh_database, header, load_average, write_result

DB_NAME = "pdd_bench_pages"
SHOPS = 2000
BIG_SHARE = 0.15
REVIEWERS = 20
CALLS = 100  # per page, after the warm-up, the pages taken in turn
WARMUP = 3
TARGET_P95_MS = 100

DESK = [
    ("desk: default (to handle)", "/desk/"),
    ("desk: due soon", "/desk/?filter=urgent"),
    ("desk: awaiting return", "/desk/?filter=awaiting_return"),
    ("desk: returned, to confirm", "/desk/?filter=return_shipped"),
    ("desk: under intervention", "/desk/?filter=intervention"),
    ("desk: handled today", "/desk/?filter=today"),
    ("desk: to handle, page 20", "/desk/?filter=pending&page=20"),
]
QUEUE = [
    ("queue: default (oldest first)", "/review/"),
    ("queue: sorted by shop", "/review/?sort=shop"),
    ("queue: sorted by SLA", "/review/?sort=-sla"),
    ("queue: over 48 h", "/review/?age=gt48"),
    ("queue: unclaimed + reason", "/review/?claim=unclaimed&reason=quality_issue"),
    ("queue: claimed by me", "/review/?claim=mine"),
    ("queue: shop name contains", "/review/?shop=Shop%2012"),
    ("queue: page 400", "/review/?page=400"),
]

NOTES = """## What made these pages slow at this size, and what changed (#20.4)

Found with EXPLAIN ANALYZE of each page's queries on this data and cProfile of the request; every
change keeps what the page shows (the desk's rows are compared byte for byte with the template
they replace, tests/aftersales/test_desk.py; the queue's tag for tag on its variants).

- Desk, every filter: its scope was `shop_id IN (the user's memberships)`; PostgreSQL, not knowing
  the shop, planned for an average one and joined and sorted all of a big shop's cases of the filter
  for one page. The scope also names the shops as values (the same rows), and the index
  case_shop_state_due_changed (shop, state, due_at, changed_at, id) replaces (shop, state, due_at)
  with the same leading columns: a page is read in the list's order and the scan stops.
- Desk, "handled today": each of a big shop's cases was probed for a merchant log row of the day.
  The day's merchant rows are read first (index transition_actor_at (actor_kind, at, case);
  `id = ANY(ARRAY(…))`), their cases fetched by id.
- Desk: the paginator counted again what the counter had just counted exactly (now taken from it,
  within the exact limit); a page after the first reads its 50 ids first (pddadmin.paging).
- Desk, Python: a form per row for the page state, `get_<field>_display` per row and 50 rows of
  template tags; the rows are now written in Python with the labels read once.
- Queue: the shop box's suggestions were a DISTINCT over the whole queue (now shops asked in order
  whether one has a case waiting); the bounded count under a filter read the table (the index
  case_state_escalated_cover (state, escalated_at) INCLUDE (id, shop, kind, reason, claimer), with
  the old key, lets it read the index alone); a deep page read and joined every row before it (now
  its 25 ids first, pddadmin.paging); the sort by shop sorted a big shop's waiting cases (index
  case_queue_shop (shop, escalated_at, id) WHERE under intervention); the rows went through
  django-tables2's per-cell machinery (now rendered directly, the same cells).
- API: already served by (shop, updated_at, id) keyset pages; unchanged.

Indexes replaced, not dropped: each new one starts with the columns of the one it replaces, so
every plan that used the old one can use the new one.
"""


def main() -> None:
    n = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 1_000_000)
    reuse = "--reuse" in sys.argv
    url = f"{PG_SERVER}/{DB_NAME}" if reuse else fresh_database(DB_NAME)
    child = [sys.executable, "-m", "bench.pages", "--measure", str(n), *(["--reuse"] if reuse else [])]
    done = subprocess.run(child, cwd=ROOT, env=bench_env(url), check=False)
    sys.exit(done.returncode)


# --- the measuring child (Django set up on the bench database) -------------------------------


def generate(n: int, now: dt.datetime) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from aftersales.models import AfterSalesCase, CaseTransition, ReturnAddress
    from pddadmin.shops.models import Goods, Order, Shop, ShopMembership

    shop_t, goods_t, order_t, case_t, log_t = (
        m._meta.db_table for m in (Shop, Goods, Order, AfterSalesCase, CaseTransition)
    )
    group, _ = Group.objects.get_or_create(name="reviewers")
    reviewers = []
    for i in range(REVIEWERS):
        user = get_user_model().objects.create(username=f"reviewer{i}", is_staff=True)
        user.groups.add(group)
        reviewers.append(user.pk)
    assert reviewers[-1] - reviewers[0] == REVIEWERS - 1
    big_every = round(1 / BIG_SHARE * 100)  # of each `big_every` cases, 100 are the big shop's
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {shop_t} (platform_id, name, category, deposit, balance, hotline, opened_at, changed_at) "
            "SELECT 'S' || i, 'Shop ' || i, '', 1000, 0, '13800138000', %(now)s - interval '400 days', "
            "%(now)s - interval '400 days' FROM generate_series(0, %(shops)s - 1) i",
            {"now": now, "shops": SHOPS},
        )
        cur.execute(
            f"INSERT INTO {goods_t} (platform_id, shop_id, name, category, special, warranty, warranty_mandatory, "
            "listed_at, changed_at) SELECT 'G' || s.platform_id, s.id, 'Goods of ' || s.name, 'digital', false, "
            f"false, false, s.opened_at, s.opened_at FROM {shop_t} s",
        )
        # Order i: the big shop's (S0) for 100 of every `big_every`, else one of the other shops.
        cur.execute(
            f"INSERT INTO {order_t} (platform_id, shop_id, goods_id, buyer, amount, placed_at, promised_ship_by, "
            "grouped_at, shipped_at, tracking, warranty, changed_at) "
            "SELECT 'O' || i, g.shop_id, g.id, 'B' || i, 59.90, t.at - interval '3 days', t.at - interval '1 day', "
            "t.at - interval '3 days', t.at - interval '2 days', 'SF' || i, false, t.at - interval '2 days' "
            "FROM generate_series(0, %(n)s - 1) i "
            "CROSS JOIN LATERAL (SELECT %(now)s - (i * interval '10 seconds') AS at) t "
            f"JOIN {goods_t} g ON g.platform_id = 'GS' || "
            "(CASE WHEN i %% %(every)s < 100 THEN 0 ELSE 1 + i %% (%(shops)s - 1) END)",
            {"now": now, "n": n, "every": big_every, "shops": SHOPS},
        )
        # The state from a hash of the case number (independent of its shop); `at` is the case's last
        # change, one every 10 s back from now (~116 days at 1,000,000).
        cur.execute(
            f"INSERT INTO {case_t} (platform_id, order_id, shop_id, kind, reason, amount, state, opened_at, "
            "submitted_at, due_at, refused_at, agreed_at, return_shipped_at, escalated_at, intervened_at, "
            "resolved_at, return_tracking, reship_tracking, close_reason, liable, buyer_statement, "
            "merchant_statement, ruling_note, return_receiver, return_phone, return_region, return_detail, "
            "claimed_by_id, claimed_at, changed_at, updated_at) "
            "SELECT 'C' || o.i, o.id, o.shop_id, "
            "CASE WHEN s.state IN ('awaiting_return', 'return_shipped') THEN 'return_refund' "
            "WHEN o.i %% 7 = 3 THEN 'return_refund' ELSE 'refund_only' END, "
            "(ARRAY['quality_issue','not_as_described','not_shipped','damaged_in_transit','changed_mind'])"
            "[1 + o.i %% 5], 59.90, s.state, t.opened, t.opened, "
            "CASE s.state WHEN 'pending_merchant' THEN %(now)s + (s.h %% 50 - 2) * interval '1 hour' "
            "+ (o.i %% 3600) * interval '1 second' "
            "WHEN 'awaiting_return' THEN %(now)s + (s.h %% 168) * interval '1 hour' "
            "WHEN 'return_shipped' THEN %(now)s + (s.h %% 240) * interval '1 hour' "
            "WHEN 'merchant_refused' THEN %(now)s + (s.h %% 168) * interval '1 hour' END, "
            "CASE WHEN s.state IN ('merchant_refused', 'under_intervention') THEN t.at END, "
            "CASE WHEN s.state IN ('awaiting_return', 'return_shipped', 'refunded', 'exchanged') THEN t.at END, "
            "CASE WHEN s.state = 'return_shipped' THEN t.at END, "
            "CASE WHEN s.state = 'under_intervention' THEN t.at END, "
            "CASE WHEN s.state = 'under_intervention' THEN t.at END, "
            "CASE WHEN s.state IN ('refunded', 'closed', 'exchanged') THEN t.at END, "
            "CASE WHEN s.state = 'return_shipped' THEN 'SF' || o.i ELSE '' END, '', "
            "CASE WHEN s.state = 'closed' THEN 'buyer_cancelled' ELSE '' END, '', "
            "'商品有划痕，和描述不符。', '', '', '', '', '', '', "
            "CASE WHEN s.state = 'under_intervention' AND o.i %% 3 = 1 THEN %(first)s + o.i %% %(reviewers)s END, "
            "CASE WHEN s.state = 'under_intervention' AND o.i %% 3 = 1 THEN t.at END, t.at, t.at "
            f"FROM (SELECT id, shop_id, substr(platform_id, 2)::int AS i FROM {order_t}) o "
            "CROSS JOIN LATERAL (SELECT (hashint4(o.i)::bigint + 2147483648) %% 1000 AS r, "
            "(hashint4(o.i + 7)::bigint + 2147483648) AS h) hr "
            "CROSS JOIN LATERAL (SELECT CASE WHEN hr.r < 100 THEN 'under_intervention' "
            "WHEN hr.r < 130 THEN 'pending_merchant' WHEN hr.r < 150 THEN 'awaiting_return' "
            "WHEN hr.r < 160 THEN 'return_shipped' WHEN hr.r < 180 THEN 'merchant_refused' "
            "ELSE (ARRAY['refunded','closed','exchanged','refunded'])[1 + hr.r %% 4] END AS state, hr.h AS h) s "
            "CROSS JOIN LATERAL (SELECT %(now)s - (o.i * interval '10 seconds') - interval '1 minute' AS at, "
            "%(now)s - (o.i * interval '10 seconds') - interval '1 minute' - interval '1 day' AS opened) t",
            {"now": now, "first": reviewers[0], "reviewers": REVIEWERS},
        )
        # The log: every case's opening (the buyer's), and for every case past the merchant's review
        # the row of whoever moved it last (a merchant, or a reviewer for an intervention).
        cur.execute(
            f"INSERT INTO {log_t} (case_id, transition, from_state, to_state, actor_kind, actor_id, at, note, "
            f"recorded_at) SELECT id, 'open', '', 'pending_merchant', 'buyer', NULL, opened_at, '', opened_at "
            f"FROM {case_t}"
        )
        cur.execute(
            f"INSERT INTO {log_t} (case_id, transition, from_state, to_state, actor_kind, actor_id, at, note, "
            "recorded_at) SELECT id, CASE WHEN state = 'under_intervention' THEN 'escalate' ELSE 'merchant_agree' "
            "END, 'pending_merchant', state, CASE WHEN state = 'under_intervention' THEN 'buyer' ELSE 'merchant' "
            f"END, NULL, changed_at, '', changed_at FROM {case_t} WHERE state <> 'pending_merchant'"
        )
    # As autovacuum leaves an ageing table: statistics, and the visibility map index-only scans read.
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    big = Shop.objects.get(platform_id="S0")
    owner = get_user_model().objects.create(username="big-owner", is_staff=True)
    ShopMembership.objects.create(shop=big, user=owner, role="owner")
    ReturnAddress.objects.create(
        shop=big,
        receiver="王五",
        phone="13800138000",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        detail="文三路 1 号",
        is_default=True,
        created_at=now,
        changed_at=now,
    )


def start_server(port: int) -> subprocess.Popen:
    """One worker of one thread: gthread, because the sync worker closes every connection after its
    answer (each call would pay a new TCP connection)."""
    return api_server(port, "--worker-class", "gthread", "--threads", "1")


def session_cookie(user) -> str:
    """A signed-in session made by Django's session engine, as the login form makes it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Client:
    """One keep-alive HTTP/1.1 connection; each call timed to the last byte of its body."""

    def __init__(self, port: int, **headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = headers
        self.connections = 0  # TCP connections opened: 1 when every call was kept alive

    def get(self, path: str) -> tuple[float, int, bytes]:
        if self.conn.sock is None:
            self.connections += 1
        started = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        return (time.perf_counter() - started) * 1000, response.status, body


def api_cursors(shop, count: int) -> list[str]:
    """Cursors after `count` cases spread over the shop's history by (updated_at, id)."""
    from aftersales.models import AfterSalesCase
    from api.pagination import encode_cursor

    rows = list(AfterSalesCase.objects.filter(shop=shop).order_by("updated_at", "pk").values_list("updated_at", "pk"))
    step = max(1, (len(rows) - 100) // count)
    return [encode_cursor(*rows[i]) for i in range(0, len(rows) - 100, step)][:count]


def queries_of(path: str, *, user=None, secret: str | None = None) -> tuple[int, float, list[str]]:
    """One request to `path` through the test client (same code, same data): its SQL queries, their
    execution time summed as PostgreSQL reports it (EXPLAIN ANALYZE of each, run again), and the
    indexes its plans use."""
    import re

    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    client = TestClient(**({"HTTP_AUTHORIZATION": f"Api-Key {secret}"} if secret else {}))
    if user is not None:
        client.force_login(user)
    client.get(path)  # the first request of a client reads what later ones have cached
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    sql_ms, indexes = 0.0, []
    with connection.cursor() as cur:
        for query in captured.captured_queries:
            if not query["sql"].startswith("SELECT"):
                continue  # the call log's INSERT, the key's last-use UPDATE: not run twice
            cur.execute("EXPLAIN (ANALYZE, FORMAT TEXT) " + query["sql"])
            plan = "\n".join(row[0] for row in cur.fetchall())
            sql_ms += float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
            indexes += [name for name in re.findall(r"Index (?:Only )?Scan(?: Backward)? using (\w+)", plan)]
            indexes += re.findall(r"Bitmap Index Scan on (\w+)", plan)
    return len(captured.captured_queries), sql_ms, sorted(set(indexes) - {"django_session_pkey", "auth_user_pkey"})


def measure(n: int, reuse: bool) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from aftersales.models import AfterSalesCase
    from api.models import ShopApiKey
    from api.services import api_key_create
    from pddadmin.shops.models import Shop

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    started_load = load_average()
    now = timezone.now()
    started = time.perf_counter()
    if not reuse:
        generate(n, now)
    generated = time.perf_counter() - started
    users = get_user_model().objects
    owner, reviewer = users.get(username="big-owner"), users.get(username="reviewer1")
    big = Shop.objects.get(platform_id="S0")
    runs = ShopApiKey.objects.filter(shop=big).count()  # a key per run (their calls are logged)
    _key, secret = api_key_create(shop=big, role="agent", name=f"bench {runs + 1}", created_by=owner)
    cases = AfterSalesCase.objects
    sizes = {
        "all": cases.count(),
        "big": cases.filter(shop=big).count(),
        "queue": cases.filter(state="under_intervention").count(),
        "big_pending": cases.filter(shop=big, state="pending_merchant").count(),
    }
    print(f"{sizes} ({'reused' if reuse else f'generated in {generated:.0f} s'})", flush=True)

    spread = api_cursors(big, CALLS)
    api = [
        ("api: first page", ["/api/v1/cases/?page_size=100"]),
        ("api: after a cursor", [f"/api/v1/cases/?page_size=100&cursor={c}" for c in spread]),
        ("api: state filter", ["/api/v1/cases/?page_size=100&state=refunded"]),
    ]
    plan = [
        *[(label, [path], {"user": owner}) for label, path in DESK],
        *[(label, [path], {"user": reviewer}) for label, path in QUEUE],
        *[(label, paths, {"secret": secret}) for label, paths in api],
    ]
    queries = {label: queries_of(paths[0], **who) for label, paths, who in plan}
    connection.close()  # the server's worker has the database to itself while measured

    port = free_port()
    server = start_server(port)
    try:
        clients = {
            "owner": Client(port, Cookie=session_cookie(owner)),
            "reviewer": Client(port, Cookie=session_cookie(reviewer)),
            "api": Client(port, Authorization=f"Api-Key {secret}"),
        }
        connection.close()

        def client_of(who):
            return clients["api" if "secret" in who else ("owner" if who["user"] == owner else "reviewer")]

        for _label, paths, who in plan:
            for path in paths[:WARMUP]:
                client_of(who).get(path)
        # The pages in turn, CALLS rounds: a burst of other work on the machine falls on every page
        # alike instead of on whichever was being measured then.
        timings = {label: [] for label, _paths, _who in plan}
        sizes_seen = {}
        for i in range(CALLS):
            for label, paths, who in plan:
                path = paths[i % len(paths)]
                elapsed, status, body = client_of(who).get(path)
                assert status == 200, (label, path, status, body[:300])
                timings[label].append(elapsed)
                sizes_seen[label] = len(body)
        rows = [(label, paths[0], timings[label], queries[label], sizes_seen[label]) for label, paths, _who in plan]
        connections = {name: client.connections for name, client in clients.items()}
        for client in clients.values():
            client.conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    for label, _path, t, (q, sql_ms, _indexes), _size in rows:
        print(
            f"{label:32s} median {statistics.median(t):6.1f}  p95 {percentile(t, 95):6.1f}  max {max(t):6.1f} ms  "
            f"{q} queries, SQL {sql_ms:.1f} ms",
            flush=True,
        )
    report(n, sizes, generated, reuse, rows, started_load, connections)


def report(n, sizes, generated, reuse, rows, started_load, connections) -> None:
    failed = [r for r in rows if percentile(r[2], 95) >= TARGET_P95_MS]
    worst = max(rows, key=lambda r: percentile(r[2], 95))
    data = (
        f"{sizes['all']:,} cases over {SHOPS:,} shops (each on an order of its own, two log rows each "
        f"but the ones awaiting the merchant); the biggest shop holds {sizes['big']:,} "
        f"({sizes['big_pending']:,} awaiting the merchant); {sizes['queue']:,} under platform intervention "
        f"(a third claimed by {REVIEWERS} reviewers); "
        + ("the data of an earlier run (--reuse)." if reuse else f"generated in {generated:.0f} s.")
    )
    lines = [
        header(
            f"Pages and API with {sizes['all']:,} cases (issue 20.4)",
            command=f".venv/bin/python -m bench.pages {n}",
            data=data,
            started_load=started_load,
        ),
        "Server: gunicorn, one worker of one thread (gthread: the sync worker closes each connection), DEBUG "
        "off, CONN_MAX_AGE=60, PostgreSQL; client: http.client, one keep-alive connection per user "
        f"(connections opened: {connections}), each call timed from the request to the last byte of the "
        "answer. The desk's user is the biggest shop's owner and the queue's a reviewer, each signed in by a "
        "session cookie of Django's session engine; the API's an agent key of the biggest shop (page_size=100, "
        f"cursors spread over the shop's whole history). {WARMUP} warm-up calls per page, then {CALLS} rounds "
        "taking the pages in turn. Queries: one request of the same URL and user through Django's test client "
        "with its SQL captured; SQL ms: those queries' execution times as EXPLAIN ANALYZE reports them (run "
        "again after the request), so the rest of a call's time is Python, HTTP and waiting for a core.",
        "",
        "| page | first URL | n | median ms | p95 ms | max ms | queries | SQL ms | bytes | indexes used |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *[
            f"| {label} | `{path if len(path) < 60 else path[:57] + '…'}` | {len(t)} | {statistics.median(t):.1f} | "
            f"{percentile(t, 95):.1f} | {max(t):.1f} | {q} | {sql_ms:.1f} | {size:,} | {', '.join(indexes)} |"
            for label, path, t, (q, sql_ms, indexes), size in rows
        ],
        "",
        (
            f"**PASS**: every page's p95 is under {TARGET_P95_MS} ms "
            f"(the worst: {max(percentile(r[2], 95) for r in rows):.1f} ms, {worst[0]})."
            if not failed
            else f"**FAIL**: p95 at or over {TARGET_P95_MS} ms on " + ", ".join(r[0] for r in failed) + "."
        ),
        "",
        NOTES,
    ]
    text = "\n".join(lines)
    path = write_result("pages.md", text)
    print(text)
    print(f"written {path}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]), reuse="--reuse" in sys.argv)
    else:
        main()
