"""Bench: the open API (issue 19) over a real HTTP server, on PostgreSQL.

Run: `.venv/bin/python -m bench.api [N]` (default 100,000 cases of the shop). Uses its own database
(pdd_bench_api) and a gunicorn server it starts on 127.0.0.1 (one sync worker, production settings:
DEBUG off, persistent database connections (CONN_MAX_AGE=60, as a deployment sets it); the
per-key rate limit raised so that it does not throttle the bench).

Data, generated fresh: one shop with N cases in all, each on an order of its own: N - 2 × AGREE by
INSERT … SELECT generate_series, in the states a shop's history holds (refunded, closed, exchanged,
merchant_refused, …), written one every 2 minutes back over ~4 months; and 2 × AGREE pending for the
merchant, opened through `case_open` (the service). OTHER_SHOPS other shops hold N/2 more cases, so
that the shop's rows are a part of the table as on a platform.

Measures
- listing: GET /api/v1/cases/?page_size=100 as an ERP syncing reads it: the first page, then pages
  after cursors spread over the whole history (a cursor of the k-th case by (updated_at, id)), and
  with a state filter; LIST_CALLS calls after WARMUP, one HTTP/1.1 keep-alive connection
  (http.client), wall time per call as the client sees it (request to the last byte of the body).
  Target: p95 < 50 ms.
- agreeing: AGREE pending cases, POST /api/v1/cases/{id}/agree/ one call each (each with its own
  Idempotency-Key), calls/s; against the floor: `case_merchant_agree` called directly in a loop on
  the other AGREE pending cases, in this process, as the case page's button calls it. The ratio
  is API time / direct time: what HTTP, the key, the call log, the idempotency row and the
  serialised answer add to the service.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid

from bench.common import ROOT, fresh_database, machine, write_result

DB_NAME = "pdd_bench_api"
AGREE = 1000
OTHER_SHOPS = 4
LIST_CALLS = 400
WARMUP = 20
TARGET_P95_MS = 50
STATES = ("refunded", "closed", "merchant_refused", "exchanged", "return_refused", "awaiting_return")


def main() -> None:
    n = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 100_000)
    url = fresh_database(DB_NAME)
    env = bench_env(url)
    child = [sys.executable, "-m", "bench.api", "--measure", str(n)]
    done = subprocess.run(child, cwd=ROOT, env=env, check=False)
    sys.exit(done.returncode)


def bench_env(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "SECURE_SSL_REDIRECT": "false",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "API_RATE_LIMIT": "1000000/min",
        "CONN_MAX_AGE": "60",
    }


# --- the measuring child (Django set up on the bench database) -------------------------------


def generate(n: int, now) -> tuple:
    """The shop (N cases by SQL, 2 × AGREE pending ones through case_open), the other shops, the
    owner and an agent key. Returns (shop, owner, secret, pending case ids)."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection

    from aftersales.models import AfterSalesCase
    from aftersales.services.cases import case_open
    from api.services import api_key_create
    from compensation.services import ledger
    from pddadmin.shops.models import Goods, Order, Shop, ShopMembership

    shop_t, goods_t, order_t, case_t = (m._meta.db_table for m in (Shop, Goods, Order, AfterSalesCase))
    other = n // 2
    states = "ARRAY[" + ", ".join(f"'{s}'" for s in STATES) + "]"
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {shop_t} (platform_id, name, category, deposit, balance, hotline, opened_at, changed_at) "
            "SELECT 'API' || s, 'API shop ' || s, '', 1000, 0, '13800138000', %(now)s - interval '400 days', "
            "%(now)s - interval '400 days' FROM generate_series(0, %(shops)s) s",
            {"now": now, "shops": OTHER_SHOPS},
        )
        cur.execute(
            f"INSERT INTO {goods_t} (platform_id, shop_id, name, category, special, warranty, warranty_mandatory, "
            f"listed_at, changed_at) SELECT 'G' || s.platform_id, s.id, 'Goods of ' || s.name, 'digital', false, "
            f"false, false, s.opened_at, s.opened_at FROM {shop_t} s",
        )
        # Order i: the shop's for i < N (the last 2 × AGREE for the pending cases), then the other
        # shops' in turn.
        cur.execute(
            f"INSERT INTO {order_t} (platform_id, shop_id, goods_id, buyer, amount, placed_at, promised_ship_by, "
            "grouped_at, shipped_at, tracking, warranty, changed_at) "
            "SELECT 'O' || i, g.shop_id, g.id, 'B' || i, 59.90, %(now)s - interval '220 days', "
            "%(now)s - interval '218 days', %(now)s - interval '220 days', %(now)s - interval '219 days', "
            "'SF' || i, false, %(now)s - interval '219 days' "
            f"FROM generate_series(0, %(total)s - 1) i JOIN {goods_t} g ON g.platform_id = 'GAPI' || "
            "(CASE WHEN i < %(mine)s THEN 0 ELSE 1 + i %% %(shops)s END)",
            {"now": now, "total": n + other, "mine": n, "shops": OTHER_SHOPS},
        )
        # The history: N - 2 × AGREE cases of the shop and N/2 of the others, finished, written one
        # every ~2 minutes back from now (updated_at and changed_at alike).
        cur.execute(
            f"INSERT INTO {case_t} (platform_id, order_id, shop_id, kind, reason, amount, state, opened_at, "
            "submitted_at, refused_at, agreed_at, resolved_at, return_tracking, reship_tracking, close_reason, "
            "liable, buyer_statement, merchant_statement, ruling_note, return_receiver, return_phone, "
            "return_region, return_detail, changed_at, updated_at) "
            "SELECT 'C' || o.i, o.id, o.shop_id, CASE WHEN o.i %% 6 = 3 THEN 'exchange' ELSE 'refund_only' END, "
            "(ARRAY['quality_issue','not_as_described','damaged_in_transit','changed_mind'])[1 + o.i %% 4], 59.90, "
            f"({states})[1 + o.i %% {len(STATES)}], t.at - interval '2 days', t.at - interval '2 days', NULL, "
            "t.at - interval '1 day', t.at, '', '', '', '', '商品有划痕', '', '', '', '', '', '', t.at, t.at "
            f"FROM (SELECT id, shop_id, substr(platform_id, 2)::int AS i FROM {order_t}) o "
            "CROSS JOIN LATERAL (SELECT %(now)s - (o.i %% 100000) * interval '2 minutes' "
            "- (o.i / 100000) * interval '1 second' - interval '1 hour' AS at) t "
            "WHERE o.i < %(n)s OR o.i >= %(mine)s",
            {"now": now, "n": n - 2 * AGREE, "mine": n},
        )
    shops = Shop.objects.filter(platform_id__startswith="API")
    ledger.books_open(shops=shops)
    shop = Shop.objects.get(platform_id="API0")
    owner = get_user_model().objects.create(username="bench-owner", is_staff=True)
    ShopMembership.objects.create(shop=shop, user=owner, role="owner")
    _key, secret = api_key_create(shop=shop, role="agent", name="bench", created_by=owner)
    opened = now - dt.timedelta(hours=1)
    pending = []
    for order in Order.objects.filter(shop=shop, platform_id__in=[f"O{i}" for i in range(n - 2 * AGREE, n)]):
        case = case_open(
            platform_id=f"P{order.platform_id}",
            order=order,
            kind="refund_only",
            reason="quality_issue",
            amount=Decimal("59.90"),
            at=opened,
            statement="坏了",
        )
        pending.append(case.platform_id)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return shop, owner, secret, sorted(pending)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, *worker_options: str) -> subprocess.Popen:
    """gunicorn with one worker (options such as its class added), keep-alive 30 s; returns once
    it accepts connections."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "pddadmin.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            *worker_options,
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


class Client:
    """One keep-alive HTTP/1.1 connection, timing each call to the last byte of its body."""

    def __init__(self, port: int, secret: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Api-Key {secret}", "Accept-Language": "en"}

    def call(self, method: str, path: str, body: dict | None = None, **headers) -> tuple[float, int, dict]:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {**self.headers, **headers, **({"Content-Type": "application/json"} if data else {})}
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=all_headers)
        response = self.conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        return elapsed, response.status, json.loads(raw)


def cursors(shop, count: int) -> list[str]:
    """Cursors after `count` cases spread evenly over the shop's history by (updated_at, id)."""
    from django.utils import timezone

    from aftersales.models import AfterSalesCase
    from api.pagination import encode_cursor

    # Over the history only: the pending cases were written just now, inside the settle time the
    # lists hold back (API_SYNC_SETTLE_SECONDS), so a page after the last history row is empty.
    settled = timezone.now() - dt.timedelta(minutes=10)
    history = AfterSalesCase.objects.filter(shop=shop, updated_at__lt=settled)
    rows = list(history.order_by("updated_at", "pk").values_list("updated_at", "pk"))
    step = max(1, len(rows) // count)
    return [encode_cursor(*rows[i]) for i in range(0, len(rows) - 100, step)][:count]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def measure(n: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    django.setup()
    from django.db import connection
    from django.utils import timezone

    from aftersales.models import AfterSalesCase, State
    from aftersales.services.cases import case_merchant_agree

    load_start = os.getloadavg()
    now = timezone.now()
    started = time.perf_counter()
    shop, owner, secret, pending = generate(n, now)
    generated = time.perf_counter() - started
    shop_cases = AfterSalesCase.objects.filter(shop=shop).count()
    all_cases = AfterSalesCase.objects.count()
    print(f"generated {shop_cases:,} cases of the shop ({all_cases:,} in all) in {generated:.1f}s", flush=True)
    connection.close()  # the server's worker has the database to itself while measured

    port = free_port()
    server = start_server(port)
    try:
        client = Client(port, secret)
        spread = cursors(shop, LIST_CALLS)
        calls = [("first page", "/api/v1/cases/?page_size=100")]
        calls += [("after a cursor", f"/api/v1/cases/?page_size=100&cursor={c}") for c in spread]
        calls += [("state filter", "/api/v1/cases/?page_size=100&state=refunded")] * (LIST_CALLS // 8)
        for _label, path in calls[:WARMUP]:
            client.call("GET", path)
        timings: dict[str, list[float]] = {}
        rows_seen = set()
        for label, path in calls:
            elapsed, status, body = client.call("GET", path)
            assert status == 200, (path, status, body)
            assert len(body["results"]) == 100, (path, len(body["results"]))
            rows_seen.add(len(body["results"]))
            timings.setdefault(label, []).append(elapsed * 1000)
        every = [t for values in timings.values() for t in values]

        # Agree AGREE cases through the API, one call each.
        through_api, direct = pending[:AGREE], pending[AGREE:]
        started = time.perf_counter()
        for case_id in through_api:
            _elapsed, status, body = client.call(
                "POST", f"/api/v1/cases/{case_id}/agree/", {}, **{"Idempotency-Key": str(uuid.uuid4())}
            )
            assert status == 200 and body["state"] == State.REFUNDED, (case_id, status, body)
        api_seconds = time.perf_counter() - started
        client.conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    # The floor: the same service, called directly, one case at a time (each read as the API
    # reads it, by shop and platform id).
    started = time.perf_counter()
    for case_id in direct:
        case = AfterSalesCase.objects.select_related("order", "shop").get(shop=shop, platform_id=case_id)
        case_merchant_agree(case=case, actor=owner)
    direct_seconds = time.perf_counter() - started
    agreed = AfterSalesCase.objects.filter(platform_id__in=pending, state=State.REFUNDED).count()
    assert agreed == 2 * AGREE, agreed
    load_end = os.getloadavg()
    report(n, shop_cases, all_cases, generated, timings, every, api_seconds, direct_seconds, load_start, load_end)


def report(n, shop_cases, all_cases, generated, timings, every, api_seconds, direct_seconds, load_start, load_end):
    p95 = percentile(every, 95)
    verdict = "PASS" if p95 < TARGET_P95_MS else "FAIL"
    api_rate, direct_rate = AGREE / api_seconds, AGREE / direct_seconds
    ratio = api_seconds / direct_seconds
    loads = " / ".join(f"{x:.1f}" for x in load_start), " / ".join(f"{x:.1f}" for x in load_end)
    lines = [
        f"# Open API over HTTP: listing 100 of {shop_cases:,} cases, agreeing {AGREE:,} one call each",
        "",
        f"`.venv/bin/python -m bench.api {n}` ({machine()}), database {DB_NAME}; code: {code_version()}.",
        f"Load average (1/5/15 min) at the start: {loads[0]}, at the end: {loads[1]}, on {os.cpu_count()} cores "
        "shared with other work (the client, the server and PostgreSQL run on the same machine).",
        f"Data: {shop_cases:,} cases of the shop ({all_cases:,} in the table, over {OTHER_SHOPS + 1} shops), "
        f"generated in {generated:.1f} s; the {2 * AGREE:,} pending ones opened through `case_open`.",
        "Server: gunicorn, one sync worker, DEBUG off, PostgreSQL; client: Python's http.client on one "
        "keep-alive connection, timing each call from the request to the last byte of the answer.",
        "",
        f"## Listing: GET /api/v1/cases/?page_size=100 ({len(every)} calls after {WARMUP} warm-up calls)",
        "",
        "| calls | n | median ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {label} | {len(values)} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} | "
            f"{max(values):.1f} |"
            for label, values in timings.items()
        ],
        f"| **all** | {len(every)} | {statistics.median(every):.1f} | {p95:.1f} | {max(every):.1f} |",
        "",
        f"**{verdict}**: p95 {p95:.1f} ms against the {TARGET_P95_MS} ms target. Each call: key check, "
        "throttle, the keyset query on (shop, updated_at, id), 100 cases serialised, the call logged.",
        "",
        f"## Agreeing {AGREE:,} pending cases, one call each",
        "",
        "| how | seconds | calls/s |",
        "|---|---:|---:|",
        f"| POST /api/v1/cases/{{id}}/agree/ over HTTP, an Idempotency-Key each | {api_seconds:.2f} | {api_rate:.1f} |",
        f"| floor: `case_merchant_agree` called directly in a loop (same process as Django, no HTTP) | "
        f"{direct_seconds:.2f} | {direct_rate:.1f} |",
        "",
        f"Ratio API / direct: **{ratio:.2f}×** (the API adds HTTP, the key, the call log, the idempotency "
        "row with its stored answer, and the case with its log serialised in the answer).",
        "",
        f"Reproduce: `.venv/bin/python -m bench.api {n}` (uses database {DB_NAME}).",
        "",
    ]
    path = write_result("api.md", "\n".join(lines))
    print("\n".join(lines))
    print(f"written {path}")


def code_version() -> str:
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode:
        return "a tree outside git"
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "-uno", "--", "api", "bench/api.py"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"commit {head.stdout.strip()}" + (" with uncommitted changes to api/" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(int(sys.argv[2]))
    else:
        main()
