"""Late shipment and out of stock (SPEC §7.3), through the feed, at the edges of promised_ship_by.

Every scenario is imported two ways: whole with the job only at the end, and in parts with
`process_deadlines --now` at every second around promised_ship_by (the events up to each moment
first); the charges must be the same (SPEC §6.1: the result never depends on when the job ran).
"""

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.models import AfterSalesCase, State
from compensation.models import Charge, ChargeKind
from pddadmin.shops.models import Order
from tests.conftest import at
from tests.feed.helpers import Feed, import_in_parts, ledger_clean, masked_charges, run_import

pytestmark = pytest.mark.django_db

PSB = at("2026-03-03 18:00")  # the order's promised_ship_by
SECOND = dt.timedelta(seconds=1)
END = PSB + dt.timedelta(days=20)
PAID = "200.00"
LATE = "10.00"  # 200.00 × 5 %
OUT_OF_STOCK = "20.00"  # 200.00 × 10 %
JOBS = {
    "job only at the end": [],
    "job every second around it": [PSB - SECOND, PSB, PSB + SECOND, PSB + dt.timedelta(hours=1)],
}


def world(*, grouped: dt.datetime | None = PSB - dt.timedelta(days=1)) -> Feed:
    """Shop S1 with ¥100 deposit, order O1 of ¥200 placed three days before its promised time."""
    feed = Feed()
    feed.shop(PSB - dt.timedelta(days=4), "S1", deposit="100.00")
    feed.order(PSB - dt.timedelta(days=3), "O1", "S1", amount=PAID, promised_ship_by=PSB, grouped=grouped)
    return feed


def ship(feed: Feed, when: dt.datetime) -> None:
    feed.add(when, "order.shipped", order="O1", tracking="SF1001")


def refund_case(feed: Feed, opened: dt.datetime, *, agreed: dt.datetime | None = None) -> None:
    """A refund-only case on the unshipped O1: its merchant deadline is the earlier of opened + 48 h
    and max(opened, promised_ship_by) (SPEC §2.3); left alone, it is refunded automatically then."""
    feed.add(opened, "case.opened", case="C1", order="O1", kind="refund_only", reason="not_shipped", amount=PAID)
    if agreed is not None:
        feed.add(agreed, "case.merchant_agreed", case="C1")


def out_of_stock(feed: Feed, when: dt.datetime) -> None:
    feed.add(when, "order.out_of_stock", order="O1")


def charged(tmp_path, feed: Feed, jobs: list[dt.datetime]) -> list[tuple[str, str, str, str]]:
    rejected = import_in_parts(tmp_path, feed.events, jobs_at=jobs, end=END)
    assert rejected == {}
    ledger_clean()
    return [(row["kind"], row["order"], row["amount"], row["at"]) for row in masked_charges()]


def late_at_psb() -> list[tuple[str, str, str, str]]:
    return [("late_shipment", "O1", LATE, PSB.isoformat())]


def out_of_stock_at(when: dt.datetime) -> list[tuple[str, str, str, str]]:
    return [("out_of_stock", "O1", OUT_OF_STOCK, when.isoformat())]


SCENARIOS = {
    "never shipped": (lambda f: None, late_at_psb),
    "shipped exactly at promised_ship_by": (lambda f: ship(f, PSB), list),
    "shipped one second later": (lambda f: ship(f, PSB + SECOND), late_at_psb),
    "shipped a week later": (lambda f: ship(f, PSB + dt.timedelta(days=7)), late_at_psb),
    "refunded by the merchant before": (
        lambda f: refund_case(f, PSB - dt.timedelta(hours=3), agreed=PSB - dt.timedelta(hours=1)),
        list,
    ),
    "refunded automatically a day before": (lambda f: refund_case(f, PSB - dt.timedelta(hours=70)), list),
    # Opened less than 48 h before promised_ship_by, the case is due then: refunded at that moment.
    "refunded automatically exactly at promised_ship_by": (lambda f: refund_case(f, PSB - dt.timedelta(hours=3)), list),
    # Opened after it, the case is due at once: refunded one second late.
    "refunded one second later": (lambda f: refund_case(f, PSB + SECOND), late_at_psb),
    "case refused by the merchant": (
        lambda f: (
            refund_case(f, PSB - dt.timedelta(hours=3)),
            f.add(PSB - dt.timedelta(hours=2), "case.merchant_refused", case="C1", reason="明天发货"),
        ),
        late_at_psb,
    ),
    "out of stock before promised_ship_by": (
        lambda f: out_of_stock(f, PSB - dt.timedelta(hours=5)),
        lambda: out_of_stock_at(PSB - dt.timedelta(hours=5)),
    ),
    "out of stock exactly at promised_ship_by": (lambda f: out_of_stock(f, PSB), lambda: out_of_stock_at(PSB)),
    "out of stock one second later": (lambda f: out_of_stock(f, PSB + SECOND), late_at_psb),
    "out of stock, shipped after the restock": (
        lambda f: (out_of_stock(f, PSB - dt.timedelta(hours=5)), ship(f, PSB + dt.timedelta(days=2))),
        lambda: out_of_stock_at(PSB - dt.timedelta(hours=5)),
    ),
}


@pytest.mark.parametrize("jobs", list(JOBS.values()), ids=list(JOBS))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_late_shipment_at_the_edges_of_promised_ship_by(tmp_path, name, jobs):
    build, expected = SCENARIOS[name]
    feed = world()
    build(feed)
    assert charged(tmp_path, feed, jobs) == expected()


@pytest.mark.parametrize("jobs", list(JOBS.values()), ids=list(JOBS))
@pytest.mark.parametrize(
    ("grouped", "late"),
    [
        (None, False),  # never grouped: not a 成团 order, nothing was promised
        (PSB + SECOND, False),  # grouped after promised_ship_by
        (PSB, True),  # grouped exactly then: "at or before"
    ],
    ids=["never grouped", "grouped one second late", "grouped exactly at promised_ship_by"],
)
def test_only_orders_grouped_by_promised_ship_by_can_fall_late(tmp_path, grouped, late, jobs):
    assert charged(tmp_path, world(grouped=grouped), jobs) == (late_at_psb() if late else [])


def test_a_late_declaration_is_accepted_and_charges_nothing_more(tmp_path):
    feed = world()
    out_of_stock(feed, PSB + dt.timedelta(hours=2))
    assert charged(tmp_path, feed, []) == late_at_psb()
    # The declaration stands (the buyer may wait for the restock); the shipping charge is one.
    assert Order.objects.get(platform_id="O1").out_of_stock_at == PSB + dt.timedelta(hours=2)
    assert Charge.objects.filter(order__platform_id="O1").count() == 1


def test_a_pending_automatic_refund_excuses_the_late_shipment_before_it_is_applied(tmp_path):
    """A settlement after promised_ship_by applies the shop's automatic charges but not the case's
    deadline: the late-shipment rule must count the refund due by then all the same."""
    feed = world()
    refund_case(feed, PSB - dt.timedelta(hours=3))
    feed.add(PSB + dt.timedelta(hours=1), "shop.settled", shop="S1", amount="1.00")
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines(feed.in_time_order()))
    assert (code, rejected) == (0, []), err

    case = AfterSalesCase.objects.get(platform_id="C1")
    assert case.state == State.PENDING_MERCHANT and case.due_at == PSB  # not applied yet
    assert not Charge.objects.exists()
    assert Order.objects.get(platform_id="O1").late_shipment_due_at is None  # dealt with, not charged

    import_in_parts(tmp_path, [], jobs_at=[], end=END)
    case.refresh_from_db()
    assert (case.state, case.resolved_at) == (State.REFUNDED, PSB)
    assert not Charge.objects.exists()


def test_the_late_shipment_is_stamped_at_promised_ship_by_whenever_the_job_runs(tmp_path):
    feed = world()
    ship(feed, PSB + dt.timedelta(days=3))
    import_in_parts(tmp_path, feed.events, jobs_at=[], end=PSB + dt.timedelta(days=10))

    charge = Charge.objects.select_related("coupon").get()
    assert (charge.kind, charge.at, charge.amount) == (ChargeKind.LATE_SHIPMENT, PSB, Decimal(LATE))
    coupon = charge.coupon
    assert (coupon.buyer, coupon.face_value, coupon.min_spend) == ("B-O1", Decimal(LATE), Decimal("0.00"))
    assert (coupon.issued_at, coupon.expires_at - coupon.issued_at) == (PSB, dt.timedelta(hours=30 * 24))
    assert Order.objects.get(platform_id="O1").late_shipment_due_at is None


def test_a_second_declaration_is_rejected_and_the_order_keeps_one_charge(tmp_path):
    feed = world()
    out_of_stock(feed, PSB - dt.timedelta(hours=5))
    out_of_stock(feed, PSB - dt.timedelta(hours=4))
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines())
    assert (code, rejected) == (1, [len(feed.events)])
    assert "order O1 was already declared out of stock" in err
    import_in_parts(tmp_path, [], jobs_at=[], end=END)
    assert [row["kind"] for row in masked_charges()] == ["out_of_stock"]
