"""After-sales reads."""

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from pddadmin.shops.models import Shop

from .models import AfterSalesCase, ReturnAddress


def shops_with_info_missing(queryset: QuerySet[Shop] | None = None) -> QuerySet[Shop]:
    """Annotate `info_missing`: no hotline or no return address (售后信息缺失)."""
    queryset = queryset if queryset is not None else Shop.objects.all()
    has_address = Exists(ReturnAddress.objects.filter(shop=OuterRef("pk")))
    return queryset.annotate(
        info_missing=ExpressionWrapper(Q(hotline="") | ~has_address, output_field=BooleanField())
    )


def shop_info_missing(*, shop: Shop) -> bool:
    return not shop.hotline or not ReturnAddress.objects.filter(shop=shop).exists()


def claimed_by_other(case: AfterSalesCase, user) -> bool:
    """SPEC §4, one reviewer per case: a case claimed by a reviewer is ruled by that reviewer only.

    `user` None is the platform feed's `case.ruled`, which names no reviewer: a claimed case is
    refused to it too (decided here), so a reviewer's claim is never overtaken unseen. `case_rule`
    enforces this under the row lock; the pages use it to offer the ruling only where it can succeed.
    """
    return case.claimed_by_id is not None and case.claimed_by_id != getattr(user, "pk", None)
