"""Exchanges through the platform feed (SPEC §8): `case.opened` with kind exchange and
`case.merchant_reshipped`, every invalid exchange line rejected alone with `line N:`."""

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.models import AfterSalesCase, CaseTransition, Refund, State
from aftersales.services.deadlines import process_deadlines
from tests.feed.helpers import feed_line, run_command, run_import

pytestmark = pytest.mark.django_db
TZ = dt.timezone(dt.timedelta(hours=8))
DAY0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=TZ)
RECEIVED = 30  # hours after DAY0: O1 and O3 are received then


def t(hours: float) -> str:
    return (DAY0 + dt.timedelta(hours=hours)).isoformat()


def world() -> list[str]:
    """Shop S1 with a default return address; O1 (received), O2 (shipped, not received) and O3
    (received, special goods); O4 (received) for a return and refund."""
    lines = [
        feed_line("w-shop", "shop.opened", t(0), shop="S1", name="店铺", hotline="400-820-8820"),
        feed_line(
            "w-addr",
            "address.added",
            t(0),
            shop="S1",
            address="A1",
            receiver="张三",
            phone="13800138001",
            region="浙江省/杭州市/西湖区",
            detail="文三路1号",
            default=True,
        ),
        feed_line("w-g1", "goods.listed", t(0), shop="S1", goods="G1", name="杯子", category="home"),
        feed_line("w-g2", "goods.listed", t(0), shop="S1", goods="G2", name="苹果", category="fruit", special=True),
    ]
    for order, goods in (("O1", "G1"), ("O2", "G1"), ("O3", "G2"), ("O4", "G1")):
        lines += [
            feed_line(
                f"w-{order}",
                "order.placed",
                t(1),
                order=order,
                shop="S1",
                goods=goods,
                buyer=f"B{order}",
                amount="59.90",
                promised_ship_by=t(49),
            ),
            feed_line(f"w-{order}-s", "order.shipped", t(2), order=order, tracking=f"SF{order}"),
        ]
        if order != "O2":
            lines.append(feed_line(f"w-{order}-r", "order.received", t(RECEIVED), order=order))
    return lines


def opened(event_id: str, at: float, case: str, order: str = "O1", *, kind="exchange", reason="defective",
           amount="59.90") -> str:  # fmt: skip
    return feed_line(event_id, "case.opened", t(at), case=case, order=order, kind=kind, reason=reason, amount=amount)


def test_an_exchange_through_the_feed_ends_exchanged_without_a_refund(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        opened("c1", RECEIVED + 10, "C1"),
        feed_line("c2", "case.merchant_agreed", t(RECEIVED + 11), case="C1", address="A1"),
        feed_line("c3", "case.return_shipped", t(RECEIVED + 12), case="C1", tracking="YT1"),
        feed_line("c4", "case.merchant_reshipped", t(RECEIVED + 13), case="C1", tracking="SF-NEW-1"),
    )
    assert (code, rejected) == (0, []), err
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert (case.kind, case.state, case.reship_tracking, case.return_detail) == (
        "exchange",
        State.EXCHANGED,
        "SF-NEW-1",
        "文三路1号",
    )
    assert case.resolved_at == DAY0 + dt.timedelta(hours=RECEIVED + 13)
    assert list(case.transitions.values_list("transition", "actor_kind")) == [
        ("open", "buyer"),
        ("merchant_agree", "merchant"),
        ("ship_return", "buyer"),
        ("reship", "merchant"),
    ]
    assert not Refund.objects.exists()
    rows = run_command("export_cases", "--format", "jsonl")[1]
    assert '"kind": "exchange", "state": "exchanged"' in rows and '"refund_amount": null' in rows


def test_an_exchange_refunded_when_the_replacement_is_out_of_stock(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        opened("c1", RECEIVED + 10, "C1", amount="40.00"),
        feed_line("c2", "case.merchant_agreed", t(RECEIVED + 11), case="C1"),
        feed_line("c3", "case.return_shipped", t(RECEIVED + 12), case="C1", tracking="YT1"),
        feed_line("c4", "case.merchant_refunded", t(RECEIVED + 13), case="C1"),
    )
    assert (code, rejected) == (0, []), err
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert case.state == State.REFUNDED and case.reship_tracking == ""
    assert Refund.objects.get(case=case).amount == Decimal("40.00")


def test_an_exchange_the_merchant_ignores_is_refunded_at_the_deadline(tmp_path):
    code, _, rejected, err = run_import(tmp_path / "feed.jsonl", *world(), opened("c1", RECEIVED + 10, "C1"))
    assert (code, rejected) == (0, []), err
    process_deadlines(now=DAY0 + dt.timedelta(days=30))
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert case.state == State.REFUNDED
    assert case.refund.refunded_at == DAY0 + dt.timedelta(hours=RECEIVED + 10 + 48)


def test_every_invalid_exchange_line_is_rejected_alone_and_the_rest_applied(tmp_path):
    base = world()
    n = len(base)
    lines = [
        *base,
        opened("x1", RECEIVED + 1, "X1", order="O2"),  # n+1: not received
        opened("x2", RECEIVED + 7 * 24 + 1 / 3600, "X2"),  # n+2: one second past the 7 days
        opened("x3", RECEIVED + 1, "X3", reason="changed_mind"),  # n+3: a reason an exchange refuses
        opened("x4", RECEIVED + 1, "X4", order="O3"),  # n+4: special goods
        opened("x5", RECEIVED + 1, "X5", kind="swap"),  # n+5: unknown kind
        opened("ok1", RECEIVED + 7 * 24, "C1"),  # n+6: exactly 7 × 24 h after receipt: fine
        feed_line("x6", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 1), case="C1", tracking="SF9"),  # n+7
        feed_line("ok2", "case.merchant_refused", t(RECEIVED + 7 * 24 + 1), case="C1", reason="looks fine"),  # n+8
        feed_line("x7", "case.resubmitted", t(RECEIVED + 7 * 24 + 2), case="C1", reason="lost_in_transit"),  # n+9
        feed_line("ok3", "case.resubmitted", t(RECEIVED + 7 * 24 + 2), case="C1", reason="wrong_or_missing"),  # n+10
        feed_line("ok4", "case.merchant_agreed", t(RECEIVED + 7 * 24 + 3), case="C1"),  # n+11
        feed_line("ok5", "case.return_shipped", t(RECEIVED + 7 * 24 + 4), case="C1", tracking="YT1"),  # n+12
        feed_line("x8", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 5), case="C1"),  # n+13: no tracking
        feed_line("x9", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 5), case="C1", tracking=" "),  # n+14
        feed_line("x10", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 5), case="C1", tracking="S" * 65),  # n+15
        feed_line("x11", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 3), case="C1", tracking="SF9"),  # n+16
        feed_line("x12", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 5), case="C9", tracking="SF9"),  # n+17
        # n+18 … n+21: a return and refund on O4, brought to return_shipped, is not reshipped
        opened("ok6", RECEIVED + 1, "R1", order="O4", kind="return_refund", reason="changed_mind"),
        feed_line("ok7", "case.merchant_agreed", t(RECEIVED + 2), case="R1"),
        feed_line("ok8", "case.return_shipped", t(RECEIVED + 3), case="R1", tracking="YT2"),
        feed_line("x13", "case.merchant_reshipped", t(RECEIVED + 4), case="R1", tracking="SF9"),
        feed_line("ok9", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 6), case="C1", tracking="SF-NEW"),  # n+22
        feed_line("x14", "case.merchant_reshipped", t(RECEIVED + 7 * 24 + 7), case="C1", tracking="SF-2"),  # n+23
    ]
    code, _, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert code == 1
    needs = "an exchange needs a quality reason or damaged_in_transit, wrong_or_missing or other, not"
    expected = {
        n + 1: "order O2 is not received: an exchange can be opened only after receipt",
        n + 2: "the exchange window of order O1 (7 days after receipt) ended at",
        n + 3: f"{needs} changed_mind",
        n + 4: "goods G2 are special goods (refund only): no exchange",
        n + 5: "field 'kind' must be one of refund_only, return_refund, exchange",
        n + 7: "case C1 is pending_merchant: reship is only possible from return_shipped",
        n
        + 9: "an exchange needs a quality reason or damaged_in_transit, wrong_or_missing or other, not lost_in_transit",
        n + 13: "field 'tracking' is required",
        n + 14: "field 'tracking' must be a non-empty string",
        n + 15: "field 'tracking' is longer than 64 characters",
        n + 16: "older than the last change of case C1",
        n + 17: "unknown case 'C9'",
        n + 21: "case R1 is return and refund, not an exchange: there is no replacement to send",
        n + 23: "case C1 is exchanged: reship is only possible from return_shipped",
    }
    assert rejected == sorted(expected), err
    said = dict(line.split(": ", 1) for line in err.splitlines())
    for line, reason in expected.items():
        assert reason in said[f"line {line}"], (line, said[f"line {line}"])
    assert sorted(AfterSalesCase.objects.values_list("platform_id", "state")) == [
        ("C1", State.EXCHANGED),
        ("R1", State.RETURN_SHIPPED),
    ]
    c1 = AfterSalesCase.objects.get(platform_id="C1")
    assert (c1.reason, c1.reship_tracking) == ("wrong_or_missing", "SF-NEW")
    assert list(CaseTransition.objects.filter(case=c1).values_list("transition", flat=True)) == [
        "open",
        "merchant_refuse",
        "resubmit",
        "merchant_agree",
        "ship_return",
        "reship",
    ]
    assert not Refund.objects.exists()


def test_a_rejected_reship_applies_nothing_not_even_the_automatic_refund_it_met(tmp_path):
    # The merchant's 7 days to check the return end at RECEIVED + 13 + 168 h; a reship stamped
    # after that meets a refunded case and is rejected, and its line rolls the refund back too.
    deadline = RECEIVED + 13 + 7 * 24
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        opened("c1", RECEIVED + 10, "C1"),
        feed_line("c2", "case.merchant_agreed", t(RECEIVED + 11), case="C1"),
        feed_line("c3", "case.return_shipped", t(RECEIVED + 13), case="C1", tracking="YT1"),
        feed_line("c4", "case.merchant_reshipped", t(deadline + 1), case="C1", tracking="SF-LATE"),
    )
    assert code == 1 and rejected == [len(world()) + 4], err
    assert "case C1 is refunded: reship is only possible from return_shipped" in err
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert (case.state, case.reship_tracking) == (State.RETURN_SHIPPED, "")
    assert not Refund.objects.exists()
    process_deadlines(now=DAY0 + dt.timedelta(days=60))
    case.refresh_from_db()
    assert case.state == State.REFUNDED and case.refund.refunded_at == DAY0 + dt.timedelta(hours=deadline)
