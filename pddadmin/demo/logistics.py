"""The demo world's logistics facts (SPEC §5.1) and a goods a few cases from its quality line (SPEC
§5.2), as feed events, so that the logistics tiles, the reviewers' restriction lists and the
forecast have something to say after `make run`.

Two parts:
- over the world's random orders: destinations (mostly the populous coastal provinces, about 2 %
  Xinjiang), logistics flags of each kind at the moment the platform would find them, and buyers'
  ratings, most of them 4-5 stars and a few 1-star logistics ratings;
- a power-bank market (移动电源) laid out by hand, the same whatever the seed and size: five shops
  selling power banks in volume (main category 数码配件) and a small cable shop of that main
  category, and two power banks of the demo owner's shop (S1001, owner1).

Why a market of its own: SPEC §5.1's rate a / (100 a + grouped) never exceeds 1 %, so being over 5×
the category needs a category rate under 0.2 %, i.e. more than 400 grouped orders in the window
per anomaly order of the category; and the count against the category's average needs more than
five members (goods, or shops of a main category) with grouped orders. The random orders'
refunds with a logistics reason alone make about 1 % of them anomalies, and no category of the
catalogue has more than three goods. So the market's orders have no trouble but what is placed
here: one anomaly order in the category's goods and one in the shops' main category, and for the
quality forecast (SPEC §5.2: over 3× needs more than three goods) a handful of quality refunds
and three cases waiting for the owner.

Every time here counts back from the end of the last snapshotted day (the demo's yesterday), so the
figures of the last days hold whatever the hour of the end; the market fits a period of 10 days
or more.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import World

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# Where buyers live, weighted roughly by online shopping volume.
PROVINCES = [
    ("广东省", 12), ("浙江省", 8), ("江苏省", 8), ("山东省", 7), ("河南省", 6), ("四川省", 6), ("湖北省", 5),
    ("湖南省", 5), ("河北省", 5), ("福建省", 4), ("安徽省", 4), ("上海市", 3), ("北京市", 3), ("陕西省", 3),
    ("辽宁省", 3), ("广西壮族自治区", 3), ("云南省", 3), ("江西省", 3), ("重庆市", 3), ("黑龙江省", 2),
    ("吉林省", 2), ("山西省", 2), ("贵州省", 2), ("天津市", 2), ("内蒙古自治区", 2), ("新疆维吾尔自治区", 2),
    ("甘肃省", 1), ("海南省", 1), ("宁夏回族自治区", 1), ("青海省", 1), ("西藏自治区", 1),
]  # fmt: skip
XINJIANG_PROVINCE = "新疆维吾尔自治区"
# Stars of a rating (logistics, description, service), most buyers pleased.
STARS = [(5, 66), (4, 20), (3, 6), (2, 3), (1, 5)]


class Destinations:
    """The provinces orders ship to, from a generator of their own (see World.__init__)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}:ship_to")
        self.names = [name for name, _weight in PROVINCES]
        self.weights = [weight for _name, weight in PROVINCES]

    def destination(self) -> str:
        return self.rng.choices(self.names, self.weights)[0]


def destinations(seed: int) -> Destinations:
    return Destinations(seed)


@dataclass
class Fulfilment:
    """A random order as the world emitted it: shipped, maybe received, maybe with a case."""

    order: str
    shipped: dt.datetime
    received: dt.datetime | None
    case: bool


def emit_logistics(world: World) -> None:
    """Emit the logistics facts of the random orders and the power-bank market into `world`."""
    rng = random.Random(f"{world.seed}:logistics")
    for fulfilment in world.fulfilled:
        _facts(world, rng, fulfilment)
    _Market(world, rng).emit()


# --- the random orders ------------------------------------------------------------------------


def _stars(rng: random.Random) -> int:
    return rng.choices([s for s, _w in STARS], [w for _s, w in STARS])[0]


def _facts(world: World, rng: random.Random, f: Fulfilment) -> None:
    """What the platform found about one order's delivery, and the buyer's rating. A fact is never
    older than the order's last step (SPEC §8), so each comes after its receipt, or after its
    shipment when it was not received."""
    last = f.received or f.shipped
    if f.received is not None and f.received - f.shipped > 100 * H and rng.random() < 0.08:
        # 物流时效异常: over four days on the way, found when the parcel arrives
        world.emit(f.received + rng.randrange(2, 30) * H, "order.logistics_flagged", f"demo-lf-slow-{f.order}",
                   order=f.order, kind="slow_delivery")  # fmt: skip
    elif f.received is None and world.end - f.shipped > 6 * D and rng.random() < 0.1:
        # stuck on the way for days: found late, or a fake shipment (虚假发货, no movement of the parcel)
        kind, after = ("fake_shipment", rng.randrange(24, 60)) if rng.random() < 0.4 else ("slow_delivery", 120)
        world.emit(f.shipped + after * H, "order.logistics_flagged", f"demo-lf-{kind}-{f.order}",
                   order=f.order, kind=kind)  # fmt: skip
    if rng.random() < 0.006:  # 有效物流投诉: a complaint the platform upheld
        world.emit(last + rng.randrange(6, 96) * H, "order.logistics_flagged", f"demo-lf-complaint-{f.order}",
                   order=f.order, kind="complaint")  # fmt: skip
    if f.received is not None and not f.case and rng.random() < 0.1:
        world.emit(f.received + rng.randrange(1, 120) * H, "order.rated", f"demo-rating-{f.order}", order=f.order,
                   logistics=_stars(rng), description=_stars(rng), service=_stars(rng))  # fmt: skip


# --- the power-bank market ----------------------------------------------------------------------

OWNER_SHOP = "S1001"  # owner1's shop (pddadmin.demo.users: the first demo shop)
MAIN_CATEGORY = "数码配件"
CATEGORY = "移动电源"
# shop, name, hotline, return address region and detail; goods name, category and price; orders
# in the period (the small cable shop last: its one anomaly order is the shop's).
MARKET = [
    ("S2001", "闪充电源专营店", "0755-26661001", "广东省/深圳市/宝安区", "西乡街道电子城 3 栋",
     "20000mAh 快充移动电源", CATEGORY, "89.00", 100),
    ("S2002", "满格数码配件店", "0755-26661002", "广东省/深圳市/龙华区", "民治大道 128 号 6 楼",
     "10000mAh 超薄充电宝", CATEGORY, "59.00", 95),
    ("S2003", "极客充电馆", "0755-26661003", "广东省/深圳市/南山区", "科技园南区 B 座",
     "磁吸无线移动电源", CATEGORY, "129.00", 90),
    ("S2004", "电小满旗舰店", "0769-22661004", "广东省/东莞市/长安镇", "振安路 66 号",
     "户外大容量充电宝", CATEGORY, "199.00", 90),
    ("S2005", "随行充配件铺", "0755-26661005", "广东省/深圳市/福田区", "华强北路 1002 号",
     "迷你口袋充电宝", CATEGORY, "49.00", 90),
    ("S2006", "线材优品小店", "0755-26661006", "广东省/深圳市/龙岗区", "坂田街道 9 号",
     "编织快充数据线", "数据线", "19.90", 5),
]  # fmt: skip
# The owner's power banks: G6 gets the category's one logistics anomaly order (a fake shipment to
# Xinjiang), G7 one quality refund and the cases that bring it over 3×.
OWNER_GOODS = [("S1001-G6", "磁吸无线充电宝", "149.00", 7), ("S1001-G7", "迷你胶囊充电宝", "69.00", 20)]


def monthly_shops() -> set[str]:
    """The market's shops are settled monthly, after the period (as the new shop S1004)."""
    return {row[0] for row in MARKET}


class _Market:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.world, self.rng = world, rng
        local_end = world.end.astimezone(SHANGHAI)
        # The end of the last snapshotted day (seed_demo's yesterday): local midnight of the end's day.
        self.d0 = local_end.replace(hour=0, minute=0, second=0, microsecond=0)
        self.first = max(world.start, self.d0 - 27 * D) + H
        self.n = 0

    def emit(self) -> None:
        opened = self.world.start - 30 * D
        for shop_id, name, hotline, region, detail, goods_name, category, price, orders in MARKET:
            self._shop(opened, shop_id, name, hotline, region, detail)
            self._goods(opened, shop_id, f"{shop_id}-G1", goods_name, category)
            for _ in range(orders):
                self._plain(shop_id, f"{shop_id}-G1", price, self._before(self.d0 - 5 * D))
        for goods_id, goods_name, price, orders in OWNER_GOODS:
            self._goods(opened, OWNER_SHOP, goods_id, goods_name, CATEGORY)
            for _ in range(orders):
                self._plain(OWNER_SHOP, goods_id, price, self._before(self.d0 - 6 * D))
        self._xinjiang()
        self._cable_complaint()
        self._quality()

    def _before(self, last: dt.datetime) -> dt.datetime:
        return self.first + dt.timedelta(seconds=self.rng.randrange(int((last - self.first).total_seconds())))

    def _shop(self, opened: dt.datetime, shop_id: str, name: str, hotline: str, region: str, detail: str) -> None:
        emit = self.world.emit
        emit(opened, "shop.opened", f"demo-{shop_id}", phase=0, shop=shop_id, name=name, deposit="2000.00",
             balance="3000.00", hotline=hotline, category=MAIN_CATEGORY)  # fmt: skip
        emit(opened + 5 * MINUTE, "address.added", f"demo-{shop_id}-A1", phase=0, shop=shop_id,
             address=f"{shop_id}-A1", receiver="售后组", phone=hotline, region=region, detail=detail,
             default=True)  # fmt: skip

    def _goods(self, opened: dt.datetime, shop_id: str, goods_id: str, name: str, category: str) -> None:
        self.world.emit(opened + 10 * MINUTE, "goods.listed", f"demo-{goods_id}", phase=0, shop=shop_id,
                        goods=goods_id, name=name, category=category)  # fmt: skip

    def _order(
        self,
        shop_id: str,
        goods_id: str,
        price: str,
        placed: dt.datetime,
        *,
        shipped_after: dt.timedelta,
        received_after: dt.timedelta | None,
        ship_to: str | None = None,
    ) -> tuple[str, dt.datetime, dt.datetime | None]:
        """One order placed, grouped and shipped in time, and maybe received; (id, shipped, received)."""
        self.n += 1
        order_id, e = f"DEMOL{self.n:05d}", f"demo-l{self.n}-"
        emit = self.world.emit
        emit(placed, "order.placed", e + "placed", phase=1, order=order_id, shop=shop_id, goods=goods_id,
             buyer=f"UL{self.rng.randrange(10**6):06d}", amount=price, promised_ship_by=(placed + 48 * H).isoformat(),
             ship_to=ship_to or self.world.destinations.destination())  # fmt: skip
        emit(placed + self.rng.randrange(1, 90) * MINUTE, "order.grouped", e + "grouped", phase=2, order=order_id)
        shipped = placed + shipped_after
        emit(shipped, "order.shipped", e + "shipped", phase=3, order=order_id, tracking=f"JD{self.n:010d}")
        received = None
        if received_after is not None:
            received = self.world.receive(e + "received", order_id, shop_id, Decimal(price), shipped + received_after)
        return order_id, shipped, received

    def _plain(self, shop_id: str, goods_id: str, price: str, placed: dt.datetime) -> None:
        """An order without trouble; a few buyers rate it well (never a logistics 1 star)."""
        rng = self.rng
        received_after = rng.randrange(30, 96) * H if rng.random() < 0.85 else None
        order_id, _shipped, received = self._order(
            shop_id, goods_id, price, placed, shipped_after=rng.randrange(2, 40) * H, received_after=received_after
        )
        if received is not None and rng.random() < 0.05:
            self.world.emit(received + rng.randrange(1, 72) * H, "order.rated", f"demo-rating-{order_id}",
                            order=order_id, logistics=rng.choice([4, 5, 5]), description=5, service=5)  # fmt: skip

    def _xinjiang(self) -> None:
        """Two orders of the owner's G6 to Xinjiang: one found late on the way and rated 1 star for
        its logistics, which SPEC §5.1 does not count there, and one a fake shipment, which it does:
        G6's one anomaly order, from the fourth-last snapshot on."""
        emit, d0 = self.world.emit, self.d0
        slow, _shipped, received = self._order(OWNER_SHOP, "S1001-G6", "149.00", d0 - 9 * D + 8 * H,
                                               shipped_after=20 * H, received_after=150 * H,
                                               ship_to=XINJIANG_PROVINCE)  # fmt: skip
        emit(received + 3 * H, "order.logistics_flagged", f"demo-lf-slow-{slow}", order=slow, kind="slow_delivery")
        emit(received + 8 * H, "order.rated", f"demo-rating-{slow}", order=slow, logistics=1, description=4, service=3)
        fake, shipped, _received = self._order(OWNER_SHOP, "S1001-G6", "149.00", d0 - 7 * D + 10 * H,
                                               shipped_after=20 * H, received_after=None,
                                               ship_to=XINJIANG_PROVINCE)  # fmt: skip
        emit(shipped + 36 * H, "order.logistics_flagged", f"demo-lf-fake-{fake}", order=fake, kind="fake_shipment")

    def _cable_complaint(self) -> None:
        """The cable shop's one anomaly order: an upheld logistics complaint, from the fourth-last
        snapshot on. A shop of six orders among its main category's 474 (six shops): over 5× it."""
        order, _shipped, received = self._order("S2006", "S2006-G1", "19.90", self.d0 - 8 * D,
                                                shipped_after=10 * H, received_after=60 * H)  # fmt: skip
        self.world.emit(received + 14 * H, "order.logistics_flagged", f"demo-lf-complaint-{order}", order=order,
                        kind="complaint")  # fmt: skip

    def _refund_only(self, order: str, opened: dt.datetime, reason: str, amount: str, *, agreed: bool) -> str:
        case = f"DEMOQ{order[5:]}"
        self.world.emit(opened, "case.opened", f"demo-q-{case}", case=case, order=order, kind="refund_only",
                        reason=reason, amount=amount)  # fmt: skip
        if agreed:
            self.world.emit(opened + 3 * H, "case.merchant_agreed", f"demo-q-{case}-agree", case=case)
        return case

    def _quality(self) -> None:
        """Quality refunds in the power-bank category: one for each of three market shops and one
        for the owner's G7, inside every window of the forecast; then three buyers of G7 ask for
        their money back over its quality in the last two days and wait for the owner. G7 is not
        over 3× on the last snapshotted day (its one refund is not more than three times the
        category's average per goods), and would be once two of the three are refunded at their
        deadlines (SPEC §5.2)."""
        d0, end = self.d0, self.world.end
        for k, (shop_id, *_rest, price, _orders) in enumerate(MARKET[:3]):
            order, _shipped, received = self._order(shop_id, f"{shop_id}-G1", price, d0 - 8 * D + k * 5 * H,
                                                    shipped_after=20 * H, received_after=48 * H)  # fmt: skip
            self._refund_only(order, received + 20 * H, ["defective", "quality_issue", "not_as_described"][k], price,
                              agreed=True)  # fmt: skip
        order, _shipped, received = self._order(OWNER_SHOP, "S1001-G7", "69.00", d0 - 9 * D + 12 * H,
                                                shipped_after=D, received_after=2 * D)  # fmt: skip
        self._refund_only(order, received + 10 * H, "quality_issue", "69.00", agreed=True)
        waiting = [("quality_issue", "refund_only", 44), ("defective", "return_refund", 38),
                   ("not_as_described", "refund_only", 30)]  # fmt: skip
        for k, (reason, kind, hours) in enumerate(waiting):
            order, _shipped, _received = self._order(OWNER_SHOP, "S1001-G7", "69.00", end - 6 * D + k * 3 * H,
                                                     shipped_after=22 * H, received_after=50 * H)  # fmt: skip
            case = f"DEMOQ{order[5:]}"
            self.world.emit(end - hours * H, "case.opened", f"demo-q-{case}", case=case, order=order, kind=kind,
                            reason=reason, amount="69.00")  # fmt: skip
