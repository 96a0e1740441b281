"""Evidence both sides attach to a dispute (a case or a warranty report): one shape for both."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EvidenceBase(models.Model):
    class Side(models.TextChoices):
        BUYER = "buyer", _("buyer")
        MERCHANT = "merchant", _("merchant")

    side = models.CharField(_("side"), max_length=16, choices=Side.choices)
    url = models.URLField(_("image address"), blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        abstract = True
