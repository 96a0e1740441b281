"""Reads of the shop's money and figures: its charges and accounts (SPEC §6.1, the rows
export_charges and export_accounts read), the day's metrics (SPEC §5, the stored snapshot
export_metrics reads) and the do-nothing forecast (SPEC §5.2, as export_forecast makes it)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from metrics.forecast import export_document, goods_forecast
from metrics.selectors import export_rows
from metrics.windows import WINDOW_DAYS, yesterday

from .. import problems, selectors
from ..pagination import WriteOrderCursorPagination
from ..schema import problems as documented
from ..serializers.shop import (
    FIRST_DAY,
    AccountsSerializer,
    ChargeQuerySerializer,
    ChargeSerializer,
    DayQuerySerializer,
    ForecastSerializer,
    MetricsSerializer,
)
from .base import ApiView


class ChargeList(ApiView):
    pagination_class = WriteOrderCursorPagination

    @extend_schema(
        tags=["money"],
        operation_id="charges_list",
        summary="The shop's charges, in the order they were written",
        description=(
            "Warranty compensations, late-reply fines and shipping compensations (SPEC §6.1), each with how "
            "deposit, goods balance and arrears took it. Pass `next_cursor` back as `cursor` for later ones."
        ),
        parameters=[ChargeQuerySerializer],
        responses={200: ChargeSerializer(many=True)},
        extensions=documented("not_found"),  # a cursor this API did not give
    )
    def get(self, request):
        query = ChargeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.charges_of(shop=self.shop(), kind=filters.get("kind")),
            request,
            page_size=filters.get("page_size") or settings.API_PAGE_SIZE,
            cursor=filters.get("cursor"),
        )
        return paginator.get_paginated_response(ChargeSerializer(page, many=True).data)


class Accounts(ApiView):
    @extend_schema(
        tags=["money"],
        operation_id="accounts_retrieve",
        summary="The shop's deposit, goods balance and arrears",
        responses=AccountsSerializer,
    )
    def get(self, request):
        return Response(AccountsSerializer(selectors.books_of(shop=self.shop())).data)


def _day(request) -> dt.date:
    query = DayQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("date") or yesterday()


class Metrics(ApiView):
    @extend_schema(
        tags=["metrics"],
        operation_id="metrics_retrieve",
        summary="The shop's service-quality figures of a day",
        description=(
            "The 30-day window D-29 … D of SPEC §5 and §5.1, from the day's stored snapshot (compute_metrics "
            "makes it each night); a day without one is `not_found`."
        ),
        parameters=[DayQuerySerializer],
        responses=MetricsSerializer,
        extensions=documented("not_found"),
    )
    def get(self, request):
        day = _day(request)
        rows = export_rows(day=day, shop=self.shop())
        if not rows:
            raise problems.NotFound(_("No figures of %(day)s yet.") % {"day": day.isoformat()})
        return Response(MetricsSerializer({"date": day, "window_days": WINDOW_DAYS, **rows[0]}).data)


class Forecast(ApiView):
    @extend_schema(
        tags=["metrics"],
        operation_id="forecast_retrieve",
        summary="The shop's goods that would be flagged within 7 days if nothing is done",
        description=(
            "SPEC §5.2, made now from the data as it is: each goods and level reached in D+1 … D+7, the first "
            "day, and the open cases that would cause it (those the merchant can still act on)."
        ),
        parameters=[DayQuerySerializer],
        responses=ForecastSerializer,
        extensions=documented("not_found"),  # a day it is not made for
    )
    def get(self, request):
        day = _day(request)
        if not FIRST_DAY <= day <= yesterday():
            # A well-formed day the forecast is not made for: as a day without figures, not_found.
            raise problems.NotFound(
                _("No forecast for %(day)s: one is made for a complete day, from %(first)s to %(last)s.")
                % {"day": day.isoformat(), "first": FIRST_DAY.isoformat(), "last": yesterday().isoformat()}
            )
        document = export_document(goods_forecast(day=day, shop=self.shop()))
        return Response(ForecastSerializer(document).data)
