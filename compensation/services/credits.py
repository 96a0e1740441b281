"""Credits (SPEC §6.1): a settlement (the platform crediting goods revenue) or a deposit payment.

Arrears are paid off first; only the rest is credited to the goods balance or the deposit. A
credit at T first applies every automatic charge of the shop due at or before T, so arrears are
what they were at T, whenever the jobs ran. A credit older than the shop's last money movement is
refused (SPEC §8): the running balances before it are already spent.
"""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pddadmin.shops.models import Shop
from pddadmin.shops.selectors import is_platform_staff
from pddadmin.timefmt import shown

from ..models import AccountKind, Credit, CreditKind, TransactionKind
from . import charges, ledger

TARGET = {CreditKind.SETTLEMENT: AccountKind.BALANCE, CreditKind.DEPOSIT_PAYMENT: AccountKind.DEPOSIT}
TRANSACTION_KIND = {
    CreditKind.SETTLEMENT: TransactionKind.SETTLEMENT,
    CreditKind.DEPOSIT_PAYMENT: TransactionKind.DEPOSIT_PAYMENT,
}


def shop_credit(
    *,
    shop: Shop,
    kind: str,
    amount: Decimal,
    at: dt.datetime,
    source: str,
    actor=None,
    reference: str = "",
    note: str = "",
) -> Credit:
    """Credit `amount` to the shop at `at`; `actor` None is the platform feed, a user must be
    platform staff (merchants do not credit themselves)."""
    if kind not in TARGET:
        raise ValidationError(_("unknown credit kind %(kind)s") % {"kind": kind})
    if actor is not None and not is_platform_staff(actor):
        raise PermissionDenied(_("only platform staff may record settlements and deposit payments"))
    if amount <= 0:
        raise ValidationError(_("the amount must be greater than 0, got %(amount)s") % {"amount": amount})
    if amount != amount.quantize(ledger.CENT):
        raise ValidationError(_("the amount has more than two decimals: %(amount)s") % {"amount": amount})
    with transaction.atomic():
        books = ledger.lock_books(shop_id=shop.pk)
        last = ledger.last_movement(shop=books.shop)
        if at < last:
            raise ValidationError(
                _("%(what)s at %(at)s is older than the last movement of shop %(shop)s's money (%(last)s)")
                % {
                    "what": CreditKind(kind).label,
                    "at": shown(at, seconds=True),
                    "shop": books.shop.platform_id,
                    "last": shown(last, seconds=True),
                }
            )
        charges.apply_due_locked(books, now=at)
        to_arrears = min(books.owed, amount)
        credited = amount - to_arrears
        target = books.accounts[TARGET[kind]]
        txn = ledger.post(
            books,
            kind=TRANSACTION_KIND[kind],
            at=at,
            memo=note or str(CreditKind(kind).label),
            moves=[
                (books.arrears, to_arrears),
                (target, credited),
                (ledger.platform_account(AccountKind.FUNDING), -amount),
            ],
        )
        credit = Credit.objects.create(
            kind=kind,
            shop=books.shop,
            amount=amount,
            to_arrears=to_arrears,
            credited=credited,
            at=at,
            source=source,
            reference=reference,
            recorded_by=actor,
            note=note,
            transaction=txn,
        )
    shop.deposit, shop.balance = books.shop.deposit, books.shop.balance
    return credit
