"""Charges (SPEC §6.1, §6.2, §7.3) as the feed and the jobs make them: each kind, the split from
deposit to goods balance to arrears at every boundary, rounding and limits, the buyer's coupon,
and the order a shop's charges apply in."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from compensation.models import Account, AccountKind, Charge, Coupon
from compensation.services.charges import COUPON_ALPHABET, COUPON_LENGTH, new_coupon_codes
from tests.conftest import at
from tests.feed.helpers import Feed, exported_accounts, ledger_clean, masked_charges, run_command, run_import

pytestmark = pytest.mark.django_db

T0 = at("2026-03-01 09:00")
PSB = at("2026-03-03 18:00")
RULED = PSB + dt.timedelta(days=1)
END = PSB + dt.timedelta(days=10)
CENT = Decimal("0.01")
THIRTY_DAYS = dt.timedelta(hours=30 * 24)


def in_30_days(moment: dt.datetime) -> str:
    return (moment + THIRTY_DAYS).isoformat()


def run_feed(tmp_path, feed: Feed, *, now: dt.datetime = END) -> None:
    """Import the feed in time order, then the jobs as of `now` (deadlines and charges, payouts)."""
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines(feed.in_time_order()))
    assert (code, rejected) == (0, []), err
    for job in ("process_deadlines", "issue_payouts"):
        code, out, err = run_command(job, "--now", now.isoformat())
        assert code == 0, (out, err)
    ledger_clean()


def shop_with_warranty_goods(feed: Feed, shop: str = "S1", *, deposit: str = "0.00", balance: str = "0.00") -> None:
    feed.shop(T0, shop, deposit=deposit, balance=balance)
    feed.add(T0, "goods.listed", shop=shop, goods=f"W{shop[1:]}", name="电视", category="digital", warranty=True)


def late(feed: Feed, order: str, *, amount: str, shop: str = "S1", promised: dt.datetime = PSB) -> None:
    """An order grouped in time and never shipped: late at its promised time."""
    feed.order(
        T0 + dt.timedelta(hours=1),
        order,
        shop,
        amount=amount,
        promised_ship_by=promised,
        grouped=T0 + dt.timedelta(hours=2),
    )


def out_of_stock(
    feed: Feed, order: str, *, amount: str, when: dt.datetime, shop: str = "S1", promised: dt.datetime = PSB
) -> None:
    late(feed, order, amount=amount, shop=shop, promised=promised)
    feed.add(when, "order.out_of_stock", order=order)


def warranty_breach(feed: Feed, order: str, *, shop: str = "S1", ruled: dt.datetime = RULED) -> None:
    """An order of warranty goods, shipped in time, reported and upheld at `ruled`."""
    feed.order(
        T0 + dt.timedelta(hours=1),
        order,
        shop,
        amount="999.00",
        promised_ship_by=PSB,
        grouped=T0 + dt.timedelta(hours=2),
        goods=f"W{shop[1:]}",
    )
    feed.add(T0 + dt.timedelta(hours=3), "order.shipped", order=order, tracking=f"SF{order}")
    feed.add(PSB, "warranty.reported", violation=f"V{order}", orders=[order], reason="refused_service")
    feed.add(ruled, "warranty.ruled", violation=f"V{order}", breach=True, note="拒绝保修")


# --- each kind, as export_charges shows it ----------------------------------------------------


def test_each_kind_of_charge_in_export_charges(tmp_path):
    feed = Feed()
    shop_with_warranty_goods(feed, deposit="1000.00")
    late(feed, "O1", amount="200.00")
    out_of_stock(feed, "O2", amount="200.00", when=PSB - dt.timedelta(hours=5))
    warranty_breach(feed, "O3")
    run_feed(tmp_path, feed)

    common = {"shop": "S1", "message": None, "from_balance": "0.00", "arrears": "0.00", "coupon": True}
    assert masked_charges() == [
        {
            **common,
            "kind": "out_of_stock",
            "violation": None,
            "order": "O2",
            "buyer": "B-O2",
            "amount": "20.00",
            "from_deposit": "20.00",
            "at": (PSB - dt.timedelta(hours=5)).isoformat(),
            "expires_at": in_30_days(PSB - dt.timedelta(hours=5)),
        },
        {
            **common,
            "kind": "late_shipment",
            "violation": None,
            "order": "O1",
            "buyer": "B-O1",
            "amount": "10.00",
            "from_deposit": "10.00",
            "at": PSB.isoformat(),
            "expires_at": in_30_days(PSB),
        },
        # Issued when the payout job runs, valid 50 years (same local date and time).
        {
            **common,
            "kind": "warranty",
            "violation": "VO3",
            "order": "O3",
            "buyer": "B-O3",
            "amount": "100.00",
            "from_deposit": "100.00",
            "at": END.isoformat(),
            "expires_at": END.replace(year=2076).isoformat(),
        },
    ]
    assert exported_accounts() == [{"shop": "S1", "deposit": "870.00", "balance": "0.00", "arrears": "0.00"}]
    coupons = {c.charge.order.platform_id: c for c in Coupon.objects.select_related("charge__order")}
    for charge in Charge.objects.select_related("coupon", "order"):
        coupon = coupons[charge.order.platform_id]
        assert (coupon.face_value, coupon.min_spend, coupon.buyer) == (charge.amount, 0, charge.buyer)
        assert coupon.issued_at == charge.at and len(coupon.code) == 16
    # What the platform owes the buyers: the face value of their coupons.
    assert Account.objects.get(shop=None, kind=AccountKind.COUPON_LIABILITY).balance == Decimal("130.00")


# --- deposit → goods balance → arrears, at every boundary ----------------------------------

# (deposit, balance) before the charge, and its (from deposit, from balance, arrears), as
# functions of the charge's amount A.
BOUNDARIES = {
    "deposit one cent over": (lambda a: (a + CENT, 0), lambda a: (a, 0, 0)),
    "deposit exactly enough": (lambda a: (a, 0), lambda a: (a, 0, 0)),
    "deposit one cent short, balance has it": (lambda a: (a - CENT, CENT), lambda a: (a - CENT, CENT, 0)),
    "deposit one cent short, nothing else": (lambda a: (a - CENT, 0), lambda a: (a - CENT, 0, CENT)),
    "deposit and balance exactly enough": (lambda a: (3, a - 3), lambda a: (3, a - 3, 0)),
    "deposit and balance one cent short": (lambda a: (3, a - 3 - CENT), lambda a: (3, a - 3 - CENT, CENT)),
    "balance exactly enough": (lambda a: (0, a), lambda a: (0, a, 0)),
    "balance one cent short": (lambda a: (0, a - CENT), lambda a: (0, a - CENT, CENT)),
    "nothing": (lambda a: (0, 0), lambda a: (0, 0, a)),
}
# One charge of each kind on a ¥200.00 order: late 5 %, out of stock 10 %, warranty ¥100 flat.
KINDS = {"late_shipment": Decimal("10.00"), "out_of_stock": Decimal("20.00"), "warranty": Decimal("100.00")}


def money(value) -> str:
    return f"{Decimal(value):.2f}"


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_charge_takes_deposit_then_balance_then_arrears(tmp_path, kind, boundary):
    amount = KINDS[kind]
    before, parts = (f(amount) for f in BOUNDARIES[boundary])
    deposit, balance = map(money, before)
    feed = Feed()
    shop_with_warranty_goods(feed, deposit=deposit, balance=balance)
    if kind == "late_shipment":
        late(feed, "O1", amount="200.00")
    elif kind == "out_of_stock":
        out_of_stock(feed, "O1", amount="200.00", when=PSB - dt.timedelta(hours=1))
    else:
        warranty_breach(feed, "O1")
    run_feed(tmp_path, feed)

    (row,) = masked_charges()
    assert (row["kind"], row["amount"]) == (kind, money(amount))
    assert (row["from_deposit"], row["from_balance"], row["arrears"]) == tuple(map(money, parts))
    from_deposit, from_balance, arrears = parts
    assert exported_accounts() == [
        {
            "shop": "S1",
            "deposit": money(Decimal(deposit) - from_deposit),
            "balance": money(Decimal(balance) - from_balance),
            "arrears": money(arrears),
        }
    ]
    # The ledger rows of the charge: each part away from its account, the whole to the coupons.
    charge = Charge.objects.select_related("transaction").get()
    moves = {(e.account.kind, e.amount) for e in charge.transaction.entries.select_related("account")}
    expected = {
        (AccountKind.DEPOSIT, -Decimal(from_deposit)),
        (AccountKind.BALANCE, -Decimal(from_balance)),
        (AccountKind.ARREARS, -Decimal(arrears)),
        (AccountKind.COUPON_LIABILITY, amount),
    }
    assert moves == {(k, v) for k, v in expected if v != 0}


# --- amounts: rate, rounding half up to the cent, minimum and maximum -----------------------

# paid → compensation, worked by hand from SPEC §7.3. Half up, not half even or down: 60.90 and
# 52.25 end in an even cent before the 5.
LATE_AMOUNTS = {
    "61.10": "3.06",  # 3.055 → 3.06, above the minimum: rounding, not the clamp
    "60.90": "3.05",  # 3.045 → 3.05 (half even would give 3.04)
    "61.09": "3.05",  # 3.0545 → 3.05
    "59.90": "3.00",  # 2.995 → 3.00, which is also the minimum
    "59.00": "3.00",  # 2.95 → the minimum 3.00
    "0.01": "3.00",  # the minimum, whatever the order
    "1999.70": "99.99",  # 99.985 → 99.99 (half even: 99.98)
    "1999.90": "100.00",  # 99.995 → 100.00, which is also the maximum
    "2000.00": "100.00",  # exactly the maximum
    "2000.10": "100.00",  # 100.005 → the maximum
    "99999.00": "100.00",
}
OUT_OF_STOCK_AMOUNTS = {
    "50.05": "5.01",  # 5.005 → 5.01 (half even: 5.00, the minimum)
    "52.25": "5.23",  # 5.225 → 5.23 (half even: 5.22)
    "52.24": "5.22",  # 5.224 → 5.22
    "49.95": "5.00",  # 4.995 → 5.00, also the minimum
    "49.90": "5.00",  # 4.99 → the minimum
    "1999.95": "200.00",  # 199.995 → 200.00, also the maximum
    "1999.85": "199.99",  # 199.985 → 199.99 (half even: 199.98)
    "2000.05": "200.00",  # 200.005 → the maximum
    "123456.78": "200.00",
}


def _charged_amounts() -> dict[str, str]:
    rows = masked_charges()
    assert all(row["coupon"] for row in rows)
    face = dict(Coupon.objects.values_list("charge__order__platform_id", "face_value"))
    assert {o: money(v) for o, v in face.items()} == {row["order"]: row["amount"] for row in rows}
    return {row["order"]: row["amount"] for row in rows}


def test_late_shipment_amounts_round_half_up_between_the_limits(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="100000.00")
    for n, paid in enumerate(LATE_AMOUNTS):
        late(feed, f"O{n}", amount=paid)
    run_feed(tmp_path, feed)
    assert _charged_amounts() == {f"O{n}": value for n, value in enumerate(LATE_AMOUNTS.values())}


def test_out_of_stock_amounts_round_half_up_between_the_limits(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="100000.00")
    for n, paid in enumerate(OUT_OF_STOCK_AMOUNTS):
        out_of_stock(feed, f"O{n}", amount=paid, when=PSB - dt.timedelta(minutes=n + 1))
    run_feed(tmp_path, feed)
    assert _charged_amounts() == {f"O{n}": value for n, value in enumerate(OUT_OF_STOCK_AMOUNTS.values())}


# --- the order a shop's charges apply in (SPEC §6.1) ---------------------------------------


def splits() -> list[tuple[str, str, str, str, str]]:
    return [(r["kind"], r["order"], r["from_deposit"], r["from_balance"], r["arrears"]) for r in masked_charges()]


def test_equal_due_times_apply_in_plain_string_order_of_the_order_ids(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="10.00")
    late(feed, "O9", amount="200.00")  # placed first, and first by number
    late(feed, "O10", amount="200.00")  # but "O10" < "O9" as strings
    run_feed(tmp_path, feed)
    assert splits() == [
        ("late_shipment", "O10", "10.00", "0.00", "0.00"),
        ("late_shipment", "O9", "0.00", "0.00", "10.00"),
    ]


def test_the_earlier_due_charge_takes_the_deposit_first(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="10.00")
    late(feed, "O1", amount="200.00", promised=PSB + dt.timedelta(seconds=1))
    late(feed, "O2", amount="200.00", promised=PSB)
    run_feed(tmp_path, feed)
    assert splits() == [
        ("late_shipment", "O2", "10.00", "0.00", "0.00"),
        ("late_shipment", "O1", "0.00", "0.00", "10.00"),
    ]


def test_an_out_of_stock_declaration_comes_after_the_late_shipments_due_by_then(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="10.00")
    late(feed, "O1", amount="200.00")
    out_of_stock(feed, "O2", amount="200.00", when=PSB + dt.timedelta(hours=1), promised=PSB + dt.timedelta(hours=3))
    late(feed, "O3", amount="200.00", promised=PSB + dt.timedelta(hours=2))
    run_feed(tmp_path, feed)
    assert splits() == [
        ("late_shipment", "O1", "10.00", "0.00", "0.00"),  # due at PSB, before the declaration
        ("out_of_stock", "O2", "0.00", "0.00", "20.00"),
        ("late_shipment", "O3", "0.00", "0.00", "10.00"),
    ]


def test_a_declaration_after_the_promised_time_leaves_the_late_shipment(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="10.00")
    out_of_stock(feed, "O1", amount="200.00", when=PSB + dt.timedelta(hours=1))  # late at PSB already
    run_feed(tmp_path, feed)
    assert splits() == [("late_shipment", "O1", "10.00", "0.00", "0.00")]


def test_a_declaration_before_a_late_shipment_due_later_comes_first(tmp_path):
    feed = Feed()
    feed.shop(T0, "S1", deposit="20.00")
    late(feed, "O1", amount="200.00", promised=PSB + dt.timedelta(hours=2))
    out_of_stock(feed, "O2", amount="200.00", when=PSB - dt.timedelta(hours=1))
    run_feed(tmp_path, feed)
    assert splits() == [
        ("out_of_stock", "O2", "20.00", "0.00", "0.00"),
        ("late_shipment", "O1", "0.00", "0.00", "10.00"),
    ]


def test_issue_payouts_applies_the_automatic_charges_due_by_its_time_first(tmp_path):
    feed = Feed()
    shop_with_warranty_goods(feed, deposit="100.00")
    warranty_breach(feed, "O1")
    late(feed, "O2", amount="200.00")
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines(feed.in_time_order()))
    assert (code, rejected) == (0, []), err

    code, out, _err = run_command("issue_payouts", "--now", END.isoformat())  # no process_deadlines before
    assert code == 0 and out.startswith("issue_payouts: 1 payouts"), out
    assert splits() == [
        ("late_shipment", "O2", "10.00", "0.00", "0.00"),
        ("warranty", "O1", "90.00", "0.00", "10.00"),
    ]
    ledger_clean()


def test_coupon_codes_are_16_symbols_of_the_alphabet_each_symbol_equally_likely():
    codes = new_coupon_codes(20_000)
    assert len(codes) == len(set(codes)) == 20_000 and {len(code) for code in codes} == {COUPON_LENGTH}
    symbols = Counter("".join(codes))
    assert set(symbols) == set(COUPON_ALPHABET)
    # 320,000 symbols: 10,000 of each expected, a standard deviation of about 98; a mapping that
    # favoured some symbols (a byte % 30, say) would put them 700 or more off.
    expected = 20_000 * COUPON_LENGTH / len(COUPON_ALPHABET)
    assert all(abs(n - expected) < 600 for n in symbols.values()), symbols
