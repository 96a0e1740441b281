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

from django.db import transaction
from django.db.models import Case, DecimalField, F, QuerySet, Sum, Value, When
from django.db.models.functions import Abs, Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.translation import gettext as _

from pddadmin.shops.models import Shop

from ..models import SHOP_KINDS, Account, AccountKind, Entry, LedgerTransaction, TransactionKind

ZERO = Decimal("0.00")
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")
BULK = 2000


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


def lock_books_many(*, shop_ids: list[int]) -> dict[int, Books]:
    """The books of shops whose rows the caller has locked, their accounts locked in id order."""
    if not shop_ids:
        return {}
    locked = Account.objects.select_for_update(of=("self",)).select_related("shop")
    by_shop: dict[int, dict[str, Account]] = {}
    for account in locked.filter(shop_id__in=shop_ids).order_by("id"):
        by_shop.setdefault(account.shop_id, {})[account.kind] = account
    books = {}
    for shop_id in shop_ids:
        accounts = by_shop.get(shop_id, {})
        if len(accounts) == len(SHOP_KINDS):
            books[shop_id] = Books(next(iter(accounts.values())).shop, accounts)
        else:  # books not open yet (a shop written without the ORM): open them now
            books[shop_id] = lock_books(shop_id=shop_id, shop_locked=True)
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


def check_moves(moves: Sequence[tuple[Account, Decimal]]) -> list[tuple[Account, Decimal]]:
    """The non-zero moves of one transaction, refused unless in cents and balanced."""
    moves = [(account, amount) for account, amount in moves if amount != 0]
    for _account, amount in moves:
        if amount != amount.quantize(CENT):
            raise ValueError(f"ledger amounts have 2 decimal places, got {amount}")
    if sum((amount for _a, amount in moves), ZERO) != 0:
        raise ValueError(f"ledger transaction does not balance: {moves}")
    return moves


class LedgerBatch:
    """Many balanced transactions written together: a few bulk statements whatever their number.

    `add` checks a transaction and applies its moves to the in-memory accounts at once, so the
    next charge of the same (locked) shop is split from the balances this one leaves; `write`
    inserts them all and moves every cached balance by the sum of its moves.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Books, LedgerTransaction, list[tuple[Account, Decimal]]]] = []

    def add(
        self, books: Books, *, kind: str, at: dt.datetime, memo: str, moves: Sequence[tuple[Account, Decimal]]
    ) -> LedgerTransaction | None:
        moves = check_moves(moves)
        if not moves:
            return None
        for account, amount in moves:
            account.balance += amount  # a shop's accounts are locked: this is the value to be stored
        txn = LedgerTransaction(kind=kind, shop=books.shop, at=at, memo=memo[:255])
        self._pending.append((books, txn, moves))
        return txn

    def write(self) -> None:
        if not self._pending:
            return
        LedgerTransaction.objects.bulk_create([txn for _b, txn, _m in self._pending], batch_size=BULK)
        deltas: dict[int, Decimal] = {}
        entries = []
        for _books, txn, moves in self._pending:
            for account, amount in moves:
                entries.append(Entry(transaction=txn, account=account, amount=amount, at=txn.at))
                deltas[account.pk] = deltas.get(account.pk, ZERO) + amount
        Entry.objects.bulk_create(entries, batch_size=BULK)
        Account.objects.filter(pk__in=list(deltas)).update(
            balance=F("balance")
            + Case(*[When(pk=pk, then=Value(delta)) for pk, delta in deltas.items()], output_field=MONEY_FIELD)
        )
        shops = {books.shop.pk: books for books, _t, _m in self._pending}
        for books in shops.values():
            books.shop.deposit, books.shop.balance = books.deposit.balance, books.balance.balance
        Shop.objects.filter(pk__in=list(shops)).update(
            deposit=Case(
                *[When(pk=pk, then=Value(b.deposit.balance)) for pk, b in shops.items()], output_field=MONEY_FIELD
            ),
            balance=Case(
                *[When(pk=pk, then=Value(b.balance.balance)) for pk, b in shops.items()], output_field=MONEY_FIELD
            ),
        )
        self._pending = []


def post(
    books: Books, *, kind: str, at: dt.datetime, memo: str, moves: Sequence[tuple[Account, Decimal]]
) -> LedgerTransaction | None:
    """Write one balanced transaction on locked books (callers compute the moves under the lock)."""
    batch = LedgerBatch()
    txn = batch.add(books, kind=kind, at=at, memo=memo, moves=moves)
    batch.write()
    return txn


def last_movement(*, shop: Shop) -> dt.datetime:
    """When the shop's money last moved (SPEC §8): its opening, or its latest credit or charge."""
    latest = LedgerTransaction.objects.filter(shop=shop).order_by("-at").values_list("at", flat=True).first()
    return max(latest, shop.opened_at) if latest else shop.opened_at


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
