"""Cases (SPEC §10): the list for incremental sync, one case with its log, and each merchant
transition of SPEC §2.3, through the same services as the case page (aftersales.case_admin
SERVICES)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from aftersales.errors import CaseChanged as CaseChangedError
from aftersales.errors import CasePermissionDenied, CaseRuleError
from aftersales.models import AfterSalesCase, declared_transitions
from aftersales.services import cases as case_services

from .. import problems, selectors
from ..idempotency import idempotent
from ..pagination import UpdatedCursorPagination
from ..schema import problems as documented
from ..serializers.cases import (
    AgreeSerializer,
    CaseDetailSerializer,
    CaseListQuerySerializer,
    CaseSerializer,
    ConfirmSerializer,
    ReasonSerializer,
    TrackingSerializer,
)
from .base import ApiView

TAG = "cases"


class CaseList(ApiView):
    pagination_class = UpdatedCursorPagination

    @extend_schema(
        tags=[TAG],
        operation_id="cases_list",
        summary="The shop's cases, oldest write first",
        description=(
            "Ordered by (updated_at, id). Sync: start with `updated_since` (or nothing), then pass each answer's "
            "`next_cursor` as `cursor`; a case that changes comes again later in the order. Cases written in "
            "the last API_SYNC_SETTLE_SECONDS are held back until no write before them can still commit."
        ),
        parameters=[CaseListQuerySerializer],
        responses={200: CaseSerializer(many=True)},
        extensions=documented("not_found"),  # a cursor this API did not give
    )
    def get(self, request):
        query = CaseListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        cases = selectors.cases_of(
            shop=self.shop(),
            state=filters.get("state"),
            kind=filters.get("kind"),
            reason=filters.get("reason"),
            updated_since=filters.get("updated_since"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            cases,
            request,
            page_size=filters.get("page_size") or settings.API_PAGE_SIZE,
            cursor=filters.get("cursor"),
        )
        return paginator.get_paginated_response(CaseSerializer(page, many=True).data)


class CaseDetail(ApiView):
    @extend_schema(
        tags=[TAG], operation_id="cases_retrieve", summary="One case with its log", responses=CaseDetailSerializer
    )
    def get(self, request, case_id: str):
        case = selectors.case_of(shop=self.shop(), case_id=case_id, with_log=True)
        if case is None:
            raise problems.NotFound()
        return Response(CaseDetailSerializer(case).data)


# Which rule of the SPEC refuses each transition when its own conditions fail (`rule_broken`).
RULES = {
    "merchant_agree": "SPEC §3: a return or exchange is agreed with one of the shop's return addresses",
    "merchant_refuse": "SPEC §2.3: a refusal gives its reason",
    "confirm_refund": "SPEC §2.3: confirm_refund follows the buyer's return",
    "refuse_return": "SPEC §2.3: a refusal of the refund gives its reason",
    "reship": "SPEC §2.3: only an exchange is settled by sending a replacement",
}


class CaseTransitionView(ApiView):
    """POST /cases/{id}/<transition>/: one merchant transition, as the case page's button."""

    transition: str = ""
    body: type = ConfirmSerializer
    act: Callable[..., Any]

    @idempotent
    def post(self, request, case_id: str):
        shop = self.shop()
        case = selectors.case_of(shop=shop, case_id=case_id)
        if case is None:
            raise problems.NotFound()
        body = self.body(data=request.data, context={"shop": shop})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        expected = data.pop("expected_state", None)
        try:
            type(self).act(case=case, actor=request.user, expected_state=expected, **data)
        except CasePermissionDenied:
            raise problems.Forbidden() from None
        except CaseRuleError as error:
            raise self.refusal(case, error, expected) from None
        return Response(CaseDetailSerializer(selectors.case_of(shop=shop, case_id=case_id, with_log=True)).data)

    def refusal(self, case: AfterSalesCase, error: CaseRuleError, expected: str | None) -> problems.Problem:
        """A refused transition as its problem: the case moved on (its state is not one this
        transition leaves, or not the one the caller saw) or a rule refused it."""
        current = AfterSalesCase.objects.get(pk=case.pk)
        moved = current.state not in declared_transitions()[self.transition] or (
            expected is not None and current.state != expected
        )
        detail = "; ".join(error.messages)
        if isinstance(error, CaseChangedError) or moved:
            return problems.CaseChanged(detail, extra={"state": current.state})
        return problems.RuleBroken(detail, extra={"rule": RULES[self.transition]})


def _transition_view(name: str, path: str, body: type, act: Callable[..., Any], summary: str) -> type[ApiView]:
    view = type(
        f"Case{''.join(part.title() for part in path.split('_'))}",
        (CaseTransitionView,),
        {"transition": name, "body": body, "act": staticmethod(act), "__doc__": summary},
    )

    # A function of its own per view: extend_schema marks the function it decorates.
    def post(self, request, case_id: str):
        return CaseTransitionView.post(self, request, case_id)

    view.post = extend_schema(
        tags=[TAG],
        operation_id=f"cases_{path}",
        summary=summary,
        request=body,
        responses={200: OpenApiResponse(CaseDetailSerializer, description="The case after the transition.")},
        extensions=documented("case_changed", "rule_broken"),
    )(post)
    return view


# SPEC §2.3's merchant transitions, each calling the service the case page's button calls.
TRANSITION_VIEWS: dict[str, type[ApiView]] = {
    "agree": _transition_view(
        "merchant_agree",
        "agree",
        AgreeSerializer,
        lambda case, actor, expected_state, address=None: case_services.case_merchant_agree(
            case=case, actor=actor, expected_state=expected_state, address=address
        ),
        "Agree (a return or exchange with a return address)",
    ),
    "refuse": _transition_view(
        "merchant_refuse",
        "refuse",
        ReasonSerializer,
        lambda case, actor, expected_state, reason: case_services.case_merchant_refuse(
            case=case, actor=actor, expected_state=expected_state, reason=reason
        ),
        "Refuse, with a reason",
    ),
    "confirm_refund": _transition_view(
        "confirm_refund",
        "confirm_refund",
        ConfirmSerializer,
        lambda case, actor, expected_state: case_services.case_confirm_refund(
            case=case, actor=actor, expected_state=expected_state
        ),
        "Confirm the refund after the return",
    ),
    "refuse_return": _transition_view(
        "refuse_return",
        "refuse_return",
        ReasonSerializer,
        lambda case, actor, expected_state, reason: case_services.case_refuse_return(
            case=case, actor=actor, expected_state=expected_state, reason=reason
        ),
        "Refuse the refund after the return, with a reason",
    ),
    "reship": _transition_view(
        "reship",
        "reship",
        TrackingSerializer,
        lambda case, actor, expected_state, tracking: case_services.case_reship(
            case=case, actor=actor, expected_state=expected_state, tracking=tracking
        ),
        "Send an exchange's replacement, with its tracking number",
    ),
}
