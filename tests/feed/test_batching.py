"""The outcome of an import never depends on how its lines are chunked (SPEC §8): a mixed feed (the
demo world's, with rejected and repeated lines among it) gives the same report and writes the same
rows with one line per chunk as with a thousand."""

import datetime as dt
import json

import pytest
from django.db import transaction

from aftersales.models import AfterSalesCase, CaseTransition, Refund
from compensation.models import Violation
from customerservice.models import Message
from pddadmin.demo.world import demo_feed
from pddadmin.feed.importer import import_events
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.models import LogisticsFlag, Order, OrderRating

pytestmark = pytest.mark.django_db

END = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def mixed_feed() -> list[str]:
    lines = list(demo_feed(orders=120, days=20, seed=3, end=END))
    types = [json.loads(line)["type"] for line in lines]
    first_placed, first_case = types.index("order.placed"), types.index("case.opened")
    placed = json.loads(lines[first_placed])
    grouped = json.loads(lines[types.index("order.grouped")])
    case = json.loads(lines[first_case])
    bad = {
        # inside the run of order.placed: an order placed twice, an amount of nothing
        first_placed + 2: {**placed, "id": "bad-twice"},
        first_placed + 3: {**placed, "id": "bad-amount", "order": "BAD1", "amount": "0.00"},
        # inside the run of order.grouped: grouped twice
        types.index("order.grouped") + 2: {**grouped, "id": "bad-regroup"},
        # among the cases: an unknown case, an unknown type, a line repeated (skipped)
        first_case + 1: {**case, "id": "bad-case", "type": "case.cancelled", "case": "NOPE"},
        first_case + 2: {"id": "bad-type", "type": "case.teleported", "at": case["at"]},
        first_case + 3: case,
    }
    out = []
    for number, line in enumerate(lines):
        out.append(line)
        if number in bad:
            out.append(json.dumps(bad[number], ensure_ascii=False))
    return out


def state() -> dict:
    """What the import wrote, by platform ids (row ids and recording times aside)."""
    return {
        "orders": list(
            Order.objects.order_by("platform_id").values_list(
                "platform_id", "grouped_at", "shipped_at", "received_at", "changed_at", "tracking",
                "late_shipment_due_at", "out_of_stock_at",
            )
        ),
        "cases": list(
            AfterSalesCase.objects.order_by("platform_id").values_list(
                "platform_id", "state", "changed_at", "due_at", "amount"
            )
        ),
        "log": sorted(
            CaseTransition.objects.values_list("case__platform_id", "transition", "from_state", "to_state", "at")
        ),
        "refunds": sorted(Refund.objects.values_list("case__platform_id", "amount", "refunded_at")),
        "ratings": sorted(OrderRating.objects.values_list("order__platform_id", "logistics", "rated_at")),
        "flags": sorted(LogisticsFlag.objects.values_list("order__platform_id", "kind", "flagged_at")),
        "violations": sorted(Violation.objects.values_list("platform_id", "state")),
        "messages": Message.objects.count(),
        "records": list(ImportedEvent.objects.order_by("event_id").values_list("event_id", "type", "at", "rejection")),
    }  # fmt: skip


def test_a_mixed_feed_gives_the_same_outcome_whatever_the_chunking():
    lines = mixed_feed()
    outcomes = []
    for batch_size in (1000, 1, 7):
        with transaction.atomic():
            report = import_events(lines=lines, batch_size=batch_size)
            again = import_events(lines=lines, batch_size=batch_size)
            outcomes.append(((report.lines, report.applied, report.skipped, report.rejections), state(), again))
            transaction.set_rollback(True)
    (first_report, first_state, first_again), *others = outcomes
    lines_, applied, skipped, rejections = first_report
    assert [number for number, _ in rejections] == sorted(number for number, _ in rejections)
    reasons = " | ".join(reason for _, reason in rejections)
    assert len(rejections) == 5, reasons
    assert "unknown case 'NOPE'" in reasons and "case.teleported" in reasons
    assert skipped == 1 and applied == lines_ - 6
    assert first_again.applied == 0 and first_again.rejected == 0 and first_again.skipped == lines_
    for report, written, again in others:
        assert report == first_report
        assert written == first_state
        assert (again.applied, again.skipped, again.rejected) == (0, lines_, 0)
