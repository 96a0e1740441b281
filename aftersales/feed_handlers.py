"""Feed events owned by the after-sales app (SPEC §8)."""

from pddadmin.feed.events import Event, Rejected
from pddadmin.feed.registry import handles, handles_batch
from pddadmin.shops.models import Order, Shop
from pddadmin.shops.services import OrderStep

from .models import AfterSalesCase, Kind, Liable, Reason, ReturnAddress
from .services import addresses as address_services
from .services import cases, shipments


@handles("address.added")
def address_added(event: Event) -> None:
    shop = event.ref(Shop, "shop")
    event.check_not_older(shop, f"shop {shop.platform_id}", field="opened_at")
    province, city, district = address_services.split_region(event.text("region"))
    address_services.address_add(
        shop=shop,
        platform_id=event.platform_id("address"),
        receiver=event.text("receiver", max_length=100),
        phone=event.text("phone", max_length=32),
        province=province,
        city=city,
        district=district,
        detail=event.text("detail", max_length=255),
        default=event.flag("default", False),
        at=event.at,
    )


# --- after-sales cases (SPEC §2 through §8) ---------------------------------------------------
# Each handler reads its fields, refuses an event older than the case's last change, and calls
# the case service the admin and the review queue call. The services apply the lazy deadline
# rule themselves (SPEC §8), and case_open applies it to the order's existing cases, inside the
# line's savepoint: a rejected line rolls them back with the rest, and they fall due all the
# same for the next event or `process_deadlines`.


def _case(event: Event) -> AfterSalesCase:
    """The line's case, locked and read as the case services read it (they are told so with
    `locked=True` and do not read it again)."""
    case = event.ref(AfterSalesCase, "case", queryset=cases.CASES_LOCKED)
    event.check_not_older(case, f"case {case.platform_id}")
    return case


@handles("case.opened")
def case_opened(event: Event) -> None:
    order = event.ref(Order, "order", queryset=cases.ORDERS_LOCKED)
    event.check_not_older(order, f"order {order.platform_id}")
    # The order's existing cases are touched too (SPEC §8): a new case may not be dated before
    # their last change, or the order would have had two open cases at once.
    latest = AfterSalesCase.objects.filter(order=order).order_by("-changed_at").first()
    if latest is not None:
        event.check_not_older(latest, f"case {latest.platform_id} of order {order.platform_id}")
    cases.case_open(
        platform_id=event.platform_id("case"),
        order=order,
        kind=event.choice("kind", Kind.values),
        reason=event.choice("reason", Reason.values),
        amount=event.money("amount"),
        statement=event.text("statement", "", max_length=2000),
        at=event.at,
        order_locked=True,
    )


@handles("case.resubmitted")
def case_resubmitted(event: Event) -> None:
    case = _case(event)
    cases.case_resubmit(
        case=case,
        amount=event.money("amount", None),
        reason=event.choice("reason", Reason.values, None),
        at=event.at,
        locked=True,
    )


@handles("case.cancelled")
def case_cancelled(event: Event) -> None:
    cases.case_cancel(case=_case(event), at=event.at, locked=True)


@handles("case.escalated")
def case_escalated(event: Event) -> None:
    cases.case_escalate(case=_case(event), at=event.at, locked=True)


@handles("case.return_shipped")
def case_return_shipped(event: Event) -> None:
    case = _case(event)
    cases.case_ship_return(case=case, tracking=event.text("tracking", max_length=64), at=event.at, locked=True)


@handles("case.merchant_agreed")
def case_merchant_agreed(event: Event) -> None:
    case = _case(event)
    address = None
    if event.data.get("address") is not None:
        address = event.ref(ReturnAddress, "address", label="return address")
    cases.case_merchant_agree(case=case, address=address, at=event.at, locked=True)


@handles("case.merchant_refused")
def case_merchant_refused(event: Event) -> None:
    case = _case(event)
    cases.case_merchant_refuse(case=case, reason=event.text("reason", max_length=2000), at=event.at, locked=True)


@handles("case.merchant_return_refused")
def case_merchant_return_refused(event: Event) -> None:
    case = _case(event)
    cases.case_refuse_return(case=case, reason=event.text("reason", max_length=2000), at=event.at, locked=True)


@handles("case.merchant_refunded")
def case_merchant_refunded(event: Event) -> None:
    cases.case_confirm_refund(case=_case(event), at=event.at, locked=True)


@handles("case.merchant_reshipped")
def case_merchant_reshipped(event: Event) -> None:
    case = _case(event)
    cases.case_reship(case=case, tracking=event.text("tracking", max_length=64), at=event.at, locked=True)


@handles("case.ruled")
def case_ruled(event: Event) -> None:
    case = _case(event)
    cases.case_rule(
        case=case,
        liable=event.choice("liable", Liable.values),
        note=event.text("note", max_length=2000),
        at=event.at,
        locked=True,
    )


# --- shipping over the order's cases (SPEC §2.1, §8) ------------------------------------------
# `order.shipped` is registered here, not with the other order steps in the shops app: whether an
# order may ship depends on its after-sales cases, which the shops app below cannot read. Still a
# batch handler, so a 100k-line feed of shipments stays a handful of statements per batch.


@handles_batch("order.shipped")
def orders_shipped(events: list[Event]) -> list[Exception | None]:
    items: list[OrderStep | Rejected] = []
    for event in events:
        try:
            tracking = event.text("tracking", max_length=64)
            items.append(OrderStep(event.platform_id("order"), event.at, tracking))
        except Rejected as exc:
            items.append(exc)
    valid = [i for i in items if isinstance(i, OrderStep)]
    outcomes = iter(shipments.orders_ship(items=valid))
    return [i if isinstance(i, Rejected) else next(outcomes) for i in items]
