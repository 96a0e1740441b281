"""Shops, their staff, goods and orders (SPEC §1). Objects from the platform keep its id."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from pddadmin.append_only import AppendOnlyModel

from .validators import validate_hotline

MONEY = {"max_digits": 14, "decimal_places": 2}
# SPEC §5.1: an order shipped to Xinjiang (a province whose name starts with this) counts as a
# logistics anomaly only for a fake shipment.
XINJIANG = "新疆"


class Shop(models.Model):
    platform_id = models.CharField(_("shop id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    deposit = models.DecimalField(_("deposit"), default=Decimal("0.00"), **MONEY)
    balance = models.DecimalField(_("goods balance"), default=Decimal("0.00"), **MONEY)
    hotline = models.CharField(_("after-sales hotline"), max_length=32, blank=True, validators=[validate_hotline])
    # 主营类目 (SPEC §1, optional): the shop's logistics figures are compared with those of the
    # shops of the same main category (§5.1); shops without one form one group.
    # A database default too, as for ship_to: rows written without the ORM (bulk loads) need none.
    category = models.CharField(_("main category"), max_length=100, blank=True, default="", db_default="")
    opened_at = models.DateTimeField(_("opened at"))
    # Time of the last change applied to this shop; feed events older than it are rejected.
    changed_at = models.DateTimeField(_("last changed"))
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), through="ShopMembership", related_name="shops"
    )

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["platform_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform_id})"


class Role(models.TextChoices):
    OWNER = "owner", _("owner")
    AGENT = "agent", _("agent")
    VIEWER = "viewer", _("viewer")


class ShopMembership(models.Model):
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="shop_memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)

    class Meta:
        verbose_name = _("shop staff")
        verbose_name_plural = _("shop staff")
        constraints = [models.UniqueConstraint(fields=["shop", "user"], name="one_membership_per_user_and_shop")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop.platform_id} ({self.get_role_display()})"


class Goods(models.Model):
    platform_id = models.CharField(_("goods id"), max_length=64, unique=True)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="goods")
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, db_index=True)
    special = models.BooleanField(
        _("special goods"),
        default=False,
        help_text=_("Fruit, fresh food, virtual goods, cars: refund only, no returns."),
    )
    warranty = models.BooleanField(_("national warranty"), default=False)
    warranty_mandatory = models.BooleanField(_("warranty mandatory"), default=False)
    listed_at = models.DateTimeField(_("listed at"))
    changed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("goods")
        verbose_name_plural = _("goods")
        ordering = ["platform_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform_id})"


class Order(models.Model):
    # Unique through Meta.constraints, not unique=True: on PostgreSQL that would add a second
    # (LIKE) index that no query uses, and each index costs every one of millions of inserts.
    platform_id = models.CharField(_("order id"), max_length=64)
    # No index of their own: the shop's composite indexes below start with it; nothing reads
    # orders by goods alone (see order_grouped_goods).
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    goods = models.ForeignKey(
        Goods, verbose_name=_("goods"), on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    buyer = models.CharField(_("buyer id"), max_length=64)
    amount = models.DecimalField(_("paid amount"), **MONEY)
    placed_at = models.DateTimeField(_("placed at"))
    promised_ship_by = models.DateTimeField(_("promised ship by"))
    grouped_at = models.DateTimeField(_("grouped at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    tracking = models.CharField(_("tracking number"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    aftersales_until = models.DateTimeField(_("after-sales valid until"), null=True, blank=True)
    # The destination province (SPEC §1, optional), e.g. "新疆维吾尔自治区" (see XINJIANG).
    ship_to = models.CharField(_("ship to (province)"), max_length=100, blank=True, default="", db_default="")
    # When the merchant declared the order out of stock (缺货, SPEC §7.3); it may still ship later.
    out_of_stock_at = models.DateTimeField(_("declared out of stock at"), null=True, blank=True)
    # The moment this order falls late (its promised_ship_by) while that can still happen: set
    # when it is grouped at or before promised_ship_by, cleared when it ships by then or once the
    # late-shipment job has dealt with it. Only the few orders still at risk carry it, so the job
    # reads a small partial index instead of every order ever placed.
    late_shipment_due_at = models.DateTimeField(_("late-shipment check due"), null=True, blank=True)
    # Snapshot at placement: switching warranty off later keeps the obligation (全国联保规则 二.1).
    warranty = models.BooleanField(_("national warranty at placement"), default=False)
    changed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [models.UniqueConstraint(fields=["platform_id"], name="order_platform_id_unique")]
        indexes = [
            models.Index(fields=["buyer"], name="order_buyer"),
            models.Index(fields=["shop", "-placed_at"], name="order_shop_placed"),
            models.Index(fields=["shop", "grouped_at"], name="order_shop_grouped"),
            # The daily metrics count each goods' grouped orders of a window: an index-only range
            # scan of this, the window's orders side by side however long the history before it
            # (goods first, as it was, read every order ever grouped). No query looks orders up
            # by goods alone: goods are never deleted (bench/results/metrics.md shows the plans).
            models.Index(fields=["grouped_at", "goods"], name="order_grouped_goods"),
            models.Index(fields=["-placed_at"], name="order_placed"),
            models.Index(
                fields=["late_shipment_due_at"],
                condition=models.Q(late_shipment_due_at__isnull=False),
                name="order_late_shipment_watch",
            ),
            # The few orders shipped to Xinjiang, which the daily logistics figures set apart
            # (SPEC §5.1): read whole from this small index instead of looking up each order.
            models.Index(fields=["id"], condition=models.Q(ship_to__startswith=XINJIANG), name="order_xinjiang"),
        ]

    def __str__(self) -> str:
        return self.platform_id


class LogisticsFlagKind(models.TextChoices):
    FAKE_SHIPMENT = "fake_shipment", _("fake shipment")
    SLOW_DELIVERY = "slow_delivery", _("delivery-time anomaly")
    COMPLAINT = "complaint", _("upheld logistics complaint")


class LogisticsFlag(AppendOnlyModel):
    """Something the platform found wrong with an order's logistics (SPEC §5.1, from
    `order.logistics_flagged`). An order may be flagged several times; a flag is a fact about the
    order, not a change of it (it does not move the order's `changed_at`)."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="logistics_flags")
    # The order's shop and goods, copied: the daily metrics count flags per goods, and a shop's
    # live figures read its own flags, without looking up the order of each one.
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="+", db_index=False)
    goods = models.ForeignKey(
        Goods, verbose_name=_("goods"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LogisticsFlagKind.choices)
    flagged_at = models.DateTimeField(_("flagged at"))

    class Meta:
        verbose_name = _("logistics flag")
        verbose_name_plural = _("logistics flags")
        indexes = [
            models.Index(fields=["shop", "flagged_at"], name="logistics_flag_shop_at"),
            models.Index(fields=["flagged_at"], name="logistics_flag_at"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


STARS = (1, 5)  # the lowest and highest number of stars a rating gives


class OrderRating(AppendOnlyModel):
    """The buyer's rating of a received order (SPEC §8 `order.rated`): once per order, 1–5 stars
    for the logistics and optionally for the description and the service."""

    order = models.OneToOneField(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="rating")
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="+", db_index=False)
    goods = models.ForeignKey(
        Goods, verbose_name=_("goods"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    logistics = models.PositiveSmallIntegerField(_("logistics stars"))
    description = models.PositiveSmallIntegerField(_("description stars"), null=True, blank=True)
    service = models.PositiveSmallIntegerField(_("service stars"), null=True, blank=True)
    rated_at = models.DateTimeField(_("rated at"))

    class Meta:
        verbose_name = _("order rating")
        verbose_name_plural = _("order ratings")
        indexes = [
            models.Index(fields=["shop", "rated_at"], name="order_rating_shop_at"),
            models.Index(fields=["rated_at"], name="order_rating_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(logistics__range=STARS), name="rating_logistics_stars"),
            models.CheckConstraint(
                condition=models.Q(description__isnull=True) | models.Q(description__range=STARS),
                name="rating_description_stars",
            ),
            models.CheckConstraint(
                condition=models.Q(service__isnull=True) | models.Q(service__range=STARS),
                name="rating_service_stars",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} ★{self.logistics}"
