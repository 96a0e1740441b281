"""Platform reviewers' pages: the intervention queue (平台介入, SPEC §4) and the national-warranty
reports (全国联保, SPEC §6). Thin: selectors read, services write."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.export import ExportMixin

from aftersales.case_forms import CaseActionResult, Outcome, Seen, SeenForm, submit_case_action
from aftersales.models import AfterSalesCase, Evidence, State
from aftersales.selectors import claimed_by_other
from compensation.services import violations as violation_services
from pddadmin.exports import SafeTableExport
from pddadmin.shops.models import Order
from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.selectors import is_platform_staff

from . import services as review_services
from .filters import QueueFilter
from .forms import RuleForm, ShortenDeadlineForm, WarrantyReportForm
from .selectors import (
    SLA_HOURS,
    case_for_review,
    intervention_queue,
    is_overdue,
    prior_cases,
    queue_shops,
    waiting_hours,
    warranty_queue,
)
from .tables import QueuePaginator, QueueTable

# Filters that "Next case" honours; the claim filter is about claimed cases, which it never takes.
NEXT_CASE_FILTERS = ("shop", "kind", "reason", "age")
WARRANTY_PER_PAGE = 50


class ReviewerRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Anonymous users go to the login page; signed-in users who are not reviewers get 403."""

    def test_func(self) -> bool:
        return is_platform_staff(self.request.user)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class QueueView(ReviewerRequiredMixin, ExportMixin, SingleTableMixin, FilterView):
    template_name = "review/queue.html"
    table_class = QueueTable
    filterset_class = QueueFilter
    # Never a full COUNT over the queue: exact up to 10,000 rows, the planner's estimate beyond.
    paginator_class = QueuePaginator
    table_pagination = {"per_page": 25}
    export_class = SafeTableExport
    export_formats = ("csv", "xlsx")

    @cached_property
    def now(self):
        return timezone.now()

    def get_queryset(self):
        return intervention_queue(now=self.now)

    def get_filterset_kwargs(self, filterset_class):
        return {**super().get_filterset_kwargs(filterset_class), "now": self.now}

    def get_table_pagination(self, table):
        if self.request.GET.get(self.export_trigger_param):
            return False  # an export is the whole filtered queue, and needs no page count
        return super().get_table_pagination(table)

    def get_export_filename(self, export_format: str) -> str:
        return f"intervention-queue-{timezone.localtime(self.now):%Y%m%d-%H%M}.{export_format}"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cleaned = getattr(self.filterset.form, "cleaned_data", {})
        context["next_case_filters"] = {name: cleaned[name] for name in NEXT_CASE_FILTERS if cleaned.get(name)}
        context["sla_hours"] = SLA_HOURS
        # Up to 500 <option>s: written in one call, not a template loop (bench/pages.py).
        context["queue_shop_options"] = format_html_join("", '<option value="{}">{}</option>', queue_shops())
        paginator = getattr(context["table"], "paginator", None)
        context["count_is_estimate"] = paginator is not None and paginator.count > paginator.exact_limit
        context["title"] = _("Platform intervention queue")
        return context


def _case_context(request: HttpRequest, pk: int, **forms) -> dict:
    try:
        case = case_for_review(pk=pk)
    except AfterSalesCase.DoesNotExist:
        raise Http404 from None
    user = request.user
    under_intervention = case.state == State.UNDER_INTERVENTION
    evidence = list(case.evidence.all())
    waiting = timezone.now() - case.escalated_at if case.escalated_at else None
    return {
        "case": case,
        "order": case.order,
        "prior_cases": prior_cases(case=case),
        "sides": [
            (side, statement, [e for e in evidence if e.side == side])
            for side, statement in (
                (Evidence.Side.BUYER, case.buyer_statement),
                (Evidence.Side.MERCHANT, case.merchant_statement),
            )
        ],
        "waiting_hours": waiting_hours(waiting),
        "overdue": is_overdue(waiting),
        "under_intervention": under_intervention,
        "claimed_by_me": case.claimed_by_id == user.pk,
        # Only the claimer may rule a claimed case (the domain's rule); an unclaimed one is claimed by ruling it.
        "can_rule": under_intervention and not claimed_by_other(case, user),
        "can_shorten": case.state == State.PENDING_MERCHANT,
        "rule_form": forms.get("rule_form") or RuleForm(),
        "shorten_form": forms.get("shorten_form") or ShortenDeadlineForm(),
        "seen_form": SeenForm.for_case(case),
        "sla_hours": SLA_HOURS,
        "title": _("Case %(case)s · %(state)s") % {"case": case.platform_id, "state": case.get_state_display()},
    }


def _render_case(request: HttpRequest, pk: int, status: int = 200, **forms) -> HttpResponse:
    return render(request, "review/case.html", _case_context(request, pk, **forms), status=status)


class CaseView(ReviewerRequiredMixin, View):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _render_case(request, pk)


class _CaseAction(ReviewerRequiredMixin, View):
    """POST-only action on one case; a refused action comes back as a message, never a 500."""

    http_method_names = ["post"]

    def case(self) -> AfterSalesCase:
        return get_object_or_404(AfterSalesCase, pk=self.kwargs["pk"])

    def back(self, default: str) -> HttpResponseRedirect:
        target = self.request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, {self.request.get_host()}, self.request.is_secure()):
            target = default
        return HttpResponseRedirect(target or default)


class ClaimView(_CaseAction):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        case = self.case()
        try:
            review_services.case_claim(case=case, reviewer=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            return self.back(reverse("review:queue"))
        messages.success(request, _("You claimed case %(case)s.") % {"case": case.platform_id})
        return self.back(reverse("review:case", args=[case.pk]))


class ReleaseView(_CaseAction):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        case = self.case()
        try:
            review_services.case_release(case=case, reviewer=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, _("Case %(case)s is back in the queue.") % {"case": case.platform_id})
        return self.back(reverse("review:queue"))


class NextCaseView(ReviewerRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        data = {name: request.POST[name] for name in NEXT_CASE_FILTERS if request.POST.get(name)}
        filters = None
        if data:
            filterset = QueueFilter(data, queryset=AfterSalesCase.objects.all(), request=request)
            if filterset.is_valid():
                filters = filterset.as_q()
        now = timezone.now()
        try:
            case = review_services.case_claim_next(reviewer=request.user, filters=filters, at=now)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            return redirect("review:queue")
        if case is None:
            messages.info(request, _("No unclaimed case is waiting."))
            return redirect("review:queue")
        if case.claimed_at == now:
            messages.success(request, _("You claimed case %(case)s.") % {"case": case.platform_id})
        else:
            messages.info(
                request,
                _("Case %(case)s is still yours: rule it or release it before you take another.")
                % {"case": case.platform_id},
            )
        return redirect("review:case", pk=case.pk)


class _CaseFormAction(_CaseAction):
    """A case-page form that changes the case: judged by `submit_case_action` like every
    button of the admin's case page, so a stale or raced post is told to reload."""

    form_class: type
    form_name: str  # the name the case page's context gives this form

    def act(self, case: AfterSalesCase, data: dict, seen: Seen) -> None:
        raise NotImplementedError

    def done(self, case: AfterSalesCase) -> tuple[str, str]:
        """The success message and where to go next."""
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        case = self.case()
        form = self.form_class(request.POST)
        result: CaseActionResult = submit_case_action(
            case=case, data=request.POST, form=form, act=lambda data, seen: self.act(case, data, seen)
        )
        if result.outcome is Outcome.DONE:
            message, target = self.done(case)
            messages.success(request, message)
            return HttpResponseRedirect(target)
        if result.outcome is Outcome.CHANGED:
            messages.error(request, result.reason)
            return redirect("review:case", pk=case.pk)
        if result.outcome is Outcome.REFUSED:
            form.add_error(None, result.error)
        return _render_case(request, pk, status=400, **{self.form_name: form})


class RuleView(_CaseFormAction):
    form_class, form_name = RuleForm, "rule_form"

    def act(self, case: AfterSalesCase, data: dict, seen: Seen) -> None:
        # No expected_state to pass: under_intervention is the only source of `rule`, and
        # case_review_rule insists on it under the lock.
        review_services.case_review_rule(
            case=case, reviewer=self.request.user, liable=data["liable"], note=data["note"]
        )

    def done(self, case: AfterSalesCase) -> tuple[str, str]:
        return _("Case %(case)s ruled.") % {"case": case.platform_id}, reverse("review:queue")


class ShortenDeadlineView(_CaseFormAction):
    form_class, form_name = ShortenDeadlineForm, "shorten_form"

    def act(self, case: AfterSalesCase, data: dict, seen: Seen) -> None:
        # Shortening keeps the state: only the moment of the last change tells a page that
        # another reviewer's shortening made stale.
        review_services.case_review_shorten_deadline(
            case=case, reviewer=self.request.user, due_at=data["due_at"], expected_changed_at=seen.changed_at
        )

    def done(self, case: AfterSalesCase) -> tuple[str, str]:
        message = _("The merchant deadline of %(case)s was shortened.") % {"case": case.platform_id}
        return message, reverse("review:case", args=[case.pk])


class FindCaseView(ReviewerRequiredMixin, View):
    """Open any case by its platform id: reviewers also shorten deadlines of pending cases."""

    def get(self, request: HttpRequest) -> HttpResponse:
        platform_id = request.GET.get("case", "").strip()
        case = AfterSalesCase.objects.filter(platform_id=platform_id).only("pk").first() if platform_id else None
        if case is None:
            messages.error(request, _("No case with id “%(case)s”.") % {"case": platform_id})
            return redirect("review:queue")
        return redirect("review:case", pk=case.pk)


# --- national-warranty reports (全国联保, SPEC §6) -------------------------------------------------


class WarrantyQueueView(ReviewerRequiredMixin, View):
    """Reports awaiting a ruling; each links to the violation page, where the ruling is made."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        page = LargeTablePaginator(warranty_queue(), WARRANTY_PER_PAGE).get_page(request.GET.get("page"))
        return render(request, "review/warranty.html", {"page": page, "now": timezone.now()})


class WarrantyReportView(ReviewerRequiredMixin, View):
    """A reviewer enters a buyer's complaint received outside the feed."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(WarrantyReportForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = WarrantyReportForm(request.POST)
        if not form.is_valid():
            return self.render(form)
        ids = form.cleaned_data["orders"]
        found = Order.objects.select_related("shop").in_bulk(ids, field_name="platform_id")
        missing = [i for i in ids if i not in found]
        if missing:
            form.add_error("orders", _("Unknown order %(id)s.") % {"id": missing[0]})
            return self.render(form)
        try:
            violation = violation_services.violation_report(
                platform_id=violation_services.new_violation_id(),
                orders=[found[i] for i in ids],
                reason=form.cleaned_data["reason"],
                complaint=form.cleaned_data["complaint"],
                at=timezone.now(),
                actor=request.user,
                source="review",
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self.render(form)
        messages.success(request, _("Report %(id)s was recorded.") % {"id": violation.platform_id})
        return redirect("compensation:violation", pk=violation.pk)

    def render(self, form: WarrantyReportForm) -> HttpResponse:
        return render(self.request, "review/warranty_report.html", {"form": form})
