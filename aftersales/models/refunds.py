"""Refunds (SPEC §2.3): exactly one per refunded case, and what the metrics classify it by."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from pddadmin.append_only import AppendOnlyModel
from pddadmin.shops.models import MONEY, Goods, Order, Shop

from .choices import Liable, Reason, ReasonClass


class Refund(AppendOnlyModel):
    """Exactly one per refunded case (unique case). Carries what the metrics classify by."""

    case = models.OneToOneField(
        "AfterSalesCase", verbose_name=_("case"), on_delete=models.PROTECT, related_name="refund"
    )
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refunds")
    # No index of its own: refund_shop_at (shop, refunded_at) leads with it (plans in
    # bench/results/process_deadlines.md).
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    # The order's goods, copied: the daily metrics count refunds per goods without looking up
    # the order of each one. Indexed by refund_goods_order_at below.
    goods = models.ForeignKey(
        Goods, verbose_name=_("goods"), on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason at refund"), max_length=32, choices=Reason.choices)
    reason_class = models.CharField(_("reason class"), max_length=16, choices=ReasonClass.choices)
    intervened = models.BooleanField(_("intervened"), default=False)
    liable = models.CharField(_("liable party"), max_length=16, choices=Liable.choices, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [
            models.Index(fields=["shop", "refunded_at"], name="refund_shop_at"),
            # The daily metrics read a window's refunds per goods and order, in that order, from
            # this index alone (PostgreSQL; elsewhere the INCLUDE columns are left out).
            models.Index(
                fields=["goods", "order", "refunded_at"],
                include=["reason_class", "intervened", "liable"],
                name="refund_goods_order_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} ¥{self.amount}"
