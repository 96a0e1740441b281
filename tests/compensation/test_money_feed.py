"""Bad `shop.settled`, `shop.deposit_paid` and `order.out_of_stock` lines (SPEC §8): each is
rejected with `line N:` and a reason naming the problem, and nothing of it is applied, not even the
automatic charges and case deadlines it met first (they fall due all the same, later)."""

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.models import AfterSalesCase, State
from compensation.models import Charge, Credit
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.models import Order
from tests.conftest import at
from tests.feed.helpers import Feed, ledger_clean, masked_charges, money, run_command, run_import

pytestmark = pytest.mark.django_db

T0 = at("2026-03-01 09:00")
PSB = at("2026-03-03 18:00")
DECLARED = PSB - dt.timedelta(hours=6)  # O5's out-of-stock declaration: S1's last money movement
LATER = PSB + dt.timedelta(hours=5)  # the bad lines' time: O1's late shipment and C6's refund are due


def world() -> Feed:
    """S1 with a ¥5 deposit and an order in every state a declaration can meet."""
    feed = Feed("w")
    feed.shop(T0, "S1", deposit="5.00")
    grouped = T0 + dt.timedelta(hours=1)
    for n in (1, 3, 4, 5, 6, 7):
        feed.order(T0, f"O{n}", "S1", amount="200.00", promised_ship_by=PSB, grouped=grouped)
    feed.order(T0, "O2", "S1", amount="200.00", promised_ship_by=PSB)  # never grouped
    feed.add(T0 + dt.timedelta(hours=2), "order.shipped", order="O3", tracking="SF3")
    feed.add(
        T0 + dt.timedelta(hours=2),
        "case.opened",
        case="C4",
        order="O4",
        kind="refund_only",
        reason="changed_mind",
        amount="200.00",
    )
    feed.add(T0 + dt.timedelta(hours=3), "case.merchant_agreed", case="C4")  # O4 refunded
    feed.add(DECLARED, "order.out_of_stock", order="O5")
    # C6 waits for the merchant until PSB, when it is refunded automatically (not applied yet).
    feed.add(
        PSB - dt.timedelta(hours=1),
        "case.opened",
        case="C6",
        order="O6",
        kind="refund_only",
        reason="not_shipped",
        amount="200.00",
    )
    feed.add(T0 + dt.timedelta(hours=20), "order.received", order="O3")  # O3's last change
    return feed


def bad_lines() -> list[tuple[dict, str]]:
    feed = Feed("bad")

    def line(when, event_type, reason, **fields):
        return feed.add(when, event_type, **fields), reason

    settled, paid = "shop.settled", "shop.deposit_paid"
    return [
        line(LATER, settled, "unknown shop 'S404'", shop="S404", amount="10.00"),
        line(LATER, paid, "unknown shop 'S404'", shop="S404", amount="10.00"),
        line(LATER, settled, "the amount must be greater than 0, got 0.00", shop="S1", amount="0"),
        line(LATER, paid, "the amount must be greater than 0, got 0.00", shop="S1", amount="0.00"),
        line(LATER, settled, "field 'amount' must not be negative: \"-10.00\"", shop="S1", amount="-10.00"),
        line(LATER, paid, "field 'amount' must not be negative: \"-0.01\"", shop="S1", amount="-0.01"),
        line(
            LATER,
            settled,
            'at most two decimals, no sign, exponent or spaces, such as "59.90"; got "10.001"',
            shop="S1",
            amount="10.001",
        ),
        line(
            LATER,
            paid,
            'at most two decimals, no sign, exponent or spaces, such as "59.90"; got "0.005"',
            shop="S1",
            amount="0.005",
        ),
        line(LATER, settled, "field 'amount' is required", shop="S1"),
        line(LATER, paid, "field 'amount' must be a decimal string", shop="S1", amount=10),
        # Older than O5's declaration, S1's last money movement.
        line(
            DECLARED - dt.timedelta(seconds=1),
            settled,
            "settlement at 2026-03-03 11:59:59 is older than the last movement of shop S1's money "
            "(2026-03-03 12:00:00)",
            shop="S1",
            amount="10.00",
        ),
        line(
            T0 - dt.timedelta(days=1),
            paid,
            "deposit payment at 2026-02-28 09:00:00 is older than the last movement of shop S1's money",
            shop="S1",
            amount="10.00",
        ),
        line(LATER, "order.out_of_stock", "unknown order 'O404'", order="O404"),
        line(LATER, "order.out_of_stock", "order O2 is not grouped yet", order="O2"),
        line(LATER, "order.out_of_stock", "order O3 is already shipped", order="O3"),
        line(LATER, "order.out_of_stock", "order O4 is already refunded", order="O4"),
        line(LATER, "order.out_of_stock", "order O5 was already declared out of stock", order="O5"),
        # Its automatic refund at PSB is applied first, then the declaration meets a refunded order.
        line(LATER, "order.out_of_stock", "order O6 is already refunded", order="O6"),
        line(
            T0 + dt.timedelta(hours=10),
            "order.out_of_stock",
            "declaration at 2026-03-01 19:00:00 is older than the last change of order O3",
            order="O3",
        ),
        line(
            T0 + dt.timedelta(minutes=30),
            "order.out_of_stock",
            "declaration at 2026-03-01 09:30:00 is older than the last change of order O7",
            order="O7",
        ),
    ]


def snapshot() -> dict:
    return {
        **money(),
        "cases": run_command("export_cases")[1],
        "orders": list(
            Order.objects.order_by("platform_id").values_list(
                "platform_id", "out_of_stock_at", "late_shipment_due_at", "changed_at"
            )
        ),
        "credits": Credit.objects.count(),
    }


def test_every_bad_money_line_is_rejected_with_its_reason_and_applies_nothing(tmp_path):
    feed = world()
    code, _out, rejected, err = run_import(tmp_path / "world.jsonl", *feed.lines())
    assert (code, rejected) == (0, []), err
    before = snapshot()
    assert [row["kind"] for row in before["charges"]] == ["out_of_stock"]  # O5's; O1 is due, not applied

    bad = bad_lines()
    code, out, rejected, err = run_import(tmp_path / "bad.jsonl", *Feed().lines([event for event, _ in bad]))

    assert code == 1 and rejected == list(range(1, len(bad) + 1)), err
    assert f"{len(bad)} lines, 0 applied" in out
    reasons = err.splitlines()
    assert len(reasons) == len(bad)
    for number, ((_event, reason), printed) in enumerate(zip(bad, reasons, strict=True), start=1):
        assert printed.startswith(f"line {number}: "), printed
        assert reason in printed, (number, printed)
    assert snapshot() == before
    # The automatic work the lines met first was rolled back with them: still due, not done.
    assert AfterSalesCase.objects.get(platform_id="C6").state == State.PENDING_MERCHANT
    assert not Charge.objects.filter(order__platform_id="O1").exists()
    # Their ids are seen: importing the file again changes nothing and applies nothing.
    assert ImportedEvent.objects.filter(event_id__startswith="bad").exclude(rejection="").count() == len(bad)
    code, out, _rejected, _err = run_import(tmp_path / "bad.jsonl")
    assert code == 0 and f"{len(bad)} skipped as already imported" in out
    assert snapshot() == before

    # What the lines met still falls due, stamped at its deadline.
    run_command("process_deadlines", "--now", LATER.isoformat())
    case = AfterSalesCase.objects.get(platform_id="C6")
    assert (case.state, case.resolved_at) == (State.REFUNDED, PSB)
    assert [(r["kind"], r["order"], r["at"]) for r in masked_charges()] == [
        ("out_of_stock", "O5", DECLARED.isoformat()),
        ("late_shipment", "O1", PSB.isoformat()),  # O3 shipped, O4 and O6 refunded, O5 declared by then
        ("late_shipment", "O7", PSB.isoformat()),
    ]
    ledger_clean()


def test_a_good_line_after_the_bad_ones_is_applied(tmp_path):
    feed = world()
    run_import(tmp_path / "world.jsonl", *feed.lines())
    bad = [event for event, _ in bad_lines()]
    good = Feed("good")
    good.add(LATER, "order.out_of_stock", order="O7")
    good.add(LATER, "shop.settled", shop="S1", amount="100.00")
    code, out, rejected, err = run_import(tmp_path / "mixed.jsonl", *Feed().lines([*bad, *good.events]))
    assert code == 1 and rejected == list(range(1, len(bad) + 1)), err
    assert "2 applied" in out
    assert [(r["kind"], r["order"]) for r in masked_charges()] == [
        ("out_of_stock", "O5"),
        ("late_shipment", "O1"),
        ("late_shipment", "O7"),  # late at PSB, before its declaration: the one shipping charge
    ]
    assert Order.objects.get(platform_id="O7").out_of_stock_at == LATER
    # ¥15 left owing by O5 (¥20 from a ¥5 deposit) and ¥10 each for O1 and O7, paid off first.
    credit = Credit.objects.get()
    assert (credit.to_arrears, credit.credited) == (Decimal("35.00"), Decimal("65.00"))
    ledger_clean()
