"""Bench: `manage.py import_events` as an operator runs it (a whole process, Django start-up
included) on PostgreSQL (issue #20 point 1, and point 5 for the import).

Run: `.venv/bin/python -m bench.import_events [--orders N] [--placed N] [--preload N]
[--rss N N] [--runs N]` (defaults: the demo world of 20,000 orders, about 80,000 events; 100,000
order.placed; 10,000,000 ids on record; 100,000 and 1,000,000 lines for the memory; 3 runs).
Databases: pdd_a_bench_* (a migrated template, then one database per run).

1. The demo's mixed feed (`pddadmin.demo.world.demo_feed`, what `seed_demo` imports, with a fixed
   end so every run reads the same lines): events/s over the whole process, median and range.
2. `order.placed` alone against its floor, bench/import_events_floor.sql run by `psql -1 -f` (a
   whole process too): COPY of the same rows into the same tables, the imported-event records and
   the orders with every column the importer writes. Subject and floor alternate, each on a fresh
   database holding the same shops and goods; after each, the orders and records written are
   compared (a digest by platform ids), so the floor does exactly the subject's work.
3. The same `order.placed` import with 10,000,000 other ids already in the imported-events table
   (one INSERT … generate_series), the new rows deleted and vacuumed away between runs: its rate
   against (2)'s, and the claim statement's plan.
4. Peak RSS (the kernel's maximum resident set of the import process, from wait4) for feeds of
   100,000 and 1,000,000 order.placed lines.
"""

import argparse
import datetime as dt
import hashlib
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import PG_SERVER, fresh_database, header, load_average, manage_measured, run_measured, write_result

TEMPLATE = "pdd_a_bench_template"
FLOOR_SQL = Path(__file__).with_name("import_events_floor.sql")
SHOPS = 10
GOODS_PER_SHOP = 10
START = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DEMO_END = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TARGET_RATE = 15_000
TARGET_FLOOR_RATIO = 2.0
# "does not drop": the rate with the ids on record is at least this share of the rate without.
TARGET_KEPT = 0.9
# "stays flat": ten times the lines, at most this much more peak memory.
TARGET_RSS_GROWTH = 1.2
# The types with a batch handler (pddadmin/shops/feed_handlers.py, aftersales/feed_handlers.py).
BATCHED = ["order.placed", "order.grouped", "order.shipped", "order.received", "order.rated", "order.logistics_flagged"]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.import_events")
    parser.add_argument("--orders", type=int, default=20_000, help="orders of the demo world (mixed feed)")
    parser.add_argument("--placed", type=int, default=100_000, help="order.placed lines against the COPY floor")
    parser.add_argument("--preload", type=int, default=10_000_000, help="ids already on record for (3)")
    parser.add_argument("--rss", type=int, nargs=2, default=[100_000, 1_000_000], help="feed sizes for peak RSS")
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args(sys.argv[1:])


# --- databases --------------------------------------------------------------------------------


def psql(url: str, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", *args], capture_output=True, text=True,
                          cwd=cwd, check=False)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"psql {' '.join(args)[:200]} failed: {done.stderr[-2000:]}")
    return done.stdout


def database(name: str) -> str:
    """A fresh copy of the migrated template."""
    admin = f"{PG_SERVER}/postgres"
    psql(admin, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin, "-c", f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return f"{PG_SERVER}/{name}"


def drop(name: str) -> None:
    psql(f"{PG_SERVER}/postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def import_feed(url: str, feed: Path) -> tuple[subprocess.CompletedProcess, float, int]:
    """The subject: the import as a whole process; exits the bench when it fails or rejects."""
    done, seconds, rss = manage_measured("import_events", str(feed), database_url=url)
    if done.returncode != 0:
        sys.exit(f"import of {feed.name} failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-2000:]}")
    return done, seconds, rss


def digest(url: str) -> str:
    """What an order.placed import wrote, by platform ids (row ids and import times aside)."""
    text = psql(
        url,
        "-c",
        "SELECT o.platform_id, s.platform_id, g.platform_id, o.buyer, o.amount, o.placed_at, o.promised_ship_by, "
        "o.aftersales_until, o.ship_to, o.warranty, o.changed_at, o.tracking FROM shops_order o "
        "JOIN shops_shop s ON s.id = o.shop_id JOIN shops_goods g ON g.id = o.goods_id ORDER BY o.platform_id",
        "-c",
        "SELECT event_id, type, at, rejection FROM feed_importedevent WHERE event_id NOT LIKE 'pre-%' ORDER BY 1",
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --- feeds -------------------------------------------------------------------------------------


def line(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False) + "\n"


def write_prefix(path: Path) -> None:
    """The shops and goods the order.placed feeds refer to."""
    with path.open("w", encoding="utf-8") as out:
        for s in range(SHOPS):
            out.write(line(id=f"s{s}", type="shop.opened", at=START.isoformat(), shop=f"S{s}", name=f"店铺{s}",
                           hotline="13800138000"))  # fmt: skip
            for g in range(GOODS_PER_SHOP):
                out.write(line(id=f"g{s}-{g}", type="goods.listed", at=START.isoformat(), shop=f"S{s}",
                               goods=f"G{s}-{g}", name=f"商品{g}", category=f"cat{g % 4}",
                               warranty=g % 2 == 0))  # fmt: skip


def placed_events(n: int):
    for i in range(n):
        placed = START + dt.timedelta(seconds=30 + i)
        yield {
            "id": f"o{i}",
            "type": "order.placed",
            "at": placed.isoformat(),
            "order": f"O{i:08d}",
            "shop": f"S{i % SHOPS}",
            "goods": f"G{i % SHOPS}-{(i // SHOPS) % GOODS_PER_SHOP}",
            "buyer": f"B{i % 50_000}",
            "amount": f"{10 + i % 90}.{i % 100:02d}",
            "promised_ship_by": (placed + dt.timedelta(hours=48)).isoformat(),
            "ship_to": "浙江省",
        }


def write_placed(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for event in placed_events(n):
            out.write(json.dumps(event, ensure_ascii=False) + "\n")


def write_floor_rows(directory: Path, n: int, url: str) -> None:
    """The rows the floor COPYs: what the importer writes for the same feed, rendered as COPY text
    (the goods' and shops' row ids read from a database holding the prefix)."""
    goods = {}
    for row in psql(url, "-c", "SELECT platform_id, id, shop_id, warranty FROM shops_goods").splitlines():
        platform_id, pk, shop_pk, warranty = row.split("|")
        goods[platform_id] = (pk, shop_pk, warranty)
    now = dt.datetime.now(dt.UTC).isoformat()
    with (directory / "events.tsv").open("w", encoding="utf-8") as events, \
            (directory / "orders.tsv").open("w", encoding="utf-8") as orders:  # fmt: skip
        for e in placed_events(n):
            at = dt.datetime.fromisoformat(e["at"]).astimezone(dt.UTC).isoformat()
            ship_by = dt.datetime.fromisoformat(e["promised_ship_by"]).astimezone(dt.UTC).isoformat()
            events.write(f"{e['id']}\t{e['type']}\t{at}\t{now}\n")
            pk, shop_pk, warranty = goods[e["goods"]]
            values = [e["order"], shop_pk, pk, e["buyer"], e["amount"], at, ship_by, r"\N", e["ship_to"], warranty,
                      at, ""]  # fmt: skip
            orders.write("\t".join(values) + "\n")


def write_mixed(path: Path, orders: int) -> dict[str, int]:
    from pddadmin.demo.world import demo_feed

    counts: dict[str, int] = {}
    with path.open("w", encoding="utf-8") as out:
        for text in demo_feed(orders=orders, days=60, seed=1, end=DEMO_END):
            out.write(text + "\n")
            kind = json.loads(text)["type"]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


# --- the measurements --------------------------------------------------------------------------


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}} – {max(values):{fmt}})"


def mixed(tmp: Path, args) -> dict:
    feed = tmp / "mixed.jsonl"
    counts = write_mixed(feed, args.orders)
    lines = sum(counts.values())
    rates, rss = [], []
    for run in range(args.runs):
        url = database("pdd_a_bench_mixed")
        done, seconds, peak = import_feed(url, feed)
        rates.append(lines / seconds)
        rss.append(peak)
        print(f"mixed run {run + 1}: {seconds:.1f}s, {rates[-1]:,.0f} events/s; {done.stdout.strip()}", flush=True)
    again, _, _ = import_feed(url, feed)
    drop("pdd_a_bench_mixed")
    return {"counts": counts, "lines": lines, "rates": rates, "rss": rss, "again": again.stdout.strip()}


def preload(url: str, n: int) -> str:
    """`n` other ids on record (one INSERT … generate_series); returns the claim statement's plan."""
    psql(url, "-c", "INSERT INTO feed_importedevent (event_id, type, at, imported_at) "
         f"SELECT 'pre-' || g, 'order.placed', now(), now() FROM generate_series(1, {n}) g",
         "-c", "VACUUM ANALYZE feed_importedevent")  # fmt: skip
    return psql(
        url,
        "-c",
        "EXPLAIN (COSTS OFF) INSERT INTO feed_importedevent (event_id, type, at, imported_at) "
        "SELECT *, now() FROM unnest('{o1,o2}'::varchar[], '{order.placed,order.placed}'::varchar[], "
        "'{2026-01-01T00:00:00Z,2026-01-01T00:00:00Z}'::timestamptz[]) "
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    ).strip()


def placed(tmp: Path, args) -> dict:
    """order.placed: the import on an empty history, its COPY floor, and the import with the
    preloaded ids on record, in turns (the order rotating from run to run), so a drift of the
    machine's load favours none of them."""
    prefix, feed = tmp / "prefix.jsonl", tmp / "placed.jsonl"
    write_prefix(prefix)
    write_placed(feed, args.placed)
    url = database("pdd_a_bench_floor")
    import_feed(url, prefix)
    write_floor_rows(tmp, args.placed, url)
    preloaded_url = database("pdd_a_bench_preload")
    import_feed(preloaded_url, prefix)
    plan = preload(preloaded_url, args.preload)
    seconds: dict[str, list[float]] = {"subject": [], "floor": [], "preloaded": []}
    digests = set()
    turns = ["subject", "floor", "preloaded"]
    for run in range(args.runs):
        for which in turns[run % 3 :] + turns[: run % 3]:
            if which == "preloaded":
                _, took, _ = import_feed(preloaded_url, feed)
                digests.add(digest(preloaded_url))
                # The new rows go, the preloaded ids stay: the next run finds the same table.
                psql(preloaded_url, "-c", "DELETE FROM shops_order",
                     "-c", "DELETE FROM feed_importedevent WHERE event_id LIKE 'o%'",
                     "-c", "VACUUM ANALYZE shops_order", "-c", "VACUUM ANALYZE feed_importedevent")  # fmt: skip
            else:
                url = database("pdd_a_bench_floor")
                import_feed(url, prefix)
                if which == "subject":
                    _, took, _ = import_feed(url, feed)
                else:
                    # `exec`: the measured process is psql itself, started in the directory of its files.
                    command = (
                        f"cd {shlex.quote(str(tmp))} && exec psql {shlex.quote(url)} -qX -v ON_ERROR_STOP=1 -1 -f "
                    )
                    done, took, _ = run_measured(["sh", "-c", command + shlex.quote(str(FLOOR_SQL))])
                    if done.returncode != 0:
                        sys.exit(f"floor failed: {done.stderr[-2000:]}")
                digests.add(digest(url))
            seconds[which].append(took)
            print(f"order.placed {which} run {run + 1}: {took:.2f}s", flush=True)
    if len(digests) != 1:
        sys.exit("the floor and the imports wrote different rows: the floor does not do the subject's work")
    on_record = int(psql(preloaded_url, "-c", "SELECT count(*) FROM feed_importedevent").strip())
    drop("pdd_a_bench_floor")
    drop("pdd_a_bench_preload")
    subject, floor, pre = seconds["subject"], seconds["floor"], seconds["preloaded"]
    return {
        "subject": subject,
        "floor": floor,
        "ratios": [s / f for s, f in zip(subject, floor, strict=True)],
        "rates": [args.placed / s for s in subject],
        "pre_rates": [args.placed / s for s in pre],
        "kept": [s / p for s, p in zip(subject, pre, strict=True)],
        "plan": plan,
        "on_record": on_record,
    }


def memory(tmp: Path, args) -> dict:
    prefix = tmp / "prefix.jsonl"
    result = {}
    for n in args.rss:
        feed = tmp / f"rss-{n}.jsonl"
        write_placed(feed, n)
        url = database("pdd_a_bench_rss")
        import_feed(url, prefix)
        _, seconds, peak = import_feed(url, feed)
        result[n] = (peak, n / seconds)
        print(f"{n:,} lines: peak RSS {peak / 1024:.0f} MiB, {n / seconds:,.0f} events/s", flush=True)
        feed.unlink()
    drop("pdd_a_bench_rss")
    return result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "NOT MET"


def main() -> None:
    args = arguments()
    started_load = load_average()
    template = fresh_database(TEMPLATE)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "empty.jsonl").write_text("")
        import_feed(template, tmp / "empty.jsonl")  # fills the bytecode cache the measured runs start with
        mix = mixed(tmp, args)
        pf = placed(tmp, args)
        rss = memory(tmp, args)
    drop(TEMPLATE)
    small, large = args.rss
    growth = rss[large][0] / rss[small][0]
    mix_rate = statistics.median(mix["rates"])
    ratio = statistics.median(pf["ratios"])
    kept = statistics.median(pf["kept"])
    line_by_line = 1 - sum(mix["counts"].get(kind, 0) for kind in BATCHED) / mix["lines"]
    shares = ", ".join(f"{k} {v:,}" for k, v in sorted(mix["counts"].items(), key=lambda kv: -kv[1]))
    command = "python -m bench.import_events " + " ".join(sys.argv[1:])
    text = header(
        "import_events: the demo's mixed feed, order.placed against COPY, 10M ids on record, memory",
        command=command.strip(),
        data=(
            f"(1) the demo world's feed of {args.orders:,} orders over 60 days (seed 1, end {DEMO_END.isoformat()}): "
            f"{mix['lines']:,} events; (2) {args.placed:,} order.placed lines after {SHOPS} shops and "
            f"{SHOPS * GOODS_PER_SHOP} goods; (3) the same with {args.preload:,} other ids on record; "
            f"(4) {small:,} and {large:,} order.placed lines."
        ),
        started_load=started_load,
    )
    text += (
        "Every figure is a whole `manage.py import_events FILE` process (Python and Django start-up with "
        "the bench's bytecode cache, warmed by an import of an empty file; the import, the summary line) on "
        "a fresh database, timed from outside; "
        f"{args.runs} runs each, median (min – max).\n\n"
        "## 1. The demo's mixed feed\n\n"
        f"Mix: {shares}.\n\n"
        "| figure | value |\n|---|---|\n"
        f"| events/s | {spread(mix['rates'])} |\n"
        f"| target | ≥ {TARGET_RATE:,} events/s: {verdict(mix_rate >= TARGET_RATE)} |\n"
        f"| peak RSS | {spread([r / 1024 for r in mix['rss']], '.0f')} MiB |\n\n"
        f"Re-importing the same file (last run): `{mix['again']}`.\n\n"
        "## 2. order.placed against COPY of the same rows\n\n"
        "Floor: `psql -1 -f bench/import_events_floor.sql` (a whole process): COPY of the imported-event "
        "records and of the orders, every column the importer writes, into the same tables with the same "
        "indexes and constraints; each run's rows were checked equal to the import's (digest by platform ids).\n\n"
        "| figure | value |\n|---|---|\n"
        f"| subject seconds | {spread(pf['subject'], '.2f')} |\n"
        f"| subject events/s | {spread(pf['rates'])} |\n"
        f"| floor seconds | {spread(pf['floor'], '.2f')} |\n"
        f"| ratio subject / floor (per pair) | {spread(pf['ratios'], '.2f')} |\n"
        f"| target | ≤ {TARGET_FLOOR_RATIO}×: {verdict(ratio <= TARGET_FLOOR_RATIO)} |\n\n"
        f"## 3. With {args.preload:,} ids already imported\n\n"
        f"Run in turn with (2)'s; {pf['on_record']:,} records in feed_importedevent at the end (the preloaded ids "
        "and the prefix; each run's new rows deleted and vacuumed away after it).\n\n"
        "| figure | value |\n|---|---|\n"
        f"| events/s | {spread(pf['pre_rates'])} |\n"
        f"| rate against (2)'s, run by run | {spread(pf['kept'], '.2f')} |\n"
        f"| target | ≥ {TARGET_KEPT}× (the rate does not drop): {verdict(kept >= TARGET_KEPT)} |\n\n"
        "The chunk's claim, one statement per chunk (`FEED_BATCH_SIZE` lines) with one array parameter per column "
        "(the look-up of the ids seen before is the same statement's ON CONFLICT on the unique index):\n\n"
        f"```\n{pf['plan']}\n```\n\n"
        "## 4. Peak RSS of the import process\n\n"
        "| lines | peak RSS | events/s |\n|---|---|---|\n"
        + "".join(f"| {n:,} | {peak / 1024:.0f} MiB | {rate:,.0f} |\n" for n, (peak, rate) in rss.items())
        + f"\n{large:,} lines use {growth:.2f}× the peak of {small:,}: "
        f"{verdict(growth <= TARGET_RSS_GROWTH)} (flat: ≤ {TARGET_RSS_GROWTH}×).\n\n"
        "## Targets\n\n"
        f"- mixed demo feed ≥ {TARGET_RATE:,} events/s: {spread(mix['rates'])} — {verdict(mix_rate >= TARGET_RATE)}\n"
        f"- order.placed ≤ {TARGET_FLOOR_RATIO}× COPY: {spread(pf['ratios'], '.2f')}× — "
        f"{verdict(ratio <= TARGET_FLOOR_RATIO)}\n"
        f"- {args.preload:,} ids on record do not slow it: {spread(pf['kept'], '.2f')}× the rate without — "
        f"{verdict(kept >= TARGET_KEPT)}\n"
        f"- memory flat: {growth:.2f}× peak RSS for {large // small}× the lines — "
        f"{verdict(growth <= TARGET_RSS_GROWTH)}\n"
        f"\nThe mixed feed's {', '.join(BATCHED)} lines go through batch handlers (a few statements per chunk); "
        f"every other type, {line_by_line:.1%} of its lines, is applied line by line through the services the "
        "admin calls.\n"
    )
    print(write_result("import_events.md", text))
    print(text)


if __name__ == "__main__":
    main()
