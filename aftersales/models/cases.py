"""After-sales cases (SPEC §2): the case, its state machine, and the evidence of both sides."""

import datetime as dt
import functools
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import GET_STATE, ConcurrentTransitionMixin, FSMField, Transition, transition

from pddadmin.evidence import EvidenceBase
from pddadmin.shops.models import MONEY, Order, Shop
from pddadmin.timefmt import shown

from ..errors import CaseRuleError
from .addresses import ReturnAddress
from .choices import OPEN_STATES, TERMINAL_STATES, WAITING_BUYER, Actor, CloseReason, Kind, Liable, Reason, State
from .rules import (
    AGREE_RULES,
    BUYER_WINDOW,
    MERCHANT_WINDOW,
    OPEN_RULES,
    RESHIP_RULES,
    RETURN_CHECK_WINDOW,
    SHORTEN_FLOOR,
    agree_target,
    amount_error,
    buyer_or_system,
    merchant_staff,
    platform_reviewer,
    reason_error,
    required_text,
    rule_target,
)


class AfterSalesCase(ConcurrentTransitionMixin, models.Model):
    """A buyer's after-sales request (售后单).

    `state` changes only through the @transition methods below (the field is protected); the
    services in `services/cases.py` lock the row, call them, save and log. Each transition's
    `custom` says who takes it (`actor`), how the workbench labels it, and for the automatic
    ones which fields they set, so the bulk deadline job reads its updates from here too.
    """

    platform_id = models.CharField(_("case id"), max_length=64, unique=True)
    # No index of their own (db_index=False): case_order_state and the shop-first indexes below lead
    # with these columns and serve every look-up by order or shop (plans in
    # bench/results/process_deadlines.md); each index is one more write of every case change.
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    # Denormalised from the order: every list and metric filters by shop first.
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="cases", db_index=False
    )
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
    # The replacement the merchant sent for an exchange (换货流程 三.5); set by `reship` only. The
    # database default keeps bulk loads that name their columns (bench/, tests) writing cases.
    reship_tracking = models.CharField(
        _("replacement tracking number"), max_length=64, blank=True, default="", db_default=""
    )
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
        settings.AUTH_USER_MODEL,
        verbose_name=_("claimed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="claimed_cases",
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    changed_at = models.DateTimeField(_("last changed"))
    # When the row was last written, by the clock (changed_at is the moment of the change in the
    # SPEC's time: an automatic transition's deadline, a feed event's time, both possibly long
    # past). The open API's incremental sync orders by it (api/pagination.py); every write of a
    # case sets it: save() through auto_now, the deadline job's bulk update in deadline_changes.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_default=Now())

    class Meta:
        verbose_name = _("after-sales case")
        verbose_name_plural = _("after-sales cases")
        indexes = [
            models.Index(fields=["state", "due_at"], name="case_state_due"),
            # The deadline job's walk (services/deadlines.py): only the cases that have a deadline,
            # in the order it claims them (id), so a history of finished cases costs it nothing.
            models.Index(fields=["id", "due_at"], name="case_due_walk", condition=Q(due_at__isnull=False)),
            # The desk's lists in their order (due_at, nulls last as a btree keeps them, then changed_at,
            # id) within a shop and state: a page is read and the scan stops (bench/pages.py). It
            # starts as the (shop, state, due_at) index it replaces did, for every query that used that.
            models.Index(fields=["shop", "state", "due_at", "changed_at", "id"], name="case_shop_state_due_changed"),
            models.Index(fields=["shop", "intervened_at"], name="case_shop_intervened"),
            # The review queue's order, carrying what its filters test (shop, kind, reason, claimer) so
            # that its bounded count reads the index alone on PostgreSQL (bench/pages.py: 84 ms → 9 ms for
            # unclaimed + a reason over 100,000 waiting). It starts as (state, escalated_at) did.
            models.Index(
                fields=["state", "escalated_at"],
                include=["id", "shop", "kind", "reason", "claimed_by"],
                name="case_state_escalated_cover",
            ),
            # The queue sorted by shop (each shop's cases oldest first) and filtered by shop: the
            # waiting cases alone, in that order (bench/pages.py: page 50 by shop 48 ms → 0.4 ms).
            models.Index(
                fields=["shop", "escalated_at", "id"],
                condition=Q(state="under_intervention"),
                name="case_queue_shop",
            ),
            models.Index(fields=["order", "state"], name="case_order_state"),
            models.Index(fields=["shop", "updated_at", "id"], name="case_shop_updated"),
        ]
        constraints = [
            # SPEC §2.1: at most one open case per order, enforced by the database too.
            models.UniqueConstraint(
                fields=["order"],
                condition=~Q(state__in=[str(s) for s in TERMINAL_STATES]),
                name="one_open_case_per_order",
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
        return {
            "due_at": None,
            "resolved_at": due,
            "changed_at": due,
            "updated_at": timezone.now(),
            **transition.custom.get("sets", {}),
        }

    def _apply_deadline(self, name: str) -> None:
        for field, value in self.deadline_changes(declared_transitions()[name][self.state], self.due_at).items():
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
        permission=buyer_or_system,
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
        permission=buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Resubmit")},
    )
    def resubmit(self, *, at: dt.datetime, amount: Decimal | None = None, reason: str | None = None) -> None:
        if reason is not None:
            if reason not in Reason.values:
                raise CaseRuleError(_("unknown reason %(reason)s") % {"reason": reason})
            error = reason_error(self.kind, reason)  # SPEC §2.1: an exchange keeps a reason it allows
            if error:
                raise CaseRuleError(error)
        if amount is not None:
            error = amount_error(amount, self.order)
            if error:
                raise CaseRuleError(error)
            self.amount = amount
        if reason is not None:
            self.reason = reason
        # SPEC §2.4.1/§3.3.1: a resubmission gives the merchant a fresh 48 h.
        self.submitted_at = self.changed_at = at
        self.due_at = at + MERCHANT_WINDOW

    @transition(
        field=state,
        source=[State.MERCHANT_REFUSED, State.RETURN_REFUSED],
        target=State.UNDER_INTERVENTION,
        permission=buyer_or_system,
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
        permission=buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Cancel")},
    )
    def cancel(self, *, at: dt.datetime) -> None:
        self.close_reason = CloseReason.BUYER_CANCELLED
        self._resolve(at)

    @transition(
        field=state,
        source=State.AWAITING_RETURN,
        target=State.RETURN_SHIPPED,
        permission=buyer_or_system,
        custom={"actor": Actor.BUYER, "label": _("Ship return")},
    )
    def ship_return(self, *, at: dt.datetime, tracking: str) -> None:
        self.return_tracking = required_text(tracking, _("a return tracking number"))[:64]
        self.return_shipped_at = self.changed_at = at
        self.due_at = at + RETURN_CHECK_WINDOW

    # --- merchant transitions (workbench, merchants' ERP through the feed) --------------------

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=GET_STATE(agree_target, states=[State.REFUNDED, State.AWAITING_RETURN]),
        conditions=AGREE_RULES,
        permission=merchant_staff,
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
        permission=merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Refuse"), "form": "reason"},
    )
    def merchant_refuse(self, *, at: dt.datetime, reason: str) -> None:
        self.merchant_statement = required_text(reason, _("a reason for refusing"))
        self.refused_at = self.changed_at = at
        self.due_at = at + BUYER_WINDOW

    @transition(
        field=state,
        source=State.RETURN_SHIPPED,
        target=State.REFUNDED,
        permission=merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Confirm refund")},
    )
    def confirm_refund(self, *, at: dt.datetime) -> None:
        self._resolve(at)

    @transition(
        field=state,
        source=State.RETURN_SHIPPED,
        target=State.EXCHANGED,
        conditions=RESHIP_RULES,
        permission=merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Send replacement"), "form": "tracking"},
    )
    def reship(self, *, at: dt.datetime, tracking: str) -> None:
        """The returned goods passed the merchant's check and the replacement is on its way: the
        exchange is done, and nothing is refunded."""
        self.reship_tracking = required_text(tracking, _("the replacement's tracking number"))[:64]
        self._resolve(at)

    @transition(
        field=state,
        source=State.RETURN_SHIPPED,
        target=State.RETURN_REFUSED,
        permission=merchant_staff,
        custom={"actor": Actor.MERCHANT, "label": _("Refuse refund"), "form": "reason"},
    )
    def refuse_return(self, *, at: dt.datetime, reason: str) -> None:
        self.merchant_statement = required_text(reason, _("a reason for refusing the refund"))
        self.refused_at = self.changed_at = at
        self.due_at = at + BUYER_WINDOW

    # --- reviewer transitions (review queue) ------------------------------------------------

    @transition(
        field=state,
        source=State.UNDER_INTERVENTION,
        target=GET_STATE(rule_target, states=[State.REFUNDED, State.CLOSED]),
        permission=platform_reviewer,
        custom={"actor": Actor.REVIEWER, "label": _("Rule"), "form": "ruling"},
    )
    def rule(self, *, at: dt.datetime, liable: str, note: str) -> None:
        if liable not in Liable.values:
            raise CaseRuleError(_("liable must be merchant or buyer, got %(liable)s") % {"liable": liable})
        self.ruling_note = required_text(note, _("a ruling note"))
        self.liable = liable
        if liable == Liable.BUYER:
            self.close_reason = CloseReason.RULED_FOR_MERCHANT
        self._resolve(at)

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=None,  # the state stays; only the merchant's deadline moves
        permission=platform_reviewer,
        custom={"actor": Actor.REVIEWER, "label": _("Shorten deadline"), "form": "deadline"},
    )
    def shorten_deadline(self, *, at: dt.datetime, due_at: dt.datetime) -> None:
        floor = at + SHORTEN_FLOOR
        if due_at < floor:
            raise CaseRuleError(
                _("the merchant deadline cannot be set earlier than 24 hours from now (%(floor)s)")
                % {"floor": shown(floor)}
            )
        if self.due_at is None or due_at >= self.due_at:
            raise CaseRuleError(
                _("the new deadline %(new)s does not shorten the current one (%(current)s)")
                % {"new": shown(due_at), "current": shown(self.due_at)}
            )
        self.due_at = due_at
        self.changed_at = at

    # --- system transitions (deadlines) ----------------------------------------------------

    @transition(
        field=state,
        source=State.PENDING_MERCHANT,
        target=State.REFUNDED,
        permission=buyer_or_system,
        # §3.2: a return_refund case the merchant ignored is refunded without a return; so is an
        # exchange (SPEC §2.3, decided there: merchant silence always ends in a refund).
        custom={"actor": Actor.SYSTEM, "label": _("Auto-agree"), "automatic": True},
    )
    def auto_agree(self) -> None:
        self._apply_deadline("auto_agree")

    @transition(
        field=state,
        source=WAITING_BUYER,
        target=State.CLOSED,
        permission=buyer_or_system,
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
        permission=buyer_or_system,
        custom={"actor": Actor.SYSTEM, "label": _("Auto-refund"), "automatic": True},
    )
    def auto_refund(self) -> None:
        self._apply_deadline("auto_refund")


@functools.cache
def declared_transitions() -> dict[str, dict[str, Transition]]:
    """Transition name → {source state: its declaration}, as django-fsm's public API lists them."""
    found: dict[str, dict[str, Transition]] = defaultdict(dict)
    for t in AfterSalesCase._meta.get_field("state").get_all_transitions(AfterSalesCase):
        found[t.name][t.source] = t
    return dict(found)


def automatic_transitions() -> dict[str, Transition]:
    """State → the automatic transition that leaves it at its deadline, from the declarations."""
    found: dict[str, Transition] = {}
    for by_source in declared_transitions().values():
        for source, t in by_source.items():
            if t.custom.get("automatic"):
                assert source not in found, f"two automatic transitions leave {source}"
                found[source] = t
    return found


@functools.cache
def transition_labels() -> dict[str, str]:
    return {
        name: next(iter(by_source.values())).custom.get("label", name)
        for name, by_source in declared_transitions().items()
    }


class Evidence(EvidenceBase):
    case = models.ForeignKey(AfterSalesCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="evidence")
    image = models.ImageField(_("image"), upload_to="evidence/%Y/%m/", blank=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["case", "added_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.side} {self.note}"
