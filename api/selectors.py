"""The API's reads: always of one shop, the key's."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet

from aftersales.models import AfterSalesCase, CaseTransition, ReturnAddress
from compensation import selectors as money_selectors
from compensation.models import Account, Charge
from customerservice import selectors as cs_selectors
from customerservice.models import Conversation, Direction, Message
from pddadmin.shops.models import Order, Shop


def cases_of(
    *,
    shop: Shop,
    state: str | None = None,
    kind: str | None = None,
    reason: str | None = None,
    updated_since: dt.datetime | None = None,
) -> QuerySet[AfterSalesCase]:
    cases = AfterSalesCase.objects.filter(shop=shop).select_related("order")
    if state:
        cases = cases.filter(state=state)
    if kind:
        cases = cases.filter(kind=kind)
    if reason:
        cases = cases.filter(reason=reason)
    if updated_since is not None:
        cases = cases.filter(updated_at__gte=updated_since)
    return cases


def case_of(*, shop: Shop, case_id: str, with_log: bool = False) -> AfterSalesCase | None:
    """The shop's case with that platform id; None also when it is another shop's (not_found)."""
    cases = AfterSalesCase.objects.filter(shop=shop, platform_id=case_id).select_related("order", "shop")
    if with_log:
        cases = cases.prefetch_related(Prefetch("transitions", queryset=CaseTransition.objects.order_by("at", "id")))
    return cases.first()


# --- customer service (SPEC §7.1) -------------------------------------------------------------


def _unanswered() -> Prefetch:
    return Prefetch(
        "messages",
        queryset=Message.objects.filter(direction=Direction.RECEIVED, answered_at__isnull=True)
        .select_related("order")
        .order_by("at", "id"),
        to_attr="waiting_messages",
    )


def conversations_waiting(*, shop: Shop, now: dt.datetime) -> QuerySet[Conversation]:
    """The shop's conversations with a buyer message still unanswered, most urgent first (the
    workbench's list: customerservice.selectors.waiting_conversations), each with its unanswered
    messages in `waiting_messages`."""
    conversations = Conversation.objects.filter(shop=shop)
    return cs_selectors.waiting_conversations(conversations, now=now).prefetch_related(_unanswered())


def conversation_of(*, shop: Shop, buyer: str) -> Conversation | None:
    """The shop's conversation with `buyer`; None also when only another shop has one."""
    return Conversation.objects.filter(shop=shop, buyer=buyer).select_related("shop").first()


# --- return addresses (SPEC §3) ---------------------------------------------------------------


def addresses_of(*, shop: Shop) -> QuerySet[ReturnAddress]:
    return ReturnAddress.objects.filter(shop=shop).order_by("-is_default", "id")


def address_of(*, shop: Shop, address_id: int) -> ReturnAddress | None:
    return ReturnAddress.objects.filter(shop=shop, pk=address_id).select_related("shop").first()


# --- orders (SPEC §7.3) -----------------------------------------------------------------------


def order_of(*, shop: Shop, order_id: str) -> Order | None:
    return Order.objects.filter(shop=shop, platform_id=order_id).select_related("shop").first()


# --- money (SPEC §6.1) ------------------------------------------------------------------------


def charges_of(*, shop: Shop, kind: str | None = None) -> QuerySet[Charge]:
    charges = Charge.objects.filter(shop=shop).select_related("order", "violation", "coupon")
    if kind:
        charges = charges.filter(kind=kind)
    return charges


def books_of(*, shop: Shop) -> Shop:
    """The shop with `owed` (its arrears as a positive figure) and its ledger accounts in
    `ledger_accounts`: compensation.selectors.shop_money, as export_accounts reads it."""
    books = money_selectors.shop_money(Shop.objects.filter(pk=shop.pk)).get()
    books.ledger_accounts = list(Account.objects.filter(shop=shop).order_by("kind"))
    return books
