"""Facts about an order (`order.rated`, `order.logistics_flagged`) are gathered from between
other lines into one batch by the importer's one-pass path (Registration.fact_of); every line's
outcome must stay the one of file order, line by line (SPEC §8)."""

import datetime as dt
import random

import pytest
from django.db import transaction

from pddadmin.feed.events import Event
from pddadmin.feed.importer import _facts_deferred, _known, import_events
from pddadmin.shops.models import LogisticsFlag, Order, OrderRating

from .helpers import feed_line

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def when(minutes: int) -> str:
    return (START + dt.timedelta(minutes=minutes)).isoformat()


WORLD = [
    feed_line("w1", "shop.opened", when(0), shop="S1", name="旗舰店"),
    feed_line("w2", "goods.listed", when(0), shop="S1", goods="G1", name="杯子", category="home"),
]


def placed(n: int, minute: int) -> str:
    return feed_line(f"p{n}", "order.placed", when(minute), order=f"O{n}", shop="S1", goods="G1", buyer=f"B{n}",
                     amount="9.90", promised_ship_by=when(minute + 2880))  # fmt: skip


def test_facts_wait_for_the_next_line_naming_their_order():
    lines = [
        feed_line("r1", "order.rated", when(10), order="O1", logistics=5),
        feed_line("g2", "order.grouped", when(11), order="O2"),
        feed_line("f3", "order.logistics_flagged", when(12), order="O3", kind="complaint"),
        feed_line("r4", "order.rated", when(13), order="O4", logistics=4),
        feed_line("g5", "order.grouped", when(14), order="O5"),
        feed_line("g3", "order.grouped", when(15), order="O3"),  # names O3: the facts so far go first
        feed_line("r6", "order.rated", when(16), order="O6", logistics=3),
        feed_line("c1", "warranty.reported", when(17), violation="V1", orders=["O9", "O6"], reason="fake"),
        feed_line("r7", "order.rated", when(18), order="O7", logistics=3),
    ]
    events = [Event.parse(line, n) for n, line in enumerate(lines, start=1)]
    order = [event.id for _, event in _facts_deferred(_known(events, reject=None))]
    assert order == ["g2", "g5", "r1", "r4", "f3", "g3", "r6", "c1", "r7"]


def outcome(lines: list[str], batch_size: int) -> tuple:
    """What importing `lines` (after the world) leaves, rolled back after it is read."""
    with transaction.atomic():
        import_events(lines=WORLD)
        report = import_events(lines=lines, batch_size=batch_size)
        kept = (
            report.applied,
            report.rejections,
            sorted(OrderRating.objects.values_list("order__platform_id", "logistics", "rated_at")),
            sorted(LogisticsFlag.objects.values_list("order__platform_id", "kind", "flagged_at")),
            sorted(Order.objects.values_list("platform_id", "grouped_at", "shipped_at", "received_at", "changed_at")),
        )
        transaction.set_rollback(True)
    return kept


@pytest.mark.parametrize("seed", range(6))
def test_a_shuffled_feed_of_steps_and_facts_ends_as_line_by_line(seed):
    # Steps, ratings and flags of a few orders shuffled, each order's steps kept in their order,
    # the facts at random times: many are refused (rated before received, flagged before grouped,
    # older than the last change, rated twice), and which ones depends on file order alone.
    rng = random.Random(seed)
    steps, facts = [], []
    for n in range(6):
        steps.append([
            feed_line(f"g{n}", "order.grouped", when(5 + n), order=f"O{n}"),
            feed_line(f"s{n}", "order.shipped", when(20 + n), order=f"O{n}", tracking=f"T{n}"),
            feed_line(f"v{n}", "order.received", when(40 + n), order=f"O{n}"),
        ])  # fmt: skip
        for k in range(4):
            facts.append(feed_line(f"r{n}-{k}", "order.rated", when(rng.randint(2, 90)), order=f"O{n}",
                                   logistics=rng.randint(1, 5)))  # fmt: skip
            facts.append(feed_line(f"f{n}-{k}", "order.logistics_flagged", when(rng.randint(2, 90)), order=f"O{n}",
                                   kind=rng.choice(["fake_shipment", "slow_delivery", "complaint"])))  # fmt: skip
    slots = [n for n in range(6) for _ in range(3)] + [None] * len(facts)
    rng.shuffle(slots)
    next_step = [iter(order_steps) for order_steps in steps]
    shuffled = iter(facts)
    lines = [placed(n, 1) for n in range(6)]
    lines += [next(shuffled) if n is None else next(next_step[n]) for n in slots]
    one_by_one = outcome(lines, batch_size=1)
    at_once = outcome(lines, batch_size=1000)
    assert at_once == one_by_one
    _, rejections, ratings, flags, _ = at_once
    assert rejections and ratings and flags  # the feed exercises both outcomes
