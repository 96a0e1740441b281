"""The rules of a case's transitions (SPEC §2): who may take them (django-fsm `permission`),
the conditions that must hold (django-fsm `conditions`, each able to say why it does not), and
the durations and deadlines.

The case model (cases.py) declares its transitions with these. Nothing here imports it: a rule
reads the case it is given, and its class's manager.
"""

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from pddadmin.fsm import Rule
from pddadmin.shops.models import Order
from pddadmin.shops.selectors import handles_cases, is_platform_staff
from pddadmin.timefmt import shown

from ..errors import CaseRuleError
from .addresses import ReturnAddress
from .choices import EXCHANGE_REASONS, OPEN_STATES, Kind, Liable, State
from .refunds import Refund

if TYPE_CHECKING:
    from .cases import AfterSalesCase


# --- Durations and deadlines (SPEC §2.1, §2.3) ------------------------------------------------

AFTERSALES_WINDOW = dt.timedelta(days=15)  # after receipt, unless the merchant promised longer
EXCHANGE_WINDOW = dt.timedelta(days=7)  # after receipt, whatever the merchant promised (换货流程 一)
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


def exchange_window_end(order: Order) -> dt.datetime | None:
    """Last moment an exchange may be opened (inclusive); None while the order is not received."""
    return None if order.received_at is None else order.received_at + EXCHANGE_WINDOW


# --- Who may take a transition (django-fsm `permission`) -------------------------------------


def buyer_or_system(case: "AfterSalesCase", user) -> bool:
    # Buyers act through the platform feed and the system through the deadline job; no
    # back-office user takes these transitions, so the workbench never offers them.
    return False


def merchant_staff(case: "AfterSalesCase", user) -> bool:
    return handles_cases(user, case.shop_id)


def platform_reviewer(case: "AfterSalesCase", user) -> bool:
    return user is not None and is_platform_staff(user)


# --- Conditions: each one is a rule of SPEC §2 with the message that explains a refusal ------


def _within_window(case: "AfterSalesCase") -> bool:
    end = window_end(case.order)
    return end is None or case.opened_at <= end


def _kind_fits_order(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.REFUND_ONLY or case.order.shipped_at is not None


def _kind_fits_goods(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.REFUND_ONLY or not case.order.goods.special


def _exchange_after_receipt(case: "AfterSalesCase") -> bool:
    return case.kind != Kind.EXCHANGE or case.order.received_at is not None


def _within_exchange_window(case: "AfterSalesCase") -> bool:
    end = exchange_window_end(case.order)
    return case.kind != Kind.EXCHANGE or end is None or case.opened_at <= end


def _reason_fits_kind(case: "AfterSalesCase") -> bool:
    return reason_error(case.kind, case.reason) is None


def _is_exchange(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.EXCHANGE


def _order_not_refunded(case: "AfterSalesCase") -> bool:
    return not Refund.objects.filter(order_id=case.order_id).exists()


def _no_other_open_case(case: "AfterSalesCase") -> bool:
    others = type(case).objects.filter(order_id=case.order_id, state__in=OPEN_STATES)
    if case.pk is not None:
        others = others.exclude(pk=case.pk)
    return not others.exists()


def _amount_in_bounds(case: "AfterSalesCase") -> bool:
    return amount_error(case.amount, case.order) is None


def _return_address_available(case: "AfterSalesCase") -> bool:
    return case.kind == Kind.REFUND_ONLY or ReturnAddress.objects.filter(shop_id=case.shop_id).exists()


def reason_error(kind: str, reason: str) -> str | None:
    """Why `reason` cannot stand on a case of `kind` (SPEC §2.1), or None."""
    if kind == Kind.EXCHANGE and reason not in EXCHANGE_REASONS:
        return _(
            "an exchange needs a quality reason or damaged_in_transit, wrong_or_missing or other, not %(reason)s"
        ) % {"reason": reason}
    return None


def _special_goods_message(case: "AfterSalesCase") -> str:
    goods = case.order.goods.platform_id
    if case.kind == Kind.EXCHANGE:
        return _("goods %(goods)s are special goods (refund only): no exchange") % {"goods": goods}
    return _("goods %(goods)s are special goods (refund only): no return and refund") % {"goods": goods}


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
        lambda c: (
            _("the after-sales window of order %(order)s ended at %(end)s")
            % {"order": c.order.platform_id, "end": shown(window_end(c.order))}
        ),
    ),
    Rule(_kind_fits_goods, _special_goods_message),
    Rule(
        _kind_fits_order,
        lambda c: (
            _("order %(order)s is not shipped: only a refund-only case can be opened") % {"order": c.order.platform_id}
        ),
    ),
    Rule(
        _exchange_after_receipt,
        lambda c: (
            _("order %(order)s is not received: an exchange can be opened only after receipt")
            % {"order": c.order.platform_id}
        ),
    ),
    Rule(
        _within_exchange_window,
        lambda c: (
            _("the exchange window of order %(order)s (7 days after receipt) ended at %(end)s")
            % {"order": c.order.platform_id, "end": shown(exchange_window_end(c.order))}
        ),
    ),
    Rule(_reason_fits_kind, lambda c: reason_error(c.kind, c.reason)),
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
        lambda c: (
            _("shop %(shop)s has no return address: add one before agreeing a return") % {"shop": c.shop.platform_id}
        ),
    ),
]


RESHIP_RULES = [
    Rule(
        _is_exchange,
        lambda c: (
            _("case %(case)s is %(kind)s, not an exchange: there is no replacement to send")
            % {"case": c.platform_id, "kind": c.get_kind_display()}
        ),
    ),
]


def agree_target(case: "AfterSalesCase", *args, **kwargs) -> str:
    # SPEC §2.3: agreeing a refund-only case refunds it; a return or an exchange waits for the parcel.
    return State.REFUNDED if case.kind == Kind.REFUND_ONLY else State.AWAITING_RETURN


def rule_target(case: "AfterSalesCase", *args, liable: str = "", **kwargs) -> str:
    return State.REFUNDED if liable == Liable.MERCHANT else State.CLOSED


def required_text(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CaseRuleError(_("%(what)s is required") % {"what": what})
    return text
