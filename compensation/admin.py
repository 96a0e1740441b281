"""Read-only admin for the warranty ledger: money changes only through the services."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pddadmin.moneyfmt import money_column
from pddadmin.shops.admin_scope import ReadOnlyAdminMixin, ShopListFilter, ShopScopedAdminMixin
from pddadmin.shops.paginator import LargeTablePaginator

from . import selectors
from .models import Account, Charge, Coupon, Credit, Entry, LedgerTransaction, Violation, ViolationLog, ViolationOrder

COUPON_SCOPES = {"platform": _("platform-wide")}


class ViolationOrderInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ViolationOrder
    fields = ["position", "order", "active"]
    readonly_fields = fields
    extra = 0


class ViolationLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ViolationLog
    fields = ["at", "action_shown", "from_state", "to_state", "actor", "source_shown", "note"]
    readonly_fields = fields
    extra = 0

    @admin.display(description=pgettext_lazy("history", "action"))
    def action_shown(self, obj):
        return obj.action_label

    @admin.display(description=_("source"))
    def source_shown(self, obj):
        return obj.source_label


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["platform_id", "shop", "reason", "state", "reported_at", "explanation_due_at", "ruled_at", "page"]
    list_filter = [ShopListFilter, "state", "reason"]
    list_select_related = ["shop"]
    search_fields = ["platform_id"]
    date_hierarchy = "reported_at"
    paginator = LargeTablePaginator
    inlines = [ViolationOrderInline, ViolationLogInline]

    @admin.display(description=_("page"))
    def page(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("compensation:violation", args=[obj.pk]), _("open"))


CHARGE_MONEY = ["amount", "from_deposit", "from_balance", "arrears"]
CREDIT_MONEY = ["amount", "to_arrears", "credited"]


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["kind", "cause", "shop", "buyer", *(money_column(Charge, f) for f in CHARGE_MONEY), "at"]
    list_filter = [ShopListFilter, "kind"]
    list_select_related = ["shop"]
    search_fields = ["cause", "buyer", "order__platform_id", "message"]
    date_hierarchy = "at"
    paginator = LargeTablePaginator


@admin.register(Credit)
class CreditAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["kind", "shop", *(money_column(Credit, f) for f in CREDIT_MONEY), "at", "source", "reference"]
    list_filter = [ShopListFilter, "kind", "source"]
    list_select_related = ["shop"]
    search_fields = ["reference"]
    date_hierarchy = "at"
    paginator = LargeTablePaginator


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "charge__shop"
    list_display = [
        "code",
        "buyer",
        money_column(Coupon, "face_value"),
        money_column(Coupon, "min_spend"),
        "issued_at",
        "expires_at",
        "status",
    ]
    search_fields = ["code", "buyer"]
    paginator = LargeTablePaginator
    exclude = ["scope"]  # a stored word ("platform"); said in the reader's language by scope_shown
    readonly_fields = ["scope_shown"]

    @admin.display(description=_("scope"))
    def scope_shown(self, obj):
        return COUPON_SCOPES.get(obj.scope, obj.scope)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["__str__", "kind", money_column(Account, "balance"), "statement"]
    list_filter = [ShopListFilter, "kind"]
    list_select_related = ["shop"]

    @admin.display(description=_("statement"))
    def statement(self, obj):
        if obj.shop_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("compensation:statement", args=[obj.pk]), _("open"))


class EntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Entry
    fields = ["account", "amount", "at"]
    readonly_fields = fields
    extra = 0


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["id", "kind", "shop", "at", "memo_shown"]
    list_filter = [ShopListFilter, "kind"]
    list_select_related = ["shop", "charge__violation", "charge__order", "credit"]
    exclude = ["memo"]  # the stored text is in the language of its writer; memo_shown says it again
    readonly_fields = ["memo_shown"]
    paginator = LargeTablePaginator
    inlines = [EntryInline]

    @admin.display(description=_("memo"))
    def memo_shown(self, obj):
        return selectors.memo_shown(obj)
