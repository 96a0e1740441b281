import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from compensation.models import Account, AccountKind, CreditKind, Entry, LedgerTransaction, TransactionKind
from compensation.services import credits, ledger
from compensation.services.ledger import ledger_differences
from compensation.services.payouts import payouts_issue
from pddadmin.shops.models import Shop
from tests import factories

from .conftest import T0, balances, open_shop, upheld, warranty_orders

pytestmark = pytest.mark.django_db


def settle(shop, amount: str, at):
    return credits.shop_credit(shop=shop, kind=CreditKind.SETTLEMENT, amount=Decimal(amount), at=at, source="test")


def test_opening_balances_reach_the_ledger_when_the_shop_opens_stamped_with_the_opening():
    shop = open_shop(deposit="500.00", balance="120.50")
    assert accounts_of(shop) == {"deposit": Decimal("500.00"), "balance": Decimal("120.50"), "arrears": 0}
    (opening,) = LedgerTransaction.objects.filter(shop=shop)
    assert opening.kind == TransactionKind.OPENING and opening.at == T0
    assert sorted(e.amount for e in opening.entries.all()) == [Decimal("-620.50"), Decimal("120.50"), Decimal("500.00")]
    untouched = open_shop()
    # No money, no entries: the accounts exist at zero.
    assert accounts_of(untouched) == {"deposit": 0, "balance": 0, "arrears": 0}
    assert not Entry.objects.filter(account__shop=untouched).exists()
    assert ledger_differences() == []


def test_a_shop_written_without_the_orm_has_its_books_opened_at_first_use():
    (shop,) = Shop.objects.bulk_create([factories.ShopFactory.build(deposit=Decimal("1000.00"))])  # no signal
    assert not Account.objects.filter(shop=shop).exists()
    assert ledger.books_open(shops=Shop.objects.filter(pk=shop.pk)) == 1
    assert accounts_of(shop)["deposit"] == Decimal("1000.00")
    assert ledger.books_open(shops=Shop.objects.all()) == 0
    assert ledger_differences() == []


def accounts_of(shop) -> dict[str, Decimal]:
    return dict(Account.objects.filter(shop=shop).values_list("kind", "balance"))


def test_settlement_pays_off_arrears_first():
    shop = open_shop(deposit="30.00", balance="50.00")
    upheld(warranty_orders(shop))
    payouts_issue(now=T0 + dt.timedelta(days=3))
    assert accounts_of(shop) == {"deposit": 0, "balance": 0, "arrears": Decimal("-20.00")}

    settle(shop, "15.00", T0 + dt.timedelta(days=4))
    assert accounts_of(shop) == {"deposit": 0, "balance": 0, "arrears": Decimal("-5.00")}
    settle(shop, "100.00", T0 + dt.timedelta(days=5))
    assert accounts_of(shop) == {"deposit": 0, "balance": Decimal("95.00"), "arrears": 0}
    shop.refresh_from_db()
    assert shop.balance == Decimal("95.00")
    kinds = list(LedgerTransaction.objects.filter(shop=shop).values_list("kind", flat=True).order_by("id"))
    assert kinds == ["opening", "payout", "settlement", "settlement"]
    assert ledger_differences() == []


def test_balance_credit_must_be_positive():
    from django.core.exceptions import ValidationError

    shop = open_shop()
    with pytest.raises(ValidationError):
        settle(shop, "0.00", T0 + dt.timedelta(days=1))


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
