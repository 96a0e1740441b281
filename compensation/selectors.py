"""Reads for violations, charges, credits and account statements, scoped to what the user may see."""

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import DecimalField, Exists, F, OuterRef, QuerySet, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from aftersales.models import AfterSalesCase, Refund
from pddadmin.fsm import allowed
from pddadmin.shops.models import MONEY, Order, Shop
from pddadmin.shops.selectors import handles_cases, visible_to

from .models import (
    SHIPPING_CHARGE_KINDS,
    Account,
    AccountKind,
    Charge,
    ChargeKind,
    Credit,
    Entry,
    LedgerTransaction,
    TransactionKind,
    Violation,
)

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
STATEMENT_COLUMNS = ("time", "transaction", "kind", "cause", "memo", "amount", "running_balance")
# The header a person reads in a page's CSV/XLSX download; the commands keep SPEC §9's names.
COLUMN_LABELS = {
    "violation": gettext_lazy("violation id"),
    "order": gettext_lazy("order id"),
    "buyer": gettext_lazy("buyer id"),
    "amount": gettext_lazy("amount"),
    "from_deposit": gettext_lazy("from deposit"),
    "from_balance": gettext_lazy("from goods balance"),
    "arrears": gettext_lazy("arrears"),
    "coupon": gettext_lazy("coupon"),
    "issued_at": gettext_lazy("issued at"),
    "expires_at": gettext_lazy("expires at"),
    "kind": pgettext_lazy("money", "kind"),
    "shop": gettext_lazy("shop id"),
    "message": gettext_lazy("message id"),
    "at": gettext_lazy("time"),
    "deposit": gettext_lazy("deposit"),
    "balance": gettext_lazy("goods balance"),
    "time": gettext_lazy("time"),
    "transaction": gettext_lazy("transaction"),
    "cause": gettext_lazy("cause"),
    "memo": gettext_lazy("memo"),
    "running_balance": gettext_lazy("running balance"),
}


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


def shop_accounts(shops: QuerySet[Shop]) -> QuerySet[Shop]:
    """`shop_money` with the pk of each of the shop's three accounts (`deposit_account`,
    `balance_account`, `arrears_account`: the links to their statements), in one query."""
    ids = {
        f"{kind}_account": Subquery(Account.objects.filter(shop=OuterRef("pk"), kind=kind).values("pk")[:1])
        for kind in (AccountKind.DEPOSIT, AccountKind.BALANCE, AccountKind.ARREARS)
    }
    return shop_money(shops).annotate(**ids)


def statement(*, account: Account) -> QuerySet[Entry]:
    """The account's entries in time order, each with the balance after it (window function) and
    its transaction's cause: the charge (its violation, its order) or the credit (who recorded it),
    joined in the same query (one-to-one, so the joins add no rows)."""
    order = [F("at").asc(), F("id").asc()]
    return (
        Entry.objects.filter(account=account)
        .select_related(
            "transaction",
            "transaction__charge__violation",
            "transaction__charge__order",
            "transaction__credit__recorded_by",
        )
        .annotate(running_balance=Window(Sum("amount"), order_by=order))
        .order_by(*order)
    )


def transaction_charge(txn: LedgerTransaction) -> Charge | None:
    """The charge a transaction wrote, or None (read from `statement`'s join: no query)."""
    try:
        return txn.charge
    except ObjectDoesNotExist:
        return None


def transaction_credit(txn: LedgerTransaction) -> Credit | None:
    try:
        return txn.credit
    except ObjectDoesNotExist:
        return None


def charge_cause(charge: Charge) -> str:
    """What a charge is for, in words (the pages link the same ids to their pages)."""
    if charge.kind == ChargeKind.WARRANTY:
        return _("violation %(violation)s, order %(order)s") % {
            "violation": charge.violation.platform_id,
            "order": charge.order.platform_id,
        }
    if charge.kind == ChargeKind.LATE_REPLY:
        return _("message %(message)s") % {"message": charge.message}
    return _("order %(order)s") % {"order": charge.order.platform_id}


def credit_cause(credit: Credit) -> str:
    """Where a credit came from: the platform feed's event, or the staff member who recorded it."""
    if credit.recorded_by_id:
        text = _("recorded by %(user)s") % {"user": credit.recorded_by.get_username()}
    else:
        text = _("platform feed, event %(event)s") % {"event": credit.reference or "—"}
    return f"{text}: {credit.note}" if credit.note else text


def transaction_cause(txn: LedgerTransaction) -> str:
    charge = transaction_charge(txn)
    if charge is not None:
        return charge_cause(charge)
    credit = transaction_credit(txn)
    return credit_cause(credit) if credit is not None else ""


def memo_shown(txn: LedgerTransaction) -> str:
    """A transaction's memo in the reader's language. The stored memo was written in the language
    active when the money moved (a feed import, a job); what it says follows from the transaction
    itself, so it is said again here, and the stored text is shown only when nothing else is known
    (a staff member's own note)."""
    if txn.kind == TransactionKind.OPENING:
        return _("opening balances")
    charge = transaction_charge(txn)
    if charge is not None:
        return f"{charge.get_kind_display()}: {charge_cause(charge)}"
    credit = transaction_credit(txn)
    if credit is not None:
        return credit.note or str(credit.get_kind_display())
    return txn.memo


# --- orders: their money and the out-of-stock declaration (SPEC §7.3) -------------------------


def orders_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    return visible_to(Order.objects.select_related("shop", "goods"), user=user)


def orders_to_ship(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    """The user's grouped orders that may still ship late: watched for a late shipment (the
    partial index on `late_shipment_due_at`), not shipped, not declared out of stock, not
    refunded; the most urgent first."""
    qs = (
        Order.objects.filter(late_shipment_due_at__isnull=False, shipped_at__isnull=True, out_of_stock_at__isnull=True)
        .exclude(Exists(Refund.objects.filter(order=OuterRef("pk"))))
        .select_related("goods", "shop")
        .order_by("late_shipment_due_at", "id")
    )
    return visible_to(qs, user=user)


def order_charges(order: Order) -> QuerySet[Charge]:
    return order.charges.select_related("violation", "coupon").order_by("at", "id")


def order_cases(order: Order) -> QuerySet[AfterSalesCase]:
    return AfterSalesCase.objects.filter(order=order).order_by("opened_at", "id")


def shipping_charge(order: Order) -> Charge | None:
    """The order's one shipping compensation (late shipment or out of stock), if it has one."""
    return order.charges.filter(kind__in=SHIPPING_CHARGE_KINDS).select_related("coupon").first()


def out_of_stock_refusal(order: Order) -> str | None:
    """Why the order cannot be declared out of stock now (SPEC §8: not grouped, already shipped,
    already declared or refunded), or None. The declaration (`shipping.order_declare_out_of_stock`)
    asks this under its locks; the order's page asks it to decide whether to offer the button."""
    if order.grouped_at is None:
        return _("order %(id)s is not grouped yet") % {"id": order.platform_id}
    if order.shipped_at is not None:
        return _("order %(id)s is already shipped") % {"id": order.platform_id}
    if order.out_of_stock_at is not None:
        return _("order %(id)s was already declared out of stock") % {"id": order.platform_id}
    if Refund.objects.filter(order=order).exists():
        return _("order %(id)s is already refunded") % {"id": order.platform_id}
    return None


def out_of_stock_offered(*, order: Order, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the order's page offers `user` the out-of-stock declaration: the shop's owner or
    agent, on an order `out_of_stock_refusal` lets through."""
    return handles_cases(user, order.shop_id) and out_of_stock_refusal(order) is None


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
    for entry in statement(account=account).iterator(chunk_size=2000):
        yield {
            "time": _moment(entry.at),
            "transaction": entry.transaction_id,
            "kind": entry.transaction.get_kind_display(),
            "cause": transaction_cause(entry.transaction),
            "memo": memo_shown(entry.transaction),
            "amount": _money(entry.amount),
            "running_balance": _money(entry.running_balance),
        }
