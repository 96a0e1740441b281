from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomerserviceConfig(AppConfig):
    name = "customerservice"
    verbose_name = _("Customer service")
