"""Bench: `import_events` of 100,000 `order.placed` events on PostgreSQL (issue 3).

Run: `.venv/bin/python -m bench.import_events [N]`. Target ≥ 3,000 events/s on 2 cores.
"""

import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import fresh_database, machine, manage, timer, write_result

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
SHOPS = 10
GOODS_PER_SHOP = 10
RUNS = 3


def write_feed(path: Path, n: int) -> dict[str, int]:
    """Write the feed; return how many events of each type it holds."""
    start = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with path.open("w", encoding="utf-8") as out:
        for s in range(SHOPS):
            out.write(
                json.dumps(
                    {
                        "id": f"s{s}",
                        "type": "shop.opened",
                        "at": start.isoformat(),
                        "shop": f"S{s}",
                        "name": f"店铺{s}",
                        "hotline": "13800138000",
                    }
                )
                + "\n"
            )
            for g in range(GOODS_PER_SHOP):
                out.write(
                    json.dumps(
                        {
                            "id": f"g{s}-{g}",
                            "type": "goods.listed",
                            "at": start.isoformat(),
                            "shop": f"S{s}",
                            "goods": f"G{s}-{g}",
                            "name": f"商品{g}",
                            "category": f"cat{g % 4}",
                            "warranty": g % 2 == 0,
                        }
                    )
                    + "\n"
                )
        for i in range(n):
            placed = start + dt.timedelta(seconds=30 + i)
            out.write(
                json.dumps(
                    {
                        "id": f"o{i}",
                        "type": "order.placed",
                        "at": placed.isoformat(),
                        "order": f"O{i:07d}",
                        "shop": f"S{i % SHOPS}",
                        "goods": f"G{i % SHOPS}-{(i // SHOPS) % GOODS_PER_SHOP}",
                        "buyer": f"B{i % 50_000}",
                        "amount": f"{10 + i % 90}.{i % 100:02d}",
                        "promised_ship_by": (placed + dt.timedelta(hours=48)).isoformat(),
                    }
                )
                + "\n"
            )
    return {"shop.opened": SHOPS, "goods.listed": SHOPS * GOODS_PER_SHOP, "order.placed": n}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "orders.jsonl"
        counts = write_feed(feed, N)
        events = sum(counts.values())
        rates, loads = [], []
        for _ in range(RUNS):
            loads.append(os.getloadavg()[0])
            url = fresh_database("pdd_bench_import")
            with timer() as t:
                done = manage("import_events", str(feed), database_url=url, capture=True)
            if done.returncode != 0:
                sys.exit(f"import failed: {done.stderr[-2000:]}")
            rates.append(events / t["seconds"])
            print(f"run: {t['seconds']:.1f}s, {rates[-1]:,.0f} events/s; {done.stdout.strip()}")
            again = manage("import_events", str(feed), database_url=url, capture=True)
            print(f"re-import: {again.stdout.strip()}")
            skipped = int(re.search(r"(\d+) skipped", again.stdout).group(1))
    median = statistics.median(rates)
    text = (
        f"# import_events: {N:,} order.placed events on PostgreSQL\n\n"
        f"Machine: {machine()}. Events: {N:,} order.placed after {counts['shop.opened']:,} shop.opened "
        f"and {counts['goods.listed']:,} goods.listed. Whole process timed (Django start-up and migrations "
        "excluded: a fresh migrated "
        f"database per run), {RUNS} runs.\n\n"
        f"| figure | value |\n|---|---|\n| median events/s | {median:,.0f} |\n"
        f"| min / max events/s | {min(rates):,.0f} / {max(rates):,.0f} |\n| target | ≥ 3,000 events/s |\n"
        f"| 1-min load average at each run's start | {', '.join(f'{x:.1f}' for x in loads)} |\n\n"
        f"Re-importing the same file applies nothing ({skipped:,} of {events:,} skipped as already imported, "
        "in the last run).\n"
    )
    print(write_result("import_events.md", text))
    print(text)


if __name__ == "__main__":
    main()
