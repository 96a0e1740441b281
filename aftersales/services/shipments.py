"""Shipping an order over its after-sales cases (SPEC §2.1, 争议处理规则 2.2.2).

A merchant may not ship an order while a case opened before shipment is open on it: the buyer
asked for the money back, and shipping anyway needs the buyer's consent, which here means the
buyer cancels the case. The order's own step (`orders_advance(step="ship")`) lives in the shops
app, which knows nothing of cases (layer 1 under layer 2); so shipping goes through
`orders_ship` here, which judges the cases and hands the rest to that step. The feed's
`order.shipped` calls it, and so must any back-office shipping action.

Before judging, the lazy rule of SPEC §8 holds: each existing case of the order is taken as its
automatic transition due at or before the shipment leaves it. A case that ends by then (closed or
refunded) no longer blocks: SPEC forbids shipping only over an open request, so a refunded order
may still ship (a partial refund leaves goods to send). Those automatic transitions are written
only for shipments that are accepted: a refused line applies nothing.

Set-based for the feed's 100k-line runs: one locking read of the orders and one of their cases,
whatever the count; only the few due transitions are applied one by one.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pddadmin import setsql
from pddadmin.shops.models import Order
from pddadmin.shops.services import OrderStep, orders_advance, orders_locked
from pddadmin.timefmt import shown

from ..models import TERMINAL_STATES, AfterSalesCase, automatic_transitions
from .cases import apply_due_locked

__all__ = ["orders_ship"]


def _state_at(case: AfterSalesCase, at: dt.datetime) -> str:
    """The case's state at `at` by the lazy rule: its automatic transition if due by then."""
    spec = automatic_transitions().get(case.state)
    if spec is not None and case.due_at is not None and case.due_at <= at:
        return spec.target
    return case.state


def _refusal(item: OrderStep, order: Order | None, cases: list[AfterSalesCase]) -> str | None:
    """Why the cases of `order` forbid shipping it at `item.at`, or None. An unknown or already
    shipped order is left to the order's own step, which says so."""
    if order is None or order.shipped_at is not None or not cases:
        return None
    latest = max(cases, key=lambda c: c.changed_at)
    if item.at < latest.changed_at:
        return _("shipment at %(at)s is older than the last change of case %(case)s of order %(order)s (%(last)s)") % {
            "at": shown(item.at, seconds=True),
            "case": latest.platform_id,
            "order": order.platform_id,
            "last": shown(latest.changed_at, seconds=True),
        }
    # Every case of an order not shipped yet was opened before its shipment.
    blocking = next((c for c in cases if _state_at(c, item.at) not in TERMINAL_STATES), None)
    if blocking is not None:
        return _(
            "order %(order)s has an open after-sales request %(case)s opened before shipment: "
            "ask the buyer to cancel it before shipping"
        ) % {"order": order.platform_id, "case": blocking.platform_id}
    return None


def orders_ship(*, items: Sequence[OrderStep]) -> list[ValidationError | None]:
    """Ship many orders, in order; per item the error that refused it, or None.

    Refused items change nothing. Accepted ones are shipped by the order's own step (which checks
    the order: known, not shipped, not older than its last change, a tracking number), and the
    automatic transitions of their cases due by the shipment are applied, stamped at their
    deadlines.
    """
    with transaction.atomic():
        # Orders first, then their cases: the lock order of case_open and of the out-of-stock
        # declaration, so an importer shipping and one opening a case never wait on each other in
        # a circle. The order lock also keeps a new case from opening between judging and shipping.
        orders = orders_locked(i.order for i in items)
        unshipped = [o.pk for o in orders.values() if o.shipped_at is None]
        cases: dict[int, list[AfterSalesCase]] = defaultdict(list)
        for case in (
            AfterSalesCase.objects.select_for_update(of=("self",))
            .filter(setsql.among(AfterSalesCase, "order", unshipped))
            .order_by("pk")
        ):
            cases[case.order_id].append(case)

        refusals = []
        for item in items:
            order = orders.get(item.order)
            pk = order.pk if order is not None else None
            refusals.append(_refusal(item, order, cases.get(pk, [])))
        passed = [item for item, refusal in zip(items, refusals, strict=True) if refusal is None]
        outcomes = iter(orders_advance(step="ship", items=passed, locked=orders))
        errors: list[ValidationError | None] = []
        for item, refusal in zip(items, refusals, strict=True):
            error = ValidationError(refusal) if refusal is not None else next(outcomes)
            errors.append(error)
            if error is None:
                for case in cases.get(orders[item.order].pk, []):
                    apply_due_locked(case, item.at)  # SPEC §8: stamped at its deadline, not now
    return errors
