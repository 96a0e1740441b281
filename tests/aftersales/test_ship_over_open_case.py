"""No shipping over an open refund request (SPEC §2.1, 争议处理规则 2.2.2; §8 `order.shipped`).

A shipment is refused while a case opened before it is open on the order, with a reason that
tells the merchant to ask the buyer to cancel the request. Before judging, the lazy rule applies
the order's cases' automatic transitions due by the shipment: one that ends the case (closed or
refunded) lets the order ship — SPEC forbids shipping only over an open request.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from aftersales.models import AfterSalesCase, CaseTransition, CloseReason, State
from aftersales.services.shipments import orders_ship
from pddadmin.feed.importer import import_events
from pddadmin.feed.registry import lookup
from pddadmin.shops.models import Order
from pddadmin.shops.services import OrderStep
from tests.concurrency import run_in_threads
from tests.feed.helpers import feed_line, run_import

pytestmark = pytest.mark.django_db
TZ = dt.timezone(dt.timedelta(hours=8))
DAY0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=TZ)
PROMISED = 49  # every order's promised ship time, in hours after DAY0


def t(hours: float) -> str:
    return (DAY0 + dt.timedelta(hours=hours)).isoformat()


def at(hours: float) -> dt.datetime:
    return DAY0 + dt.timedelta(hours=hours)


def world(*orders: str) -> list[str]:
    lines = [
        feed_line("w-shop", "shop.opened", t(0), shop="S1", name="店铺", hotline="13800138000"),
        feed_line("w-g1", "goods.listed", t(0), shop="S1", goods="G1", name="杯子", category="home"),
    ]
    for order in orders:
        lines.append(
            feed_line(
                f"w-{order}",
                "order.placed",
                t(1),
                order=order,
                shop="S1",
                goods="G1",
                buyer=f"B{order}",
                amount="59.90",
                promised_ship_by=t(PROMISED),
            )
        )
        lines.append(feed_line(f"w-{order}-g", "order.grouped", t(1.5), order=order))
    return lines


def refund_only(event_id: str, hours: float, case: str, order: str) -> str:
    return feed_line(
        event_id,
        "case.opened",
        t(hours),
        case=case,
        order=order,
        kind="refund_only",
        reason="changed_mind",
        amount="59.90",
    )


def shipped(event_id: str, hours: float, order: str, tracking: str = "SF1") -> str:
    return feed_line(event_id, "order.shipped", t(hours), order=order, tracking=tracking)


def blocked(order: str, case: str) -> str:
    return (
        f"order {order} has an open after-sales request {case} opened before shipment: "
        "ask the buyer to cancel it before shipping"
    )


def reasons(err: str) -> dict[int, str]:
    return {int(line.split(":")[0][5:]): line.split(": ", 1)[1] for line in err.splitlines()}


def shipped_orders() -> set[str]:
    return set(Order.objects.filter(shipped_at__isnull=False).values_list("platform_id", flat=True))


def test_order_shipped_is_registered_by_the_aftersales_app():
    registration = lookup("order.shipped")
    assert registration.apply_batch is not None  # set-based for large feeds
    assert registration.apply_batch.__module__ == "aftersales.feed_handlers"


def test_each_shipment_over_an_open_case_is_rejected_and_the_rest_of_the_file_applied(tmp_path):
    base = world("O1", "O2", "O3", "O4", "O5")
    n = len(base)
    lines = [
        *base,
        refund_only("c1", 3, "C1", "O1"),  # n+1: pending merchant
        refund_only("c3", 3, "C3", "O3"),  # n+2
        feed_line("c3r", "case.merchant_refused", t(4), case="C3", reason="已备货"),  # n+3: refused, still open
        refund_only("c4", 3, "C4", "O4"),  # n+4
        feed_line("c4x", "case.cancelled", t(4), case="C4"),  # n+5: the buyer cancelled: closed
        refund_only("c5", 3, "C5", "O5"),  # n+6
        feed_line("c5r", "case.merchant_refused", t(4), case="C5", reason="已备货"),  # n+7
        feed_line("c5e", "case.escalated", t(5), case="C5"),  # n+8: under intervention
        # n+9 … n+13: consecutive shipments, applied as one batch
        shipped("s1", 10, "O1"),
        shipped("s2", 10, "O2"),
        shipped("s3", 10, "O3"),
        shipped("s4", 10, "O4"),
        shipped("s5", 10, "O5"),
    ]
    code, _, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert code == 1
    assert rejected == [n + 9, n + 11, n + 13], err
    said = reasons(err)
    assert said[n + 9] == blocked("O1", "C1")
    assert said[n + 11] == blocked("O3", "C3")
    assert said[n + 13] == blocked("O5", "C5")
    assert shipped_orders() == {"O2", "O4"}
    assert dict(AfterSalesCase.objects.values_list("platform_id", "state")) == {
        "C1": State.PENDING_MERCHANT,
        "C3": State.MERCHANT_REFUSED,
        "C4": State.CLOSED,
        "C5": State.UNDER_INTERVENTION,
    }
    # A rejected shipment writes nothing on the order either: no tracking, no change time.
    o1 = Order.objects.get(platform_id="O1")
    assert (o1.tracking, o1.changed_at, o1.late_shipment_due_at) == ("", at(1.5), at(PROMISED))


def test_a_lone_shipment_line_is_judged_the_same_way(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl", *world("O1"), refund_only("c1", 3, "C1", "O1"), shipped("s1", 10, "O1")
    )
    assert (code, rejected) == (1, [len(world("O1")) + 2])
    assert f"line {rejected[0]}: {blocked('O1', 'C1')}" in err
    assert shipped_orders() == set()


def test_once_the_buyer_cancels_the_request_the_order_ships(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world("O1"),
        refund_only("c1", 3, "C1", "O1"),
        shipped("s1", 4, "O1"),  # refused
        feed_line("c1x", "case.cancelled", t(5), case="C1"),
        shipped("s2", 6, "O1", tracking="SF2"),  # a new line: the first one's id stays rejected
    )
    assert (code, rejected) == (1, [len(world("O1")) + 2]), err
    order = Order.objects.get(platform_id="O1")
    assert (order.shipped_at, order.tracking) == (at(6), "SF2")
    assert order.late_shipment_due_at is None  # shipped by promised_ship_by: no longer watched


@pytest.mark.parametrize(("after_deadline", "ships"), [(dt.timedelta(0), True), (-dt.timedelta(seconds=1), False)])
def test_a_refused_case_that_expires_by_the_shipment_no_longer_blocks(tmp_path, after_deadline, ships):
    deadline = at(4) + dt.timedelta(days=7)  # the buyer's 7 days after the merchant's refusal
    moment = deadline + after_deadline
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world("O1"),
        refund_only("c1", 3, "C1", "O1"),
        feed_line("c1r", "case.merchant_refused", t(4), case="C1", reason="已备货"),
        feed_line("s1", "order.shipped", moment.isoformat(), order="O1", tracking="SF1"),
    )
    case = AfterSalesCase.objects.get(platform_id="C1")
    if ships:
        assert (code, rejected) == (0, []), err
        assert shipped_orders() == {"O1"}
        # The lazy rule applied the expiry first, stamped at its deadline, not at the shipment.
        assert (case.state, case.close_reason, case.resolved_at) == (State.CLOSED, CloseReason.BUYER_OVERDUE, deadline)
        row = CaseTransition.objects.get(case=case, transition="expire")
        assert (row.actor_kind, row.at) == ("system", deadline)
    else:
        assert code == 1 and reasons(err)[rejected[0]] == blocked("O1", "C1")
        assert shipped_orders() == set()
        assert case.state == State.MERCHANT_REFUSED
        assert not CaseTransition.objects.filter(case=case, transition="expire").exists()


def test_a_request_refunded_by_its_deadline_no_longer_blocks_the_shipment(tmp_path):
    # A refund-only case on an unshipped order falls due at the promised ship time (SPEC §2.3).
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl", *world("O1"), refund_only("c1", 3, "C1", "O1"), shipped("s1", PROMISED + 1, "O1")
    )
    assert code == 0 and not rejected, err
    assert shipped_orders() == {"O1"}
    # The automatic agreement the shipment met was applied first, stamped at its deadline (SPEC §8).
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert case.state == State.REFUNDED and case.refund.refunded_at == at(PROMISED)


def test_a_shipment_just_before_the_automatic_refund_is_refused_as_an_open_request(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl", *world("O1"), refund_only("c1", 3, "C1", "O1"), shipped("s1", PROMISED - 0.001, "O1")
    )
    assert code == 1 and reasons(err)[rejected[0]] == blocked("O1", "C1")


def test_an_order_the_merchant_refunded_may_ship(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world("O1"),
        refund_only("c1", 3, "C1", "O1"),
        feed_line("c1a", "case.merchant_agreed", t(4), case="C1"),
        shipped("s1", 5, "O1"),
    )
    assert code == 0 and not rejected, err
    assert shipped_orders() == {"O1"}


def test_a_shipment_older_than_the_last_change_of_a_case_of_the_order_is_rejected(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world("O1"),
        refund_only("c1", 3, "C1", "O1"),
        feed_line("c1x", "case.cancelled", t(8), case="C1"),
        shipped("s1", 6, "O1"),  # C1 was still open at 6 h
        shipped("s2", 9, "O1"),
    )
    assert (code, rejected) == (1, [len(world("O1")) + 3]), err
    assert "shipment at" in err and "is older than the last change of case C1 of order O1" in err
    assert Order.objects.get(platform_id="O1").shipped_at == at(9)


def test_a_case_opened_after_shipment_is_no_concern_of_the_shipment(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world("O1"),
        shipped("s1", 5, "O1"),
        refund_only("c1", 6, "C1", "O1"),  # after shipment: fine, and open
        shipped("s2", 7, "O1", tracking="SF2"),  # a second shipment is refused for what it is
    )
    assert code == 1 and reasons(err)[rejected[0]] == "order O1 is already shipped", err
    assert AfterSalesCase.objects.get(platform_id="C1").state == State.PENDING_MERCHANT


def test_the_service_is_the_one_way_to_ship_for_any_caller(db):
    """`orders_ship` is what a back-office shipping action calls: the same rule, item by item."""
    report = import_events(lines=[*world("O1", "O2"), refund_only("c1", 3, "C1", "O1")])
    assert report.rejections == []
    errors = orders_ship(
        items=[
            OrderStep("O1", at(10), "SF1"),
            OrderStep("O2", at(10), "SF2"),
            OrderStep("O2", at(11), "SF3"),
            OrderStep("O9", at(10), "SF9"),
            OrderStep("O1", at(12), " "),
        ]
    )
    messages = [e.messages[0] if isinstance(e, ValidationError) else e for e in errors]
    assert messages == [
        blocked("O1", "C1"),
        None,
        "order O2 is already shipped",
        "unknown order O9",
        blocked("O1", "C1"),  # the open request is the first thing the merchant must hear about
    ]
    assert shipped_orders() == {"O2"}
    assert Order.objects.get(platform_id="O2").tracking == "SF2"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_and_a_shipment_racing_on_one_order_never_both_apply(postgres_only):
    """Two importers: one opens a refund request, the other ships the same orders. The order row
    lock serialises them: per order, either the request came first and the shipment is refused, or
    the shipment came first and the earlier-dated request is refused as older than the order's change."""
    orders = [f"O{i}" for i in range(6)]
    assert import_events(lines=world(*orders)).rejections == []
    requests = [refund_only(f"c{i}", 3, f"C{i}", order) for i, order in enumerate(orders)]
    shipments = [shipped(f"s{i}", 4, order) for i, order in enumerate(orders)]

    outcomes = run_in_threads(2, lambda i: import_events(lines=requests if i == 0 else shipments, batch_size=1))

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    opened = set(AfterSalesCase.objects.values_list("order__platform_id", flat=True))
    assert opened.isdisjoint(shipped_orders())
    assert opened | shipped_orders() == set(orders)
