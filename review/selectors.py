"""Reads for the reviewers' pages: the intervention queue (SPEC §4) and the warranty reports (SPEC §6)."""

import datetime as dt

from django.db.models import (
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    QuerySet,
    Value,
)
from django.utils import timezone

from aftersales.models import AfterSalesCase, CaseTransition, Evidence, State
from compensation.models import Violation, ViolationState
from pddadmin.paging import IdPagedQuerySet
from pddadmin.shops.models import Order, Shop

# SPEC §4 queue SLA: a case waiting longer than this since escalation is shown as overdue.
SLA_HOURS = 48


QUEUE_SHOPS = 500  # the shop box suggests up to this many shops with cases waiting


def queue_shops() -> list[tuple[str, str]]:
    """(platform id, name) of the shops with cases under intervention, for the shop box's
    suggestions: the queue's own shops, a bounded list, never every shop of the platform.

    Shops in id order, each asked whether it has a case waiting (one probe of the (shop, state, …)
    index), until the list is full: a DISTINCT over the queue's cases read every one of them
    (100,000 under intervention: most of the page's time, bench/pages.py)."""
    waiting = AfterSalesCase.objects.filter(shop=OuterRef("pk"), state=State.UNDER_INTERVENTION)
    return list(
        Shop.objects.filter(Exists(waiting)).order_by("platform_id").values_list("platform_id", "name")[:QUEUE_SHOPS]
    )


def intervention_queue(*, now: dt.datetime | None = None) -> QuerySet[AfterSalesCase]:
    """Every case under intervention, oldest escalation first, with `waiting` (now − escalated_at).

    Served by the (state, escalated_at) index; only the columns the queue shows are loaded. The
    order is prefetched (one query for the page's 25) rather than joined: a join would make every
    sort that is not on the index (shop name, claimer) join and sort all 100,000 orders first. A
    page after the first is read by its ids first (pddadmin.paging).
    """
    now = now or timezone.now()
    return (
        IdPagedQuerySet(AfterSalesCase)
        .filter(state=State.UNDER_INTERVENTION)
        .select_related("shop", "claimed_by")
        .only(
            "platform_id",
            "order_id",
            "kind",
            "reason",
            "amount",
            "state",
            "escalated_at",
            "claimed_at",
            "shop__platform_id",
            "shop__name",
            "claimed_by__username",
        )
        .prefetch_related(Prefetch("order", queryset=Order.objects.only("platform_id")))
        .annotate(
            waiting=ExpressionWrapper(
                Value(now, output_field=DateTimeField()) - F("escalated_at"), output_field=DurationField()
            )
        )
        .order_by("escalated_at", "id")
    )


def waiting_hours(waiting: dt.timedelta | None) -> float | None:
    return None if waiting is None else waiting.total_seconds() / 3600


def is_overdue(waiting: dt.timedelta | None) -> bool:
    return waiting is not None and waiting > dt.timedelta(hours=SLA_HOURS)


def case_for_review(*, pk: int) -> AfterSalesCase:
    """One case with everything the review page shows, in a fixed number of queries."""
    return (
        AfterSalesCase.objects.select_related("shop", "order", "order__goods", "claimed_by")
        .prefetch_related(
            Prefetch("evidence", queryset=Evidence.objects.order_by("side", "added_at", "id")),
            Prefetch("transitions", queryset=CaseTransition.objects.select_related("actor").order_by("at", "id")),
        )
        .get(pk=pk)
    )


def prior_cases(*, case: AfterSalesCase) -> QuerySet[AfterSalesCase]:
    """Other cases of the same order (earlier and, rarely, later ones), oldest first."""
    return AfterSalesCase.objects.filter(order_id=case.order_id).exclude(pk=case.pk).order_by("opened_at", "id")


def warranty_queue() -> QuerySet[Violation]:
    """National-warranty reports awaiting a ruling, oldest report first."""
    return Violation.objects.filter(state=ViolationState.REPORTED).select_related("shop").order_by("reported_at", "id")
