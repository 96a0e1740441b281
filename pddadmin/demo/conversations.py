"""The demo world's buyer messages and merchant replies (SPEC §7.1), as feed events: every situation
the customer-service workbench shows, whatever the seed.

For each shop: conversations answered in time (one with several messages before the reply, one
where the merchant writes again after answering), a question about one of the shop's orders, and
buyers still waiting, some with under 6 hours left and some with more. The first shop has two
late-reply violations in the year of the end (one answered late, one never answered, covering two
messages): fined ¥100 and ¥200, so its next fine is ¥300; the second shop has one (¥100); the others
have none. Every reply is ordinary text that passes the §7.2 checks.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import World

H = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)

QUESTIONS = [
    "请问今天能发货吗？",
    "这个有现货吗？",
    "尺码偏大还是偏小？",
    "可以开发票吗？",
    "快递到哪里了，怎么还没到？",
    "收到的颜色和图片不太一样。",
    "在吗？急用，能加急吗？",
    "可以改一下收货地址吗？",
    "包装破了，里面的东西没坏，怎么处理？",
    "买两件能便宜点吗？",
]
FOLLOW_UPS = ["在吗？", "麻烦尽快回复一下，谢谢。", "还有一个问题：保修多久？", "急用，等你回复。"]
ANSWERS = [
    "亲，今天下午统一发货，请耐心等待。",
    "亲，有现货的，下单后 48 小时内发出。",
    "亲，尺码标准，按平时穿的尺码选即可。",
    "可以的，确认收货后在订单页申请开票即可。",
    "已帮您催促快递，预计明天送达。",
    "抱歉给您带来不便，不满意可以申请退货退款。",
    "亲，已为您备注加急处理。",
    "亲，发货前可以在订单里修改地址。",
    "亲，保修一年，有问题随时联系我们。",
    "亲，价格已经是活动价了，感谢支持。",
]
ORDER_QUESTION = "我的订单什么时候发货？"
ORDER_ANSWER = "亲，您的订单已安排，今天发出，单号稍后在订单里更新。"
FOLLOW_UP_BY_MERCHANT = "亲，您的包裹已经发出，请留意查收。"

# Late-reply violations in the end's year, by shop (index into the world's shops): how many.
LATE = {0: 2, 1: 1}


class _Shop:
    """Writes one shop's conversations; each buyer's messages in time order (SPEC §8 stale rule)."""

    def __init__(self, world: World, shop_id: str, number: int) -> None:
        self.world, self.shop_id, self.number, self.n = world, shop_id, number, 0

    def _id(self) -> str:
        self.n += 1
        return f"DEMOCS-{self.shop_id}-{self.n:03d}"

    def buyer(self) -> str:
        return f"UC{self.number}{self.n + 1:03d}"

    def received(self, buyer: str, at: dt.datetime, text: str, order: str | None = None) -> bool:
        message = self._id()
        fields = {"order": order} if order else {}
        return self.world.emit(
            at, "message.received", f"demo-{message}", message=message, shop=self.shop_id, buyer=buyer, text=text,
            **fields,
        )  # fmt: skip

    def replied(self, buyer: str, at: dt.datetime, text: str) -> bool:
        message = self._id()
        return self.world.emit(
            at, "message.replied", f"demo-{message}", message=message, shop=self.shop_id, buyer=buyer, text=text
        )

    def question(self) -> tuple[str, str]:
        k = self.world.rng.randrange(len(QUESTIONS))
        return QUESTIONS[k], ANSWERS[k]


def _in_time(shop: _Shop, start: dt.datetime, end: dt.datetime, *, messages: int = 1, again: bool = False) -> None:
    """A buyer answered within 48 h, after `messages` messages; `again`: the merchant writes once
    more after answering (a reply when nothing waits)."""
    rng = shop.world.rng
    buyer = shop.buyer()
    at = start + rng.random() * (end - start)
    question, answer = shop.question()
    for k in range(messages):
        shop.received(buyer, at, question if k == 0 else rng.choice(FOLLOW_UPS))
        at += rng.randrange(5, 90) * MINUTE
    at += rng.randrange(10, 36 * 60) * MINUTE
    if shop.replied(buyer, at, answer) and again:
        shop.replied(buyer, at + rng.randrange(2, 20) * H, FOLLOW_UP_BY_MERCHANT)


def _about_an_order(shop: _Shop, end: dt.datetime) -> None:
    """The buyer of one of the shop's orders asks about it; answered in time."""
    rng = shop.world.rng
    orders = [
        e
        for e in shop.world.events
        if e.body["type"] == "order.placed" and e.body["shop"] == shop.shop_id and e.at <= end - 3 * 24 * H
    ]
    if not orders:
        return
    order = rng.choice(orders)
    asked = order.at + rng.randrange(1, 24) * H
    buyer = order.body["buyer"]
    if shop.received(buyer, asked, ORDER_QUESTION, order=order.body["order"]):
        shop.replied(buyer, asked + rng.randrange(10, 600) * MINUTE, ORDER_ANSWER)


def _waiting(shop: _Shop, end: dt.datetime, left: dt.timedelta, *, messages: int = 1) -> None:
    """A buyer whose oldest message, received 48 h − `left` before the end, waits for a reply."""
    rng = shop.world.rng
    buyer = shop.buyer()
    at = end - (48 * H - left)
    question, _answer = shop.question()
    for k in range(messages):
        shop.received(buyer, at, question if k == 0 else rng.choice(FOLLOW_UPS))
        at = min(end, at + rng.randrange(5, 60) * MINUTE)


def _late(shop: _Shop, due: dt.datetime, end: dt.datetime, *, answered: bool) -> None:
    """A late-reply violation due at `due`: a message received 48 h before, answered only hours
    after its due (or never, with a second message an hour later that the violation covers too)."""
    rng = shop.world.rng
    buyer = shop.buyer()
    question, answer = shop.question()
    shop.received(buyer, due - 48 * H, question)
    if answered:
        shop.replied(buyer, min(end, due + rng.randrange(1, 30) * H), answer)
    else:
        shop.received(buyer, due - 47 * H, rng.choice(FOLLOW_UPS))


def _year_window(world: World) -> tuple[dt.datetime, dt.datetime]:
    """The part of the period in the end's calendar year (Asia/Shanghai), where the late replies
    fall due so that their fines rank 1, 2 … in one year."""
    from .world import SHANGHAI

    local_end = world.end.astimezone(SHANGHAI)
    new_year = local_end.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(new_year, world.start), world.end


def emit_conversations(world: World) -> None:
    """Emit every shop's conversations into `world` (before its events are sorted)."""
    from .world import SHOPS

    start, end = world.start, world.end
    late_from, late_to = _year_window(world)
    for number, (shop_id, *_rest) in enumerate(SHOPS):
        shop = _Shop(world, shop_id, number + 1)
        for _ in range(4):
            _in_time(shop, start, end - 3 * 24 * H)
        _in_time(shop, start, end - 3 * 24 * H, messages=3)  # several messages, one reply
        _in_time(shop, start, end - 3 * 24 * H, again=True)
        _about_an_order(shop, end)
        _waiting(shop, end, 5 * H, messages=2)  # under 6 h left: red on the workbench
        _waiting(shop, end, 2 * H + 30 * MINUTE)
        _waiting(shop, end, 20 * H)
        _waiting(shop, end, 46 * H)
        for k in range(LATE.get(number, 0)):
            due = late_from + (late_to - late_from) * (k + 1) / (LATE[number] + 2)
            _late(shop, due.replace(microsecond=0), end, answered=k == 0)
