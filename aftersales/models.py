"""After-sales settings (SPEC §3)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin

from pddadmin.shops.models import MONEY, Order, Shop
from pddadmin.shops.validators import validate_phone


class ReturnAddress(models.Model):
    # Addresses added in the admin have no platform id; those from the feed keep theirs.
    platform_id = models.CharField(_("address id"), max_length=64, unique=True, null=True, blank=True)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="return_addresses")
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
            models.UniqueConstraint(
                fields=["shop"], condition=Q(is_default=True), name="one_default_return_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.receiver} {self.phone} {self.region} {self.detail}"

    @property
    def region(self) -> str:
        return f"{self.province}/{self.city}/{self.district}"


# --- After-sales cases (SPEC §2) ------------------------------------------------------------


class Kind(models.TextChoices):
    REFUND_ONLY = "refund_only", _("refund only")
    RETURN_REFUND = "return_refund", _("return and refund")


class ReasonClass(models.TextChoices):
    QUALITY = "quality", _("quality")
    LOGISTICS = "logistics", _("logistics")
    OTHER = "other", _("other")


class Reason(models.TextChoices):
    QUALITY_ISSUE = "quality_issue", _("quality issue")
    NOT_AS_DESCRIBED = "not_as_described", _("not as described")
    COUNTERFEIT = "counterfeit", _("counterfeit brand")
    DEFECTIVE = "defective", _("poor workmanship / defective")
    NOT_SHIPPED = "not_shipped", _("not shipped on time")
    DAMAGED_IN_TRANSIT = "damaged_in_transit", _("damaged in transit")
    WRONG_OR_MISSING = "wrong_or_missing", _("wrong or missing items")
    LOST_IN_TRANSIT = "lost_in_transit", _("lost in transit")
    CHANGED_MIND = "changed_mind", _("changed mind")
    OTHER = "other", _("other")


REASON_CLASS: dict[str, str] = {
    Reason.QUALITY_ISSUE: ReasonClass.QUALITY,
    Reason.NOT_AS_DESCRIBED: ReasonClass.QUALITY,
    Reason.COUNTERFEIT: ReasonClass.QUALITY,
    Reason.DEFECTIVE: ReasonClass.QUALITY,
    Reason.NOT_SHIPPED: ReasonClass.LOGISTICS,
    Reason.DAMAGED_IN_TRANSIT: ReasonClass.LOGISTICS,
    Reason.WRONG_OR_MISSING: ReasonClass.LOGISTICS,
    Reason.LOST_IN_TRANSIT: ReasonClass.LOGISTICS,
    Reason.CHANGED_MIND: ReasonClass.OTHER,
    Reason.OTHER: ReasonClass.OTHER,
}


class State(models.TextChoices):
    PENDING_MERCHANT = "pending_merchant", _("awaiting merchant")
    MERCHANT_REFUSED = "merchant_refused", _("refused by merchant")
    AWAITING_RETURN = "awaiting_return", _("awaiting buyer's return")
    RETURN_SHIPPED = "return_shipped", _("return shipped")
    RETURN_REFUSED = "return_refused", _("refund refused after return")
    UNDER_INTERVENTION = "under_intervention", _("under platform intervention")
    REFUNDED = "refunded", _("refunded")
    CLOSED = "closed", _("closed")


TERMINAL_STATES = (State.REFUNDED, State.CLOSED)
OPEN_STATES = tuple(s for s in State if s not in TERMINAL_STATES)


class CloseReason(models.TextChoices):
    BUYER_CANCELLED = "buyer_cancelled", _("cancelled by buyer")
    BUYER_OVERDUE = "buyer_overdue", _("buyer did not act in time")
    RULED_FOR_MERCHANT = "ruled_for_merchant", _("ruled for the merchant")


class Liable(models.TextChoices):
    MERCHANT = "merchant", _("merchant")
    BUYER = "buyer", _("buyer")


class AfterSalesCase(FSMModelMixin, models.Model):
    """A buyer's after-sales request (售后单). `state` changes only through its FSM transitions."""

    platform_id = models.CharField(_("case id"), max_length=64, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cases")
    # Denormalised from the order: every list and metric filters by shop first.
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    state = FSMField(_("state"), max_length=32, choices=State.choices, default=State.PENDING_MERCHANT, protected=True)

    opened_at = models.DateTimeField(_("opened at"))
    # Start of the current merchant review (opening or the latest resubmission).
    submitted_at = models.DateTimeField(_("submitted at"))
    # When the automatic transition of the current waiting state falls due; null when none.
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    refused_at = models.DateTimeField(_("refused at"), null=True, blank=True)
    agreed_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    return_shipped_at = models.DateTimeField(_("return shipped at"), null=True, blank=True)
    return_tracking = models.CharField(_("return tracking number"), max_length=64, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    intervened_at = models.DateTimeField(_("first intervened at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    close_reason = models.CharField(_("close reason"), max_length=32, choices=CloseReason.choices, blank=True)
    liable = models.CharField(_("liable party"), max_length=16, choices=Liable.choices, blank=True)

    buyer_statement = models.TextField(_("buyer's statement"), blank=True)
    merchant_statement = models.TextField(_("merchant's statement"), blank=True)
    ruling_note = models.TextField(_("ruling note"), blank=True)

    # The return address as it was when the merchant agreed; later edits to the shop's
    # address book must not move a parcel already on its way.
    return_receiver = models.CharField(_("return receiver"), max_length=100, blank=True)
    return_phone = models.CharField(_("return phone"), max_length=32, blank=True)
    return_region = models.CharField(_("return region"), max_length=160, blank=True)
    return_detail = models.CharField(_("return address detail"), max_length=255, blank=True)

    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="claimed_cases"
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    changed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("after-sales case")
        verbose_name_plural = _("after-sales cases")
        indexes = [
            models.Index(fields=["state", "due_at"], name="case_state_due"),
            models.Index(fields=["shop", "state", "due_at"], name="case_shop_state_due"),
            models.Index(fields=["shop", "intervened_at"], name="case_shop_intervened"),
            models.Index(fields=["state", "escalated_at"], name="case_state_escalated"),
            models.Index(fields=["order", "state"], name="case_order_state"),
        ]
        constraints = [
            # SPEC §2.1: at most one open case per order, enforced by the database too.
            models.UniqueConstraint(
                fields=["order"], condition=~Q(state__in=["refunded", "closed"]), name="one_open_case_per_order"
            )
        ]

    def __str__(self) -> str:
        return self.platform_id

    @property
    def reason_class(self) -> str:
        return REASON_CLASS[self.reason]


class Actor(models.TextChoices):
    BUYER = "buyer", _("buyer")
    MERCHANT = "merchant", _("merchant")
    REVIEWER = "reviewer", _("reviewer")
    SYSTEM = "system", _("system")


class CaseTransition(models.Model):
    """Immutable log row per transition: the audit trail and the source of every metric."""

    case = models.ForeignKey(AfterSalesCase, on_delete=models.CASCADE, related_name="transitions")
    transition = models.CharField(_("transition"), max_length=32)
    from_state = models.CharField(_("from"), max_length=32, choices=State.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=32, choices=State.choices)
    actor_kind = models.CharField(_("actor"), max_length=16, choices=Actor.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    at = models.DateTimeField(_("time"))
    note = models.TextField(_("note"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("case transition")
        verbose_name_plural = _("case transitions")
        ordering = ["case", "at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="transition_case_at")]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_state or '-'} → {self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("case transitions are append-only")
        super().save(*args, **kwargs)


class Refund(models.Model):
    """Exactly one per refunded case (unique case). Carries what the metrics classify by."""

    case = models.OneToOneField(AfterSalesCase, on_delete=models.PROTECT, related_name="refund")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason at refund"), max_length=32, choices=Reason.choices)
    reason_class = models.CharField(_("reason class"), max_length=16, choices=ReasonClass.choices)
    intervened = models.BooleanField(_("intervened"), default=False)
    liable = models.CharField(_("liable party"), max_length=16, choices=Liable.choices, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [models.Index(fields=["shop", "refunded_at"], name="refund_shop_at")]

    def __str__(self) -> str:
        return f"{self.case_id} ¥{self.amount}"


class Evidence(models.Model):
    class Side(models.TextChoices):
        BUYER = "buyer", _("buyer")
        MERCHANT = "merchant", _("merchant")

    case = models.ForeignKey(AfterSalesCase, on_delete=models.CASCADE, related_name="evidence")
    side = models.CharField(_("side"), max_length=16, choices=Side.choices)
    image = models.ImageField(_("image"), upload_to="evidence/%Y/%m/", blank=True)
    url = models.URLField(_("image address"), blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["case", "added_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.side} {self.note}"
