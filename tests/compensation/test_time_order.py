"""SPEC §6.1, time order: the same feed imported whole, or in parts with `process_deadlines --now`
between, ends with the same charges and the same money, whenever the job happened to run.

Random feeds of two shops with little money, orders promised at various times and grouped,
shipped, declared out of stock or refunded (or not) around those times, and settlements and
deposit payments among them; events on a grid of whole hours, so many fall at the same instant as
a promised time, a case deadline or a split.
"""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import at
from tests.feed.helpers import Feed, import_in_parts, ledger_clean, money, run_command

pytestmark = pytest.mark.django_db

T0 = at("2026-03-02 00:00")
END = T0 + dt.timedelta(days=12)
PURSES = ["0.00", "2.50", "10.00", "30.00"]
PAID = ["3.00", "59.90", "61.10", "200.00", "2500.00"]
CREDITS = ["0.50", "4.99", "12.34", "60.00"]
# Plain string order is the tie-break of equal due times (SPEC §6.1): "O10" < "O2" < "O9".
ORDER_IDS = ["O1", "O10", "O2", "O9", "O11", "O3", "O20", "O7"]
# Silence twice as likely: a refund fallen due but not applied is what a credit or a declaration
# has to see through.
CASE_ENDINGS = ["silent", "silent", "case.merchant_agreed", "case.merchant_refused", "case.cancelled"]
CREDIT_EVENTS = ["shop.settled", "shop.deposit_paid"]


def hour(n: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


@st.composite
def orders(draw, feed: Feed, order: str) -> tuple[str, int]:
    """One order and what happens to it; (its shop, its promised hour)."""
    shop = draw(st.sampled_from(["S1", "S2"]))
    placed = draw(st.integers(1, 48))
    promised = placed + draw(st.integers(2, 40))
    grouped = draw(st.none() | st.integers(placed, promised + 3))
    paid = draw(st.sampled_from(PAID))
    feed.order(
        hour(placed),
        order,
        shop,
        amount=paid,
        promised_ship_by=hour(promised),
        grouped=None if grouped is None else hour(grouped),
    )
    start = placed if grouped is None else grouped
    if grouped is not None and draw(st.booleans()):
        feed.add(hour(draw(st.integers(start, promised + 3))), "order.out_of_stock", order=order)
    if draw(st.booleans()):
        opened = draw(st.integers(placed, promised + 3))
        case = f"C-{order}"
        feed.add(
            hour(opened), "case.opened", case=case, order=order, kind="refund_only", reason="not_shipped", amount="1.00"
        )
        ending = draw(st.sampled_from(CASE_ENDINGS))
        if ending != "silent":
            fields = {"reason": "已发货"} if ending == "case.merchant_refused" else {}
            feed.add(hour(opened + draw(st.integers(0, 8))), ending, case=case, **fields)
    if draw(st.booleans()):
        feed.add(hour(draw(st.integers(start, promised + 6))), "order.shipped", order=order, tracking=f"SF{order}")
    return shop, promised


@st.composite
def histories(draw) -> tuple[list[dict], list[dt.datetime]]:
    feed = Feed()
    for shop in ("S1", "S2"):
        feed.shop(T0, shop, deposit=draw(st.sampled_from(PURSES)), balance=draw(st.sampled_from(PURSES)))
    promises = [draw(orders(feed, order)) for order in ORDER_IDS[: draw(st.integers(2, len(ORDER_IDS)))]]
    for _ in range(draw(st.integers(0, 6))):
        # Near an order's promised time, where the order of charges and credits matters.
        shop, promised = draw(st.sampled_from(promises))
        feed.add(
            hour(promised + draw(st.integers(-2, 6))),
            draw(st.sampled_from(CREDIT_EVENTS)),
            shop=shop,
            amount=draw(st.sampled_from(CREDITS)),
        )
    splits = draw(st.lists(st.integers(1, 100).map(hour), min_size=1, max_size=4, unique=True))
    return feed.in_time_order(), splits


class Rollback(Exception):
    pass


def result_of(tmp_path, events: list[dict], jobs_at: list[dt.datetime]) -> dict:
    """Import and run the jobs in a transaction that is rolled back: each run starts empty."""
    result: dict = {}
    try:
        with transaction.atomic():
            result["rejected"] = import_in_parts(tmp_path, events, jobs_at=jobs_at, end=END)
            ledger_clean()
            result.update(money(), cases=run_command("export_cases")[1])
            raise Rollback
    except Rollback:
        return result


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(history=histories())
def test_the_same_feed_whole_or_in_parts_gives_the_same_charges_and_money(tmp_path, history):
    events, splits = history
    whole = result_of(tmp_path, events, [])
    in_parts = result_of(tmp_path, events, splits)
    # The lines rejected too (a line's fate must not depend on when the job ran either).
    assert in_parts == whole
