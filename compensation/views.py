"""Merchant pages (violations, payouts, account statements); the reviewers' warranty tab is in `review`.

Thin: selectors read, services write; merchant staff see their shops, reviewers every shop.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from pddadmin.exports import download
from pddadmin.shops.paginator import LargeTablePaginator

from . import selectors
from .forms import ExplanationForm, RulingForm
from .models import Account, ViolationState
from .services import violations as services

PER_PAGE = 50


def _page(request: HttpRequest, qs):
    return LargeTablePaginator(qs, PER_PAGE).get_page(request.GET.get("page"))


@login_required
def violation_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.violations_for(request.user)
    state = request.GET.get("state")
    if state in ViolationState.values:
        qs = qs.filter(state=state)
    return render(request, "compensation/violation_list.html", {
        "page": _page(request, qs), "states": ViolationState.choices, "state": state,
    })


@login_required
def violation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    violation = get_object_or_404(selectors.violations_for(request.user), pk=pk)
    now = timezone.now()
    actions = selectors.violation_actions(violation=violation, user=request.user)
    explanation_form = ExplanationForm(initial={"text": violation.explanation})
    ruling_form = RulingForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "explain":
                explanation_form = ExplanationForm(request.POST, request.FILES)
                if explanation_form.is_valid():
                    services.violation_explain(violation=violation, actor=request.user, at=now,
                                               **explanation_form.cleaned_data)
                    messages.success(request, _("Your explanation was saved."))
                    return redirect("compensation:violation", pk=violation.pk)
            elif action == "rule":
                ruling_form = RulingForm(request.POST)
                if ruling_form.is_valid():
                    services.violation_rule(violation=violation, actor=request.user, at=now,
                                            **ruling_form.cleaned_data)
                    messages.success(request, _("The ruling was recorded."))
                    return redirect("review:warranty")
            else:
                raise Http404
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("compensation:violation", pk=violation.pk)
    return render(request, "compensation/violation_detail.html", {
        "violation": violation,
        "lines": violation.lines.select_related("order__goods", "payout").order_by("position"),
        "evidence": violation.evidence.all(),
        "log": violation.log.select_related("actor"),
        "actions": actions,
        "explanation_form": explanation_form,
        "ruling_form": ruling_form,
    })


@login_required
def payout_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.payouts_for(request.user)
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return download(selectors.payout_rows(qs), columns=selectors.PAYOUT_COLUMNS, fmt=fmt, filename=f"payouts.{fmt}")
    return render(request, "compensation/payout_list.html", {"page": _page(request, qs)})


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = selectors.accounts_for(request.user)
    return render(request, "compensation/account_list.html", {"page": _page(request, accounts)})


@login_required
def account_statement(request: HttpRequest, pk: int) -> HttpResponse:
    account: Account = get_object_or_404(selectors.accounts_for(request.user), pk=pk)
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        name = f"statement-{account.shop.platform_id}-{account.kind}"
        return download(selectors.statement_rows(account=account), columns=selectors.STATEMENT_COLUMNS, fmt=fmt,
                        filename=f"{name}.{fmt}")
    return render(request, "compensation/account_statement.html", {
        "account": account, "page": _page(request, selectors.statement(account=account)),
    })
