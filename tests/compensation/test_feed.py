import pytest

from compensation.models import Charge, Violation, ViolationState
from compensation.services.ledger import ledger_differences
from compensation.services.payouts import payouts_issue
from tests.feed.helpers import feed_line, run_import

pytestmark = pytest.mark.django_db


def base_feed() -> list[str]:
    return [
        feed_line("e1", "shop.opened", shop="S1", name="一号店", deposit="150.00", balance="20.00"),
        feed_line("e2", "shop.opened", shop="S2", name="二号店"),
        feed_line("e3", "goods.listed", shop="S1", goods="G1", name="电视", category="家电", warranty=True),
        feed_line("e4", "goods.listed", shop="S1", goods="G2", name="水果", category="生鲜"),
        feed_line("e5", "goods.listed", shop="S2", goods="G3", name="冰箱", category="家电", warranty=True),
        *[
            feed_line(f"o{n}", "order.placed", order=f"O{n}", shop="S1", goods="G1", buyer=f"B{n}", amount="999.00",
                      promised_ship_by="2026-01-03T10:00:00+08:00")
            for n in (1, 2, 3)
        ],
        feed_line("o4", "order.placed", order="O4", shop="S1", goods="G2", buyer="B4", amount="9.90",
                  promised_ship_by="2026-01-03T10:00:00+08:00"),
        feed_line("o5", "order.placed", order="O5", shop="S2", goods="G3", buyer="B5", amount="1999.00",
                  promised_ship_by="2026-01-03T10:00:00+08:00"),
    ]


def test_reported_and_ruled_through_the_feed_then_paid(tmp_path):
    lines = [
        *base_feed(),
        feed_line("w1", "warranty.reported", at="2026-01-05T10:00:00+08:00", violation="V1", orders=["O2", "O1"],
                  reason="refused_service"),
        feed_line("w2", "warranty.ruled", at="2026-01-06T10:00:00+08:00", violation="V1", breach=True,
                  note="维修被拒"),
    ]
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (0, []), err

    violation = Violation.objects.get(platform_id="V1")
    assert violation.state == ViolationState.UPHELD
    assert violation.ruled_at.isoformat() == "2026-01-06T02:00:00+00:00"
    assert [line.order.platform_id for line in violation.lines.order_by("position")] == ["O2", "O1"]
    payouts_issue()
    splits = list(Charge.objects.order_by("id").values_list("order__platform_id", "from_deposit", "from_balance",
                                                           "arrears"))
    assert [(o, f"{d:.2f}", f"{b:.2f}", f"{a:.2f}") for o, d, b, a in splits] == [
        ("O2", "100.00", "0.00", "0.00"),
        ("O1", "50.00", "20.00", "30.00"),
    ]
    assert ledger_differences() == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"orders": ["O1", "O9"], "reason": "refused_service"}, "unknown order 'O9'"),
        ({"orders": ["O1", "O5"], "reason": "refused_service"}, "must belong to one shop"),
        ({"orders": ["O4"], "reason": "refused_service"}, "order O4 was placed without national warranty"),
        ({"orders": ["O1"], "reason": "broken"}, "field 'reason' must be one of refused_service, extra_fee"),
        ({"orders": [], "reason": "extra_fee"}, "field 'orders' must be a non-empty list"),
        ({"orders": ["O1", "O1"], "reason": "extra_fee"}, "lists the same id twice"),
        ({"orders": ["O3"], "reason": "refused_service"}, "order O3 is already in violation V0"),
        ({"violation": "V0", "orders": ["O2"], "reason": "extra_fee"}, "violation V0 already exists"),
    ],
)
def test_reported_rejections(tmp_path, fields, reason):
    lines = [
        *base_feed(),
        feed_line("w0", "warranty.reported", at="2026-01-04T10:00:00+08:00", violation="V0", orders=["O3"],
                  reason="refused_service"),
        feed_line("w1", "warranty.reported", at="2026-01-05T10:00:00+08:00", **{"violation": "V1", **fields}),
    ]
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (1, [len(lines)])
    assert reason in err


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"violation": "V9", "breach": True, "note": "x"}, "unknown violation 'V9'"),
        ({"violation": "V1", "breach": "yes", "note": "x"}, "field 'breach' must be true or false"),
        ({"violation": "V1", "breach": True}, "field 'note' is required"),
        ({"violation": "V1", "breach": True, "note": "x", "at": "2026-01-04T10:00:00+08:00"}, "is older than"),
    ],
)
def test_ruled_rejections(tmp_path, event, reason):
    at = event.pop("at", "2026-01-06T10:00:00+08:00")
    lines = [
        *base_feed(),
        feed_line("w1", "warranty.reported", at="2026-01-05T10:00:00+08:00", violation="V1", orders=["O1"],
                  reason="extra_fee"),
        feed_line("w2", "warranty.ruled", at=at, **event),
    ]
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (1, [len(lines)]), err
    assert reason in err
    assert Violation.objects.get().state == ViolationState.REPORTED


def test_ruling_twice_is_rejected_and_reimport_changes_nothing(tmp_path):
    lines = [
        *base_feed(),
        feed_line("w1", "warranty.reported", at="2026-01-05T10:00:00+08:00", violation="V1", orders=["O1"],
                  reason="extra_fee"),
        feed_line("w2", "warranty.ruled", at="2026-01-06T10:00:00+08:00", violation="V1", breach=False, note="ok"),
        feed_line("w3", "warranty.ruled", at="2026-01-07T10:00:00+08:00", violation="V1", breach=True, note="no"),
    ]
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (1, [len(lines)])
    assert "violation V1 is already ruled (no breach)" in err
    code, out, rejected, _err = run_import(tmp_path / "feed.jsonl")
    # Every id was seen, the rejected one included: all skipped (SPEC §8).
    assert (code, rejected) == (0, []) and f"0 applied, {len(lines)} skipped" in out
    assert Violation.objects.get().state == ViolationState.DISMISSED
