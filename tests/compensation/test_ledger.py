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

from .conftest import T0, open_shop, upheld, warranty_orders

pytestmark = pytest.mark.django_db


def balances(shop) -> dict[str, Decimal]:
    return dict(Account.objects.filter(shop=shop).values_list("kind", "balance"))


def test_shop_open_posts_opening_balances_as_entries():
    shop = open_shop(deposit="500.00", balance="120.50")
    assert balances(shop) == {"deposit": Decimal("500.00"), "balance": Decimal("120.50"), "arrears": Decimal("0")}
    shop.refresh_from_db()
    assert (shop.deposit, shop.balance) == (Decimal("500.00"), Decimal("120.50"))
    (txn,) = LedgerTransaction.objects.filter(shop=shop)
    assert txn.kind == TransactionKind.OPENING and txn.at == T0
    assert sorted(e.amount for e in txn.entries.all()) == [Decimal("-620.50"), Decimal("120.50"), Decimal("500.00")]
    assert ledger_differences() == []


def test_shop_open_with_zero_money_writes_no_entries():
    shop = open_shop()
    assert not Entry.objects.filter(account__shop=shop).exists()
    assert set(balances(shop)) == {"deposit", "balance", "arrears"}
    assert ledger_differences() == []


def test_shop_made_without_ledger_is_taken_over_at_first_use():
    shop = factories.ShopFactory(deposit=Decimal("1000.00"))
    assert ledger_differences() == [f"shop {shop.platform_id}: deposit 1000.00 / balance 0.00 without ledger accounts"]
    shop_credit_balance(shop=shop, amount=Decimal("10.00"), at=T0)
    assert balances(shop)["deposit"] == Decimal("1000.00")
    assert ledger_differences() == []


def test_balance_credit_settles_arrears_first():
    shop = open_shop(deposit="30.00", balance="50.00")
    upheld(warranty_orders(shop))
    payouts_issue(now=T0 + dt.timedelta(days=3))
    assert balances(shop) == {"deposit": 0, "balance": 0, "arrears": Decimal("-20.00")}

    shop_credit_balance(shop=shop, amount=Decimal("15.00"), at=T0 + dt.timedelta(days=4))
    assert balances(shop) == {"deposit": 0, "balance": 0, "arrears": Decimal("-5.00")}
    shop_credit_balance(shop=shop, amount=Decimal("100.00"), at=T0 + dt.timedelta(days=5))
    assert balances(shop) == {"deposit": 0, "balance": Decimal("95.00"), "arrears": 0}
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


def test_entries_are_append_only():
    open_shop(deposit="10.00")
    entry = Entry.objects.first()
    entry.amount = Decimal("99.00")
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_check_ledger_reports_each_difference(capsys):
    shop = open_shop(deposit="100.00", balance="10.00")
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
