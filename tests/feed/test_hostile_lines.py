"""SPEC §8: no line, however hostile, stops the import, loses another line or changes anything.

Each test imports the good feed of `hostile.py` with hostile lines among it and compares what the
exports say afterwards with the good feed imported alone.
"""

import json
import re

import pytest
from django.core.management import call_command
from django.db import DataError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales.models import AfterSalesCase, State
from pddadmin.feed.importer import import_events
from pddadmin.shops import services as shop_services
from tests.concurrency import errors_of, run_in_threads

from .helpers import feed_line, outcome, run_command
from .hostile import (
    ANYWHERE,
    BAD_AMOUNTS,
    DEEP,
    END,
    GOOD,
    GOOD_EVENTS,
    HUGE_INT,
    RAW_SURROGATE,
    bad_values_for,
    mutated,
    t,
)

pytestmark = pytest.mark.django_db
REJECTION = re.compile(r"^line (\d+): (.*)$", re.M)
# "line N: " and a reason naming the field; values in it are quoted at most 80 characters long.
SHORT = 300


def import_bytes(path, lines: list[bytes], *options: str) -> tuple[int, str, str]:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return run_command("import_events", str(path), *options)


def rolled_back(fn):
    """Run `fn` and undo everything it wrote, so one test can compare two imports."""
    result = None

    with transaction.atomic():
        result = fn()
        transaction.set_rollback(True)
    return result


_baselines: dict[str, dict] = {}


def baseline(tmp_path) -> dict:
    """The good feed alone, as the exports show it (once per database)."""
    if connection.vendor not in _baselines:

        def run():
            code, _, err = import_bytes(tmp_path / "good.jsonl", [line.encode() for line in GOOD])
            assert (code, err) == (0, ""), err
            return outcome(END)

        _baselines[connection.vendor] = rolled_back(run)
    return _baselines[connection.vendor]


def rejections(err: str) -> dict[int, str]:
    return {int(n): reason for n, reason in REJECTION.findall(err)}


def test_the_good_feed_leaves_what_a_leak_would_change(tmp_path):
    result = baseline(tmp_path)
    cases = [json.loads(row) for row in result["cases"].splitlines()]
    assert {c["case"]: c["state"] for c in cases} == {
        "C1": "refunded",
        "C2": "refunded",
        "C3": "refunded",
        "C4": "closed",
    }
    assert len(result["payouts"].splitlines()) == 2
    charges = [json.loads(row) for row in result["charges"].splitlines()]
    assert [
        (c["kind"], c["shop"], c["order"], c["amount"], c["from_deposit"], c["from_balance"], c["arrears"])
        for c in charges
    ] == [
        ("out_of_stock", "S1", "O6", "5.99", "5.99", "0.00", "0.00"),  # 59.90 × 10 %, deposit 150.00 → 144.01
        ("late_shipment", "S1", "O5", "3.00", "3.00", "0.00", "0.00"),  # 59.90 × 5 % = 2.995 → 3.00 → 141.01
        # S1 settled 10.00 (balance 30.00) and paid 5.00 of deposit (146.01) before the payouts.
        ("warranty", "S1", "O1", "100.00", "100.00", "0.00", "0.00"),
        ("warranty", "S1", "O2", "100.00", "46.01", "30.00", "23.99"),
        ("late_shipment", "S2", "O7", "5.00", "2.00", "0.00", "3.00"),  # 100.00 × 5 % from a ¥2 deposit
    ]
    assert all(c["coupon"] for c in charges)
    # S2: ¥3 arrears, ¥1 settled (¥2 left), ¥10 deposit paid: ¥2 to arrears, ¥8 to the deposit.
    assert [json.loads(row) for row in result["shops"].splitlines()] == [
        {"shop": "S1", "deposit": "0.00", "balance": "0.00", "arrears": "23.99"},
        {"shop": "S2", "deposit": "8.00", "balance": "0.00", "arrears": "0.00"},
    ]


# --- every input the attack used, each named ------------------------------------------------

NEW_ORDER = json.loads(
    feed_line(
        "x", "order.placed", t(3), order="O9", shop="S1", goods="G2", buyer="B9", amount="1.00", promised_ship_by=t(48)
    )
)
NEW_SHOP = json.loads(feed_line("x", "shop.opened", t(0), shop="S9", name="新店"))
CASE_ON_O5 = json.loads(
    feed_line("x", "case.opened", t(30), case="C9", order="O5", kind="refund_only", reason="other", amount="1.00")
)
NEW_GOODS = json.loads(feed_line("x", "goods.listed", t(0), shop="S1", goods="G9", name="新品", category="home"))
NEW_ADDRESS = json.loads(
    feed_line(
        "x",
        "address.added",
        t(0),
        shop="S1",
        address="A9",
        receiver="李四",
        phone="13800138002",
        region="浙江省/杭州市/滨江区",
        detail="江南大道2号",
    )
)
REPORT_O5 = json.loads(feed_line("x", "warranty.reported", t(50), violation="V9", orders=["O5"], reason="extra_fee"))
SETTLE_S1 = json.loads(feed_line("x", "shop.settled", t(55), shop="S1", amount="10.00"))
DEPOSIT_S2 = json.loads(feed_line("x", "shop.deposit_paid", t(61), shop="S2", amount="10.00"))
OUT_OF_STOCK_O5 = json.loads(feed_line("x", "order.out_of_stock", t(40), order="O5"))


def _line(event: dict, event_id: str, field: str, value) -> bytes:
    return mutated(event, event_id, field, json.dumps(value)).encode()


HOSTILE: list[tuple[bytes, str]] = [
    (_line(NEW_SHOP, "h-ovf1", "at", "9999-12-31T23:59:59-14:00"), "field 'at' is out of range"),
    (_line(NEW_SHOP, "h-ovf2", "at", "0001-01-01T00:00:00+14:00"), "field 'at' is out of range"),
    (_line(CASE_ON_O5, "h-far1", "at", "9999-12-31T12:00:00+00:00"), "field 'at' is out of range"),
    (_line(REPORT_O5, "h-far2", "at", "9999-12-31T12:00:00+00:00"), "field 'at' is out of range"),
    (
        _line(NEW_ORDER, "h-far3", "promised_ship_by", "9999-12-31T12:00:00+00:00"),
        "field 'promised_ship_by' is out of range",
    ),
    (_line(NEW_SHOP, "h-sur1", "name", "\ud800"), "unpaired surrogate"),
    (mutated(NEW_SHOP, "h-sur2", "name", "@@").encode().replace(b"@@", RAW_SURROGATE), "not valid UTF-8"),
    (_line(NEW_SHOP, "h-nul1", "name", "a\x00b"), "NUL"),
    (_line(NEW_SHOP, "h-nul2", "shop", "S\x009"), "NUL"),
    (json.dumps({**NEW_SHOP, "id": "h\x00id"}).encode(), "NUL"),
    (json.dumps({**NEW_SHOP, "id": "h-nul4", "type": "shop.\x00opened"}).encode(), "NUL"),
    (mutated(NEW_SHOP, "h-deep", "name", DEEP).encode(), "nested deeper"),
    (mutated(NEW_SHOP, "h-int", "deposit", HUGE_INT).encode(), "more than 20 digits"),
    (_line(NEW_SHOP, "h-mega", "name", "x" * 1_000_000), "field 'name' is longer than 200 characters"),
    (_line(REPORT_O5, "h-slash", "violation", "V/1"), "field 'violation' must be an id"),
    (_line(NEW_SHOP, "h-id1", "shop", "S 9"), "field 'shop' must be an id"),
    (_line(NEW_ORDER, "h-id2", "order", "O#9"), "field 'order' must be an id"),
    (_line(CASE_ON_O5, "h-id3", "case", "C?9"), "field 'case' must be an id"),
    (_line(REPORT_O5, "h-id4", "orders", ["O/5"]), "field 'orders[0]' must be an id"),
    (_line(NEW_GOODS, "h-id5", "goods", "G 9"), "field 'goods' must be an id"),
    (_line(NEW_ADDRESS, "h-id6", "address", "A%9"), "field 'address' must be an id"),
    (_line(NEW_ORDER, "h-id7", "goods", "商品"), "field 'goods' must be an id"),
    (json.dumps({**NEW_SHOP, "id": "e/1"}).encode(), "field 'id' must be an id"),
    (json.dumps({**NEW_SHOP, "id": "x" * 65}).encode(), "field 'id' must be an id"),
    *[
        (_line(NEW_ORDER, f"h-amt{i}", "amount", value), "field 'amount' must be a decimal string")
        for i, value in enumerate(BAD_AMOUNTS)
        if value != "-1" and value != "1" * 13
    ],
    (_line(NEW_ORDER, "h-amt-neg", "amount", "-1"), "field 'amount' must not be negative"),
    (_line(NEW_ORDER, "h-amt-big", "amount", "1" * 13), "field 'amount' is too large"),
    # Money lines (each also met O5's late shipment due at t(48): applying it must not leak either).
    (_line(SETTLE_S1, "h-pay1", "amount", "0.00"), "the amount must be greater than 0"),
    (_line(SETTLE_S1, "h-pay2", "amount", "10.001"), "field 'amount' must be a decimal string"),
    (_line(SETTLE_S1, "h-pay3", "shop", "S404"), "unknown shop 'S404'"),
    (_line(DEPOSIT_S2, "h-dep1", "amount", "-3.00"), "field 'amount' must not be negative"),
    (_line(DEPOSIT_S2, "h-dep2", "at", t(-1)), "is older than the last movement of shop S2's money"),
    (_line(OUT_OF_STOCK_O5, "h-oos1", "order", "O404"), "unknown order 'O404'"),
    (_line(OUT_OF_STOCK_O5, "h-oos2", "order", "O1"), "order O1 is already shipped"),
    # Point 2 of the attack: malformed, and stamped after C3's deadline (auto-agree at t(78)).
    (
        json.dumps({"id": "h-late", "type": "case.merchant_refused", "at": t(80), "case": "C3", "reason": 42}).encode(),
        "field 'reason' must be a non-empty string",
    ),
]


@pytest.mark.parametrize("batch_size", ["1000", "3"])
def test_every_hostile_input_is_rejected_alone_and_changes_nothing(tmp_path, batch_size):
    expected = baseline(tmp_path)
    # Among the good lines, in their batch, with good lines after them.
    split = next(i for i, e in enumerate(GOOD_EVENTS) if e["id"] == "c3") + 1
    lines = (
        [line.encode() for line in GOOD[:split]]
        + [raw for raw, _ in HOSTILE]
        + [line.encode() for line in GOOD[split:]]
    )
    code, out, err = import_bytes(tmp_path / "feed.jsonl", lines, "--batch-size", batch_size)

    assert code == 1
    found = rejections(err)
    hostile_numbers = range(split + 1, split + 1 + len(HOSTILE))
    assert sorted(found) == list(hostile_numbers), err[:2000]
    for number, (_, reason) in zip(hostile_numbers, HOSTILE, strict=True):
        assert reason in found[number], (number, found[number][:200])
        assert len(found[number]) < SHORT, found[number][:200]
    assert len(err.splitlines()) == len(HOSTILE)  # nothing else printed: no traceback
    assert f"{len(GOOD)} applied" in out
    assert outcome(END) == expected


def test_a_quoted_value_is_cut_at_80_characters(tmp_path):
    value = "订" * 100_000
    code, _, err = import_bytes(tmp_path / "f.jsonl", [_line(NEW_SHOP, "q", "hotline", value)])
    (reason,) = rejections(err).values()
    assert code == 1 and "订" * 80 + "…" in reason and "订" * 81 not in reason


@pytest.mark.parametrize("value", ["59.90", "5", "5.5", "0.01", "123456789012"])
def test_amounts_spec_allows_are_read_exactly(tmp_path, value):
    from decimal import Decimal

    from pddadmin.shops.models import Shop

    code, _, err = import_bytes(tmp_path / "f.jsonl", [_line(NEW_SHOP, "a", "deposit", value)])
    assert (code, err) == (0, "")
    assert Shop.objects.get(platform_id="S9").deposit == Decimal(value)


@pytest.mark.parametrize("platform_id", ["S", "9", "S1001", "shop_1", "a.b:c-d", "x" * 64, "2026-03-01T09:00:00"])
def test_ids_in_the_spec_alphabet_are_accepted(tmp_path, platform_id):
    from pddadmin.shops.models import Shop

    code, _, err = import_bytes(tmp_path / "f.jsonl", [_line(NEW_SHOP, "ok", "shop", platform_id)])
    assert (code, err) == (0, "") and Shop.objects.filter(platform_id=platform_id).exists()


def test_a_line_the_database_refuses_costs_that_line_only(tmp_path, monkeypatch):
    """The guard behind the readers: whatever they did not foresee rolls back one line."""
    real = shop_services.shop_open

    def refuse_s9(**kwargs):
        if kwargs["platform_id"] == "S9":
            raise DataError("value out of range for the database")
        return real(**kwargs)

    monkeypatch.setattr(shop_services, "shop_open", refuse_s9)
    lines = [GOOD[0].encode(), _line(NEW_SHOP, "db", "shop", "S9"), _line(NEW_SHOP, "fine", "shop", "S8")]
    code, out, err = import_bytes(tmp_path / "f.jsonl", lines)
    assert code == 1 and list(rejections(err)) == [2] and "cannot be applied: DataError" in err
    assert "2 applied" in out


# --- point 2: a rejected line applies nothing, not even the automatic transitions -----------

LATE_BAD = json.dumps({"id": "bad", "type": "case.merchant_refused", "at": t(80), "case": "C3", "reason": 42})
# Valid, earlier than the bad line and than C3's deadline (t(78)): the bad line must not have
# moved the case on, or this would be refused as older than its last change.
EARLIER_GOOD = feed_line("fine", "case.merchant_refused", t(70), case="C3", reason="已发货，请查收")


def test_a_rejected_line_leaves_the_state_of_the_feed_without_it(tmp_path):
    without = rolled_back(
        lambda: (import_bytes(tmp_path / "a.jsonl", [x.encode() for x in [*GOOD, EARLIER_GOOD]]), outcome(END))[1]
    )
    code, _, err = import_bytes(tmp_path / "b.jsonl", [x.encode() for x in [*GOOD, LATE_BAD, EARLIER_GOOD]])

    assert code == 1 and list(rejections(err)) == [len(GOOD) + 1], err
    assert AfterSalesCase.objects.get(platform_id="C3").state == State.MERCHANT_REFUSED
    assert outcome(END) == without


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_importers_of_one_file_end_as_one_importer(postgres_only):
    lines = [*GOOD, LATE_BAD, EARLIER_GOOD]
    import_events(lines=list(lines))
    alone = outcome(END)
    call_command("flush", "--noinput", verbosity=0)

    errors = errors_of(run_in_threads(2, lambda i: import_events(lines=list(lines), batch_size=(1, 5)[i])))
    assert errors == []
    assert outcome(END) == alone


# --- the fuzz: random hostile lines anywhere in the good feed -------------------------------

NOT_OBJECTS = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
).map(lambda v: json.dumps(v, ensure_ascii=False).encode())
GOOD_IDS = {e["id"] for e in GOOD_EVENTS}
# A rejected line's id is remembered (SPEC §8: an id seen before is skipped), so no bad line may
# carry the id of a good one.
OBJECTS = (
    st.dictionaries(
        st.sampled_from(["id", "type", "at", "shop", "x"]), st.text(max_size=12) | st.integers(), max_size=4
    )
    .filter(lambda v: v.get("id") not in GOOD_IDS)
    .map(lambda v: json.dumps(v, ensure_ascii=False).encode())
)
GARBAGE = st.binary(min_size=1, max_size=80).filter(lambda b: b"\n" not in b and b.strip() != b"")


@st.composite
def hostile_line(draw, number: int) -> bytes:
    event = draw(st.sampled_from(GOOD_EVENTS))
    event_id = f"bad-{number}"
    how = draw(st.sampled_from(["field", "anywhere", "raw", "garbage", "not-object", "object"]))
    if how == "field":
        field = draw(st.sampled_from(sorted(set(event) - {"id", "type"})))
        value = draw(st.sampled_from(bad_values_for(event["type"], field)))
        return _line(event, event_id, field, value)
    if how == "anywhere":
        field = draw(st.sampled_from([*sorted(set(event) - {"id"}), "extra"]))
        return mutated(event, event_id, field, draw(st.sampled_from(ANYWHERE))).encode()
    if how == "raw":
        field = draw(st.sampled_from(sorted(set(event) - {"id"})))
        return mutated(event, event_id, field, "@@").encode().replace(b"@@", RAW_SURROGATE)
    if how == "garbage":
        return draw(GARBAGE)
    return draw(NOT_OBJECTS if how == "not-object" else OBJECTS)


@st.composite
def hostile_feeds(draw) -> tuple[list[bytes], set[int], int]:
    count = draw(st.integers(1, 8))
    placed = sorted((draw(st.integers(0, len(GOOD))), draw(hostile_line(number))) for number in range(count))
    lines: list[bytes] = [line.encode() for line in GOOD]
    for offset, (position, raw) in enumerate(placed):
        lines.insert(position + offset, raw)
    bad_raw = {raw for _, raw in placed}
    bad_numbers = {n for n, raw in enumerate(lines, start=1) if raw in bad_raw}
    return lines, bad_numbers, draw(st.integers(1, 40))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(feed=hostile_feeds())
def test_fuzz_hostile_lines_anywhere_change_nothing(tmp_path, feed):
    expected = baseline(tmp_path)
    lines, bad_numbers, batch_size = feed

    def run():
        code, out, err = import_bytes(tmp_path / "fuzz.jsonl", lines, "--batch-size", str(batch_size))
        found = rejections(err)
        assert code == 1
        assert set(found) == bad_numbers, err[:2000]
        assert all(len(reason) < SHORT for reason in found.values())
        assert len(err.splitlines()) == len(found)
        assert f"{len(GOOD)} applied" in out
        assert outcome(END) == expected

    rolled_back(run)
