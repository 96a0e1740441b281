"""Case events of the platform feed (SPEC §8), through `import_events` as an operator runs it."""

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.models import AfterSalesCase, CaseTransition, CloseReason, Liable, Refund, State
from tests.feed.helpers import feed_line, run_import

pytestmark = pytest.mark.django_db
TZ = dt.timezone(dt.timedelta(hours=8))
DAY0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=TZ)


def t(hours: float) -> str:
    return (DAY0 + dt.timedelta(hours=hours)).isoformat()


def world(special=False):
    """A shop with a default return address, goods and a shipped order O1 (and unshipped O2)."""
    return [
        feed_line("e-shop", "shop.opened", t(0), shop="S1", name="店铺", hotline="13800138000"),
        feed_line(
            "e-addr",
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
        feed_line(
            "e-addr2",
            "address.added",
            t(0),
            shop="S1",
            address="A2",
            receiver="李四",
            phone="13800138002",
            region="浙江省/杭州市/滨江区",
            detail="江南大道2号",
        ),
        feed_line(
            "e-goods", "goods.listed", t(0), shop="S1", goods="G1", name="杯子", category="home", special=special
        ),
        feed_line(
            "e-o1",
            "order.placed",
            t(1),
            order="O1",
            shop="S1",
            goods="G1",
            buyer="B1",
            amount="59.90",
            promised_ship_by=t(49),
        ),
        feed_line(
            "e-o2",
            "order.placed",
            t(1),
            order="O2",
            shop="S1",
            goods="G1",
            buyer="B2",
            amount="10.00",
            promised_ship_by=t(30),
        ),
        feed_line("e-ship", "order.shipped", t(2), order="O1", tracking="SF1"),
    ]


def test_full_return_path_through_the_feed(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        feed_line(
            "c1", "case.opened", t(3), case="C1", order="O1", kind="return_refund", reason="defective", amount="59.90"
        ),
        feed_line("c2", "case.merchant_agreed", t(4), case="C1", address="A2"),
        feed_line("c3", "case.return_shipped", t(5), case="C1", tracking="YT1"),
        feed_line("c4", "case.merchant_return_refused", t(6), case="C1", reason="empty parcel"),
        feed_line("c5", "case.escalated", t(7), case="C1"),
        feed_line("c6", "case.ruled", t(8), case="C1", liable="merchant", note="courier photo shows the cup"),
    )
    assert (code, rejected) == (0, []), err
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert (case.state, case.liable, case.return_detail) == (State.REFUNDED, Liable.MERCHANT, "江南大道2号")
    assert case.intervened_at == DAY0 + dt.timedelta(hours=7)
    assert list(case.transitions.values_list("transition", "actor_kind")) == [
        ("open", "buyer"),
        ("merchant_agree", "merchant"),
        ("ship_return", "buyer"),
        ("refuse_return", "merchant"),
        ("escalate", "buyer"),
        ("rule", "reviewer"),
    ]
    refund = Refund.objects.get(case=case)
    assert (refund.amount, refund.intervened, refund.refunded_at) == (Decimal("59.90"), True, case.resolved_at)


def test_refuse_resubmit_refund_and_cancel(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        feed_line(
            "c1", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="quality_issue", amount="59.90"
        ),
        feed_line("c2", "case.merchant_refused", t(4), case="C1", reason="works fine"),
        feed_line("c3", "case.resubmitted", t(5), case="C1", amount="30.00", reason="not_as_described"),
        feed_line("c4", "case.merchant_agreed", t(6), case="C1"),
        feed_line(
            "c5", "case.opened", t(3), case="C2", order="O2", kind="refund_only", reason="not_shipped", amount="10.00"
        ),
        feed_line("c6", "case.cancelled", t(4), case="C2"),
    )
    assert (code, rejected) == (0, []), err
    c1 = AfterSalesCase.objects.get(platform_id="C1")
    assert (c1.state, c1.amount, c1.reason) == (State.REFUNDED, Decimal("30.00"), "not_as_described")
    assert Refund.objects.get(case=c1).reason_class == "quality"
    c2 = AfterSalesCase.objects.get(platform_id="C2")
    assert (c2.state, c2.close_reason) == (State.CLOSED, CloseReason.BUYER_CANCELLED)


def test_merchant_refunded_confirms_after_return(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        feed_line(
            "c1", "case.opened", t(3), case="C1", order="O1", kind="return_refund", reason="defective", amount="20.00"
        ),
        feed_line("c2", "case.merchant_agreed", t(4), case="C1", address=None),
        feed_line("c3", "case.return_shipped", t(5), case="C1", tracking="YT1"),
        feed_line("c4", "case.merchant_refunded", t(6), case="C1"),
    )
    assert (code, rejected) == (0, []), err
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert case.state == State.REFUNDED and case.return_detail == "文三路1号"  # the shop default


def test_lazy_deadline_rule_applies_due_transitions_before_a_later_event(tmp_path):
    # The merchant never answers: 48 h after opening the case is auto-agreed (refunded), so a
    # merchant refusal stamped later meets a refunded case and is rejected.
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        feed_line(
            "c1", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="defective", amount="59.90"
        ),
        feed_line("c2", "case.merchant_refused", t(3 + 48 + 1), case="C1", reason="too late"),
        feed_line("c3", "case.cancelled", t(3 + 48 + 2), case="C1"),
    )
    assert code == 1 and rejected == [9, 10], err
    assert "line 9: case C1 is refunded: merchant_refuse is only possible from pending_merchant" in err
    assert "line 10: case C1 is refunded: cancel is only possible from" in err
    case = AfterSalesCase.objects.get(platform_id="C1")
    # A rejected line applies nothing, not even the automatic agreement it met (SPEC §8): that
    # falls due all the same and the job applies it, stamped with its deadline.
    assert case.state == State.PENDING_MERCHANT and not Refund.objects.exists()
    from aftersales.services.deadlines import process_deadlines

    assert process_deadlines(now=DAY0 + dt.timedelta(days=30)).total == 1
    case.refresh_from_db()
    assert case.state == State.REFUNDED and case.resolved_at == DAY0 + dt.timedelta(hours=51)
    assert case.refund.refunded_at == DAY0 + dt.timedelta(hours=51)
    assert list(case.transitions.values_list("transition", "at")) == [
        ("open", DAY0 + dt.timedelta(hours=3)),
        ("auto_agree", DAY0 + dt.timedelta(hours=51)),
    ]


def test_lazy_rule_lets_an_order_whose_refused_case_expired_take_a_new_case(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        feed_line(
            "c1", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="defective", amount="59.90"
        ),
        feed_line("c2", "case.merchant_refused", t(4), case="C1", reason="no"),
        feed_line(
            "c3",
            "case.opened",
            t(4 + 7 * 24 - 1),
            case="C2",
            order="O1",
            kind="refund_only",
            reason="defective",
            amount="59.90",
        ),
        feed_line(
            "c4",
            "case.opened",
            t(4 + 7 * 24),
            case="C3",
            order="O1",
            kind="refund_only",
            reason="defective",
            amount="59.90",
        ),
    )
    assert (code, rejected) == (1, [10]), err
    assert "order O1 already has an open case" in err
    c1 = AfterSalesCase.objects.get(platform_id="C1")
    assert (c1.state, c1.close_reason, c1.resolved_at) == (
        State.CLOSED,
        CloseReason.BUYER_OVERDUE,
        DAY0 + dt.timedelta(hours=4 + 7 * 24),
    )
    assert CaseTransition.objects.get(case=c1, transition="expire").actor_kind == "system"
    assert AfterSalesCase.objects.get(platform_id="C3").state == State.PENDING_MERCHANT


def test_rejections_name_the_line_and_apply_nothing(tmp_path):
    lines = [
        *world(special=True),
        # 8: return of special goods
        feed_line(
            "r1", "case.opened", t(3), case="C1", order="O1", kind="return_refund", reason="defective", amount="5.00"
        ),
        # 9: amount above the order's
        feed_line(
            "r2", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="defective", amount="60.00"
        ),
        # 10: unknown order
        feed_line(
            "r3", "case.opened", t(3), case="C1", order="O9", kind="refund_only", reason="defective", amount="5.00"
        ),
        # 11: bad reason code
        feed_line("r4", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="meh", amount="5.00"),
        # 12: fine
        feed_line(
            "ok", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="defective", amount="5.00"
        ),
        # 13: older than the case's last change
        feed_line("r5", "case.cancelled", t(2), case="C1"),
        # 14: merchant refusal without reason
        feed_line("r6", "case.merchant_refused", t(4), case="C1"),
        # 15: unknown case
        feed_line("r7", "case.escalated", t(4), case="C9"),
        # 16: illegal transition from pending_merchant
        feed_line("r8", "case.return_shipped", t(4), case="C1", tracking="YT"),
        # 17: ruling with an unknown liable party
        feed_line("r9", "case.ruled", t(4), case="C1", liable="courier", note="n"),
        # 18: unknown address
        feed_line("r10", "case.merchant_agreed", t(4), case="C1", address="A9"),
    ]
    code, _, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert code == 1
    assert rejected == [8, 9, 10, 11, 13, 14, 15, 16, 17, 18], err
    assert "line 8: goods G1 are special goods" in err
    assert "line 9: the amount 60.00 exceeds the order's paid amount 59.90" in err
    assert "line 10: unknown order 'O9'" in err
    assert "line 13: event time" in err and "older than the last change of case C1" in err
    assert "line 14: field 'reason' is required" in err
    assert "line 15: unknown case 'C9'" in err
    assert "line 16: case C1 is pending_merchant: ship_return is only possible from awaiting_return" in err
    assert "line 17: field 'liable' must be one of merchant, buyer" in err
    assert "line 18: unknown return address 'A9'" in err
    case = AfterSalesCase.objects.get(platform_id="C1")
    assert case.state == State.PENDING_MERCHANT
    assert list(case.transitions.values_list("transition", flat=True)) == ["open"]


def test_reimport_changes_nothing(tmp_path):
    lines = [
        *world(),
        feed_line(
            "c1", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="defective", amount="59.90"
        ),
        feed_line("c2", "case.merchant_agreed", t(4), case="C1"),
    ]
    assert run_import(tmp_path / "feed.jsonl", *lines)[0] == 0
    code, out, rejected, _ = run_import(tmp_path / "feed.jsonl")
    assert (code, rejected) == (0, []) and "0 applied" in out
    assert Refund.objects.count() == 1 and CaseTransition.objects.count() == 2


def test_a_case_dated_before_the_last_change_of_its_orders_cases_is_rejected(tmp_path):
    # C1 is cancelled at 27 h; a C2 stamped 24 h would overlap C1, still open then.
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        *world(),
        feed_line("c1", "case.opened", t(3), case="C1", order="O1", kind="refund_only", reason="quality_issue",
                  amount="59.90"),
        feed_line("c1x", "case.cancelled", t(27), case="C1"),
        feed_line("c2", "case.opened", t(24), case="C2", order="O1", kind="refund_only", reason="quality_issue",
                  amount="59.90"),
        feed_line("c3", "case.opened", t(28), case="C3", order="O1", kind="refund_only", reason="quality_issue",
                  amount="59.90"),
    )
    assert (code, rejected) == (1, [10])
    assert "older than the last change of case C1 of order O1" in err
    assert sorted(AfterSalesCase.objects.values_list("platform_id", "state")) == [
        ("C1", State.CLOSED), ("C3", State.PENDING_MERCHANT)
    ]
