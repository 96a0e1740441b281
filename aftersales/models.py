"""After-sales settings (SPEC §3)."""

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import GET_STATE, ConcurrentTransitionMixin, FSMField, Transition, transition

from pddadmin.evidence import EvidenceBase
from pddadmin.shops.models import MONEY, Goods, Order, Shop
from pddadmin.shops.selectors import EDIT_CASES_ROLES, is_reviewer, role_in
from pddadmin.shops.validators import validate_phone

from .services.errors import CaseRuleError


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


class Actor(models.TextChoices):
    BUYER = "buyer", _("buyer")
    MERCHANT = "merchant", _("merchant")
    REVIEWER = "reviewer", _("reviewer")
    SYSTEM = "system", _("system")


# --- Durations and deadlines (SPEC §2.1, §2.3) ------------------------------------------------

AFTERSALES_WINDOW = dt.timedelta(days=15)  # after receipt, unless the merchant promised longer
MERCHANT_WINDOW = dt.timedelta(hours=48)  # pending_merchant → auto_agree
BUYER_WINDOW = dt.timedelta(days=7)  # merchant_refused / awaiting_return / return_refused → expire
RETURN_CHECK_WINDOW = dt.timedelta(days=7)  # return_shipped → auto_refund
SHORTEN_FLOOR = dt.timedelta(hours=24)  # a reviewer never leaves the merchant less than this


def window_end(order: Order) -> dt.datetime | None:
    """End of the order's after-sales window; None while it is open-ended (not yet received)."""
    if order.received_at is None:
        return None
    end = order.received_at + AFTERSALES_WINDOW
    if order.aftersales_until is not None and order.aftersales_until > end:
        end = order.aftersales_until
    return end


# --- Who may take a transition (django-fsm `permission`) -------------------------------------


def _buyer_or_system(case: "AfterSalesCase", user) -> bool:
    # Buyers act through the platform feed and the system through the deadline job; no
    # back-office user takes these transitions, so the workbench never offers them.
    return False


def _merchant_staff(case: "AfterSalesCase", user) -> bool:
    return user is not None and role_in(user, case.shop_id) in EDIT_CASES_ROLES


def _reviewer(case: "AfterSalesCase", user) -> bool:
    return user is not None and is_reviewer(user)


# --- Conditions: each one is a rule of SPEC §2 with the message that explains a refusal ------


class Rule:
    """A django-fsm condition that can also say, in words, why it does not hold."""

    def __init__(self, test: Callable[["AfterSalesCase"], bool], explain: Callable[["AfterSalesCase"], str]):
        self.test, self.explain = test, explain
        self.__name__ = getattr(test, "__name__", "rule")

    def __call__(self, case: "AfterSalesCase") -> bool:
        return bool(self.test(case))


def _within_window(case: "AfterSalesCase") -> bool:
    end = window_end(case.order)
    return end is None or case.opened_at <= end


def _kind_fits_order(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.REFUND_ONLY or case.order.shipped_at is not None


def _kind_fits_goods(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.REFUND_ONLY or not case.order.goods.special


def _order_not_refunded(case: "AfterSalesCase") -> bool:
    return not Refund.objects.filter(order_id=case.order_id).exists()


def _no_other_open_case(case: "AfterSalesCase") -> bool:
    others = AfterSalesCase.objects.filter(order_id=case.order_id, state__in=OPEN_STATES)
    if case.pk is not None:
        others = others.exclude(pk=case.pk)
    return not others.exists()


def _amount_in_bounds(case: "AfterSalesCase") -> bool:
    return amount_error(case.amount, case.order) is None


def _return_address_available(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.REFUND_ONLY or ReturnAddress.objects.filter(shop_id=case.shop_id).exists()


def amount_error(amount: Decimal, order: Order) -> str | None:
    if amount <= 0:
        return _("the amount must be greater than 0, got %(amount)s") % {"amount": amount}
    if amount > order.amount:
        return _("the amount %(amount)s exceeds the order's paid amount %(paid)s") % {
            "amount": amount,
            "paid": order.amount,
        }
    return None


OPEN_RULES = [
    Rule(
        _within_window,
        lambda c: _("the after-sales window of order %(order)s ended at %(end)s")
        % {"order": c.order.platform_id, "end": window_end(c.order).isoformat()},
    ),
    Rule(
        _kind_fits_goods,
        lambda c: _("goods %(goods)s are special goods (refund only): no return and refund")
        % {"goods": c.order.goods.platform_id},
    ),
    Rule(
        _kind_fits_order,
        lambda c: _("order %(order)s is not shipped: only a refund-only case can be opened")
        % {"order": c.order.platform_id},
    ),
    Rule(
        _order_not_refunded,
        lambda c: _("order %(order)s has been refunded and takes no new case") % {"order": c.order.platform_id},
    ),
    Rule(
        _no_other_open_case,
        lambda c: _("order %(order)s already has an open case") % {"order": c.order.platform_id},
    ),
    Rule(_amount_in_bounds, lambda c: amount_error(c.amount, c.order)),
]
AGREE_RULES = [
    Rule(
        _return_address_available,
        lambda c: _("shop %(shop)s has no return address: add one before agreeing a return")
        % {"shop": c.shop.platform_id},
    ),
]


def _agree_target(case: "AfterSalesCase", *args, **kwargs) -> str:
    # SPEC §2.3: agreeing a refund-only case refunds it; a return waits for the parcel.
    return State.REFUNDED if case.kind == Kind.REFUND_ONLY else State.AWAITING_RETURN


def _rule_target(case: "AfterSalesCase", *args, liable: str = "", **kwargs) -> str:
    return State.REFUNDED if liable == Liable.MERCHANT else State.CLOSED


def _required(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CaseRuleError(_("%(what)s is required") % {"what": what})
    return text


WAITING_BUYER = [State.MERCHANT_REFUSED, State.AWAITING_RETURN, State.RETURN_REFUSED]


class AfterSalesCase(ConcurrentTransitionMixin, models.Model):
    """A buyer's after-sales request (售后单).

    `state` changes only through the @transition methods below (the field is protected); the
    services in `services/cases.py` lock the row, call them, save and log. Each transition's
    `custom` says who takes it (`actor`), how the workbench labels it, and for the automatic
    ones which fields they set, so the bulk deadline job reads its updates from here too.
    """

    platform_id = models.CharField(_("case id"), max_length=64, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cases")
    # Denormalised from the order: every list and metric filters by shop first.
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    state = FSMField(_("state"), max_length=32, choices=State.choices, default=State.PENDING_MERCHANT, protected=True)

    # A context of its own: the shops catalogue translates "opened at" as a shop's opening.
    opened_at = models.DateTimeField(pgettext_lazy("after-sales case", "opened at"))
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
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="case_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.platform_id

    def merchant_deadline_at_open(self) -> dt.datetime:
        """SPEC §2.3: opened_at + 48 h; for a refund-only case on an unshipped order, no later
        than the promised shipping time (but not before the case exists)."""
        deadline = self.opened_at + MERCHANT_WINDOW
        if self.kind == Kind.REFUND_ONLY and self.order.shipped_at is None:
            deadline = min(deadline, max(self.opened_at, self.order.promised_ship_by))
        return deadline

    @staticmethod
    def deadline_changes(transition: Transition, due: Any) -> dict[str, Any]:
        """Fields an automatic transition sets besides the state. `due` is the deadline it is
        stamped with: a value for one case, F("due_at") when the job updates many at once."""
        return {"due_at": None, "resolved_at": due, "changed_at": due, **transition.custom.get("sets", {})}

    def _apply_deadline(self, name: str) -> None:
        meta = getattr(type(self), name)._django_fsm
        for field, value in self.deadline_changes(meta.get_transition(self.state), self.due_at).items():
            setattr(self, field, value)

    def _resolve(self, at: dt.datetime) -> None:
        self.due_at = None
        self.resolved_at = self.changed_at = at

    # --- buyer transitions (platform feed) ----------------------------------------------------

    @transition(
        field=state,
        source="",
        target=State.PENDING_MERCHANT,
        conditions=OPEN_RULES,
        permission=_buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Open")},
    )
    def open(self) -> None:
        """A new, unsaved case (state "") whose opened_at, amount, kind and order are set."""
        self.submitted_at = self.changed_at = self.opened_at
        self.due_at = self.merchant_deadline_at_open()

    @transition(
        field=state,
        source=State.MERCHANT_REFUSED,
        target=State.PENDING_MERCHANT,
        permission=_buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Resubmit")},
    )
    def resubmit(self, *, at: dt.datetime, amount: Decimal | None = None, reason: str | None = None) -> None:
        if amount is not None:
            error = amount_error(amount, self.order)
            if error:
                raise CaseRuleError(error)
            self.amount = amount
        if reason is not None:
            if reason not in Reason.values:
                raise CaseRuleError(_("unknown reason %(reason)s") % {"reason": reason})
            self.reason = reason
        # SPEC §2.4.1/§3.3.1: a resubmission gives the merchant a fresh 48 h.
        self.submitted_at = self.changed_at = at
        self.due_at = at + MERCHANT_WINDOW

    @transition(
        field=state,
        source=[State.MERCHANT_REFUSED, State.RETURN_REFUSED],
        target=State.UNDER_INTERVENTION,
        permission=_buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Escalate")},
    )
    def escalate(self, *, at: dt.datetime) -> None:
        self.escalated_at = self.changed_at = at
        self.intervened_at = self.intervened_at or at  # "intervened" dates from the first time
        self.due_at = None

    @transition(
        field=state,
        source=list(OPEN_STATES),
        target=State.CLOSED,
        permission=_buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Cancel")},
    )
    def cancel(self, *, at: dt.datetime) -> None:
        self.close_reason = CloseReason.BUYER_CANCELLED
        self._resolve(at)

    @transition(
        field=state,
        source=State.AWAITING_RETURN,
        target=State.RETURN_SHIPPED,
        permission=_buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Ship return")},
    )
    def ship_return(self, *, at: dt.datetime, tracking: str) -> None:
        self.return_tracking = _required(tracking, _("a return tracking number"))[:64]
        self.return_shipped_at = self.changed_at = at
        self.due_at = at + RETURN_CHECK_WINDOW

    # --- merchant transitions (workbench, merchants' ERP through the feed) --------------------

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=GET_STATE(_agree_target, states=[State.REFUNDED, State.AWAITING_RETURN]),
        conditions=AGREE_RULES,
        permission=_merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Agree"), "form": "address"},
    )
    def merchant_agree(self, *, at: dt.datetime, address: ReturnAddress | None = None) -> None:
        self.agreed_at = self.changed_at = at
        if self.kind == Kind.REFUND_ONLY:
            self._resolve(at)
            return
        if address is None:
            address = ReturnAddress.objects.filter(shop_id=self.shop_id, is_default=True).first()
        if address is None or address.shop_id != self.shop_id:
            raise CaseRuleError(
                _("the return address must be one of shop %(shop)s's return addresses")
                % {"shop": self.shop.platform_id}
            )
        self.return_receiver, self.return_phone = address.receiver, address.phone
        self.return_region, self.return_detail = address.region, address.detail
        self.due_at = at + BUYER_WINDOW

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=State.MERCHANT_REFUSED,
        permission=_merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Refuse"), "form": "reason"},
    )
    def merchant_refuse(self, *, at: dt.datetime, reason: str) -> None:
        self.merchant_statement = _required(reason, _("a reason for refusing"))
        self.refused_at = self.changed_at = at
        self.due_at = at + BUYER_WINDOW

    @transition(
        field=state,
        source=State.RETURN_SHIPPED,
        target=State.REFUNDED,
        permission=_merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Confirm refund")},
    )
    def confirm_refund(self, *, at: dt.datetime) -> None:
        self._resolve(at)

    @transition(
        field=state,
        source=State.RETURN_SHIPPED,
        target=State.RETURN_REFUSED,
        permission=_merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Refuse refund"), "form": "reason"},
    )
    def refuse_return(self, *, at: dt.datetime, reason: str) -> None:
        self.merchant_statement = _required(reason, _("a reason for refusing the refund"))
        self.refused_at = self.changed_at = at
        self.due_at = at + BUYER_WINDOW

    # --- reviewer transitions (review queue) ------------------------------------------------

    @transition(
        field=state,
        source=State.UNDER_INTERVENTION,
        target=GET_STATE(_rule_target, states=[State.REFUNDED, State.CLOSED]),
        permission=_reviewer,
        custom={"actor": Actor.REVIEWER, "label": _("Rule"), "form": "ruling"},
    )
    def rule(self, *, at: dt.datetime, liable: str, note: str) -> None:
        if liable not in Liable.values:
            raise CaseRuleError(_("liable must be merchant or buyer, got %(liable)s") % {"liable": liable})
        self.ruling_note = _required(note, _("a ruling note"))
        self.liable = liable
        if liable == Liable.BUYER:
            self.close_reason = CloseReason.RULED_FOR_MERCHANT
        self._resolve(at)

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=None,  # the state stays; only the merchant's deadline moves
        permission=_reviewer,
        custom={"actor": Actor.REVIEWER, "label": _("Shorten deadline"), "form": "deadline"},
    )
    def shorten_deadline(self, *, at: dt.datetime, due_at: dt.datetime) -> None:
        floor = at + SHORTEN_FLOOR
        if due_at < floor:
            raise CaseRuleError(
                _("the merchant deadline cannot be set earlier than 24 hours from now (%(floor)s)")
                % {"floor": floor.isoformat()}
            )
        if self.due_at is None or due_at >= self.due_at:
            raise CaseRuleError(
                _("the new deadline %(new)s does not shorten the current one (%(current)s)")
                % {"new": due_at.isoformat(), "current": self.due_at.isoformat() if self.due_at else "-"}
            )
        self.due_at = due_at
        self.changed_at = at

    # --- system transitions (deadlines) ----------------------------------------------------

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=State.REFUNDED,
        permission=_buyer_or_system,
        # §3.2: a return_refund case the merchant ignored is refunded without a return.
        custom={"actor": Actor.SYSTEM, "label": _("Auto-agree"), "automatic": True},
    )
    def auto_agree(self) -> None:
        self._apply_deadline("auto_agree")

    @transition(
        field=state,
        source=WAITING_BUYER,
        target=State.CLOSED,
        permission=_buyer_or_system,
        custom={
            "actor": Actor.SYSTEM,
            "label": _("Expire"),
            "automatic": True,
            "sets": {"close_reason": CloseReason.BUYER_OVERDUE},
        },
    )
    def expire(self) -> None:
        self._apply_deadline("expire")

    @transition(
        field=state,
        source=State.RETURN_SHIPPED,
        target=State.REFUNDED,
        permission=_buyer_or_system,
        custom={"actor": Actor.SYSTEM, "label": _("Auto-refund"), "automatic": True},
    )
    def auto_refund(self) -> None:
        self._apply_deadline("auto_refund")


def automatic_transitions() -> dict[str, Transition]:
    """State → the automatic transition that leaves it at its deadline, from the declarations."""
    found: dict[str, Transition] = {}
    for t in AfterSalesCase._meta.get_field("state").get_all_transitions(AfterSalesCase):
        if t.custom.get("automatic"):
            assert t.source not in found, f"two automatic transitions leave {t.source}"
            found[t.source] = t
    return found


@functools.cache
def transition_labels() -> dict[str, str]:
    return {
        t.name: t.custom.get("label", t.name)
        for t in AfterSalesCase._meta.get_field("state").get_all_transitions(AfterSalesCase)
    }


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

    @property
    def label(self) -> str:
        """The transition's name as staff read it (its button label), from the FSM declaration."""
        return transition_labels().get(self.transition, self.transition)


class Refund(models.Model):
    """Exactly one per refunded case (unique case). Carries what the metrics classify by."""

    case = models.OneToOneField(AfterSalesCase, on_delete=models.PROTECT, related_name="refund")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="refunds")
    # The order's goods, copied: the daily metrics count refunds per goods without looking up
    # the order of each one. Indexed by refund_goods_order_at below.
    goods = models.ForeignKey(Goods, on_delete=models.PROTECT, related_name="refunds", db_index=False)
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


class Evidence(EvidenceBase):
    case = models.ForeignKey(AfterSalesCase, on_delete=models.CASCADE, related_name="evidence")
    image = models.ImageField(_("image"), upload_to="evidence/%Y/%m/", blank=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["case", "added_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.side} {self.note}"
