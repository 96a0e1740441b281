"""Reads for violations, payouts and account statements, scoped to what the user may see."""

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, QuerySet, Sum, Window
from django.utils import timezone

from pddadmin.fsm import allowed
from pddadmin.shops.selectors import visible_to

from .models import Account, Entry, Payout, Violation

PAYOUT_COLUMNS = (
    "violation", "order", "buyer", "amount", "from_deposit", "from_balance", "arrears", "coupon", "issued_at",
    "expires_at",
)
STATEMENT_COLUMNS = ("time", "transaction", "kind", "memo", "amount", "running_balance")


def violations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Violation]:
    return visible_to(Violation.objects.select_related("shop"), user=user)


def violation_actions(*, violation: Violation, user: AbstractBaseUser | AnonymousUser) -> dict[str, str]:
    """{transition: button label} of what `user` may do to `violation` now ("explain", "rule"), as
    the violation's state machine declares it: the pages offer these and nothing else."""
    return {t.name: t.custom["label"] for t in allowed(violation, user)}


def payouts_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Payout]:
    return visible_to(
        Payout.objects.select_related("violation", "order", "coupon", "shop").order_by("-issued_at", "-id"), user=user
    )


def accounts_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Account]:
    return visible_to(Account.objects.filter(shop__isnull=False).select_related("shop"), user=user).order_by(
        "shop__platform_id", "kind"
    )


def statement(*, account: Account) -> QuerySet[Entry]:
    """The account's entries in time order, each with the balance after it (window function)."""
    order = [F("at").asc(), F("id").asc()]
    return (
        Entry.objects.filter(account=account)
        .select_related("transaction")
        .annotate(running_balance=Window(Sum("amount"), order_by=order))
        .order_by(*order)
    )


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _moment(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat()


def payout_rows(payouts: QuerySet[Payout]) -> Iterator[dict]:
    """SPEC §9 export rows: amounts as "100.00" strings, times ISO-8601 with offset."""
    qs = payouts.select_related("violation", "order", "coupon").order_by("issued_at", "id")
    for p in qs.iterator(chunk_size=2000):
        yield {
            "violation": p.violation.platform_id,
            "order": p.order.platform_id,
            "buyer": p.buyer,
            "amount": _money(p.amount),
            "from_deposit": _money(p.from_deposit),
            "from_balance": _money(p.from_balance),
            "arrears": _money(p.arrears),
            "coupon": p.coupon.code,
            "issued_at": _moment(p.issued_at),
            "expires_at": _moment(p.coupon.expires_at),
        }


def statement_rows(*, account: Account) -> Iterator[dict]:
    for entry in statement(account=account):
        yield {
            "time": _moment(entry.at),
            "transaction": entry.transaction_id,
            "kind": entry.transaction.get_kind_display(),
            "memo": entry.transaction.memo,
            "amount": _money(entry.amount),
            "running_balance": _money(entry.running_balance),
        }
