"""Two importers on one feed at once (two workers, or an operator re-running by hand)."""


import pytest

from pddadmin.feed.importer import import_events
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.models import Order
from tests.concurrency import errors_of, run_in_threads

from .helpers import feed_line

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_importers_apply_each_event_exactly_once(postgres_only):
    lines = [
        feed_line("s1", "shop.opened", shop="S1", name="A"),
        feed_line("g1", "goods.listed", shop="S1", goods="G1", name="n", category="c"),
    ]
    lines += [
        feed_line(f"o{i}", "order.placed", at="2026-01-02T10:00:00+08:00", order=f"O{i}", shop="S1", goods="G1",
                  buyer=f"B{i}", amount="10.00", promised_ship_by="2026-01-04T10:00:00+08:00")
        for i in range(600)
    ]
    lines += [feed_line(f"gr{i}", "order.grouped", at="2026-01-02T11:00:00+08:00", order=f"O{i}") for i in range(600)]
    outcomes = run_in_threads(2, lambda i: import_events(lines=list(lines), batch_size=(50, 200)[i]))
    errors, reports = errors_of(outcomes), [o for o in outcomes if not isinstance(o, Exception)]

    assert errors == []
    assert ImportedEvent.objects.count() == len(lines)
    assert Order.objects.count() == 600 and not Order.objects.filter(grouped_at__isnull=True).exists()
    assert sum(r.applied for r in reports) == len(lines)
    # Whatever one importer applied the other skipped; an "already grouped" rejection would mean
    # an event was applied twice.
    assert all(r.rejected == 0 for r in reports), [r.rejections[:3] for r in reports]
