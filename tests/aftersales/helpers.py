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


# How to reach each state from an opening, one hour per step. (The exchange's own paths, through
# every state it can be in, are EXCHANGE_PATHS below.)
PATHS = {
    State.PENDING_MERCHANT: (Kind.REFUND_ONLY, []),
    State.MERCHANT_REFUSED: (Kind.REFUND_ONLY, ["refuse"]),
    State.AWAITING_RETURN: (Kind.RETURN_REFUND, ["agree"]),
    State.RETURN_SHIPPED: (Kind.RETURN_REFUND, ["agree", "ship"]),
    State.RETURN_REFUSED: (Kind.RETURN_REFUND, ["agree", "ship", "refuse_return"]),
    State.UNDER_INTERVENTION: (Kind.REFUND_ONLY, ["refuse", "escalate"]),
    State.REFUNDED: (Kind.REFUND_ONLY, ["agree"]),
    State.EXCHANGED: (Kind.EXCHANGE, ["agree", "ship", "reship"]),
    State.CLOSED: (Kind.REFUND_ONLY, ["cancel"]),
}
EXCHANGE_PATHS = {
    State.PENDING_MERCHANT: [],
    State.MERCHANT_REFUSED: ["refuse"],
    State.AWAITING_RETURN: ["agree"],
    State.RETURN_SHIPPED: ["agree", "ship"],
    State.RETURN_REFUSED: ["agree", "ship", "refuse_return"],
    State.UNDER_INTERVENTION: ["refuse", "escalate"],
    State.REFUNDED: ["agree", "ship", "confirm_refund"],
    State.EXCHANGED: ["agree", "ship", "reship"],
    State.CLOSED: ["cancel"],
}

STEPS = {
    "refuse": lambda c, at: svc.case_merchant_refuse(case=c, reason="used, not faulty", at=at),
    "agree": lambda c, at: svc.case_merchant_agree(case=c, at=at),
    "ship": lambda c, at: svc.case_ship_return(case=c, at=at, tracking="YT200"),
    "refuse_return": lambda c, at: svc.case_refuse_return(case=c, reason="parcel empty", at=at),
    "escalate": lambda c, at: svc.case_escalate(case=c, at=at),
    "cancel": lambda c, at: svc.case_cancel(case=c, at=at),
    "confirm_refund": lambda c, at: svc.case_confirm_refund(case=c, at=at),
    "reship": lambda c, at: svc.case_reship(case=c, tracking="SF300", at=at),
}
RECEIVED = T0 + 2 * HOUR  # when an order built for an exchange was received: shipped at T0 + 1 h


def case_in(state: str, *, kind: str | None = None, shop=None, **kw) -> AfterSalesCase:
    path_kind, steps = PATHS[state]
    kind = kind or path_kind
    if kind == Kind.EXCHANGE:
        steps = EXCHANGE_PATHS[state]
        kw.setdefault("received", RECEIVED)
    order = make_order(shop=shop, **kw)
    if kind != Kind.REFUND_ONLY:
        with_address(order.shop)
    case = open_case(order, kind=kind)
    at = OPENED
    for step in steps:
        at += HOUR
        case = STEPS[step](case, at)
    assert case.state == state, (case.state, state)
    return case


def last_step_at(state: str, kind: str | None = None) -> dt.datetime:
    steps = EXCHANGE_PATHS[state] if (kind or PATHS[state][0]) == Kind.EXCHANGE else PATHS[state][1]
    return OPENED + HOUR * len(steps)
