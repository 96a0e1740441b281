"""Merchant workbench (商家售后工作台) in the admin: the case list and the case page.

Declarative list; the case page shows one button per transition the FSM allows this user now
(`get_available_user_state_transitions`), and every button posts to `transition_view` with the
case as the user saw it (`case_forms.SeenForm`). `case_forms.submit_case_action` judges the post,
so a case someone else changed meanwhile is refused with "case changed, please reload" instead
of being acted on twice, or answering a stale form with a 500.
"""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pddadmin.moneyfmt import money_column
from pddadmin.shops.admin_scope import ShopListFilter, ShopScopedAdminMixin
from pddadmin.shops.paginator import LargeTablePaginator

from . import case_panels
from .case_forms import Outcome, SeenForm, submit_case_action
from .models import AfterSalesCase, Kind, Liable, ReturnAddress, automatic_transitions, declared_transitions
from .selectors import claimed_by_other
from .services import cases as case_services
from .services.bulk import cases_bulk_act

# --- forms of the transitions that need more than a click -----------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class AddressForm(forms.Form):
    address = forms.ModelChoiceField(label=_("return address"), queryset=ReturnAddress.objects.none(), required=False)

    def __init__(self, *args, case: AfterSalesCase, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["address"]
        field.queryset = ReturnAddress.objects.filter(shop_id=case.shop_id).order_by("-is_default", "id")
        field.initial = field.queryset.filter(is_default=True).values_list("pk", flat=True).first()
        field.empty_label = _("shop default")


class TrackingForm(forms.Form):
    tracking = forms.CharField(label=_("replacement tracking number"), max_length=64)


class RulingForm(forms.Form):
    liable = forms.ChoiceField(label=_("liable party"), choices=Liable.choices)
    note = forms.CharField(label=_("ruling note"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class DeadlineForm(forms.Form):
    due_at = forms.DateTimeField(
        label=_("new merchant deadline"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


def _form_for(kind: str | None, case: AfterSalesCase, data=None):
    if kind is None:
        return None
    if kind == "address":
        # A return or an exchange is agreed with the address the parcel goes back to.
        return AddressForm(data, case=case, prefix="address") if case.kind != Kind.REFUND_ONLY else None
    forms_by_kind = {"reason": ReasonForm, "tracking": TrackingForm, "ruling": RulingForm, "deadline": DeadlineForm}
    return forms_by_kind[kind](data, prefix=kind)


def declared(name: str):
    """The transition `name` as declared, whatever state the case is in now: a posted button is
    parsed by what it was drawn for, so a case that moved on cannot drop the button's fields.
    (Every source of a declared transition shares its `custom`.)"""
    return next(iter(declared_transitions()[name].values()))


# What each button calls: the same services as the feed and the review queue.
SERVICES = {
    "merchant_agree": lambda case, user, seen, data: case_services.case_merchant_agree(
        case=case, actor=user, expected_state=seen.state, address=data.get("address")
    ),
    "merchant_refuse": lambda case, user, seen, data: case_services.case_merchant_refuse(
        case=case, actor=user, expected_state=seen.state, reason=data["reason"]
    ),
    "confirm_refund": lambda case, user, seen, data: case_services.case_confirm_refund(
        case=case, actor=user, expected_state=seen.state
    ),
    "refuse_return": lambda case, user, seen, data: case_services.case_refuse_return(
        case=case, actor=user, expected_state=seen.state, reason=data["reason"]
    ),
    "reship": lambda case, user, seen, data: case_services.case_reship(
        case=case, actor=user, expected_state=seen.state, tracking=data["tracking"]
    ),
    # The claim policy of SPEC §4 holds here too: case_rule refuses a case claimed by someone else.
    "rule": lambda case, user, seen, data: case_services.case_rule(
        case=case, actor=user, expected_state=seen.state, liable=data["liable"], note=data["note"]
    ),
    "shorten_deadline": lambda case, user, seen, data: case_services.case_shorten_deadline(
        case=case, actor=user, due_at=data["due_at"], expected_changed_at=seen.changed_at
    ),
}


def available_transitions(case: AfterSalesCase, user, now: dt.datetime | None = None) -> list:
    """The transitions this user may take on this case now, as the FSM declares them.

    A case whose deadline has passed offers none: its automatic transition comes first (the
    lazy rule), so any click would only meet a changed case. Nor is a case claimed by another
    reviewer offered for ruling: `case_rule` would refuse it.
    """
    now = now or timezone.now()
    if case.due_at is not None and case.due_at <= now and case.state in automatic_transitions():
        return []
    return [
        spec
        for spec in case.get_available_user_state_transitions(user)
        if not (spec.name == "rule" and claimed_by_other(case, user))
    ]


def time_left(case: AfterSalesCase, now: dt.datetime | None = None) -> str:
    if case.due_at is None or case.state not in automatic_transitions():
        return "—"
    seconds = int((case.due_at - (now or timezone.now())).total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    text = gettext("%(h)dh %(m)02dm") % {"h": hours, "m": minutes}
    return gettext("overdue %(time)s") % {"time": text} if seconds < 0 else text


class DeadlineFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("6h", _("within 6 hours")), ("24h", _("within 24 hours")), ("overdue", _("overdue"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        waiting = queryset.filter(state__in=list(automatic_transitions()))
        if self.value() == "overdue":
            return waiting.filter(due_at__lte=now)
        if self.value() in ("6h", "24h"):
            hours = 6 if self.value() == "6h" else 24
            return waiting.filter(due_at__gt=now, due_at__lte=now + dt.timedelta(hours=hours))
        return queryset


@admin.register(AfterSalesCase)
class CaseAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    # State and time left first: the merchant works down the deadlines.
    list_display = [
        "platform_id",
        "state_display",
        "time_left_display",
        "order_id_display",
        "kind",
        "reason",
        money_column(AfterSalesCase, "amount"),
        "shop",
        "opened_at",
    ]
    list_filter = ["state", "kind", "reason", ShopListFilter, DeadlineFilter]
    list_select_related = ["shop", "order"]
    search_fields = ["platform_id__exact", "order__platform_id__exact"]
    search_help_text = _("Case id or order id")
    ordering = [F("due_at").asc(nulls_last=True), "-id"]
    paginator = LargeTablePaginator
    actions = ["agree_selected"]

    # --- list columns --------------------------------------------------------------------
    @admin.display(description=_("order"), ordering="order__platform_id")
    def order_id_display(self, case):
        return case.order.platform_id

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, case):
        return format_html('<span class="case-state case-{}">{}</span>', case.state, case.get_state_display())

    @admin.display(description=_("time left"), ordering="due_at")
    def time_left_display(self, case):
        text = time_left(case)
        overdue = case.due_at is not None and text.startswith(gettext("overdue"))
        return format_html('<span class="{}">{}</span>', "case-overdue" if overdue else "", text)

    # --- no adding or deleting: cases come from buyers, and the log must stay ----------------
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("agree_selected", None)
        return actions

    # --- the case page ---------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/transition/<str:name>/",
                self.admin_site.admin_view(self.transition_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_transition",
            ),
            *super().get_urls(),
        ]

    def _case(self, request, object_id) -> AfterSalesCase:
        case = self.get_object(request, object_id)  # scoped: another shop's case is a 404
        if not self.has_view_permission(request, case):
            raise Http404
        return case

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self._case(request, object_id)
        return self._render_case(request, case)

    def _render_case(self, request, case, bound: dict | None = None):
        case = (
            AfterSalesCase.objects.select_related("order", "order__goods", "shop", "refund", "claimed_by")
            .filter(pk=case.pk)
            .first()
        )
        buttons = []
        for spec in available_transitions(case, request.user):
            if spec.name not in SERVICES:
                continue
            form = (bound or {}).get(spec.name) or _form_for(spec.custom.get("form"), case)
            buttons.append({"name": spec.name, "label": spec.custom.get("label", spec.name), "form": form})
        seen = SeenForm.for_case(case)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("After-sales case %(case)s") % {"case": case.platform_id},
            "case": case,
            "order": case.order,
            "refund": getattr(case, "refund", None),
            "time_left": time_left(case),
            "transitions": case.transitions.select_related("actor").order_by("at", "id"),
            "evidence": case.evidence.all(),
            "buttons": buttons,
            "seen_form": seen,
            "has_view_permission": True,
            # Panels of the apps above (metrics' figures): case_panels says why they are not here.
            "panels": case_panels.render_panels(
                request=request,
                case=case,
                actions=[case_panels.Action(b["name"], b["label"]) for b in buttons],
            ),
        }
        return render(request, "aftersales/case_detail.html", context)

    def transition_view(self, request, object_id, name):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case(request, object_id)
        if name not in SERVICES:
            raise Http404
        spec = declared(name)
        form = _form_for(spec.custom.get("form"), case, request.POST)
        result = submit_case_action(
            case=case,
            data=request.POST,
            form=form,
            act=lambda data, seen: SERVICES[name](case, request.user, seen, data),
        )
        if result.outcome is Outcome.INVALID:
            messages.error(request, gettext("Please correct the form below."))
            return self._render_case(request, case, bound={name: form})
        result.report(request, done=gettext("Done: %(action)s.") % {"action": spec.custom.get("label", name)})
        return HttpResponseRedirect(
            reverse("admin:aftersales_aftersalescase_change", args=[case.pk], current_app=self.admin_site.name)
        )

    # --- bulk agree ------------------------------------------------------------------------
    @admin.action(description=_("Agree to the selected cases"), permissions=["change"])
    def agree_selected(self, request, queryset):
        """Each case on its own (`cases_bulk_act`): one refusal does not stop the others, and the
        report names each skipped case with the reason that fits it."""
        outcomes = cases_bulk_act(cases=queryset.order_by("pk"), name="merchant_agree", actor=request.user)
        failed = [f"{o.case}: {o.message}" for o in outcomes if not o.done]
        done = len(outcomes) - len(failed)
        if done:
            self.message_user(request, gettext("Agreed %(n)d cases.") % {"n": done}, messages.SUCCESS)
        if failed:
            self.message_user(
                request,
                gettext("%(n)d not agreed: %(list)s") % {"n": len(failed), "list": " | ".join(failed)},
                messages.ERROR,
            )
