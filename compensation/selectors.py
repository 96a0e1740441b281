"""Reads for violations, payouts and account statements, scoped to what the user may see."""

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, QuerySet, Sum, Window
from django.utils import timezone

from pddadmin.exports import safe_cell
from pddadmin.shops.selectors import is_platform_staff, shop_ids_for

from .models import Account, Entry, Payout, Violation

PAYOUT_COLUMNS = (
    "violation", "order", "buyer", "amount", "from_deposit", "from_balance", "arrears", "coupon", "issued_at",
    "expires_at",
)
STATEMENT_COLUMNS = ("time", "transaction", "kind", "memo", "amount", "running_balance")


def _scoped(qs: QuerySet, user: AbstractBaseUser | AnonymousUser, path: str = "shop") -> QuerySet:
    if is_platform_staff(user):
        return qs
    return qs.filter(**{f"{path}__in": shop_ids_for(user)})


def violations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Violation]:
    return _scoped(Violation.objects.select_related("shop"), user)


def payouts_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Payout]:
    return _scoped(
        Payout.objects.select_related("violation", "order", "coupon", "shop").order_by("-issued_at", "-id"), user
    )


def accounts_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Account]:
    return _scoped(Account.objects.filter(shop__isnull=False).select_related("shop"), user).order_by(
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


def safe_row(row: dict) -> dict:
    """CSV/XLSX cells a spreadsheet would run as formulas become text (ids come from outside)."""
    return {key: safe_cell(value) for key, value in row.items()}
