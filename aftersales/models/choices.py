"""The vocabulary of after-sales cases (SPEC §2): kinds, reasons, states, parties."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    REFUND_ONLY = "refund_only", _("refund only")
    RETURN_REFUND = "return_refund", _("return and refund")
    EXCHANGE = "exchange", _("exchange")


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

# SPEC §2.1 (换货流程 一): an exchange is for a fault of the goods or of their delivery, not for a
# change of mind, a shipment that never came or a parcel the courier lost.
EXCHANGE_REASONS: frozenset[str] = frozenset(
    {r for r, c in REASON_CLASS.items() if c == ReasonClass.QUALITY}
    | {Reason.DAMAGED_IN_TRANSIT, Reason.WRONG_OR_MISSING, Reason.OTHER}
)


class State(models.TextChoices):
    PENDING_MERCHANT = "pending_merchant", _("awaiting merchant")
    MERCHANT_REFUSED = "merchant_refused", _("refused by merchant")
    AWAITING_RETURN = "awaiting_return", _("awaiting buyer's return")
    RETURN_SHIPPED = "return_shipped", _("return shipped")
    RETURN_REFUSED = "return_refused", _("refund refused after return")
    UNDER_INTERVENTION = "under_intervention", _("under platform intervention")
    REFUNDED = "refunded", _("refunded")
    EXCHANGED = "exchanged", _("exchanged")
    CLOSED = "closed", _("closed")


TERMINAL_STATES = (State.REFUNDED, State.EXCHANGED, State.CLOSED)
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


WAITING_BUYER = [State.MERCHANT_REFUSED, State.AWAITING_RETURN, State.RETURN_REFUSED]
