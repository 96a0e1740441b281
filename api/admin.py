"""API keys in the back-office (SPEC §10): a shop's owner creates a key for the shop with a role,
sees it once, lists the keys with when they were created, last used and revoked, and revokes
them. Only owners see this page; writes go through api.services."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from pddadmin.shops.admin_scope import ShopListFilter, ShopScopedAdminMixin
from pddadmin.shops.selectors import EDIT_SETTINGS_ROLES

from .models import ShopApiKey
from .services import api_key_create, api_key_revoke

# The library's own key model, unscoped and unused (a key here is a shop's ShopApiKey): its admin
# would offer superusers keys that open nothing, under English names.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ShopApiKey
        fields = ["shop", "name", "role"]


@admin.register(ShopApiKey)
class ShopApiKeyAdmin(ShopScopedAdminMixin, admin.ModelAdmin):
    view_roles = edit_roles = EDIT_SETTINGS_ROLES
    form = ApiKeyForm
    list_display = ["name", "shop", "role", "prefix", "created", "last_used_at", "revoked", "revoked_at"]
    list_filter = [ShopListFilter, "role", "revoked"]
    list_select_related = ["shop"]
    readonly_fields = [
        "shop",
        "name",
        "role",
        "prefix",
        "created",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    change_form_template = "api/apikey_change_form.html"
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        return ["shop", "name", "role"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # A key is never edited: its page only shows it (and offers to revoke it).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the call log points at it

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        form = ApiKeyForm(request.POST)
        form.fields["shop"].queryset = self.formfield_for_foreignkey(
            ShopApiKey._meta.get_field("shop"), request
        ).queryset
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)
        key, secret = api_key_create(created_by=request.user, **form.cleaned_data)
        # Shown in this answer only: the key is stored hashed, and a redirect would have to
        # carry it through the session.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": key,
            "secret": secret,
            "title": gettext("API key created"),
        }
        return render(request, "api/apikey_created.html", context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        key = self.get_object(request, object_id)  # another shop's key: 404
        if api_key_revoke(key=key, revoked_by=request.user):
            self.message_user(request, gettext("Key %(name)s revoked.") % {"name": key.name}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:api_shopapikey_change", args=[key.pk]))

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        done = sum(api_key_revoke(key=key, revoked_by=request.user) for key in queryset)
        self.message_user(request, gettext("%(n)d keys revoked.") % {"n": done}, messages.SUCCESS)
