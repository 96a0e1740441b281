"""Reads for violations, charges, credits and account statements, scoped to what the user may see."""

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce
from django.utils import timezone

from pddadmin.fsm import allowed
from pddadmin.shops.models import MONEY, Shop
from pddadmin.shops.selectors import visible_to

from .models import Account, AccountKind, Charge, ChargeKind, Entry, Violation

MONEY_FIELD = DecimalField(**MONEY)
CENT = Decimal("0.01")
PAYOUT_COLUMNS = (
    "violation",
    "order",
    "buyer",
    "amount",
    "from_deposit",
    "from_balance",
    "arrears",
    "coupon",
    "issued_at",
    "expires_at",
)
CHARGE_COLUMNS = (
    "kind",
    "shop",
    "violation",
    "order",
    "message",
    "buyer",
    "amount",
    "from_deposit",
    "from_balance",
    "arrears",
    "coupon",
    "at",
    "expires_at",
)
ACCOUNT_COLUMNS = ("shop", "deposit", "balance", "arrears")
STATEMENT_COLUMNS = ("time", "transaction", "kind", "memo", "amount", "running_balance")


def violations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Violation]:
    return visible_to(Violation.objects.select_related("shop"), user=user)


def violation_actions(*, violation: Violation, user: AbstractBaseUser | AnonymousUser) -> dict[str, str]:
    """{transition: button label} of what `user` may do to `violation` now ("explain", "rule"), as
    the violation's state machine declares it: the pages offer these and nothing else."""
    return {t.name: t.custom["label"] for t in allowed(violation, user)}


def payouts() -> QuerySet[Charge]:
    """The warranty payouts of SPEC §6.2: the charges of kind warranty."""
    return Charge.objects.filter(kind=ChargeKind.WARRANTY)


def payouts_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Charge]:
    return visible_to(
        payouts().select_related("violation", "order", "coupon", "shop").order_by("-at", "-id"), user=user
    )


def charges_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Charge]:
    return visible_to(
        Charge.objects.select_related("violation", "order", "coupon", "shop").order_by("-at", "-id"), user=user
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
    # To the cent, and +0: SQLite computes sums and negations of decimals in binary floating point,
    # so an account paid off to zero can read back as -8.9e-16 there, which would print "-0.00".
    return f"{value.quantize(CENT) + 0:.2f}"


def _moment(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat()


def payout_rows(payouts: QuerySet[Charge]) -> Iterator[dict]:
    """SPEC §9 export rows: amounts as "100.00" strings, times ISO-8601 with offset."""
    for row in charge_rows(payouts):
        yield {
            "violation": row["violation"],
            "order": row["order"],
            "buyer": row["buyer"],
            "amount": row["amount"],
            "from_deposit": row["from_deposit"],
            "from_balance": row["from_balance"],
            "arrears": row["arrears"],
            "coupon": row["coupon"],
            "issued_at": row["at"],
            "expires_at": row["expires_at"],
        }


def charge_rows(charges: QuerySet[Charge]) -> Iterator[dict]:
    """SPEC §9 `export_charges` rows, in the order the charges apply (time, then as written)."""
    qs = charges.select_related("shop", "violation", "order", "coupon").order_by("at", "id")
    for c in qs.iterator(chunk_size=2000):
        yield {
            "kind": c.kind,
            "shop": c.shop.platform_id,
            "violation": c.violation.platform_id if c.violation_id else None,
            "order": c.order.platform_id if c.order_id else None,
            "message": c.message or None,
            "buyer": c.buyer,
            "amount": _money(c.amount),
            "from_deposit": _money(c.from_deposit),
            "from_balance": _money(c.from_balance),
            "arrears": _money(c.arrears),
            "coupon": c.coupon.code if c.coupon_id else None,
            "at": _moment(c.at),
            "expires_at": _moment(c.coupon.expires_at) if c.coupon_id else None,
        }


def shop_money(shops: QuerySet[Shop]) -> QuerySet[Shop]:
    """Each shop with `owed`: its arrears as a positive figure (deposit and balance are columns)."""
    arrears = Account.objects.filter(shop=OuterRef("pk"), kind=AccountKind.ARREARS).values("balance")[:1]
    return shops.annotate(owed=Coalesce(-Subquery(arrears), Value(Decimal("0.00")), output_field=MONEY_FIELD))


def account_rows(shops: QuerySet[Shop]) -> Iterator[dict]:
    """SPEC §9 `export_accounts` rows: shop, deposit, balance, arrears (what it owes, ≥ 0)."""
    for shop in shop_money(shops).order_by("platform_id").iterator(chunk_size=2000):
        yield {
            "shop": shop.platform_id,
            "deposit": _money(shop.deposit),
            "balance": _money(shop.balance),
            "arrears": _money(shop.owed + 0),
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
