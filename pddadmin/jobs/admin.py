from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.selectors import is_platform_admin

from .models import JobRun
from .runner import JOBS


class JobFilter(admin.SimpleListFilter):
    """The known jobs from the runner: a DISTINCT over a history that grows every minute would be slow."""

    title = _("job")
    parameter_name = "job"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(JOBS)]

    def queryset(self, request, queryset):
        return queryset.filter(job=self.value()) if self.value() else queryset


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """Read-only history; the overview is /jobs/."""

    list_display = ("job", "started_at", "duration", "outcome", "summary")
    list_filter = (JobFilter, "outcome")
    date_hierarchy = "started_at"
    paginator = LargeTablePaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return is_platform_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_admin(request.user)
