"""Feed events for warranty violations and the shop's money (SPEC §8); each one calls a service."""

from pddadmin.feed.events import Event, Rejected
from pddadmin.feed.registry import handles
from pddadmin.shops.models import Order, Shop

from .models import CreditKind, Violation, ViolationReason
from .services import credits, shipping, violations


@handles("warranty.reported")
def warranty_reported(event: Event) -> None:
    platform_id = event.platform_id("violation")
    order_ids = event.id_list("orders")
    reason = event.choice("reason", ViolationReason.values)
    found = Order.objects.select_related("shop").in_bulk(order_ids, field_name="platform_id")
    missing = [order_id for order_id in order_ids if order_id not in found]
    if missing:
        raise Rejected(f"unknown order {missing[0]!r}")
    violations.violation_report(
        platform_id=platform_id,
        orders=[found[order_id] for order_id in order_ids],
        reason=reason,
        at=event.at,
        source="feed",
    )


@handles("warranty.ruled")
def warranty_ruled(event: Event) -> None:
    violation = event.ref(Violation, "violation", lock=True)
    breach = event.flag("breach")
    note = event.text("note", max_length=2000)
    event.check_not_older(violation, f"violation {violation.platform_id}")
    violations.violation_rule(violation=violation, breach=breach, note=note, at=event.at, source="feed")


# --- money (SPEC §6.1, §7.3) ----------------------------------------------------------------


def _credit(event: Event, kind: str) -> None:
    shop = event.ref(Shop, "shop")
    credits.shop_credit(
        shop=shop, kind=kind, amount=event.money("amount"), at=event.at, source="feed", reference=event.id
    )


@handles("shop.settled")
def shop_settled(event: Event) -> None:
    _credit(event, CreditKind.SETTLEMENT)


@handles("shop.deposit_paid")
def shop_deposit_paid(event: Event) -> None:
    _credit(event, CreditKind.DEPOSIT_PAYMENT)


@handles("order.out_of_stock")
def order_out_of_stock(event: Event) -> None:
    # Not locked here: the service locks the shop's books first, then the order (one lock order).
    order = event.ref(Order, "order")
    shipping.order_declare_out_of_stock(order=order, at=event.at)
