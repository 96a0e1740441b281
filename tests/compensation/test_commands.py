import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compensation.models import Charge

from .conftest import open_shop, upheld, warranty_orders

pytestmark = pytest.mark.django_db
COLUMNS = ["violation", "order", "buyer", "amount", "from_deposit", "from_balance", "arrears", "coupon", "issued_at",
           "expires_at"]


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def paid():
    shop = open_shop(deposit="150.00", balance="20.00")
    orders = warranty_orders(shop, 2)
    orders[0].buyer = "=HYPERLINK(\"http://x\")"
    orders[0].save()
    upheld(orders, platform_id="V-1")
    out, _err = run("issue_payouts", "--now", "2028-02-29T10:00:00+08:00")
    return out, orders


def test_issue_payouts_says_what_it_did_and_is_idempotent(paid):
    out, _orders = paid
    assert out.startswith("issue_payouts: 2 payouts, 200.00 in coupons (deposit 150.00, balance 20.00, arrears 30.00)")
    again, _err = run("issue_payouts")
    assert again.startswith("issue_payouts: 0 payouts")
    assert Charge.objects.count() == 2


def test_issue_payouts_rejects_a_time_that_is_not_iso_8601(db):
    with pytest.raises(CommandError, match="--now must be an ISO-8601 time"):
        run("issue_payouts", "--now", "29/02/2028 10:00")


def test_export_payouts_jsonl(paid):
    _out, orders = paid
    out, err = run("export_payouts")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [list(r) for r in rows] == [COLUMNS, COLUMNS]
    coupons = dict(Charge.objects.values_list("order__platform_id", "coupon__code"))
    assert rows[1] == {
        "violation": "V-1", "order": orders[1].platform_id, "buyer": orders[1].buyer, "amount": "100.00",
        "from_deposit": "50.00", "from_balance": "20.00", "arrears": "30.00", "coupon": coupons[orders[1].platform_id],
        "issued_at": "2028-02-29T10:00:00+08:00", "expires_at": "2078-02-28T10:00:00+08:00",
    }
    assert rows[0]["buyer"] == "=HYPERLINK(\"http://x\")"  # JSON is data, not a spreadsheet
    assert err.strip() == "export_payouts: 2 payouts"


def test_export_payouts_csv_neutralises_formulas(paid):
    out, _err = run("export_payouts", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == COLUMNS
    assert rows[0]["buyer"] == "'=HYPERLINK(\"http://x\")"
    assert (rows[0]["amount"], rows[0]["from_deposit"], rows[0]["arrears"]) == ("100.00", "100.00", "0.00")
