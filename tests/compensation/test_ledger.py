import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from compensation.models import Account, AccountKind, Entry, LedgerTransaction, TransactionKind
from compensation.services import ledger
from compensation.services.ledger import ledger_differences, shop_credit_balance
from compensation.services.payouts import payouts_issue
from pddadmin.shops.models import Shop
from tests import factories

from .conftest import T0, balances, open_shop, upheld, warranty_orders

pytestmark = pytest.mark.django_db


def test_opening_balances_reach_the_ledger_at_first_use_stamped_with_the_opening():
    shop = open_shop(deposit="500.00", balance="120.50")
    # The shops app opened the shop; the ledger has not been used for it yet, and that is no fault.
    assert not Account.objects.filter(shop=shop).exists()
    assert ledger_differences() == []

    shop_credit_balance(shop=shop, amount=Decimal("10.00"), at=T0 + dt.timedelta(days=3))
    assert accounts_of(shop) == {"deposit": Decimal("500.00"), "balance": Decimal("130.50"), "arrears": 0}
    opening, credit = LedgerTransaction.objects.filter(shop=shop).order_by("id")
    # Stamped when the shop opened, not when the books happened to open (SPEC §6.1: time order).
    assert opening.kind == TransactionKind.OPENING and opening.at == T0
    assert sorted(e.amount for e in opening.entries.all()) == [Decimal("-620.50"), Decimal("120.50"), Decimal("500.00")]
    assert credit.at == T0 + dt.timedelta(days=3)
    assert ledger_differences() == []


def test_listing_accounts_opens_the_books_of_a_shop_whose_money_never_moved():
    shop = open_shop(deposit="500.00", balance="120.50")
    untouched = open_shop()
    assert ledger.books_open(shops=Shop.objects.all()) == 2
    assert accounts_of(shop) == {"deposit": Decimal("500.00"), "balance": Decimal("120.50"), "arrears": 0}
    (txn,) = LedgerTransaction.objects.filter(shop=shop)
    assert txn.kind == TransactionKind.OPENING and txn.at == T0
    # No money, no entries: the accounts exist at zero.
    assert accounts_of(untouched) == {"deposit": 0, "balance": 0, "arrears": 0}
    assert not Entry.objects.filter(account__shop=untouched).exists()
    # Opened once: a second listing changes nothing.
    assert ledger.books_open(shops=Shop.objects.all()) == 0
    assert LedgerTransaction.objects.count() == 1
    assert ledger_differences() == []


def test_shop_made_without_the_feed_is_taken_over_at_first_use():
    shop = factories.ShopFactory(deposit=Decimal("1000.00"))
    assert ledger_differences() == []
    shop_credit_balance(shop=shop, amount=Decimal("10.00"), at=shop.opened_at + dt.timedelta(days=1))
    assert accounts_of(shop)["deposit"] == Decimal("1000.00")
    assert LedgerTransaction.objects.filter(shop=shop, kind=TransactionKind.OPENING, at=shop.opened_at).exists()
    assert ledger_differences() == []


def accounts_of(shop) -> dict[str, Decimal]:
    return dict(Account.objects.filter(shop=shop).values_list("kind", "balance"))


def test_balance_credit_settles_arrears_first():
    shop = open_shop(deposit="30.00", balance="50.00")
    upheld(warranty_orders(shop))
    payouts_issue(now=T0 + dt.timedelta(days=3))
    assert accounts_of(shop) == {"deposit": 0, "balance": 0, "arrears": Decimal("-20.00")}

    shop_credit_balance(shop=shop, amount=Decimal("15.00"), at=T0 + dt.timedelta(days=4))
    assert accounts_of(shop) == {"deposit": 0, "balance": 0, "arrears": Decimal("-5.00")}
    shop_credit_balance(shop=shop, amount=Decimal("100.00"), at=T0 + dt.timedelta(days=5))
    assert accounts_of(shop) == {"deposit": 0, "balance": Decimal("95.00"), "arrears": 0}
    shop.refresh_from_db()
    assert shop.balance == Decimal("95.00")
    kinds = list(LedgerTransaction.objects.filter(shop=shop).values_list("kind", flat=True).order_by("id"))
    assert kinds == ["opening", "payout", "balance_credit", "arrears_settlement", "balance_credit",
                     "arrears_settlement"]
    assert ledger_differences() == []


def test_balance_credit_must_be_positive():
    from django.core.exceptions import ValidationError

    shop = open_shop()
    with pytest.raises(ValidationError):
        shop_credit_balance(shop=shop, amount=Decimal("0.00"))


def test_unbalanced_transaction_is_refused():
    shop = open_shop(deposit="10.00")
    from django.db import transaction

    with transaction.atomic(), pytest.raises(ValueError, match="does not balance"):
        books = ledger.lock_books(shop_id=shop.pk)
        ledger.post(books, kind=TransactionKind.BALANCE_CREDIT, at=T0, memo="", moves=[(books.balance, Decimal("1"))])
    assert ledger_differences() == []


def test_check_ledger_reports_each_difference(capsys):
    shop = open_shop(deposit="100.00", balance="10.00")
    balances(shop)
    call_command("check_ledger")
    assert "0 difference(s)" in capsys.readouterr().out

    Account.objects.filter(shop=shop, kind=AccountKind.DEPOSIT).update(balance=Decimal("90.00"))
    Shop.objects.filter(pk=shop.pk).update(balance=Decimal("11.00"))
    with pytest.raises(SystemExit) as exit_:
        call_command("check_ledger")
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "cached balance 90.00 != sum of entries 100.00" in out
    assert f"shop {shop.platform_id}: deposit 100.00 != deposit account balance 90.00" in out
    assert f"shop {shop.platform_id}: balance 11.00 != balance account balance 10.00" in out
    assert "3 difference(s)" in out
