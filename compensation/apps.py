from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CompensationConfig(AppConfig):
    name = "compensation"
    verbose_name = _("Money and national warranty")

    def ready(self) -> None:
        # The automatic charge sources register with the charge engine, and a new shop's books
        # open with it.
        from . import signals  # noqa: F401
        from .services import shipping  # noqa: F401
