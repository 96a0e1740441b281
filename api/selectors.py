"""The API's reads: always of one shop, the key's."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet

from aftersales.models import AfterSalesCase, CaseTransition
from pddadmin.shops.models import Shop


def cases_of(
    *,
    shop: Shop,
    state: str | None = None,
    kind: str | None = None,
    reason: str | None = None,
    updated_since: dt.datetime | None = None,
) -> QuerySet[AfterSalesCase]:
    cases = AfterSalesCase.objects.filter(shop=shop).select_related("order")
    if state:
        cases = cases.filter(state=state)
    if kind:
        cases = cases.filter(kind=kind)
    if reason:
        cases = cases.filter(reason=reason)
    if updated_since is not None:
        cases = cases.filter(updated_at__gte=updated_since)
    return cases


def case_of(*, shop: Shop, case_id: str, with_log: bool = False) -> AfterSalesCase | None:
    """The shop's case with that platform id; None also when it is another shop's (not_found)."""
    cases = AfterSalesCase.objects.filter(shop=shop, platform_id=case_id).select_related("order", "shop")
    if with_log:
        cases = cases.prefetch_related(Prefetch("transitions", queryset=CaseTransition.objects.order_by("at", "id")))
    return cases.first()
