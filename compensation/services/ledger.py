"""The money ledger. Every movement is one LedgerTransaction whose entries sum to zero.

Cached balances (Account.balance, and Shop.deposit/Shop.balance, which the shop list and the
feed read) are updated in the same database transaction as the entries. Shop.deposit and
Shop.balance stay real columns of the shops app rather than derived figures because other apps
filter and sort by them; this module is the only writer of both, and `check_ledger` proves
they agree with the entries.

Locks are always taken in one order: the Shop row, then its accounts (by id), then platform
accounts (by the UPDATE itself). A transaction only ever touches one shop, so two workers can
queue behind each other but never deadlock.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, DecimalField, F, QuerySet, Sum, Value, When
from django.db.models.functions import Abs, Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _

from pddadmin.shops.models import Shop

from ..models import SHOP_KINDS, Account, AccountKind, Entry, LedgerTransaction, TransactionKind

ZERO = Decimal("0.00")
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")


@dataclass
class Books:
    """A shop row and its accounts, locked for the current transaction."""

    shop: Shop
    accounts: dict[str, Account]

    @property
    def deposit(self) -> Account:
        return self.accounts[AccountKind.DEPOSIT]

    @property
    def balance(self) -> Account:
        return self.accounts[AccountKind.BALANCE]

    @property
    def arrears(self) -> Account:
        return self.accounts[AccountKind.ARREARS]

    @property
    def owed(self) -> Decimal:
        """Arrears as a positive figure: what the shop owes."""
        return -self.arrears.balance


def platform_account(kind: str) -> Account:
    # get_or_create retries the read when a concurrent worker created it first.
    account, _created = Account.objects.get_or_create(shop=None, kind=kind)
    return account


def lock_books(*, shop_id: int, shop_locked: bool = False) -> Books:
    """Lock the shop and its accounts; open the accounts on first use.

    `shop_locked`: the caller already holds the shop row's lock (the payout job claims it).

    A shop's books open the first time the ledger is used for it (or a page lists its accounts,
    `books_open`), not when the shop opens: the shops app below knows nothing of the ledger. Until
    then Shop.deposit and Shop.balance are the opening figures the platform sent, untouched (this
    module is their only writer), so they are posted then as the opening entries, stamped with the
    shop's opening time, and "balance = sum of entries" holds from then on.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_books needs a transaction")
    if not shop_locked:
        list(Shop.objects.select_for_update().filter(pk=shop_id).values_list("pk"))
    locked = list(
        Account.objects.select_for_update(of=("self",)).select_related("shop").filter(shop_id=shop_id).order_by("id")
    )
    if len(locked) == len(SHOP_KINDS):
        return Books(locked[0].shop, {a.kind: a for a in locked})
    shop = Shop.objects.get(pk=shop_id)
    accounts = {a.kind: a for a in locked}
    for account in locked:
        account.shop = shop
    fresh = not accounts
    for kind in SHOP_KINDS:
        if kind not in accounts:
            accounts[kind] = Account.objects.create(shop=shop, kind=kind)
    books = Books(shop, accounts)
    if fresh:
        opening_deposit, opening_balance = shop.deposit, shop.balance
        post(
            books,
            kind=TransactionKind.OPENING,
            at=shop.opened_at,
            memo=_("opening balances"),
            moves=[
                (books.deposit, opening_deposit),
                (books.balance, opening_balance),
                (platform_account(AccountKind.FUNDING), -(opening_deposit + opening_balance)),
            ],
        )
    return books


def books_open(*, shops: QuerySet[Shop]) -> int:
    """Open the books of each of `shops` that has none yet; how many were opened.

    For the pages that list accounts, so that a shop whose money has not moved yet is shown with
    its opening balances. Each shop in its own short transaction, like any first use.
    """
    opened = 0
    for shop_id in shops.filter(accounts__isnull=True).values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            lock_books(shop_id=shop_id)
        opened += 1
    return opened


def post(
    books: Books, *, kind: str, at: dt.datetime, memo: str, moves: Sequence[tuple[Account, Decimal]]
) -> LedgerTransaction | None:
    """Write one balanced transaction on locked books (callers compute the moves under the lock)."""
    moves = [(account, amount) for account, amount in moves if amount != 0]
    for _account, amount in moves:
        if amount != amount.quantize(CENT):
            raise ValueError(f"ledger amounts have 2 decimal places, got {amount}")
    if sum((amount for _a, amount in moves), ZERO) != 0:
        raise ValueError(f"ledger transaction does not balance: {moves}")
    if not moves:
        return None
    txn = LedgerTransaction.objects.create(kind=kind, shop=books.shop, at=at, memo=memo[:255])
    Entry.objects.bulk_create(
        [Entry(transaction=txn, account=account, amount=amount, at=at) for account, amount in moves]
    )
    Account.objects.filter(pk__in=[account.pk for account, _amount in moves]).update(
        balance=F("balance")
        + Case(*[When(pk=account.pk, then=Value(amount)) for account, amount in moves], output_field=MONEY_FIELD)
    )
    for account, amount in moves:
        account.balance += amount  # the shop's accounts are locked: this is the stored value
    books.shop.deposit, books.shop.balance = books.deposit.balance, books.balance.balance
    Shop.objects.filter(pk=books.shop.pk).update(deposit=books.shop.deposit, balance=books.shop.balance)
    return txn


@transaction.atomic
def shop_credit_balance(*, shop: Shop, amount: Decimal, at: dt.datetime | None = None, memo: str = "") -> Books:
    """Credit the goods balance (e.g. settled sales); arrears are settled from it first (SPEC §6)."""
    if amount <= 0:
        raise ValidationError(_("a balance credit must be greater than 0, got %(amount)s") % {"amount": amount})
    at = at or timezone.now()
    books = lock_books(shop_id=shop.pk)
    post(
        books,
        kind=TransactionKind.BALANCE_CREDIT,
        at=at,
        memo=memo or _("goods balance credit"),
        moves=[(books.balance, amount), (platform_account(AccountKind.FUNDING), -amount)],
    )
    settle = min(books.owed, books.balance.balance)
    if settle > 0:
        post(
            books,
            kind=TransactionKind.ARREARS_SETTLEMENT,
            at=at,
            memo=_("arrears recovered from goods balance"),
            moves=[(books.balance, -settle), (books.arrears, settle)],
        )
    shop.deposit, shop.balance = books.shop.deposit, books.shop.balance
    return books


def _differs(difference) -> GreaterThanOrEqual:
    # SQLite sums decimals as floats (0.01 + 0.05 - 0.06 != 0 there); any real difference is at
    # least one cent, so "half a cent or more" is exact on PostgreSQL and right on SQLite.
    return GreaterThanOrEqual(Abs(difference), Value(HALF_CENT))


def ledger_differences() -> list[str]:
    """Every way the cached figures disagree with the entries; empty when the books are clean.

    A shop whose books are not open yet has nothing to disagree with: its figures are its opening
    balances, posted when the books open (`lock_books`)."""
    problems: list[str] = []
    accounts = (
        Account.objects.select_related("shop")
        .annotate(total=Coalesce(Sum("entries__amount"), Value(ZERO)))
        .filter(_differs(F("balance") - F("total")))
        .order_by("id")
    )
    for account in accounts:
        problems.append(
            f"account {account.pk} ({account}): cached balance {account.balance:.2f} "
            f"!= sum of entries {Decimal(account.total):.2f}"
        )
    unbalanced = (
        LedgerTransaction.objects.annotate(total=Coalesce(Sum("entries__amount"), Value(ZERO)))
        .filter(_differs(F("total")))
        .order_by("id")
    )
    for txn in unbalanced:
        problems.append(f"transaction {txn.pk} ({txn.kind}): entries sum to {Decimal(txn.total):.2f}, not 0")
    for kind, field in ((AccountKind.DEPOSIT, "deposit"), (AccountKind.BALANCE, "balance")):
        rows = Account.objects.filter(kind=kind).filter(_differs(F(f"shop__{field}") - F("balance")))
        rows = rows.select_related("shop")
        for account in rows.order_by("shop_id"):
            problems.append(
                f"shop {account.shop.platform_id}: {field} {getattr(account.shop, field)} "
                f"!= {kind} account balance {account.balance}"
            )
    return problems
