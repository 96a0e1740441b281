"""Feed events for national-warranty violations (SPEC §8); each one calls a service."""

from pddadmin.feed.events import Event, Rejected
from pddadmin.feed.registry import handles
from pddadmin.shops.models import Order

from .models import Violation, ViolationReason
from .services import violations


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
