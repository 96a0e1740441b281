"""Metrics test data: cases and refunds written as rows, the way B's services leave them."""

import datetime as dt
import itertools

from aftersales.models import REASON_CLASS, AfterSalesCase, Refund
from pddadmin.shops.models import Goods, LogisticsFlag, Order, OrderRating
from tests import factories

_case_ids = itertools.count(1)


def orders(goods: Goods, n: int, grouped_at: dt.datetime | None, *, ship_to: str = "") -> list[Order]:
    """`n` orders of `goods` grouped at `grouped_at` (None: never grouped), in one INSERT."""
    built = [
        factories.OrderFactory.build(
            goods=goods, shop=goods.shop, placed_at=(grouped_at or factories.T0), ship_to=ship_to
        )
        for _ in range(n)
    ]
    for order in built:
        order.grouped_at = grouped_at
    return Order.objects.bulk_create(built)


def case(
    order: Order,
    *,
    reason: str = "quality_issue",
    intervened_at: dt.datetime | None = None,
    state: str = "closed",
    opened_at: dt.datetime | None = None,
) -> AfterSalesCase:
    opened_at = opened_at or intervened_at or factories.T0
    return AfterSalesCase.objects.create(
        platform_id=f"C{next(_case_ids):06d}",
        order=order,
        shop=order.shop,
        kind="refund_only",
        reason=reason,
        amount=order.amount,
        state=state,
        opened_at=opened_at,
        submitted_at=opened_at,
        intervened_at=intervened_at,
        changed_at=opened_at,
    )


def refund(
    order: Order,
    at: dt.datetime,
    *,
    reason: str = "quality_issue",
    intervened: bool = False,
    liable: str = "",
    case_reason: str | None = None,
) -> Refund:
    """A refunded case and its refund. `reason` is the reason in force at refund time; the case
    may carry another (`case_reason`) to prove the metrics read the refund's classification."""
    refunded_case = case(
        order,
        reason=case_reason or reason,
        state="refunded",
        opened_at=at - dt.timedelta(hours=1),
        intervened_at=(at - dt.timedelta(minutes=30)) if intervened else None,
    )
    return Refund.objects.create(
        case=refunded_case,
        order=order,
        shop=order.shop,
        goods=order.goods,
        amount=order.amount,
        reason=reason,
        reason_class=REASON_CLASS[reason],
        intervened=intervened,
        liable=liable,
        refunded_at=at,
    )


def flag(order: Order, kind: str, at: dt.datetime) -> LogisticsFlag:
    """A logistics flag as `order_flag_logistics` leaves it."""
    return LogisticsFlag.objects.create(order=order, shop=order.shop, goods=order.goods, kind=kind, flagged_at=at)


def rating(order: Order, logistics: int, at: dt.datetime, **stars: int) -> OrderRating:
    """A buyer's rating as `order_rate` leaves it."""
    return OrderRating.objects.create(
        order=order, shop=order.shop, goods=order.goods, logistics=logistics, rated_at=at, **stars
    )
