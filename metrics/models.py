"""Daily service-quality snapshots (SPEC §5).

Only counts are stored: every rate is a ratio of two stored integers, so the dashboard, the
export and the goods flags all derive the same figure from the same row. Snapshots are written
only by `metrics.services.metrics_compute` (one date at a time, replacing that date).
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from pddadmin.shops.models import Goods, Shop

RATE_PLACES = Decimal("0.000001")


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator rounded half-up to 6 places; None when there is no denominator."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def logistics_rate(anomaly: int, grouped: int) -> Decimal | None:
    """SPEC §5.1, the seed's formula: anomaly orders / (anomaly orders × 100 + grouped orders);
    no grouped and no anomaly orders → no rate."""
    return ratio(anomaly, anomaly * 100 + grouped)


class Flag(models.TextChoices):
    NONE = "", _("none")
    OVER_3X = "over_3x", _("over 3× category")
    OVER_5X = "over_5x", _("over 5× category")


class ShopRates:
    """The SPEC §5 rates of anything holding the shop counts (a snapshot, or live figures)."""

    # None = no grouped orders, shown as "—" and exported as null.
    @property
    def dispute_refund_rate(self) -> Decimal | None:
        return ratio(self.dispute_refund_orders, self.grouped_orders)

    @property
    def quality_refund_rate(self) -> Decimal | None:
        return ratio(self.quality_refund_orders, self.grouped_orders)

    @property
    def intervention_rate(self) -> Decimal | None:
        return ratio(self.intervention_orders, self.grouped_orders)

    # Seed formula: anomaly orders / (anomaly orders × 100 + grouped orders).
    @property
    def logistics_anomaly_denominator(self) -> int:
        return self.logistics_anomaly_orders * 100 + self.grouped_orders

    @property
    def day_logistics_anomaly_denominator(self) -> int:
        return self.day_logistics_anomaly_orders * 100 + self.day_grouped_orders

    @property
    def logistics_anomaly_rate(self) -> Decimal | None:
        return logistics_rate(self.logistics_anomaly_orders, self.grouped_orders)

    @property
    def day_dispute_refund_rate(self) -> Decimal | None:
        return ratio(self.day_dispute_refund_orders, self.day_grouped_orders)

    @property
    def day_quality_refund_rate(self) -> Decimal | None:
        return ratio(self.day_quality_refund_orders, self.day_grouped_orders)

    @property
    def day_intervention_rate(self) -> Decimal | None:
        return ratio(self.day_intervention_orders, self.day_grouped_orders)

    @property
    def day_logistics_anomaly_rate(self) -> Decimal | None:
        return logistics_rate(self.day_logistics_anomaly_orders, self.day_grouped_orders)


class ShopDaySnapshot(ShopRates, models.Model):
    """One shop's figures for day D: the 30-day window D-29 … D and the single day D."""

    # (shop, date) is unique, which indexes shop lookups already
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="metric_snapshots", db_index=False, verbose_name=_("shop")
    )
    date = models.DateField(_("date"))
    # 30-day window
    grouped_orders = models.PositiveIntegerField(_("grouped orders"), default=0)
    dispute_refund_orders = models.PositiveIntegerField(_("dispute refund orders"), default=0)
    quality_refund_orders = models.PositiveIntegerField(_("quality refund orders"), default=0)
    intervention_orders = models.PositiveIntegerField(_("intervention orders"), default=0)
    logistics_anomaly_orders = models.PositiveIntegerField(_("logistics anomaly orders"), default=0)
    # the single day D
    day_grouped_orders = models.PositiveIntegerField(_("grouped orders (day)"), default=0)
    day_dispute_refund_orders = models.PositiveIntegerField(_("dispute refund orders (day)"), default=0)
    day_quality_refund_orders = models.PositiveIntegerField(_("quality refund orders (day)"), default=0)
    day_intervention_orders = models.PositiveIntegerField(_("intervention orders (day)"), default=0)
    day_logistics_anomaly_orders = models.PositiveIntegerField(_("logistics anomaly orders (day)"), default=0)
    # goods of the shop flagged / restricted on this day (goods level, SPEC §5)
    flagged_goods = models.PositiveIntegerField(_("flagged goods"), default=0)
    restricted_goods = models.PositiveIntegerField(_("restricted goods"), default=0)
    # SPEC §5.1: the shop against the shops of its main category (copied on the day; "" is the
    # group of the shops without one): rate = anomaly / (anomaly × 100 + grouped), count =
    # anomaly / shops with grouped orders.
    category = models.CharField(_("main category"), max_length=100, blank=True)
    category_grouped_orders = models.PositiveIntegerField(_("category grouped orders"), default=0)
    category_logistics_anomaly_orders = models.PositiveIntegerField(_("category logistics anomaly orders"), default=0)
    category_shops = models.PositiveIntegerField(_("category shops with grouped orders"), default=0)
    logistics_over_5x = models.BooleanField(_("logistics over 5× category"), default=False)
    # Consecutive daily snapshots, ending on this one, on which the shop was over 5×; at the
    # configured number of days the shop is restricted (店铺二级限制, 全店商品降权) from that day on.
    logistics_streak = models.PositiveIntegerField(_("days logistics over 5×"), default=0)
    logistics_restricted_since = models.DateField(_("logistics restricted since"), null=True, blank=True)
    # goods of the shop over 5× / restricted for their logistics on this day
    logistics_flagged_goods = models.PositiveIntegerField(_("goods logistics over 5×"), default=0)
    logistics_restricted_goods = models.PositiveIntegerField(_("goods restricted for logistics"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("shop daily snapshot")
        verbose_name_plural = _("shop daily snapshots")
        ordering = ["shop", "-date"]
        constraints = [models.UniqueConstraint(fields=["shop", "date"], name="one_shop_snapshot_per_day")]
        indexes = [models.Index(fields=["date", "shop"], name="shop_snapshot_date")]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.date}"

    # SPEC §5.1: the shop against the shops of its main category.
    @property
    def category_logistics_anomaly_rate(self) -> Decimal | None:
        return logistics_rate(self.category_logistics_anomaly_orders, self.category_grouped_orders)

    @property
    def category_logistics_anomaly_count(self) -> Decimal | None:
        return ratio(self.category_logistics_anomaly_orders, self.category_shops)

    @property
    def logistics_restricted(self) -> bool:
        return self.logistics_restricted_since is not None


class GoodsDaySnapshot(models.Model):
    """One goods' quality figures for day D against its category, and the flag / restriction."""

    # Derived rows, 20,000 a day, written in one statement from the goods table itself. Each
    # index costs every row of that statement, so there are two: the key, in the order a day is
    # written, replaced and read (a day's rows, a shop's within it), and a small partial one.
    # No foreign-key triggers either (they doubled the commit). Deleting goods or shops still
    # cascades (Django), by a scan of this table: rare, since orders protect goods and shops.
    pk = models.CompositePrimaryKey("date", "shop", "goods")
    goods = models.ForeignKey(
        Goods,
        on_delete=models.CASCADE,
        related_name="metric_snapshots",
        db_constraint=False,
        db_index=False,
        verbose_name=_("goods"),
    )
    # Copied from the goods on the day: the shop rollup and category figures group by them.
    shop = models.ForeignKey(
        Shop,
        on_delete=models.CASCADE,
        related_name="goods_metric_snapshots",
        db_constraint=False,
        db_index=False,
        verbose_name=_("shop"),
    )
    category = models.CharField(_("category"), max_length=100)
    date = models.DateField(_("date"))
    grouped_orders = models.PositiveIntegerField(_("grouped orders"), default=0)
    quality_refund_orders = models.PositiveIntegerField(_("quality refund orders"), default=0)
    day_grouped_orders = models.PositiveIntegerField(_("grouped orders (day)"), default=0)
    day_quality_refund_orders = models.PositiveIntegerField(_("quality refund orders (day)"), default=0)
    # The goods' share of the shop's refund numerators; the shop snapshot sums them.
    dispute_refund_orders = models.PositiveIntegerField(_("dispute refund orders"), default=0)
    day_dispute_refund_orders = models.PositiveIntegerField(_("dispute refund orders (day)"), default=0)
    logistics_anomaly_orders = models.PositiveIntegerField(_("logistics anomaly orders"), default=0)
    day_logistics_anomaly_orders = models.PositiveIntegerField(_("logistics anomaly orders (day)"), default=0)
    # Category figures of the same day (all shops): rate = quality / grouped, count = quality / goods.
    category_grouped_orders = models.PositiveIntegerField(_("category grouped orders"), default=0)
    category_quality_refund_orders = models.PositiveIntegerField(_("category quality refund orders"), default=0)
    category_goods = models.PositiveIntegerField(_("category goods with grouped orders"), default=0)
    flag = models.CharField(_("flag"), max_length=8, choices=Flag.choices, blank=True, default="")
    # Consecutive daily snapshots, ending on this one, on which the 3× / 5× condition held.
    streak_3x = models.PositiveIntegerField(_("days over 3×"), default=0)
    streak_5x = models.PositiveIntegerField(_("days over 5×"), default=0)
    restriction = models.CharField(_("restriction"), max_length=8, choices=Flag.choices, blank=True, default="")
    restricted_since = models.DateField(_("restricted since"), null=True, blank=True)
    # SPEC §5.1: the goods' logistics anomaly rate and count against its category's (rate =
    # anomaly / (anomaly × 100 + grouped), count = anomaly / goods with grouped orders), the 5×
    # flag and, after the configured consecutive days, the restriction (下资源位、禁止上资源位和降权).
    category_logistics_anomaly_orders = models.PositiveIntegerField(_("category logistics anomaly orders"), default=0)
    logistics_over_5x = models.BooleanField(_("logistics over 5× category"), default=False)
    logistics_streak = models.PositiveIntegerField(_("days logistics over 5×"), default=0)
    logistics_restricted_since = models.DateField(_("logistics restricted since"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("goods daily snapshot")
        verbose_name_plural = _("goods daily snapshots")
        ordering = ["goods", "-date"]
        indexes = [
            # Small: only goods flagged on the day (for quality or logistics). Tomorrow's streaks
            # and the restricted lists read it.
            models.Index(
                fields=["date"],
                condition=models.Q(streak_3x__gt=0) | models.Q(logistics_streak__gt=0),
                name="goods_snapshot_flagged",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.goods_id} {self.date}"

    @property
    def quality_refund_rate(self) -> Decimal | None:
        return ratio(self.quality_refund_orders, self.grouped_orders)

    @property
    def category_quality_refund_rate(self) -> Decimal | None:
        return ratio(self.category_quality_refund_orders, self.category_grouped_orders)

    @property
    def category_quality_refund_count(self) -> Decimal | None:
        return ratio(self.category_quality_refund_orders, self.category_goods)

    @property
    def logistics_anomaly_rate(self) -> Decimal | None:
        return logistics_rate(self.logistics_anomaly_orders, self.grouped_orders)

    @property
    def category_logistics_anomaly_rate(self) -> Decimal | None:
        return logistics_rate(self.category_logistics_anomaly_orders, self.category_grouped_orders)

    @property
    def category_logistics_anomaly_count(self) -> Decimal | None:
        return ratio(self.category_logistics_anomaly_orders, self.category_goods)

    @property
    def logistics_restricted(self) -> bool:
        return self.logistics_restricted_since is not None
