import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from compensation.models import Account, Charge, ChargeKind, Coupon
from compensation.services import violations
from compensation.services.charges import coupon_expiry
from compensation.services.ledger import ledger_differences
from compensation.services.payouts import payouts_issue

from .conftest import T0, balances, open_shop, report, upheld, warranty_orders

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
RUN = T0 + dt.timedelta(days=3)


def fifty_years(issued):
    return coupon_expiry(ChargeKind.WARRANTY, issued)


def split_of(payout: Charge) -> tuple[str, str, str]:
    return (f"{payout.from_deposit:.2f}", f"{payout.from_balance:.2f}", f"{payout.arrears:.2f}")


def figures(shop) -> tuple[str, str, str]:
    rows = balances(shop)
    return (f"{rows['deposit']:.2f}", f"{rows['balance']:.2f}", f"{-rows['arrears']:.2f}")


@pytest.mark.parametrize(
    ("deposit", "balance", "split", "after"),
    [
        ("1000.00", "0.00", ("100.00", "0.00", "0.00"), ("900.00", "0.00", "0.00")),  # deposit only
        ("30.00", "500.00", ("30.00", "70.00", "0.00"), ("0.00", "430.00", "0.00")),  # deposit + balance
        ("0.00", "500.00", ("0.00", "100.00", "0.00"), ("0.00", "400.00", "0.00")),  # balance only
        ("30.00", "50.00", ("30.00", "50.00", "20.00"), ("0.00", "0.00", "20.00")),  # arrears
        ("0.00", "0.00", ("0.00", "0.00", "100.00"), ("0.00", "0.00", "100.00")),  # all arrears
    ],
)
def test_payout_takes_deposit_then_balance_then_arrears(deposit, balance, split, after):
    shop = open_shop(deposit=deposit, balance=balance)
    (order,) = warranty_orders(shop)
    upheld([order])

    report_ = payouts_issue(now=RUN)

    assert report_.paid == 1
    payout = Charge.objects.get()
    assert split_of(payout) == split
    assert payout.amount == Decimal("100.00") and payout.buyer == order.buyer and payout.at == RUN
    assert figures(shop) == after
    shop.refresh_from_db()
    assert (f"{shop.deposit:.2f}", f"{shop.balance:.2f}") == after[:2]
    liability = Account.objects.get(shop=None, kind="coupon_liability")
    assert liability.balance == Decimal("100.00")
    assert ledger_differences() == []


def test_multi_order_violation_pays_each_order_in_listed_order():
    shop = open_shop(deposit="250.00", balance="20.00")
    orders = warranty_orders(shop, 4)
    listed = [orders[2], orders[0], orders[3], orders[1]]
    violation = upheld(listed)

    assert payouts_issue(now=RUN).paid == 4

    payouts = list(Charge.objects.filter(violation=violation).order_by("id"))
    assert [p.order_id for p in payouts] == [o.pk for o in listed]
    assert [split_of(p) for p in payouts] == [
        ("100.00", "0.00", "0.00"),
        ("100.00", "0.00", "0.00"),
        ("50.00", "20.00", "30.00"),
        ("0.00", "0.00", "100.00"),
    ]
    assert [p.buyer for p in payouts] == [o.buyer for o in listed]
    assert figures(shop) == ("0.00", "0.00", "130.00")
    assert ledger_differences() == []


def test_violations_are_paid_in_ruling_order_not_report_order():
    shop = open_shop(deposit="100.00")
    first_reported = upheld(warranty_orders(shop), ruled_at=T0 + dt.timedelta(days=2, hours=5))
    ruled_earlier = upheld(warranty_orders(shop), ruled_at=T0 + dt.timedelta(days=2, hours=1))

    payouts_issue(now=RUN)

    assert split_of(ruled_earlier.payouts.get()) == ("100.00", "0.00", "0.00")
    assert split_of(first_reported.payouts.get()) == ("0.00", "0.00", "100.00")


def test_no_breach_pays_nothing():
    shop = open_shop(deposit="1000.00")
    violation = report(warranty_orders(shop, 2))
    violations.violation_rule(violation=violation, breach=False, note="repair was offered", at=RUN)

    assert payouts_issue(now=RUN).paid == 0
    assert not Charge.objects.exists() and not Coupon.objects.exists()
    assert figures(shop) == ("1000.00", "0.00", "0.00")


def test_pending_report_pays_nothing():
    shop = open_shop(deposit="1000.00")
    report(warranty_orders(shop))
    assert payouts_issue(now=RUN).paid == 0


def test_rerun_pays_nothing_twice():
    shop = open_shop(deposit="1000.00")
    upheld(warranty_orders(shop, 3))
    assert payouts_issue(now=RUN).paid == 3
    assert payouts_issue(now=RUN + dt.timedelta(hours=1)).paid == 0
    assert Charge.objects.count() == 3 and Coupon.objects.count() == 3
    assert figures(shop) == ("700.00", "0.00", "0.00")


def test_database_refuses_a_second_payout_for_the_same_violation_and_order():
    shop = open_shop(deposit="1000.00")
    upheld(warranty_orders(shop))
    payouts_issue(now=RUN)
    payout = Charge.objects.get()
    coupon = Coupon.objects.create(code="DUPLICATE", buyer=payout.buyer, face_value=100, issued_at=RUN,
                                   expires_at=RUN)
    with transaction.atomic(), pytest.raises(IntegrityError):
        Charge.objects.create(
            violation=payout.violation, order=payout.order, line=payout.line, shop=shop, buyer=payout.buyer,
            amount=100, from_deposit=100, from_balance=0, arrears=0, coupon=coupon, transaction=payout.transaction,
            at=RUN, kind=ChargeKind.WARRANTY, cause="warranty:another",
        )


def test_coupon_is_100_no_minimum_platform_wide_with_unguessable_code():
    shop = open_shop(deposit="1000.00")
    orders = warranty_orders(shop, 3)
    upheld(orders)
    payouts_issue(now=RUN)
    coupons = list(Coupon.objects.order_by("id"))
    assert {(c.face_value, c.min_spend, c.scope, c.status) for c in coupons} == {
        (Decimal("100.00"), Decimal("0.00"), "platform", "active")
    }
    assert [c.buyer for c in coupons] == [o.buyer for o in orders]
    codes = {c.code for c in coupons}
    assert len(codes) == 3 and all(len(code) == 16 for code in codes)
    assert all(c.issued_at == RUN for c in coupons)


def test_coupon_expires_fifty_years_later_same_local_time():
    issued = dt.datetime(2026, 3, 15, 23, 30, tzinfo=SH)
    expires = fifty_years(issued.astimezone(dt.UTC))
    assert expires.astimezone(SH).replace(tzinfo=None) == dt.datetime(2076, 3, 15, 23, 30)


def test_coupon_issued_on_29_february_expires_on_28_february():
    # 2028-02-29 exists; 2078 is not a leap year.
    issued = dt.datetime(2028, 2, 29, 9, 15, tzinfo=SH)
    assert fifty_years(issued).astimezone(SH).replace(tzinfo=None) == dt.datetime(2078, 2, 28, 9, 15)
    # Local date decides: 2028-02-29 00:30 in Shanghai is still 28 February in UTC.
    just_after_midnight = dt.datetime(2028, 2, 29, 0, 30, tzinfo=SH)
    assert fifty_years(just_after_midnight).astimezone(SH).replace(tzinfo=None) == dt.datetime(2078, 2, 28, 0, 30)


def test_payout_issued_on_29_february_through_the_job():
    shop = open_shop(deposit="1000.00")
    upheld(warranty_orders(shop))
    run = dt.datetime(2028, 2, 29, 12, 0, tzinfo=SH)
    payouts_issue(now=run)
    coupon = Coupon.objects.get()
    assert coupon.issued_at == run
    assert coupon.expires_at.astimezone(SH).replace(tzinfo=None) == dt.datetime(2078, 2, 28, 12, 0)


def test_a_run_as_of_a_time_pays_only_violations_ruled_by_then():
    shop = open_shop(deposit="1000.00")
    first, second = warranty_orders(shop, 2)
    upheld([first], ruled_at=T0 + dt.timedelta(days=2))
    later = upheld([second], ruled_at=T0 + dt.timedelta(days=5))

    assert payouts_issue(now=RUN).paid == 1  # day 3: the day-5 ruling has not been made yet
    assert not Charge.objects.filter(violation=later).exists()
    assert payouts_issue(now=T0 + dt.timedelta(days=5)).paid == 1  # at the ruling's own time
    assert Charge.objects.get(violation=later).at == T0 + dt.timedelta(days=5)


def test_rulings_stamped_with_the_same_time_are_paid_in_the_order_they_were_made():
    shop = open_shop(deposit="100.00")
    first_reported, second_reported = warranty_orders(shop, 2)
    va, vb = report([first_reported]), report([second_reported])
    same_time = T0 + dt.timedelta(days=2)
    for violation in (vb, va):  # VB ruled first, both stamped the same time
        violations.violation_rule(violation=violation, breach=True, note="refused repair", at=same_time)

    assert payouts_issue(now=RUN).paid == 2
    assert split_of(Charge.objects.get(violation=vb)) == ("100.00", "0.00", "0.00")
    assert split_of(Charge.objects.get(violation=va)) == ("0.00", "0.00", "100.00")
