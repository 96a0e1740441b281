"""A good feed that touches every kind of object, and the hostile lines that must never hurt it.

Shared by the hostile-line tests and the fuzz test: the feed is realistic (cases along several
paths with deadlines falling due, warranty reports, payouts into arrears, a late shipment and an
out-of-stock declaration, settlements and deposit payments that pay arrears off), so a bad line
that leaked any state would show in the exports.
"""

import datetime as dt
import json

from .helpers import feed_line

DAY0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
END = (DAY0 + dt.timedelta(days=40)).isoformat()


def t(hours: float) -> str:
    return (DAY0 + dt.timedelta(hours=hours)).isoformat()


def _order(n: int, goods: str, *, ship: bool, receive: bool, shop: str = "S1", amount: str = "59.90") -> list[str]:
    lines = [
        feed_line(
            f"o{n}",
            "order.placed",
            t(1),
            order=f"O{n}",
            shop=shop,
            goods=goods,
            buyer=f"B{n}",
            amount=amount,
            promised_ship_by=t(48),
        ),
        feed_line(f"g{n}", "order.grouped", t(1.5), order=f"O{n}"),
    ]
    if ship:
        lines.append(feed_line(f"s{n}", "order.shipped", t(2), order=f"O{n}", tracking=f"SF{n}"))
    if receive:
        lines.append(feed_line(f"r{n}", "order.received", t(20), order=f"O{n}"))
    return lines


GOOD: list[str] = [
    feed_line(
        "shop", "shop.opened", t(0), shop="S1", name="旗舰店", deposit="150.00", balance="20.00", hotline="13800138000"
    ),
    feed_line(
        "addr",
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
    feed_line("goods1", "goods.listed", t(0), shop="S1", goods="G1", name="手机", category="digital", warranty=True),
    feed_line("goods2", "goods.listed", t(0), shop="S1", goods="G2", name="杯子", category="home"),
    # S2: a ¥2 deposit that O7's late shipment (¥5.00 at t(48)) overdraws by ¥3.00.
    feed_line("shop2", "shop.opened", t(0), shop="S2", name="小店", deposit="2.00", hotline="13800138009"),
    feed_line("goods3", "goods.listed", t(0), shop="S2", goods="G3", name="台灯", category="home"),
    *_order(1, "G1", ship=True, receive=True),
    *_order(2, "G1", ship=True, receive=True),
    *_order(3, "G2", ship=True, receive=False),
    *_order(4, "G2", ship=True, receive=False),
    *_order(5, "G1", ship=False, receive=False),
    *_order(6, "G2", ship=False, receive=False),
    *_order(7, "G3", ship=False, receive=False, shop="S2", amount="100.00"),
    # O6 out of stock (59.90 × 10 % = ¥5.99, excusing its late shipment), shipped after the restock.
    feed_line("oos6", "order.out_of_stock", t(40), order="O6"),
    feed_line("s6", "order.shipped", t(50), order="O6", tracking="SF6"),
    # C1: refused, escalated, ruled against the merchant.
    feed_line(
        "c1", "case.opened", t(30), case="C1", order="O1", kind="refund_only", reason="quality_issue", amount="59.90"
    ),
    feed_line("c1r", "case.merchant_refused", t(31), case="C1", reason="没有质量问题"),
    feed_line("c1e", "case.escalated", t(32), case="C1"),
    feed_line("c1x", "case.ruled", t(40), case="C1", liable="merchant", note="照片显示破损"),
    # C2: agreed, returned, then the merchant stays silent: refunded at its deadline.
    feed_line(
        "c2", "case.opened", t(30), case="C2", order="O2", kind="return_refund", reason="defective", amount="30.00"
    ),
    feed_line("c2a", "case.merchant_agreed", t(31), case="C2"),
    feed_line("c2s", "case.return_shipped", t(33), case="C2", tracking="YT1234567890123"),
    # C3: the merchant never answers: auto-agreed 48 h after opening.
    feed_line(
        "c3", "case.opened", t(30), case="C3", order="O3", kind="refund_only", reason="changed_mind", amount="10.00"
    ),
    # C4: refused, resubmitted for less, cancelled.
    feed_line("c4", "case.opened", t(30), case="C4", order="O4", kind="refund_only", reason="other", amount="20.00"),
    feed_line("c4r", "case.merchant_refused", t(31), case="C4", reason="请提供照片"),
    feed_line("c4s", "case.resubmitted", t(35), case="C4", amount="5.00"),
    feed_line("c4c", "case.cancelled", t(36), case="C4"),
    # Warranty: two orders upheld (¥200 from a ¥170 purse: ¥30 into arrears), one not.
    feed_line("v1", "warranty.reported", t(50), violation="V1", orders=["O1", "O2"], reason="refused_service"),
    feed_line("v2", "warranty.reported", t(50), violation="V2", orders=["O5"], reason="extra_fee"),
    feed_line("v1r", "warranty.ruled", t(60), violation="V1", breach=True, note="属实"),
    feed_line("v2r", "warranty.ruled", t(60), violation="V2", breach=False, note="不属实"),
    # Money: each credit first applies the automatic charges due by its time (O5's, O7's at t(48)).
    feed_line("pay1", "shop.settled", t(55), shop="S1", amount="10.00"),
    feed_line("dep1", "shop.deposit_paid", t(56), shop="S1", amount="5.00"),
    feed_line("pay2", "shop.settled", t(60), shop="S2", amount="1.00"),  # ¥1 of S2's ¥3 arrears
    feed_line("dep2", "shop.deposit_paid", t(61), shop="S2", amount="10.00"),  # the other ¥2, ¥8 to deposit
]
GOOD_EVENTS: list[dict] = [json.loads(line) for line in GOOD]

# Raw JSON fragments that no reader may accept wherever they stand.
DEEP = "[" * 5000 + "]" * 5000
HUGE_INT = "9" * 5000
ANYWHERE = [json.dumps("a\x00b"), '"\\ud800"', '"x\\udfffy"', DEEP, HUGE_INT, '{"a": {"b": {"c": [1]}}}']
RAW_SURROGATE = b'"\xed\xa0\x80"'  # a lone surrogate encoded as if it were UTF-8

# Values that are wrong for a field of the kind named, whatever the event.
BAD_IDS = ["V/1", "a b", "订单1", "", "x" * 65, "-lead", "a?b", "a#b", "50%", "../x", "<s>", "A\u00a0B", 7, ["O1"]]
BAD_AMOUNTS = [
    "1e3",
    "+5.00",
    " 5.00 ",
    "1_0.00",
    "５.００",
    "٥",
    "5.001",
    "NaN",
    "Infinity",
    "5.",
    ".5",
    "-1",
    "0x10",
    5,
    5.5,
    "1" * 13,
]
BAD_TIMES = [
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T12:00:00+00:00",
    "2026-03-01T09:00:00",
    "yesterday",
    1767225600,
    "2026-02-30T00:00:00+08:00",
]
BAD_TEXTS = ["", "   ", "x" * 5000, "x" * 1_000_000, 42, ["a"], {"a": "b"}, True]
BAD_FLAGS = ["true", 1, 0, "yes", []]

ID_FIELDS = {"shop", "goods", "order", "case", "address", "violation"}
AMOUNT_FIELDS = {"amount", "deposit", "balance"}
TIME_FIELDS = {"at", "promised_ship_by", "aftersales_until"}
FLAG_FIELDS = {"warranty", "special", "warranty_mandatory", "default", "breach"}


CHOICE_FIELDS = {"kind", "liable"}
# `reason` is a code on these events and free text (the merchant's words) on the others.
REASON_CODES = {"case.opened", "case.resubmitted", "warranty.reported"}


def bad_values_for(event_type: str, field: str) -> list:
    if field in CHOICE_FIELDS or (field == "reason" and event_type in REASON_CODES):
        return ["nonsense", 3, ""]
    if field in ID_FIELDS:
        return BAD_IDS
    if field in AMOUNT_FIELDS:
        return BAD_AMOUNTS
    if field in TIME_FIELDS:
        return BAD_TIMES
    if field in FLAG_FIELDS:
        return BAD_FLAGS
    if field == "orders":
        return [[], ["O1", "O1"], ["O/1"], "O1", [None]]
    return BAD_TEXTS


def mutated(event: dict, event_id: str, field: str, fragment: str) -> str:
    """`event` under a fresh id with `field` set to the raw JSON `fragment` (which json.dumps
    could not always write: thousands of brackets, a 5,000-digit literal)."""
    placeholder = "\u2063HOSTILE\u2063"
    data = {**event, "id": event_id, field: placeholder}
    return json.dumps(data, ensure_ascii=False).replace(json.dumps(placeholder, ensure_ascii=False), fragment)
