"""After-sales reads."""

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from pddadmin.shops.models import Shop

from .models import ReturnAddress


def shops_with_info_missing(queryset: QuerySet[Shop] | None = None) -> QuerySet[Shop]:
    """Annotate `info_missing`: no hotline or no return address (售后信息缺失)."""
    queryset = queryset if queryset is not None else Shop.objects.all()
    has_address = Exists(ReturnAddress.objects.filter(shop=OuterRef("pk")))
    return queryset.annotate(
        info_missing=ExpressionWrapper(Q(hotline="") | ~has_address, output_field=BooleanField())
    )


def shop_info_missing(*, shop: Shop) -> bool:
    return not shop.hotline or not ReturnAddress.objects.filter(shop=shop).exists()
