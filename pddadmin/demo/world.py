"""A deterministic demo world, written as a platform feed (SPEC §8) so it enters the product
exactly the way real data does. Same seed and end date → same feed, line for line."""

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from .conversations import emit_conversations
from .logistics import Fulfilment, destinations, emit_logistics, monthly_shops

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# A new shop opens with nothing paid in (S1004): its first charges run into arrears, its deposit
# payment pays them off first, and it has no settlement inside the period (monthly cycle, the first
# one after it), so its accounts page ends with arrears to show.
NEW_SHOP = "S1004"
# shop, name, hotline, return address region and detail, main category (SPEC §5.1)
SHOPS = [
    ("S1001", "优选数码旗舰店", "0571-88886666", "浙江省/杭州市/西湖区", "文三路 90 号 数码大厦 5 楼", "数码"),
    ("S1002", "果园直供鲜果铺", "13912345678", "山东省/烟台市/栖霞市", "苹果产业园 8 号仓", "水果"),
    ("S1003", "居家日用百货店", "020-83338888", "广东省/广州市/白云区", "太和镇物流园 B3", "家居"),
    ("S1004", "潮流服饰工厂店", "13512348888", "福建省/泉州市/晋江市", "陈埭镇鞋服城 12 栋", "服饰"),
]
GOODS = {
    "S1001": [
        ("蓝牙耳机", "数码", False, True, True, "129.00"),
        ("快充充电器", "数码", False, True, False, "39.90"),
        ("智能手表", "数码", False, True, True, "299.00"),
        ("手机壳", "数码配件", False, False, False, "9.90"),
        ("话费充值 50 元", "虚拟商品", True, False, False, "49.80"),
    ],
    "S1002": [
        ("烟台红富士 5 斤", "水果", True, False, False, "29.90"),
        ("赣南脐橙 10 斤", "水果", True, False, False, "45.80"),
        ("坚果礼盒", "食品", False, False, False, "68.00"),
    ],
    "S1003": [
        ("不锈钢保温杯", "家居", False, False, False, "35.00"),
        ("电热水壶", "家电", False, True, True, "79.00"),
        ("抽纸 24 包", "家居", False, False, False, "32.90"),
        ("空气炸锅", "家电", False, True, False, "199.00"),
    ],
    "S1004": [
        ("纯棉T恤", "服饰", False, False, False, "39.00"),
        ("运动鞋", "鞋靴", False, False, False, "129.00"),
        ("牛仔裤", "服饰", False, False, False, "89.00"),
    ],
}


H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
QUALITY = ["quality_issue", "not_as_described", "counterfeit", "defective"]
LOGISTICS = ["damaged_in_transit", "wrong_or_missing", "lost_in_transit"]
OTHER = ["changed_mind", "other"]


@dataclass(order=True)
class _Event:
    # Orders without after-sales go out step by step (all placements, then all groupings, ...),
    # which keeps each order's own events in time order and lets the importer take them in
    # batches; everything else follows in plain time order (phase 9).
    phase: int
    at: dt.datetime
    seq: int
    body: dict

    def line(self) -> str:
        body = dict(self.body)
        return json.dumps(
            {"id": body.pop("id"), "type": body.pop("type"), "at": self.at.isoformat(), **body}, ensure_ascii=False
        )


class World:
    def __init__(self, *, orders: int, days: int, seed: int, end: dt.datetime, case_share: float = 0.04) -> None:
        self.orders, self.days, self.rng, self.end = orders, days, random.Random(seed), end
        self.seed, self.case_share = seed, case_share
        # The logistics facts draw from generators of their own, so adding them left every other
        # draw, and so the rest of the world, as it was.
        self.destinations = destinations(seed)
        # Each random order's fulfilment as emitted, for the logistics facts (pddadmin.demo.logistics).
        self.fulfilled: list[Fulfilment] = []
        self.events: list[_Event] = []
        self.start = end - dt.timedelta(days=days)
        # Goods revenue of received orders, by shop and week of the period: the weekly settlements.
        self.revenue: dict[tuple[str, int], Decimal] = {}

    def emit(self, at: dt.datetime, event_type: str, event_id: str, *, phase: int = 9, **fields) -> bool:
        if at > self.end:  # the platform has not sent the future yet
            return False
        self.events.append(_Event(phase, at, len(self.events), {"id": event_id, "type": event_type, **fields}))
        return True

    def build(self) -> Iterator[str]:
        opened = self.start - dt.timedelta(days=30)
        goods_ids = []
        for shop_id, name, hotline, region, detail, category in SHOPS:
            self.emit(
                opened,
                "shop.opened",
                f"demo-{shop_id}",
                phase=0,
                shop=shop_id,
                name=name,
                deposit="0.00" if shop_id == NEW_SHOP else "2000.00",
                balance="0.00" if shop_id == NEW_SHOP else "5000.00",
                hotline=hotline,
                category=category,
            )
            self.emit(
                opened + 5 * MINUTE,
                "address.added",
                f"demo-{shop_id}-A1",
                phase=0,
                shop=shop_id,
                address=f"{shop_id}-A1",
                receiver="售后组",
                phone=hotline,
                region=region,
                detail=detail,
                default=True,
            )
            for n, (goods_name, category, special, warranty, mandatory, price) in enumerate(GOODS[shop_id], 1):
                goods_id = f"{shop_id}-G{n}"
                goods_ids.append((shop_id, goods_id, special, warranty, Decimal(price)))
                self.emit(
                    opened + 10 * MINUTE,
                    "goods.listed",
                    f"demo-{goods_id}",
                    phase=0,
                    shop=shop_id,
                    goods=goods_id,
                    name=goods_name,
                    category=category,
                    special=special,
                    warranty=warranty,
                    warranty_mandatory=mandatory,
                )
        warranty_orders: dict[str, list[tuple[str, dt.datetime]]] = {}
        for n in range(self.orders):
            shop_id, goods_id, special, warranty, price = self.rng.choice(goods_ids)
            placed = self._order(n, shop_id, goods_id, special, price)
            if warranty:
                warranty_orders.setdefault(shop_id, []).append((f"DEMO{n:08d}", placed))
        self._warranty_reports(warranty_orders)
        self._shipping_showcase()
        emit_logistics(self)
        self._money()
        emit_conversations(self)
        for event in sorted(self.events):
            yield event.line()

    # --- orders -------------------------------------------------------------------------
    def _order(self, n: int, shop_id: str, goods_id: str, special: bool, price: Decimal) -> dt.datetime:
        """One order's fulfilment (phases 1-4, batched by the importer) and maybe a case (phase 9).

        A case's own events come after every fulfilment step in the file, so an order step may
        never be later than the case events of its order: an order with a case is received only
        if the buyer confirmed receipt before opening the case.
        """
        rng = self.rng
        placed = self.start + dt.timedelta(seconds=rng.randrange(int((self.end - self.start).total_seconds())))
        order_id = f"DEMO{n:08d}"
        amount = price * rng.choice([1, 1, 1, 2])
        # A promotion in the last 10 days brings three times the after-sales: the workbench and
        # the review queue open with a backlog to work on.
        surge = 3 if placed > self.end - 10 * D else 1
        with_case = rng.random() < self.case_share * surge
        self.emit(
            placed,
            "order.placed",
            f"demo-o-{n}",
            phase=1,
            order=order_id,
            shop=shop_id,
            goods=goods_id,
            buyer=f"U{rng.randrange(max(10, self.orders // 3)):07d}",
            amount=str(amount),
            promised_ship_by=(placed + 48 * H).isoformat(),
            ship_to=self.destinations.destination(),
        )
        if rng.random() < 0.03:
            if with_case:  # never shipped: the buyer asks for the money back
                self._unshipped_case(n, order_id, amount, placed)
            return placed
        self.emit(placed + rng.randrange(1, 120) * MINUTE, "order.grouped", f"demo-g-{n}", phase=2, order=order_id)
        timing = rng.random()
        if timing < 0.005 and not with_case:
            return placed  # grouped and never shipped: a late-shipment compensation at the promised time
        # Most ship within the promised 48 h; some ship late and owe their buyer a compensation.
        shipped = placed + (rng.randrange(49, 96) if timing < 0.025 else rng.randrange(2, 46)) * H
        sent = self.emit(shipped, "order.shipped", f"demo-s-{n}", phase=3, order=order_id, tracking=f"YT{n:010d}")
        received = shipped + rng.randrange(30, 120) * H
        fulfilment = Fulfilment(order_id, shipped, received=None, case=with_case)
        if sent:
            self.fulfilled.append(fulfilment)
        if with_case:
            if surge > 1:  # promotion orders: trouble shows within two days of shipping
                opened = shipped + rng.randrange(6, 48) * H
            elif rng.random() < 0.5:  # the problem shows before the buyer confirms receipt
                opened = shipped + rng.randrange(6, int((received - shipped) / H)) * H
            else:  # after receipt, inside the 15-day after-sales window
                fulfilment.received = self.receive(f"demo-r-{n}", order_id, shop_id, amount, received)
                opened = received + rng.randrange(1, 14 * 24) * H
                # Inside 7 days of receipt the buyer may ask for a replacement instead (换货).
                exchange = not special and opened <= received + 7 * D and rng.random() < 0.6
                if exchange:
                    self._case(n, order_id, amount, opened, special=special, kind="exchange")
                    return placed
            self._case(n, order_id, amount, opened, special=special)
        elif rng.random() < 0.9:
            fulfilment.received = self.receive(f"demo-r-{n}", order_id, shop_id, amount, received)
        return placed

    def receive(
        self, event_id: str, order_id: str, shop_id: str, amount: Decimal, received: dt.datetime
    ) -> dt.datetime | None:
        """The buyer confirms receipt (phase 4); its goods revenue is settled with its week's.
        Returns when, or None when that is after the end."""
        if not self.emit(received, "order.received", event_id, phase=4, order=order_id):
            return None
        week = int((received - self.start) / (7 * D))
        self.revenue[(shop_id, week)] = self.revenue.get((shop_id, week), Decimal("0.00")) + amount
        return received

    # --- after-sales cases along every path of SPEC §2 --------------------------------------
    def _unshipped_case(self, n: int, order_id: str, amount: Decimal, placed: dt.datetime) -> None:
        rng = self.rng
        case_id, e = f"DEMOC{n:08d}", f"demo-c{n}-"
        promised = placed + 48 * H
        if rng.random() < 0.5:
            # Opened after the promised ship time: the merchant's deadline is the opening
            # itself (SPEC §2.3), so the case is agreed automatically at once.
            opened, reason = promised + rng.randrange(1, 48) * H, "not_shipped"
        else:
            opened, reason = placed + rng.randrange(1, 40) * H, rng.choice(["changed_mind", "other"])
        if not self.emit(
            opened,
            "case.opened",
            f"demo-co-{n}",
            case=case_id,
            order=order_id,
            kind="refund_only",
            reason=reason,
            amount=str(amount),
        ):
            return
        if opened < promised and rng.random() < 0.7:  # else silence until the promised ship time
            answer = min(opened + rng.randrange(10, 600) * MINUTE, promised - MINUTE)
            self.emit(answer, "case.merchant_agreed", e + "agree", case=case_id)

    def _case(
        self, n: int, order_id: str, amount: Decimal, opened: dt.datetime, *, special: bool, kind: str = ""
    ) -> None:
        rng = self.rng
        case_id = f"DEMOC{n:08d}"
        if kind == "exchange":  # quality trouble or a delivery gone wrong (SPEC §2.1)
            reason = rng.choice(QUALITY * 2 + ["damaged_in_transit", "wrong_or_missing", "other"])
        else:
            kind = "return_refund" if not special and rng.random() < 0.45 else "refund_only"
            reason = rng.choice(QUALITY * 3 + LOGISTICS * 2 + OTHER * 2)
        refund = amount if rng.random() < 0.8 else (amount / 2).quantize(Decimal("0.01"))
        if not self.emit(
            opened,
            "case.opened",
            f"demo-co-{n}",
            case=case_id,
            order=order_id,
            kind=kind,
            reason=reason,
            amount=str(refund),
        ):
            return
        e = f"demo-c{n}-"
        t = opened + rng.randrange(1, 40) * H  # merchant answers inside 48 h (or not at all)
        if self.end - opened < 48 * H and rng.random() < 0.8:
            return  # recent: still waiting in the merchant's workbench
        path = rng.random()
        if path < 0.08:
            self.emit(opened + rng.randrange(1, 20) * H, "case.cancelled", e + "cancel", case=case_id)
        elif path < 0.18:
            return  # merchant silent: auto-agree at 48 h
        elif path < 0.55:
            self._agreed(e, case_id, kind, t)
        else:
            self._refused(e, case_id, kind, t)

    def _agreed(self, e: str, case_id: str, kind: str, t: dt.datetime) -> None:
        rng = self.rng
        if not self.emit(t, "case.merchant_agreed", e + "agree", case=case_id) or kind == "refund_only":
            return
        if rng.random() < 0.12:
            return  # the buyer never sends the goods back: closed after 7 days
        back = t + rng.randrange(4, 150) * H
        if not self.emit(back, "case.return_shipped", e + "ship", case=case_id, tracking=f"SF{rng.randrange(10**9)}"):
            return
        answer = back + rng.randrange(24, 160) * H
        if kind == "exchange":
            self._exchange_answer(e, case_id, answer)
            return
        roll = rng.random()
        if roll < 0.7:
            self.emit(answer, "case.merchant_refunded", e + "refund", case=case_id)
        elif roll < 0.85:
            refused = self.emit(
                answer,
                "case.merchant_return_refused",
                e + "rrefuse",
                case=case_id,
                reason="退回商品已使用，影响二次销售",
            )
            if refused:
                self._escalate(e, case_id, answer)
        # else: merchant silent for 7 days: refunded automatically

    def _exchange_answer(self, e: str, case_id: str, answer: dt.datetime) -> None:
        """The returned goods are checked (换货流程 三, 四): the replacement goes out, or it is out of
        stock and the buyer is refunded, or the return is refused; silence refunds after 7 days."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            tracking = f"ZT{rng.randrange(10**12)}"
            self.emit(answer, "case.merchant_reshipped", e + "reship", case=case_id, tracking=tracking)
        elif roll < 0.85:
            self.emit(answer, "case.merchant_refunded", e + "refund", case=case_id)
        elif roll < 0.95:
            reason = "退回商品已使用，不能换货"
            if self.emit(answer, "case.merchant_return_refused", e + "rrefuse", case=case_id, reason=reason):
                self._escalate(e, case_id, answer)

    def _refused(self, e: str, case_id: str, kind: str, t: dt.datetime) -> None:
        rng = self.rng
        if not self.emit(
            t,
            "case.merchant_refused",
            e + "refuse",
            case=case_id,
            reason=rng.choice(["商品无质量问题，请提供照片", "已发货，请先拒收", "超出售后范围"]),
        ):
            return
        roll = rng.random()
        nxt = t + rng.randrange(2, 160) * H
        if roll < 0.3:
            if self.emit(nxt, "case.resubmitted", e + "resubmit", case=case_id, reason="not_as_described"):
                self._agreed(e, case_id, kind, nxt + rng.randrange(1, 40) * H)
        elif roll < 0.8:
            self._escalate(e, case_id, t)
        # else: the buyer lets it lapse: closed as buyer_overdue after 7 days

    def _escalate(self, e: str, case_id: str, t: dt.datetime) -> None:
        rng = self.rng
        escalated = t + rng.randrange(2, 72) * H
        if not self.emit(escalated, "case.escalated", e + "escalate", case=case_id):
            return
        if self.end - escalated < 7 * D and rng.random() < 0.85:
            return  # still waiting in the review queue
        ruled = escalated + rng.randrange(6, 96) * H
        merchant = rng.random() < 0.6
        self.emit(
            ruled,
            "case.ruled",
            e + "rule",
            case=case_id,
            liable="merchant" if merchant else "buyer",
            note="商家未能提供有效证据，支持买家" if merchant else "买家诉求依据不足，支持商家",
        )

    # --- national warranty ------------------------------------------------------------------
    def _warranty_reports(self, orders: dict[str, list[tuple[str, dt.datetime]]]) -> None:
        """A few reports per warranty shop, each on 1-3 of its older orders; the last ones may
        still wait for their ruling at the end of the period."""
        rng = self.rng
        for shop_id, items in sorted(orders.items()):
            older = [item for item in items if item[1] <= self.end - 20 * D]
            for k in range(min(4, (len(older) + 19) // 20)):
                picked = rng.sample(older, k=min(len(older), rng.choice([1, 1, 2, 3])))
                # An order stands in one report per reason at a time (SPEC §6.2): no order twice.
                older = [item for item in older if item not in picked]
                if not picked:
                    break
                reported = max(p for _, p in picked) + rng.randrange(3, 15) * D
                vid = f"DEMOW-{shop_id}-{k}"
                if self.emit(
                    reported,
                    "warranty.reported",
                    f"demo-{vid}",
                    violation=vid,
                    orders=[o for o, _ in picked],
                    reason=rng.choice(["refused_service", "extra_fee"]),
                ):
                    breach = rng.random() < 0.7
                    self.emit(
                        reported + rng.randrange(24, 72) * H,
                        "warranty.ruled",
                        f"demo-{vid}-rule",
                        violation=vid,
                        breach=breach,
                        note="核实商家拒绝提供联保服务" if breach else "商家已按规定提供联保服务",
                    )

    # --- money: shipping compensation, settlements, a deposit payment (SPEC §6.1, §7.3) -----------
    def _shipping_showcase(self) -> None:
        """A few orders placed by hand so that every shop page shows every shipping case, whatever
        the seed: out-of-stock declarations (a large order of the new shop, more than its deposit
        payment covers), a late shipment, one never shipped, and one waiting to ship at the end
        for an agent to try the out-of-stock button on."""
        end, start = self.end, self.start
        orders = [
            # order, shop, goods, amount, placed, shipped after (None: never), out of stock after (None: never)
            ("DEMOX0001", NEW_SHOP, "S1004-G2", "1290.00", end - 3 * D, None, 20 * H),
            # late the third day of the period: the new shop's first charge runs into arrears at once
            ("DEMOX0002", NEW_SHOP, "S1004-G1", "39.00", start + D, None, None),
            ("DEMOX0003", NEW_SHOP, "S1004-G3", "178.00", end - 8 * D, 70 * H, None),
            ("DEMOX0004", "S1002", "S1002-G2", "45.80", end - 5 * D, None, 6 * H),
            ("DEMOX0005", "S1001", "S1001-G3", "299.00", end - 3 * H, None, None),
        ]
        for order_id, shop_id, goods_id, amount, placed, shipped, out_of_stock in orders:
            self.emit(placed, "order.placed", f"demo-{order_id}", phase=1, order=order_id, shop=shop_id,
                      goods=goods_id, buyer=f"UX{order_id[-4:]}", amount=amount,
                      promised_ship_by=(placed + 48 * H).isoformat(),
                      ship_to=self.destinations.destination())  # fmt: skip
            self.emit(placed + 30 * MINUTE, "order.grouped", f"demo-{order_id}-g", phase=2, order=order_id)
            if shipped is not None:
                self.emit(placed + shipped, "order.shipped", f"demo-{order_id}-s", phase=3, order=order_id,
                          tracking=f"ZT{order_id[-4:]}")  # fmt: skip
            if out_of_stock is not None:  # with the cases (phase 9): after every order step in the file
                self.emit(placed + out_of_stock, "order.out_of_stock", f"demo-{order_id}-oos", order=order_id)

    def _money(self) -> None:
        """Each week's goods revenue of received orders, settled the next day at 10:00 (every shop
        but the new one, see NEW_SHOP), and the new shop's deposit payment ten days in."""
        for (shop_id, week), amount in sorted(self.revenue.items()):
            if shop_id == NEW_SHOP or shop_id in monthly_shops():
                continue
            week_end = (self.start + (week + 1) * 7 * D).astimezone(SHANGHAI)
            settled = (week_end + D).replace(hour=10, minute=0, second=0, microsecond=0)
            self.emit(settled, "shop.settled", f"demo-{shop_id}-settled-{week}", shop=shop_id, amount=f"{amount:.2f}")
        self.emit(self.start + 10 * D, "shop.deposit_paid", f"demo-{NEW_SHOP}-deposit", shop=NEW_SHOP, amount="100.00")


MINUTE = dt.timedelta(minutes=1)


def world_exists() -> bool:
    """Whether a demo world was imported already (its first shop's opening event is on record)."""
    from pddadmin.feed.models import ImportedEvent

    return ImportedEvent.objects.filter(event_id=f"demo-{SHOPS[0][0]}").exists()


def demo_feed(*, orders: int = 2000, days: int = 60, seed: int = 1, end: dt.datetime | None = None) -> Iterator[str]:
    end = end or dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    return World(orders=orders, days=days, seed=seed, end=end).build()
