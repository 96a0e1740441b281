from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_reviewers_group(using="default", **kwargs):
    # The migration makes the group once; this keeps it after a `flush` (which empties auth_group
    # and then sends post_migrate), as Django keeps its permissions and content types.
    from django.contrib.auth.models import Group

    from .selectors import REVIEWERS_GROUP

    Group.objects.using(using).get_or_create(name=REVIEWERS_GROUP)


class ShopsConfig(AppConfig):
    name = "pddadmin.shops"
    label = "shops"
    verbose_name = _("Shops, goods and orders")

    def ready(self):
        post_migrate.connect(ensure_reviewers_group, sender=self, dispatch_uid="shops.reviewers_group")
