"""National warranty (全国联保) violations, the money ledger, charges, credits and coupons (SPEC §6).

Ledger sign convention: an entry's amount is the value it moves *to* the account's holder
(negative: away from them). Every transaction's entries sum to zero, so value is never
created or lost, only moved. Hence:
- shop deposit / goods balance: positive = the shop's funds (equal to Shop.deposit/balance);
- shop arrears: zero or negative; -20.00 means the shop owes 20.00 (shown as arrears 20.00);
- platform coupon liability: positive = face value of coupons the platform has issued;
- platform fines received: positive = late-reply fines the platform has collected or is owed;
- platform funding: the outside world; opening balances and credits come from it (negative).
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import GET_STATE, FSMField, FSMModelMixin, transition

from pddadmin.append_only import AppendOnlyModel
from pddadmin.evidence import EvidenceBase
from pddadmin.fsm import Rule
from pddadmin.shops.models import MONEY, Order, Shop
from pddadmin.shops.selectors import handles_cases, is_platform_staff
from pddadmin.timefmt import shown

PAYOUT_AMOUNT = Decimal("100.00")


# --- Violations ---------------------------------------------------------------------------


class ViolationReason(models.TextChoices):
    REFUSED_SERVICE = "refused_service", _("refused warranty service")
    EXTRA_FEE = "extra_fee", _("charged an extra fee")


class ViolationState(models.TextChoices):
    REPORTED = "reported", _("awaiting ruling")
    UPHELD = "upheld", _("breach")
    DISMISSED = "dismissed", _("no breach")


# --- Who may take a violation's transitions, and when (django-fsm `permission`, `conditions`) ----


def _shop_handler(violation: "Violation", user) -> bool:
    return handles_cases(user, violation.shop_id)


def _platform_staff(violation: "Violation", user) -> bool:
    return user is not None and is_platform_staff(user)


def _explanation_open(violation: "Violation") -> bool:
    return violation.moment <= violation.explanation_due_at


def _not_before_last_change(violation: "Violation") -> bool:
    return violation.moment >= violation.changed_at


EXPLAIN_RULES = [
    Rule(
        _explanation_open,
        lambda v: (
            _("the deadline for an explanation passed at %(due)s")
            % {"due": timezone.localtime(v.explanation_due_at).strftime("%Y-%m-%d %H:%M")}
        ),
    ),
]
RULE_RULES = [
    Rule(
        _not_before_last_change,
        lambda v: (
            _("ruling time %(at)s is before the last change of violation %(id)s")
            % {"at": shown(v.moment, seconds=True), "id": v.platform_id}
        ),
    ),
]


def _ruling_target(violation: "Violation", *args, breach: bool = False, **kwargs) -> str:
    return ViolationState.UPHELD if breach else ViolationState.DISMISSED


def _required(text: str, message) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(message)
    return text


class Violation(FSMModelMixin, models.Model):
    """A buyer's report that a shop broke its national-warranty promise on some orders."""

    platform_id = models.CharField(_("violation id"), max_length=64, unique=True)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="warranty_violations")
    reason = models.CharField(_("reason"), max_length=32, choices=ViolationReason.choices)
    state = FSMField(
        _("state"), max_length=16, choices=ViolationState.choices, default=ViolationState.REPORTED, protected=True
    )
    complaint = models.TextField(_("buyer's complaint"), blank=True)
    reported_at = models.DateTimeField(_("reported at"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    explanation_due_at = models.DateTimeField(_("explanation due at"))
    explanation = models.TextField(_("merchant's explanation"), blank=True)
    explained_at = models.DateTimeField(_("explained at"), null=True, blank=True)
    ruled_at = models.DateTimeField(_("ruled at"), null=True, blank=True)
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ruled by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    ruling_note = models.TextField(_("ruling note"), blank=True)
    # The ruling's place among all rulings as recorded (its log row's id): payouts follow the
    # ruling order (SPEC §6), and rulings stamped with the same time keep the order they were made.
    ruled_seq = models.BigIntegerField(_("ruling sequence"), null=True, blank=True, editable=False)
    changed_at = models.DateTimeField(_("last changed"))

    class Meta:
        verbose_name = _("warranty violation")
        verbose_name_plural = _("warranty violations")
        ordering = ["-reported_at", "-id"]
        indexes = [
            models.Index(fields=["state", "ruled_at", "ruled_seq"], name="violation_state_ruled_seq"),
            models.Index(fields=["shop", "-reported_at"], name="violation_shop_reported"),
            models.Index(fields=["state", "reported_at"], name="violation_state_reported"),
        ]

    def __str__(self) -> str:
        return self.platform_id

    # The moment the next transition is judged at: the services set it to the action's time (a
    # feed line's stamp); a page asking what is allowed leaves it unset and means now.
    acting_at: dt.datetime | None = None

    @property
    def moment(self) -> dt.datetime:
        return self.acting_at or timezone.now()

    # Each transition's `custom`: its button label, and the refusal told to a user it is not for.
    @transition(
        field=state,
        source=ViolationState.REPORTED,
        target=ViolationState.REPORTED,
        conditions=EXPLAIN_RULES,
        permission=_shop_handler,
        custom={
            "label": _("Submit explanation"),
            "refused": _("only the shop's owner or agents may explain a violation"),
        },
    )
    def explain(self, *, text: str, at: dt.datetime) -> None:
        self.explanation = _required(text, _("an explanation is required"))
        self.explained_at, self.changed_at = at, at

    @transition(
        field=state,
        source=ViolationState.REPORTED,
        target=GET_STATE(_ruling_target, states=[ViolationState.UPHELD, ViolationState.DISMISSED]),
        conditions=RULE_RULES,
        permission=_platform_staff,
        custom={
            "label": _("Record ruling"),
            "refused": _("only platform reviewers may rule on a violation"),
        },
    )
    def rule(self, *, breach: bool, by, note: str, at: dt.datetime) -> None:
        self.ruling_note = _required(note, _("a ruling needs a note"))
        self.ruled_by, self.ruled_at, self.changed_at = by, at, at


class ViolationOrder(models.Model):
    """One order of a violation, in the order the report listed them (payouts follow it)."""

    violation = models.ForeignKey(
        Violation, verbose_name=_("violation"), on_delete=models.CASCADE, related_name="lines"
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="warranty_violation_lines"
    )
    position = models.PositiveIntegerField(_("position"))
    # Copied from the violation so the database itself refuses a second open or upheld report
    # of the same order for the same reason; a dismissed report releases it (active=False).
    reason = models.CharField(_("reason"), max_length=32, choices=ViolationReason.choices)
    active = models.BooleanField(_("open or upheld"), default=True)

    class Meta:
        verbose_name = _("violation order")
        verbose_name_plural = _("violation orders")
        ordering = ["violation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["violation", "order"], name="violation_order_once"),
            models.UniqueConstraint(fields=["violation", "position"], name="violation_position_once"),
            models.UniqueConstraint(
                fields=["order", "reason"], condition=Q(active=True), name="one_active_violation_per_order_reason"
            ),
        ]

    # Titles name what a person knows: the violation's and the order's platform ids, not row ids.
    def __str__(self) -> str:
        return f"{self.violation.platform_id} · {self.order.platform_id}"


class ViolationEvidence(EvidenceBase):
    violation = models.ForeignKey(
        Violation, verbose_name=_("violation"), on_delete=models.CASCADE, related_name="evidence"
    )
    image = models.ImageField(_("image"), upload_to="warranty/%Y/%m/", blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("added by"), on_delete=models.PROTECT, null=True, blank=True
    )

    class Meta:
        verbose_name = _("violation evidence")
        verbose_name_plural = _("violation evidence")
        ordering = ["violation", "added_at", "id"]

    def __str__(self) -> str:
        return f"{self.violation.platform_id} {self.get_side_display()} {self.note}"


# What the history shows for the log's stored words (kept as plain strings: the rows are
# append-only and the values are the feed's and the services' vocabulary, not a choice field).
VIOLATION_LOG_ACTIONS = {"report": _("reported"), "explain": _("explained"), "rule": _("ruled")}
VIOLATION_LOG_SOURCES = {"feed": _("platform feed"), "admin": _("back-office"), "review": _("review")}


class ViolationLog(AppendOnlyModel):
    """One row per change of a violation: report, explanation, ruling."""

    violation = models.ForeignKey(Violation, verbose_name=_("violation"), on_delete=models.PROTECT, related_name="log")
    action = models.CharField(pgettext_lazy("history", "action"), max_length=16)
    from_state = models.CharField(_("from"), max_length=16, choices=ViolationState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=16, choices=ViolationState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.PROTECT, null=True, blank=True
    )
    source = models.CharField(_("source"), max_length=16)  # "feed", "admin", "review"
    at = models.DateTimeField(_("time"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("violation log entry")
        verbose_name_plural = _("violation log")
        ordering = ["violation", "at", "id"]

    def __str__(self) -> str:
        return f"{self.violation.platform_id}: {self.action_label}"

    @property
    def action_label(self) -> str:
        return str(VIOLATION_LOG_ACTIONS.get(self.action, self.action))

    @property
    def source_label(self) -> str:
        return str(VIOLATION_LOG_SOURCES.get(self.source, self.source))


# --- Ledger ------------------------------------------------------------------------------


# "kind" and "action" are msgids other apps' catalogues translate for their own models (a case's
# kind is 售后类型): the first app in INSTALLED_APPS would win, so the money's words have a context.


class AccountKind(models.TextChoices):
    DEPOSIT = "deposit", _("deposit")
    BALANCE = "balance", _("goods balance")
    ARREARS = "arrears", _("arrears")
    COUPON_LIABILITY = "coupon_liability", _("coupon liability")
    FINES = "fines", _("fines received")
    FUNDING = "funding", _("outside funding")


SHOP_KINDS = (AccountKind.DEPOSIT, AccountKind.BALANCE, AccountKind.ARREARS)
PLATFORM_KINDS = (AccountKind.COUPON_LIABILITY, AccountKind.FINES, AccountKind.FUNDING)


class Account(models.Model):
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    kind = models.CharField(pgettext_lazy("money", "kind"), max_length=24, choices=AccountKind.choices)
    # Cached sum of the entries, updated in the same transaction as they are written;
    # `check_ledger` proves it.
    balance = models.DecimalField(_("balance"), default=Decimal("0.00"), **MONEY)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["shop", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind"], name="one_account_per_shop_and_kind"),
            models.UniqueConstraint(fields=["kind"], condition=Q(shop__isnull=True), name="one_platform_account"),
            models.CheckConstraint(
                condition=Q(shop__isnull=True, kind__in=PLATFORM_KINDS) | Q(shop__isnull=False, kind__in=SHOP_KINDS),
                name="account_kind_matches_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = self.shop.platform_id if self.shop_id else _("platform")
        return f"{owner} {self.get_kind_display()}"


class TransactionKind(models.TextChoices):
    OPENING = "opening", _("opening balance")
    # Kept for rows written before settlements existed (a credit, then arrears recovered from it).
    BALANCE_CREDIT = "balance_credit", _("goods balance credit")
    ARREARS_SETTLEMENT = "arrears_settlement", _("arrears settled from goods balance")
    PAYOUT = "payout", _("warranty compensation")
    LATE_REPLY = "late_reply", _("late-reply fine")
    LATE_SHIPMENT = "late_shipment", _("late-shipment compensation")
    OUT_OF_STOCK = "out_of_stock", _("out-of-stock compensation")
    SETTLEMENT = "settlement", _("settlement")
    DEPOSIT_PAYMENT = "deposit_payment", _("deposit payment")


class LedgerTransaction(AppendOnlyModel):
    kind = models.CharField(pgettext_lazy("money", "kind"), max_length=24, choices=TransactionKind.choices)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="ledger_transactions")
    at = models.DateTimeField(_("time"))
    memo = models.CharField(_("memo"), max_length=255, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["at", "id"]
        # Settlements older than the shop's last money movement are refused (SPEC §8): its latest.
        indexes = [models.Index(fields=["shop", "at"], name="ledger_txn_shop_at")]

    def __str__(self) -> str:
        return f"{self.shop.platform_id} {self.get_kind_display()} {shown(self.at)}"


class Entry(AppendOnlyModel):
    transaction = models.ForeignKey(
        LedgerTransaction, verbose_name=_("transaction"), on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(_("amount"), **MONEY)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["account", "at", "id"]
        indexes = [models.Index(fields=["account", "at", "id"], name="entry_account_at")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+}"


# --- Coupons, charges and credits -----------------------------------------------------------------


class CouponStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    USED = "used", _("used")
    EXPIRED = "expired", _("expired")


class Coupon(models.Model):
    """Platform coupon for a buyer: no minimum spend (无门槛), usable platform-wide (SPEC §6.2, §7.3)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    buyer = models.CharField(_("buyer id"), max_length=64, db_index=True)
    face_value = models.DecimalField(_("face value"), **MONEY)
    min_spend = models.DecimalField(_("minimum spend"), default=Decimal("0.00"), **MONEY)
    scope = models.CharField(_("scope"), max_length=16, default="platform")
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"))
    status = models.CharField(
        pgettext_lazy("coupon", "status"), max_length=16, choices=CouponStatus.choices, default=CouponStatus.ACTIVE
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code} ¥{self.face_value}"


class ChargeKind(models.TextChoices):
    WARRANTY = "warranty", _("national warranty compensation")
    LATE_REPLY = "late_reply", _("late-reply fine")
    LATE_SHIPMENT = "late_shipment", _("late-shipment compensation")
    OUT_OF_STOCK = "out_of_stock", _("out-of-stock compensation")


AUTOMATIC_CHARGE_KINDS = (ChargeKind.LATE_REPLY, ChargeKind.LATE_SHIPMENT)
SHIPPING_CHARGE_KINDS = (ChargeKind.LATE_SHIPMENT, ChargeKind.OUT_OF_STOCK)


class Charge(AppendOnlyModel):
    """Money a shop owes (SPEC §6.1), with its cause; taken from deposit, then goods balance, the
    rest added to arrears. A warranty charge is a payout of §6.2 (`export_payouts` lists them).

    `cause` names what the charge is for ("warranty:V1:O1", "shipping:O1", "late_reply:M1"): the
    database refuses a second charge for one cause, whatever a re-run, a crash or a second worker
    does.
    """

    kind = models.CharField(pgettext_lazy("money", "kind"), max_length=16, choices=ChargeKind.choices)
    cause = models.CharField(_("cause"), max_length=160, unique=True)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="charges")
    violation = models.ForeignKey(
        Violation, verbose_name=_("violation"), on_delete=models.PROTECT, null=True, blank=True, related_name="payouts"
    )
    line = models.OneToOneField(
        ViolationOrder,
        verbose_name=pgettext_lazy("money", "line"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payout",
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    # The platform id of the buyer message that started a late-reply clock (SPEC §7.1).
    message = models.CharField(_("message id"), max_length=64, blank=True)
    buyer = models.CharField(_("buyer id"), max_length=64)
    amount = models.DecimalField(_("amount"), **MONEY)
    from_deposit = models.DecimalField(_("from deposit"), **MONEY)
    from_balance = models.DecimalField(_("from goods balance"), **MONEY)
    arrears = models.DecimalField(_("arrears"), **MONEY)
    coupon = models.OneToOneField(
        Coupon, verbose_name=_("coupon"), on_delete=models.PROTECT, null=True, blank=True, related_name="charge"
    )
    transaction = models.OneToOneField(
        LedgerTransaction, verbose_name=_("transaction"), on_delete=models.PROTECT, related_name="charge"
    )
    # Issued (warranty, out of stock) or due (automatic charges: stamped with their due moment).
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["shop", "at"], name="charge_shop_at"),
            models.Index(fields=["kind", "at"], name="charge_kind_at"),
        ]
        constraints = [
            # SPEC §6: one payout per (violation, order), ever, whatever the code does.
            models.UniqueConstraint(fields=["violation", "order"], name="one_payout_per_violation_order"),
            # SPEC §7.3: one shipping compensation per order, whichever comes first.
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind__in=SHIPPING_CHARGE_KINDS), name="one_shipping_charge_per_order"
            ),
            models.CheckConstraint(
                # Rounded: SQLite adds decimals as floats (71.52 + 0.57 + 27.91 != 100 there);
                # on PostgreSQL the sum is exact and rounding to cents changes nothing.
                condition=Q(amount=Round(models.F("from_deposit") + models.F("from_balance") + models.F("arrears"), 2)),
                name="charge_split_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(from_deposit__gte=0, from_balance__gte=0, arrears__gte=0, amount__gt=0),
                name="charge_parts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind=ChargeKind.WARRANTY, line__isnull=False, violation__isnull=False)
                | (~Q(kind=ChargeKind.WARRANTY) & Q(line__isnull=True, violation__isnull=True)),
                name="charge_warranty_has_its_violation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.cause} ¥{self.amount}"


class CreditKind(models.TextChoices):
    SETTLEMENT = "settlement", _("settlement")
    DEPOSIT_PAYMENT = "deposit_payment", _("deposit payment")


class Credit(AppendOnlyModel):
    """Money the platform credits a shop (SPEC §6.1): a settlement of goods revenue or a deposit
    payment. Arrears are paid off first; only the rest reaches the goods balance or the deposit."""

    kind = models.CharField(pgettext_lazy("money", "kind"), max_length=16, choices=CreditKind.choices)
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="credits")
    amount = models.DecimalField(_("amount"), **MONEY)
    to_arrears = models.DecimalField(_("paid off arrears"), **MONEY)
    credited = models.DecimalField(_("credited"), **MONEY)
    at = models.DateTimeField(_("time"))
    source = models.CharField(_("source"), max_length=16)  # "feed", "admin"
    reference = models.CharField(_("reference"), max_length=64, blank=True)  # the feed event id
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    transaction = models.OneToOneField(
        LedgerTransaction, verbose_name=_("transaction"), on_delete=models.PROTECT, related_name="credit"
    )

    class Meta:
        verbose_name = _("credit")
        verbose_name_plural = _("credits")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["shop", "at"], name="credit_shop_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0, to_arrears__gte=0, credited__gte=0), name="credit_parts_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(amount=Round(models.F("to_arrears") + models.F("credited"), 2)),
                name="credit_split_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.shop.platform_id} ¥{self.amount}"
