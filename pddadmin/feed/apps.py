from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class FeedConfig(AppConfig):
    name = "pddadmin.feed"
    label = "feed"
    verbose_name = _("Platform feed")

    def ready(self) -> None:
        # Each app declares the event types it owns in its own feed_handlers module.
        autodiscover_modules("feed_handlers")
