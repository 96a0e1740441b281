from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Service quality")

    def ready(self) -> None:
        # The case page is aftersales', which may not import metrics (a layer above it): metrics
        # adds its panel there instead.
        from aftersales import case_panels

        from .case_impact import case_panel

        case_panels.register(case_panel)
