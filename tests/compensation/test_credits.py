"""Settlements and deposit payments (SPEC §6.1): arrears first, the rest credited; in time order
with the automatic charges; refused when stale; recorded by platform staff or the feed only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from compensation.models import Credit, CreditKind
from compensation.services.credits import shop_credit
from pddadmin.shops.models import Shop
from tests import factories
from tests.conftest import at
from tests.feed.helpers import (
    Feed,
    exported_accounts,
    import_in_parts,
    ledger_clean,
    masked_charges,
    run_command,
    run_import,
)

pytestmark = pytest.mark.django_db

T0 = at("2026-03-01 09:00")
PSB = at("2026-03-03 18:00")
SECOND = dt.timedelta(seconds=1)
EVENT = {CreditKind.SETTLEMENT: "shop.settled", CreditKind.DEPOSIT_PAYMENT: "shop.deposit_paid"}
CREDITED = {CreditKind.SETTLEMENT: "balance", CreditKind.DEPOSIT_PAYMENT: "deposit"}


def in_arrears(feed: Feed, *, owed_orders: int = 1) -> None:
    """Shop S1 with nothing, and `owed_orders` orders of ¥200 falling late at PSB: ¥10.00 of
    arrears each (200.00 × 5 %)."""
    feed.shop(T0, "S1")
    for n in range(owed_orders):
        feed.order(T0, f"O{n}", "S1", amount="200.00", promised_ship_by=PSB, grouped=T0 + dt.timedelta(hours=1))


def imported(tmp_path, feed: Feed) -> None:
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines(feed.in_time_order()))
    assert (code, rejected) == (0, []), err
    ledger_clean()


def account(**figures: str) -> list[dict]:
    return [{"shop": "S1", "deposit": "0.00", "balance": "0.00", "arrears": "0.00", **figures}]


@pytest.mark.parametrize("kind", list(EVENT))
@pytest.mark.parametrize(
    ("amount", "to_arrears", "credited", "arrears_left"),
    [
        ("3.50", "3.50", "0.00", "6.50"),  # partly
        ("9.99", "9.99", "0.00", "0.01"),  # one cent short
        ("10.00", "10.00", "0.00", "0.00"),  # exactly
        ("10.01", "10.00", "0.01", "0.00"),  # wholly, one cent over
        ("25.00", "10.00", "15.00", "0.00"),  # wholly
    ],
)
def test_a_credit_pays_off_arrears_first_and_credits_the_rest(
    tmp_path, kind, amount, to_arrears, credited, arrears_left
):
    feed = Feed()
    in_arrears(feed)
    feed.add(PSB + dt.timedelta(hours=1), EVENT[kind], shop="S1", amount=amount)
    imported(tmp_path, feed)

    credit = Credit.objects.get()
    assert (credit.kind, credit.amount, credit.to_arrears, credit.credited, credit.source, credit.reference) == (
        kind,
        Decimal(amount),
        Decimal(to_arrears),
        Decimal(credited),
        "feed",
        feed.events[-1]["id"],
    )
    assert exported_accounts() == account(**{CREDITED[kind]: credited, "arrears": arrears_left})
    # The late shipment due before the credit was applied first, all of it to arrears.
    assert [(r["kind"], r["arrears"]) for r in masked_charges()] == [("late_shipment", "10.00")]


def test_a_credit_and_then_another_pay_arrears_partly_then_wholly(tmp_path):
    feed = Feed()
    in_arrears(feed, owed_orders=2)  # ¥20.00 owed
    feed.add(PSB + dt.timedelta(hours=1), "shop.settled", shop="S1", amount="12.00")
    feed.add(PSB + dt.timedelta(hours=2), "shop.deposit_paid", shop="S1", amount="50.00")
    imported(tmp_path, feed)
    assert list(Credit.objects.values_list("kind", "to_arrears", "credited")) == [
        (CreditKind.SETTLEMENT, Decimal("12.00"), Decimal("0.00")),
        (CreditKind.DEPOSIT_PAYMENT, Decimal("8.00"), Decimal("42.00")),
    ]
    assert exported_accounts() == account(deposit="42.00")


@pytest.mark.parametrize("kind", list(EVENT))
def test_a_credit_at_the_due_moment_comes_after_the_charge_one_second_before_it_comes_first(tmp_path, kind):
    feed = Feed()
    in_arrears(feed, owed_orders=0)  # S1 alone
    feed.order(T0, "O1", "S1", amount="200.00", promised_ship_by=PSB, grouped=T0 + dt.timedelta(hours=1))
    feed.order(T0, "O2", "S1", amount="200.00", promised_ship_by=PSB + SECOND, grouped=T0 + dt.timedelta(hours=1))
    feed.add(PSB, EVENT[kind], shop="S1", amount="4.00")  # after O1's charge due at PSB: pays its arrears
    feed.add(PSB, EVENT[kind], shop="S1", amount="30.00")  # before O2's, due a second later: credited
    imported(tmp_path, feed)
    run_command("process_deadlines", "--now", (PSB + dt.timedelta(hours=1)).isoformat())
    assert list(Credit.objects.values_list("to_arrears", "credited")) == [
        (Decimal("4.00"), Decimal("0.00")),
        (Decimal("6.00"), Decimal("24.00")),
    ]
    source = "from_deposit" if kind == CreditKind.DEPOSIT_PAYMENT else "from_balance"
    assert [(r["order"], r[source], r["arrears"]) for r in masked_charges()] == [
        ("O1", "0.00", "10.00"),
        ("O2", "10.00", "0.00"),
    ]
    assert exported_accounts() == account(**{CREDITED[kind]: "14.00"})


def test_a_credit_older_than_the_last_movement_is_refused_one_at_the_same_instant_is_not(tmp_path):
    feed = Feed()
    in_arrears(feed)
    code, *_ = run_import(tmp_path / "base.jsonl", *feed.lines())
    assert code == 0
    run_command("process_deadlines", "--now", (PSB + dt.timedelta(hours=1)).isoformat())  # the charge at PSB

    stale = Feed("late")
    stale.add(PSB - SECOND, "shop.settled", shop="S1", amount="5.00")
    stale.add(PSB, "shop.deposit_paid", shop="S1", amount="5.00")
    code, _out, rejected, err = run_import(tmp_path / "credits.jsonl", *stale.lines())
    assert (code, rejected) == (1, [1])
    assert (
        "line 1: settlement at 2026-03-03 17:59:59 is older than the last movement of shop S1's money "
        "(2026-03-03 18:00:00)"
    ) in err
    assert list(Credit.objects.values_list("kind", "at")) == [(CreditKind.DEPOSIT_PAYMENT, PSB)]
    assert exported_accounts() == account(arrears="5.00")


# --- the service, as the back-office calls it -----------------------------------------------


@pytest.fixture
def shop_in_arrears(tmp_path):
    feed = Feed()
    in_arrears(feed)
    imported(tmp_path, feed)
    run_command("process_deadlines", "--now", (PSB + dt.timedelta(hours=1)).isoformat())
    return Shop.objects.get(platform_id="S1")


def test_platform_staff_record_a_credit_from_the_back_office(shop_in_arrears, reviewer):
    credit = shop_credit(
        shop=shop_in_arrears,
        kind=CreditKind.DEPOSIT_PAYMENT,
        amount=Decimal("12.00"),
        at=PSB + dt.timedelta(days=1),
        source="admin",
        actor=reviewer,
        note="银行回单 123",
    )
    assert (credit.recorded_by, credit.source, credit.to_arrears, credit.credited) == (
        reviewer,
        "admin",
        Decimal("10.00"),
        Decimal("2.00"),
    )
    assert exported_accounts() == account(deposit="2.00")
    ledger_clean()


@pytest.mark.parametrize("role", ["owner", "agent"])
def test_merchant_staff_may_not_credit_their_own_shop(shop_in_arrears, role):
    merchant = factories.member(shop_in_arrears, role)
    before = exported_accounts()
    with pytest.raises(PermissionDenied, match="only platform staff"):
        shop_credit(
            shop=shop_in_arrears,
            kind=CreditKind.SETTLEMENT,
            amount=Decimal("12.00"),
            at=PSB + dt.timedelta(days=1),
            source="admin",
            actor=merchant,
        )
    assert not Credit.objects.exists() and exported_accounts() == before


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "the amount must be greater than 0, got 0"),
        ("-1.00", "the amount must be greater than 0, got -1.00"),
        ("1.001", "the amount has more than two decimals: 1.001"),
    ],
)
def test_the_service_refuses_amounts_a_form_might_send(shop_in_arrears, reviewer, amount, reason):
    before = exported_accounts()
    with pytest.raises(ValidationError, match=reason):
        shop_credit(
            shop=shop_in_arrears,
            kind=CreditKind.SETTLEMENT,
            amount=Decimal(amount),
            at=PSB + dt.timedelta(days=1),
            source="admin",
            actor=reviewer,
        )
    assert not Credit.objects.exists() and exported_accounts() == before


def test_arrears_paid_off_to_the_cent_export_as_zero(tmp_path):
    """Cents that binary floating point cannot hold (SQLite adds decimals as floats): 3.06 and then
    3.05 owed, each in its own transaction, 6.11 paid: nothing left, exported as 0.00, not -0.00."""
    feed = Feed()
    in_arrears(feed, owed_orders=0)  # S1 alone
    for order, paid, promised in (("O1", "61.10", PSB), ("O2", "60.90", PSB + dt.timedelta(hours=1))):
        feed.order(T0, order, "S1", amount=paid, promised_ship_by=promised, grouped=T0 + dt.timedelta(hours=1))
    feed.add(PSB + dt.timedelta(hours=2), "shop.settled", shop="S1", amount="6.11")
    assert import_in_parts(tmp_path, feed.events, jobs_at=[PSB], end=PSB + dt.timedelta(days=1)) == {}
    assert [(r["order"], r["arrears"]) for r in masked_charges()] == [("O1", "3.06"), ("O2", "3.05")]
    assert Credit.objects.get().to_arrears == Decimal("6.11")
    assert exported_accounts() == account()
    ledger_clean()
