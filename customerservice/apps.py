from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomerserviceConfig(AppConfig):
    name = "customerservice"
    verbose_name = _("Customer service")

    def ready(self) -> None:
        # The late-reply fines are an automatic charge source of the money engine (SPEC §6.1).
        from .services import late_reply  # noqa: F401
