"""The after-sales desk (售后工作台, issue #18): merchant staff's home page.

Counters that are also filters (`desk_selectors.FILTERS`), the filter's cases under them with the
least time left first, one-click actions on a row where the transition needs no input, and bulk
actions over the ticked rows. Thin: `desk_selectors` reads; a row's click goes through
`case_forms.submit_case_action` and the case page's own `SERVICES` (so a stale row is told to
reload, as on the case page), a bulk action through `services.bulk.cases_bulk_act`.

Viewers and platform staff read the same desk without any button, and their posts are refused.
"""

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from pddadmin.moneyfmt import yuan
from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.selectors import EDIT_CASES_ROLES, handles_cases, is_platform_staff, shop_roles, visible_to

from . import desk_selectors as selectors
from .case_admin import SERVICES, time_left
from .case_forms import SeenForm, submit_case_action
from .models import Actor, AfterSalesCase, Kind, declared_transitions, transition_labels
from .services.bulk import cases_bulk_act

PER_PAGE = 50
REPORT_KEY = "aftersales_desk_report"  # the last bulk action's per-case report, shown once
BULK_ACTIONS = ("merchant_agree", "merchant_refuse", "confirm_refund")


@dataclass(frozen=True)
class RowAction:
    name: str
    label: str
    click: bool  # one click from the row; else the row links to the case page's form


def _merchant_transitions(state: str) -> list:
    return [
        by_source[state]
        for by_source in declared_transitions().values()
        if state in by_source and by_source[state].custom.get("actor") == Actor.MERCHANT
    ]


def row_actions(case: AfterSalesCase) -> list[RowAction]:
    """The merchant transitions declared from the case's state, each either one click (it needs
    no input: agreeing a refund, or a return with the shop's default address; confirming a
    refund) or a link to the case page, where its form is."""
    actions = []
    for spec in _merchant_transitions(case.state):
        form = spec.custom.get("form")
        # The FSM's conditions decide what is offered (reship is an exchange's only). Agreeing's one
        # condition, a return address, reads the database: the list's annotation answers it instead.
        if form != "address" and not all(condition(case) for condition in spec.conditions):
            continue
        no_input = form is None or (form == "address" and (case.kind == Kind.REFUND_ONLY or case.has_default_address))
        actions.append(
            RowAction(spec.name, str(spec.custom.get("label", spec.name)), no_input and spec.name in SERVICES)
        )
    return actions


def _declared_form(name: str) -> str | None:
    return next(iter(declared_transitions()[name].values())).custom.get("form")


def _case_url(case: AfterSalesCase) -> str:
    return reverse("admin:aftersales_aftersalescase_change", args=[case.pk])


def _filter_key(value: str) -> str:
    keys = {f.key for f in selectors.FILTERS}
    return value if value in keys else selectors.DEFAULT_FILTER


def _can_act(user) -> bool:
    """Owner or agent of at least one shop: the desk's buttons and posts are theirs only."""
    return not is_platform_staff(user) and any(role in EDIT_CASES_ROLES for role in shop_roles(user).values())


def _desk_url(key: str, page: str = "") -> str:
    query = {"filter": key, **({"page": page} if page and page.isdigit() else {})}
    return f"{reverse('aftersales_desk:desk')}?{urlencode(query)}"


def _seen_inputs(case: AfterSalesCase) -> str:
    """`SeenForm.for_case(case)`'s hidden fields as the form renders them (its fields in order, no
    id), written out: a form per row (its fields deep-copied, each widget through a template) was
    a third of the desk's Python time (bench/pages.py)."""
    initial = SeenForm.for_case_initial(case)
    return format_html_join(
        "", '<input type="hidden" name="{}" value="{}">', ((name, initial[name]) for name in SeenForm.base_fields)
    )


def _labels() -> dict[str, dict[str, str]]:
    """Each shown choice field's labels in the request's language, read once per page (the model's
    get_<field>_display rebuilds and hashes its whole choice list on every call)."""
    return {
        name: {value: str(label) for value, label in AfterSalesCase._meta.get_field(name).flatchoices}
        for name in ("state", "kind", "reason")
    }


def _rows(cases: list[AfterSalesCase], *, user, now: dt.datetime) -> list[dict]:
    rows = []
    labels = _labels()
    for case in cases:
        left = case.due_at - now if case.due_at is not None else None
        editable = handles_cases(user, case.shop_id)  # roles are read once per request
        rows.append(
            {
                "case": case,
                "url": _case_url(case),
                "time_left": time_left(case, now),
                "urgent": left is not None
                and case.state in selectors.MERCHANT_WAITING
                and left < selectors.URGENT_WITHIN,
                "actions": row_actions(case) if editable else [],
                "editable": editable,
                "seen": _seen_inputs(case),
                # As get_<field>_display says them: the label, or the stored value when it has none.
                "state": labels["state"].get(case.state, case.state),
                "kind": labels["kind"].get(case.kind, case.kind),
                "reason": labels["reason"].get(case.reason, case.reason),
            }
        )
    return rows


def _row_html(row: dict, *, can_act: bool, several_shops: bool, key: str, page: int, csrf: str) -> str:
    """One row of the desk's list, as the template wrote it (the same bytes, asserted by
    tests/aftersales/test_desk.py), in Python: 50 rows of template tags were half the page's
    Python time (bench/pages.py)."""
    case = row["case"]
    due = timezone.localtime(case.due_at).isoformat() if case.due_at is not None else ""
    cells = [
        format_html(
            '\n    <tr data-case="{}" data-url="{}" data-due="{}"{}>\n      ',
            case.pk,
            row["url"],
            due,
            mark_safe(' class="desk-urgent"') if row["urgent"] else "",
        )
    ]
    if can_act:
        tick = (
            format_html(
                '<input type="checkbox" name="case" value="{}" form="desk-bulk" aria-label="{}">',
                case.pk,
                case.platform_id,
            )
            if row["editable"]
            else ""
        )
        cells.append(format_html('<td class="desk-tick">{}</td>', tick))
    cells.append(
        format_html(
            '\n      <td><a href="{}" class="desk-open">{}</a><div class="desk-state">{}</div></td>\n      ',
            row["url"],
            case.platform_id,
            row["state"],
        )
    )
    if several_shops:
        cells.append(format_html('<td class="desk-text desk-shop" title="{}">{}</td>', case.shop.name, case.shop.name))
    goods = case.order.goods.name
    cells.append(
        format_html(
            '\n      <td class="desk-num desk-left">{}</td>'
            '\n      <td class="desk-text">{}<div class="desk-state" title="{}">{}</div></td>'
            '\n      <td class="desk-num">{}</td>'
            '\n      <td class="desk-text" title="{}">{}</td>'
            '\n      <td class="desk-text desk-statement" title="{}">{}</td>\n      ',
            row["time_left"],
            row["kind"],
            row["reason"],
            row["reason"],
            yuan(case.amount),
            goods,
            goods,
            case.buyer_statement,
            case.buyer_statement or "—",
        )
    )
    if can_act:
        act_url = reverse("aftersales_desk:act", args=[case.pk]) if any(a.click for a in row["actions"]) else ""
        buttons = [
            format_html(
                '<form method="post" action="{}"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
                '<input type="hidden" name="action" value="{}">{}<input type="hidden" name="filter" value="{}">'
                '<input type="hidden" name="page" value="{}"><button type="submit" class="button" data-action="{}">'
                "{}</button></form>",
                act_url,
                csrf,
                action.name,
                row["seen"],
                key,
                page,
                action.name,
                action.label,
            )
            if action.click
            else format_html(
                '<a href="{}#case-actions" class="desk-form-link" data-action="{}">{}…</a>',
                row["url"],
                action.name,
                action.label,
            )
            for action in row["actions"]
        ]
        cells.append(format_html('<td class="desk-actions">{}</td>', mark_safe("".join(buttons))))
    cells.append(mark_safe("\n    </tr>\n  "))
    return mark_safe("".join(cells))


@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (shop_roles(user) or is_platform_staff(user)):
        raise PermissionDenied(_("You are not staff of any shop."))
    now = timezone.now()
    key = _filter_key(request.GET.get("filter", ""))
    counts = selectors.desk_counts(user=user, now=now)
    paginator = LargeTablePaginator(selectors.desk_cases(user=user, key=key, now=now), PER_PAGE)
    if counts[key] <= paginator.exact_limit:
        # The counter counted the list's own condition exactly: the paginator's bounded count of
        # the same rows would say the same number (a query and a second pass over them).
        paginator.count = counts[key]
    page = paginator.get_page(request.GET.get("page"))
    counters = [
        {"key": f.key, "label": f.label, "count": counts[f.key], "active": f.key == key} for f in selectors.FILTERS
    ]
    can_act = _can_act(user)
    several_shops = selectors.several_shops(user=user)
    rows = _rows(list(page.object_list), user=user, now=now)
    csrf = get_token(request) if can_act else ""
    for row in rows:
        row["html"] = _row_html(row, can_act=can_act, several_shops=several_shops, key=key, page=page.number, csrf=csrf)
    return render(
        request,
        "aftersales/desk.html",
        {
            "title": _("After-sales desk"),
            "counters": counters,
            "filter": key,
            "page": page,
            "rows": rows,
            "several_shops": several_shops,
            "can_act": can_act,
            "bulk_actions": [(name, transition_labels()[name]) for name in BULK_ACTIONS] if can_act else [],
            "report": request.session.pop(REPORT_KEY, None),
            "now": now,
        },
    )


def _back(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(_desk_url(_filter_key(request.POST.get("filter", "")), request.POST.get("page", "")))


@login_required
@require_POST
def act(request: HttpRequest, pk: int) -> HttpResponse:
    """One row's click: the case page's service, judged against the row as the desk showed it.
    The transition is the posted `action` (the project's urls capture database pks only)."""
    name = request.POST.get("action", "")
    case = selectors.desk_scope(user=request.user).filter(pk=pk).first()
    if case is None:
        raise Http404
    if not handles_cases(request.user, case.shop_id):
        raise PermissionDenied(_("You may only read this shop's cases."))
    # One click carries no fields: only a transition without a form, or an agreement (a return
    # then goes to the shop's default address), is taken from a row.
    if name not in SERVICES or _declared_form(name) not in (None, "address"):
        raise Http404
    label = transition_labels()[name]
    result = submit_case_action(
        case=case,
        data=request.POST,
        form=None,  # one click: a return is agreed with the shop's default address
        act=lambda data, seen: SERVICES[name](case, request.user, seen, data),
    )
    result.report(request, done=_("%(case)s: %(action)s done.") % {"case": case.platform_id, "action": label})
    return _back(request)


class _CaseIds(forms.TypedMultipleChoiceField):
    """Case pks as posted; which of them the user may act on is the scope's to say, not a list."""

    def valid_value(self, value) -> bool:
        return str(value).isascii() and str(value).isdigit()


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(name, name) for name in BULK_ACTIONS])
    case = _CaseIds(
        coerce=int, label=gettext_lazy("cases"), error_messages={"required": gettext_lazy("Tick the cases first.")}
    )
    reason = forms.CharField(required=False, max_length=2000, label=gettext_lazy("reason"))

    def clean(self):
        data = super().clean()
        if data.get("action") == "merchant_refuse" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("A refusal needs a reason."))
        return data


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """A bulk action over the ticked rows: each case on its own, a report line per case."""
    user = request.user
    if not _can_act(user):
        raise PermissionDenied(_("You may only read after-sales cases."))
    form = BulkForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back(request)
    ids = form.cleaned_data["case"]
    # Only the cases of shops where the user handles cases: another shop's id is never acted on.
    cases = list(
        visible_to(AfterSalesCase.objects.all(), user=user, roles=EDIT_CASES_ROLES)
        .filter(pk__in=ids)
        .order_by("due_at", "pk")
    )
    outcomes = cases_bulk_act(
        cases=cases,
        name=form.cleaned_data["action"],
        actor=user,
        fields={"reason": form.cleaned_data["reason"].strip()},
    )
    missing = len(set(ids)) - len(cases)
    request.session[REPORT_KEY] = {
        "action": str(transition_labels()[form.cleaned_data["action"]]),
        "done": sum(o.done for o in outcomes),
        "skipped": sum(not o.done for o in outcomes),
        "missing": missing,
        "lines": [{"pk": o.pk, "case": o.case, "done": o.done, "message": o.message} for o in outcomes],
    }
    return _back(request)
