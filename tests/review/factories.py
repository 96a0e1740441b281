"""Cases for the review queue, made directly in a given state (the FSM allows an initial state;
only assigning `state` on an existing case is blocked). Shared factories live in tests/factories.py."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from aftersales.models import AfterSalesCase, CaseTransition, Evidence, Kind, Reason, State
from tests import factories


class EscalatedCaseFactory(factory.django.DjangoModelFactory):
    """A case the buyer escalated after the merchant refused it: waiting in the review queue."""

    class Meta:
        model = AfterSalesCase

    platform_id = factory.Sequence(lambda n: f"RC{n:06d}")
    order = factory.SubFactory(factories.OrderFactory)
    shop = factory.SelfAttribute("order.shop")
    kind = Kind.REFUND_ONLY
    reason = Reason.QUALITY_ISSUE
    amount = Decimal("59.90")
    state = State.UNDER_INTERVENTION
    escalated_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=5))
    opened_at = factory.LazyAttribute(lambda o: (o.escalated_at or timezone.now()) - dt.timedelta(days=2))
    submitted_at = factory.SelfAttribute("opened_at")
    refused_at = factory.LazyAttribute(lambda o: o.opened_at + dt.timedelta(hours=3))
    intervened_at = factory.SelfAttribute("escalated_at")
    buyer_statement = "The screen is cracked."
    merchant_statement = "It left the warehouse intact."
    changed_at = factory.LazyAttribute(lambda o: o.escalated_at or o.refused_at)


def with_history(case: AfterSalesCase) -> AfterSalesCase:
    """The log rows and evidence such a case would have after open → refuse → escalate."""
    steps = [
        ("open", "", State.PENDING_MERCHANT, "buyer", case.opened_at, ""),
        ("merchant_refuse", State.PENDING_MERCHANT, State.MERCHANT_REFUSED, "merchant", case.refused_at, "intact"),
        ("escalate", State.MERCHANT_REFUSED, State.UNDER_INTERVENTION, "buyer", case.escalated_at, ""),
    ]
    for name, from_state, to_state, actor_kind, at, note in steps:
        CaseTransition.objects.create(
            case=case, transition=name, from_state=from_state, to_state=to_state, actor_kind=actor_kind, at=at,
            note=note,
        )
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
