from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Open API")

    def ready(self) -> None:
        # drf-spectacular reads the authentication scheme's description from this extension.
        from . import schema  # noqa: F401
