"""Admin for shops, staff, goods and orders. Declarative; every write goes through services."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from pddadmin.moneyfmt import money_column

from . import services
from .admin_scope import ReadOnlyAdminMixin, ShopListFilter, ShopScopedAdminMixin
from .models import Goods, Order, Shop, ShopMembership
from .paginator import LargeTablePaginator
from .selectors import EDIT_SETTINGS_ROLES


@admin.register(Shop)
class ShopAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    """Shops come from the platform feed; owners keep only the after-sales hotline here.

    Apps above extend this page with what they own (aftersales adds the "after-sales info
    missing" flag, which needs its return addresses) by registering a subclass in its place.
    """

    shop_path = "pk"
    edit_roles = EDIT_SETTINGS_ROLES
    list_display = ["platform_id", "name", "hotline", "deposit", "balance", "opened_at"]
    search_fields = ["platform_id__exact", "name"]
    fields = ["platform_id", "name", "hotline", "deposit", "balance", "opened_at", "changed_at"]
    readonly_fields = ["platform_id", "name", "deposit", "balance", "opened_at", "changed_at"]

    def has_add_permission(self, request):
        return False  # shops open through the platform feed (shop.opened)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.shop_set_hotline(shop=obj, hotline=form.cleaned_data["hotline"])


class MembershipForm(forms.ModelForm):
    """Staff are named by username: a select of every account would list other shops' staff."""

    username = forms.CharField(label=_("username"), max_length=150)

    class Meta:
        model = ShopMembership
        fields = ["shop", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["username"].initial = self.instance.user.get_username()
            self.fields["username"].disabled = True

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("no active user named “%(name)s”"), params={"name": username})
        self.instance.user = user
        return username


@admin.register(ShopMembership)
class ShopMembershipAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    """Only a shop's owners see and manage its staff."""

    view_roles = EDIT_SETTINGS_ROLES
    edit_roles = EDIT_SETTINGS_ROLES
    form = MembershipForm
    list_display = ["user", "shop", "role"]
    list_filter = [ShopListFilter, "role"]
    list_select_related = ["user", "shop"]
    search_fields = ["user__username"]

    def get_fields(self, request, obj=None):
        return ["shop", "username", "role"]

    def get_readonly_fields(self, request, obj=None):
        return ["shop"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        services.membership_set(shop=obj.shop, user=obj.user, role=obj.role)

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.membership_remove(membership=membership)


@admin.register(Goods)
class GoodsAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    """Goods come from the platform; an owner may switch 全国联保 unless it is mandatory."""

    edit_roles = EDIT_SETTINGS_ROLES
    paginator = LargeTablePaginator
    list_display = ["platform_id", "name", "shop", "category", "special", "warranty", "warranty_mandatory"]
    list_filter = [ShopListFilter, "warranty", "warranty_mandatory", "special"]
    list_select_related = ["shop"]
    search_fields = ["platform_id__exact", "name__istartswith"]
    search_help_text = _("Goods id (exact) or the beginning of the name.")
    fields = [
        "platform_id", "shop", "name", "category", "special", "warranty", "warranty_mandatory", "listed_at",
        "changed_at",
    ]  # fmt: skip
    readonly_fields = [
        "platform_id", "shop", "name", "category", "special", "warranty_mandatory", "listed_at", "changed_at",
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        # Mandatory 全国联保 cannot be switched off (SPEC §6.2): a box that can only be refused is a trap.
        if obj is not None and obj.warranty_mandatory:
            return [*self.readonly_fields, "warranty"]
        return self.readonly_fields

    def has_add_permission(self, request):
        return False  # goods are listed through the platform feed (goods.listed)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "warranty" in form.changed_data:
            services.goods_set_warranty(goods=obj, warranty=form.cleaned_data["warranty"])


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    """Orders are the platform's: read-only for everyone, and cheap to list on millions of rows."""

    paginator = LargeTablePaginator
    list_display = [
        "platform_id", "shop", "goods", "buyer", money_column(Order, "amount"),
        "placed_at", "grouped_at", "shipped_at", "received_at",
        "warranty",
    ]  # fmt: skip
    list_select_related = ["shop", "goods"]
    list_filter = [ShopListFilter]
    # Exact matches only: they use the unique/indexed columns; `%contains%` would scan millions.
    search_fields = ["platform_id__exact", "buyer__exact"]
    search_help_text = _("Order id or buyer id (exact).")
    ordering = ["-placed_at"]
    # Sorting by an unindexed column would sort the whole table; placed_at has an index.
    sortable_by = ["placed_at"]
