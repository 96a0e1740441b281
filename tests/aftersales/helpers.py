"""Cases built through the real services, so every test starts from a state the rules allow."""

import datetime as dt
from decimal import Decimal
from itertools import count

from aftersales.models import AfterSalesCase, Kind, Reason, State
from aftersales.services import cases as svc
from tests import factories

T0 = factories.T0
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
OPENED = T0 + DAY  # every helper case is opened one day after its order was placed

_ids = count(1)


def make_order(*, shop=None, shipped=True, special=False, received=None, amount="59.90", **fields):
    goods = factories.GoodsFactory(shop=shop, special=special) if shop else factories.GoodsFactory(special=special)
    order = factories.OrderFactory(goods=goods, amount=Decimal(amount), **fields)
    if shipped:
        order.shipped_at, order.tracking = T0 + HOUR, "SF100"
    if received is not None:
        order.received_at = received
    order.changed_at = max(filter(None, [order.placed_at, order.shipped_at, order.received_at]))
    order.save()
    return order


def open_case(order=None, *, kind=Kind.REFUND_ONLY, reason=Reason.QUALITY_ISSUE, amount="59.90", at=OPENED, **kw):
    order = order or make_order(**kw)
    return svc.case_open(
        platform_id=f"C{next(_ids):06d}",
        order=order,
        kind=kind,
        reason=reason,
        amount=Decimal(amount),
        at=at,
        statement="broken on arrival",
    )


def with_address(shop):
    if not shop.return_addresses.exists():
        factories.ReturnAddressFactory(shop=shop, is_default=True)
    return shop


# How to reach each state from an opening, one hour per step.
PATHS = {
    State.PENDING_MERCHANT: (Kind.REFUND_ONLY, []),
    State.MERCHANT_REFUSED: (Kind.REFUND_ONLY, ["refuse"]),
    State.AWAITING_RETURN: (Kind.RETURN_REFUND, ["agree"]),
    State.RETURN_SHIPPED: (Kind.RETURN_REFUND, ["agree", "ship"]),
    State.RETURN_REFUSED: (Kind.RETURN_REFUND, ["agree", "ship", "refuse_return"]),
    State.UNDER_INTERVENTION: (Kind.REFUND_ONLY, ["refuse", "escalate"]),
    State.REFUNDED: (Kind.REFUND_ONLY, ["agree"]),
    State.CLOSED: (Kind.REFUND_ONLY, ["cancel"]),
}

STEPS = {
    "refuse": lambda c, at: svc.case_merchant_refuse(case=c, reason="used, not faulty", at=at),
    "agree": lambda c, at: svc.case_merchant_agree(case=c, at=at),
    "ship": lambda c, at: svc.case_ship_return(case=c, at=at, tracking="YT200"),
    "refuse_return": lambda c, at: svc.case_refuse_return(case=c, reason="parcel empty", at=at),
    "escalate": lambda c, at: svc.case_escalate(case=c, at=at),
    "cancel": lambda c, at: svc.case_cancel(case=c, at=at),
}


def case_in(state: str, *, kind: str | None = None, shop=None, **kw) -> AfterSalesCase:
    path_kind, steps = PATHS[state]
    kind = kind or path_kind
    order = make_order(shop=shop, **kw)
    if kind == Kind.RETURN_REFUND:
        with_address(order.shop)
    case = open_case(order, kind=kind)
    at = OPENED
    for step in steps:
        at += HOUR
        case = STEPS[step](case, at)
    assert case.state == state, (case.state, state)
    return case


def last_step_at(state: str) -> dt.datetime:
    return OPENED + HOUR * len(PATHS[state][1])
