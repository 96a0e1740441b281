from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from pddadmin.shops.selectors import is_platform_admin

from .selectors import job_statuses


class PlatformAdminRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Platform admins are superusers; other signed-in users get 403, anonymous ones the login."""

    def test_func(self) -> bool:
        return is_platform_admin(self.request.user)


class JobStatusView(PlatformAdminRequiredMixin, TemplateView):
    template_name = "jobs/status.html"

    def get_context_data(self, **kwargs):
        statuses = job_statuses(now=timezone.now())
        failures = sorted((run for s in statuses for run in s.failures), key=lambda r: r.started_at, reverse=True)
        return super().get_context_data(
            title=_("Scheduled jobs"),
            statuses=statuses,
            failing=[s for s in statuses if s.failing],
            failures=failures,
            **kwargs,
        )
