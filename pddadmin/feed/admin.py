"""Imported feed events: the platform's audit of what was applied and what was rejected, and why.
Platform staff only, read-only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.admin_scope import ReadOnlyAdminMixin
from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.selectors import is_platform_staff

from . import registry
from .models import ImportedEvent


class EventTypeFilter(admin.SimpleListFilter):
    """Known types from the registry: a DISTINCT over millions of events would be slow."""

    title = _("type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in registry.event_types()]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


class OutcomeFilter(admin.SimpleListFilter):
    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("applied", _("applied")), ("rejected", _("rejected"))]

    def queryset(self, request, queryset):
        if self.value() == "applied":
            return queryset.filter(rejection="")
        if self.value() == "rejected":
            return queryset.exclude(rejection="")
        return queryset


@admin.register(ImportedEvent)
class ImportedEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_display = ["event_id", "type", "at", "imported_at", "outcome"]
    list_filter = [OutcomeFilter, EventTypeFilter]
    search_fields = ["event_id__exact"]
    search_help_text = _("Event id (exact).")
    ordering = ["-id"]
    sortable_by = []

    @admin.display(description=_("outcome"))
    def outcome(self, obj):
        return _("rejected: %(reason)s") % {"reason": obj.rejection} if obj.rejection else _("applied")

    def has_module_permission(self, request):
        return is_platform_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_staff(request.user)
