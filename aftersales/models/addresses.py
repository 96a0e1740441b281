"""Return addresses (SPEC §3): where buyers send returns. The writes are in services/addresses.py."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.models import Shop
from pddadmin.shops.validators import validate_phone


class ReturnAddress(models.Model):
    # Addresses added in the admin have no platform id; those from the feed keep theirs.
    platform_id = models.CharField(_("address id"), max_length=64, unique=True, null=True, blank=True)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="return_addresses")
    receiver = models.CharField(_("receiver"), max_length=100)
    phone = models.CharField(_("phone"), max_length=32, validators=[validate_phone])
    province = models.CharField(_("province"), max_length=50)
    city = models.CharField(_("city"), max_length=50)
    district = models.CharField(_("district"), max_length=50)
    detail = models.CharField(_("detailed address"), max_length=255)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(_("created at"))
    changed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("return address")
        verbose_name_plural = _("return addresses")
        ordering = ["shop", "-is_default", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shop"], condition=Q(is_default=True), name="one_default_return_address")
        ]

    def __str__(self) -> str:
        return f"{self.receiver} {self.phone} {self.region} {self.detail}"

    @property
    def region(self) -> str:
        return f"{self.province}/{self.city}/{self.district}"
