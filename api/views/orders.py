"""Out-of-stock declarations (SPEC §7.3), through the service the order page's button calls
(compensation.services.shipping.order_declare_out_of_stock); its refusal
(compensation.selectors.out_of_stock_refusal, asked under the service's locks) is `rule_broken`."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from compensation.services import shipping

from .. import problems, selectors
from ..idempotency import idempotent
from ..schema import problems as documented
from ..serializers.shop import EmptySerializer, OutOfStockSerializer
from .base import ApiView

RULE = "SPEC §7.3: only a grouped order not shipped, refunded or declared already is declared out of stock"


class OrderOutOfStock(ApiView):
    @extend_schema(
        tags=["orders"],
        operation_id="orders_out_of_stock",
        summary="Declare the order out of stock (缺货)",
        description=(
            "The buyer is owed an out-of-stock compensation now (SPEC §7.3), unless the order has a shipping "
            "compensation already (`compensation` null then). The order may still ship later."
        ),
        request=EmptySerializer,
        responses={200: OpenApiResponse(OutOfStockSerializer, description="The order as declared.")},
        extensions=documented("rule_broken"),
    )
    @idempotent
    def post(self, request, order_id: str):
        order = selectors.order_of(shop=self.shop(), order_id=order_id)
        if order is None:
            raise problems.NotFound()
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        try:
            charge = shipping.order_declare_out_of_stock(order=order, at=timezone.now(), actor=request.user)
        except PermissionDenied:
            raise problems.Forbidden() from None
        except ValidationError as error:
            raise problems.RuleBroken("; ".join(error.messages), extra={"rule": RULE}) from None
        order.refresh_from_db()
        return Response(OutOfStockSerializer(order, context={"charge": charge}).data)
