"""Cases for the review queue, built through the case services like every other test case
(tests/aftersales/helpers.py): opened, refused three hours later, escalated when asked."""

import datetime as dt
from decimal import Decimal
from itertools import count

from django.utils import timezone

from aftersales.models import AfterSalesCase, Evidence, Kind, Liable, Reason, State
from aftersales.services import cases as svc
from tests import factories

_ids = count(1)


def EscalatedCaseFactory(
    *,
    order=None,
    platform_id: str | None = None,
    escalated_at: dt.datetime | None = ...,  # type: ignore[assignment]
    state: str = State.UNDER_INTERVENTION,
    amount: str | Decimal = "59.90",
    kind: str = Kind.REFUND_ONLY,
    reason: str = Reason.QUALITY_ISSUE,
    buyer_statement: str = "The screen is cracked.",
    merchant_statement: str = "It left the warehouse intact.",
    claimed_by=None,
    claimed_at: dt.datetime | None = None,
) -> AfterSalesCase:
    """A case the buyer escalated `escalated_at` (default 5 h ago) after the merchant refused it.

    `state` stops earlier (merchant_refused, with `escalated_at=None`) or goes on after the
    escalation (refunded: ruled against the merchant; closed: cancelled by the buyer)."""
    if escalated_at is ...:
        escalated_at = timezone.now() - dt.timedelta(hours=5)
    end = escalated_at or timezone.now() - dt.timedelta(hours=5)
    opened_at = end - dt.timedelta(days=2)
    order = order or factories.OrderFactory()
    if order.shipped_at is None:  # shipped, so the merchant's deadline is the full 48 h
        order.shipped_at, order.tracking = min(order.placed_at, opened_at), "SF100"
        order.save(update_fields=["shipped_at", "tracking"])
    case = svc.case_open(
        platform_id=f"RC{next(_ids):06d}" if platform_id is None else platform_id,
        order=order,
        kind=kind,
        reason=reason,
        amount=Decimal(amount),
        at=opened_at,
        statement=buyer_statement,
    )
    case = svc.case_merchant_refuse(case=case, reason=merchant_statement, at=opened_at + dt.timedelta(hours=3))
    if state == State.CLOSED and escalated_at is None:
        case = svc.case_cancel(case=case, at=opened_at + dt.timedelta(hours=4))
    if escalated_at is not None:
        case = svc.case_escalate(case=case, at=escalated_at)
        if state == State.REFUNDED:
            ruled_at = escalated_at + dt.timedelta(minutes=1)
            case = svc.case_rule(case=case, liable=Liable.MERCHANT, note="ruled", at=ruled_at)
        elif state == State.CLOSED:
            case = svc.case_cancel(case=case, at=escalated_at + dt.timedelta(minutes=1))
    assert case.state == state, (case.state, state)
    if claimed_by is not None:
        AfterSalesCase.objects.filter(pk=case.pk).update(claimed_by=claimed_by, claimed_at=claimed_at or timezone.now())
        case.refresh_from_db()
    return case


def with_history(case: AfterSalesCase) -> AfterSalesCase:
    """The evidence both sides would have added to such a case (its log rows the services wrote)."""
    Evidence.objects.create(case=case, side="buyer", url="https://img.example.com/crack.jpg", note="crack",
                            added_at=case.opened_at)
    Evidence.objects.create(case=case, side="merchant", url="https://img.example.com/box.jpg", note="packing",
                            added_at=case.refused_at)
    return case


def escalated_cases(count: int, *, shop=None, start: dt.datetime | None = None) -> list[AfterSalesCase]:
    """`count` cases under intervention, escalated one minute apart (oldest first)."""
    start = start or timezone.now() - dt.timedelta(hours=count)
    goods = factories.GoodsFactory(**({"shop": shop} if shop else {}))
    return [
        EscalatedCaseFactory(order=factories.OrderFactory(goods=goods), escalated_at=start + dt.timedelta(minutes=i))
        for i in range(count)
    ]
