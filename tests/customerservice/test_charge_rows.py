"""The rows one batch of automatic charges writes, column by column, when some columns have no
value in the whole batch (a batch of fines: no order, no coupon) and when they have values for
some rows only (fines and late shipments together). On PostgreSQL the set-based writer sends a
column with no value as an empty array (unnest pads it with NULLs): a column with a value in any
row must keep every row's own value."""

import datetime as dt
from decimal import Decimal

import pytest

from compensation.models import Charge, ChargeKind, Coupon, Entry
from compensation.services.charges import shipping_compensation
from compensation.services.ledger import ledger_differences
from customerservice.models import LateReplyViolation
from tests import factories

from .conftest import H48, T0, open_shop, receive, run_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

FIELDS = ("kind", "cause", "order__platform_id", "message", "buyer", "amount", "coupon__face_value", "at")


def charges_written() -> list[tuple]:
    return list(Charge.objects.order_by("kind", "cause").values_list(*FIELDS))


def test_a_batch_of_fines_only_writes_no_order_and_no_coupon():
    shop = open_shop(deposit="150.00")
    receive(shop, "B1", T0, platform_id="M1")
    receive(shop, "B2", T0 + dt.timedelta(hours=1), platform_id="M2")
    assert run_job(T0 + dt.timedelta(days=3)).total == 2
    assert charges_written() == [
        ("late_reply", "late_reply:M1", None, "M1", "B1", Decimal("100.00"), None, T0 + H48),
        ("late_reply", "late_reply:M2", None, "M2", "B2", Decimal("200.00"), None, T0 + H48 + dt.timedelta(hours=1)),
    ]
    assert list(Charge.objects.order_by("cause").values_list("from_deposit", "from_balance", "arrears")) == [
        (Decimal("100.00"), Decimal("0.00"), Decimal("0.00")),
        (Decimal("50.00"), Decimal("0.00"), Decimal("150.00")),
    ]
    assert not Coupon.objects.exists()
    assert sorted(LateReplyViolation.objects.values_list("charge__cause", "rank")) == [
        ("late_reply:M1", 1),
        ("late_reply:M2", 2),
    ]
    assert Entry.objects.filter(transaction__kind="late_reply").count() == 2 + 3  # the second one splits
    assert ledger_differences() == []


def test_fines_and_late_shipments_in_one_batch_keep_each_rows_own_columns():
    shop = open_shop(deposit="100.00")
    goods = factories.GoodsFactory(shop=shop)
    order = factories.OrderFactory(goods=goods, platform_id="O1", buyer="B9",
                                   placed_at=T0, promised_ship_by=T0 + H48, grouped_at=T0,
                                   late_shipment_due_at=T0 + H48)  # fmt: skip
    receive(shop, "B1", T0 + dt.timedelta(hours=1), platform_id="M1")
    assert run_job(T0 + dt.timedelta(days=5)).total == 2
    owed = shipping_compensation(ChargeKind.LATE_SHIPMENT, order.amount)
    due = T0 + H48
    assert charges_written() == [
        ("late_reply", "late_reply:M1", None, "M1", "B1", Decimal("100.00"), None, due + dt.timedelta(hours=1)),
        ("late_shipment", "shipping:O1", "O1", "", "B9", owed, owed, due),
    ]
    coupon = Coupon.objects.get()
    assert (coupon.buyer, coupon.issued_at) == ("B9", due) and len(coupon.code) == 16
    assert ledger_differences() == []
