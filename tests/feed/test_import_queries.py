"""The statements a chunk costs do not grow with its lines (issue #20.1): the event ids are claimed
in one statement, seen or not, and each batch type is a few statements whatever its count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pddadmin.feed.importer import import_events
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.models import Order

from .helpers import feed_line

pytestmark = pytest.mark.django_db

WORLD = [
    feed_line("s1", "shop.opened", shop="S1", name="A"),
    feed_line("g1", "goods.listed", shop="S1", goods="G1", name="n", category="c"),
]


def orders(n: int, *, start: int = 0) -> list[str]:
    placed = [
        feed_line(f"o{i}", "order.placed", at="2026-01-02T10:00:00+08:00", order=f"O{i}", shop="S1", goods="G1",
                  buyer=f"B{i}", amount="10.00", promised_ship_by="2026-01-04T10:00:00+08:00")
        for i in range(start, start + n)
    ]  # fmt: skip
    grouped = [
        feed_line(f"gr{i}", "order.grouped", at="2026-01-02T11:00:00+08:00", order=f"O{i}")
        for i in range(start, start + n)
    ]
    return placed + grouped


def statements(lines: list[str]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        report = import_events(lines=lines, batch_size=1000)
    assert report.rejected == 0, report.rejections
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.postgres
def test_a_chunk_costs_the_same_statements_for_ten_lines_or_four_hundred(postgres_only):
    # PostgreSQL: SQLite's inserts are split by its bound on parameters.
    import_events(lines=WORLD)
    few = statements(orders(5))
    many = statements(orders(200, start=5))

    assert len(few) == len(many)
    assert Order.objects.filter(grouped_at__isnull=False).count() == 205
    # The ids are looked up by the claim itself: no separate read of the imported events.
    table = ImportedEvent._meta.db_table
    assert [sql for sql in many if table in sql and sql.lstrip().upper().startswith("SELECT")] == []
    assert sum(1 for sql in many if table in sql) == 1


def test_lines_seen_before_are_skipped_by_the_same_one_claim():
    import_events(lines=WORLD + orders(100))
    again = orders(150)  # 100 seen, 50 new
    with CaptureQueriesContext(connection) as captured:
        report = import_events(lines=again, batch_size=1000)

    assert (report.applied, report.skipped, report.rejected) == (100, 200, 0)
    table = ImportedEvent._meta.db_table
    assert sum(1 for q in captured.captured_queries if table in q["sql"]) == 1
