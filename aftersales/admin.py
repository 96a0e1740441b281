"""After-sales admin: return addresses (SPEC §3), whose writes call aftersales.services.addresses,
and the shop list's "after-sales info missing" flag; the case pages are in case_admin."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pddadmin.shops import admin as shops_admin
from pddadmin.shops.admin_scope import ShopListFilter, ShopScopedAdminMixin
from pddadmin.shops.models import Shop
from pddadmin.shops.selectors import EDIT_SETTINGS_ROLES

from .models import ReturnAddress
from .selectors import shops_with_info_missing
from .services import addresses as address_services


class ReturnAddressForm(forms.ModelForm):
    # Not the model field: validating `is_default` against the one-default constraint would
    # refuse a second default, while the service moves the default in the same transaction.
    make_default = forms.BooleanField(
        label=_("default"), required=False, help_text=_("The shop's first address is always the default.")
    )

    class Meta:
        model = ReturnAddress
        fields = ["shop", *address_services.ADDRESS_FIELDS]


@admin.register(ReturnAddress)
class ReturnAddressAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    """Owners keep the address book; agents and viewers read it."""

    edit_roles = EDIT_SETTINGS_ROLES
    form = ReturnAddressForm
    list_display = ["receiver", "phone", "region", "detail", "shop", "is_default"]
    list_display_links = ["receiver"]
    list_filter = [ShopListFilter, "is_default"]
    list_select_related = ["shop"]
    search_fields = ["receiver", "phone__exact"]
    actions = ["make_default"]

    def get_fields(self, request, obj=None):
        fields = ["shop", *address_services.ADDRESS_FIELDS]
        if obj is None:
            return [*fields, "make_default"]
        return [*fields, "is_default", "platform_id", "created_at", "changed_at"]

    def get_readonly_fields(self, request, obj=None):
        # The default moves only through "set as default", so there is always exactly one.
        return [] if obj is None else ["shop", "is_default", "platform_id", "created_at", "changed_at"]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The default address cannot go (there is always one): its page offers no button that can
        # only fail. A delete asked for anyway (an old tab, a bulk action) is refused with the reason.
        if obj is not None and obj.is_default:
            context["show_delete"] = False
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description=_("region"))
    def region(self, obj):
        return obj.region

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in address_services.ADDRESS_FIELDS}
        if change:
            address_services.address_update(address=obj, **fields)
            return
        created = address_services.address_add(shop=obj.shop, default=form.cleaned_data["make_default"], **fields)
        # The admin logs and redirects with `obj`: make it the row the service created.
        for name in ["pk", "is_default", "created_at", "changed_at", *address_services.ADDRESS_FIELDS]:
            setattr(obj, name, getattr(created, name))

    def delete_model(self, request, obj):
        address_services.address_delete(address=obj)

    def delete_queryset(self, request, queryset):
        # Runs inside the mixin's atomic bulk delete: one refusal keeps every selected address.
        for address in queryset.select_related("shop"):
            address_services.address_delete(address=address)

    @admin.action(description=_("Set as the default return address"), permissions=["change"])
    def make_default(self, request, queryset):
        addresses = list(queryset[:2])
        if len(addresses) != 1:
            self.message_user(request, _("Select exactly one address to make it the default."), messages.ERROR)
            return
        (address,) = addresses
        if not self.has_change_permission(request, address):
            self.message_user(request, _("Only the shop's owners can change its return addresses."), messages.ERROR)
            return
        # A refusal (ValidationError) becomes an error message through the mixin.
        address_services.address_set_default(address=address)
        self.message_user(
            request,
            gettext("“%(address)s” is now the default return address.") % {"address": address},
            messages.SUCCESS,
        )


class InfoMissingFilter(admin.SimpleListFilter):
    title = _("after-sales info missing")
    parameter_name = "info_missing"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(info_missing=self.value() == "1")
        return queryset


class ShopAdmin(shops_admin.ShopAdmin):
    """The shops' page with the flag SPEC §3 asks for: no hotline or no return address (售后信息缺失).
    Registered in place of the shops app's own, which cannot see return addresses."""

    list_display = ["platform_id", "name", "hotline", "info_missing", "deposit", "balance", "opened_at"]
    list_filter = [InfoMissingFilter]

    def get_queryset(self, request):
        return shops_with_info_missing(super().get_queryset(request))

    @admin.display(boolean=True, description=_("after-sales info missing"), ordering="info_missing")
    def info_missing(self, obj):
        return obj.info_missing


admin.site.unregister(Shop)
admin.site.register(Shop, ShopAdmin)

from . import case_admin  # noqa: E402,F401
