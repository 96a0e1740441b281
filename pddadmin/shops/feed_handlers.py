"""Feed events for shops, goods and orders (SPEC §8); each one calls a service in services.py."""

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pddadmin.feed.events import Event, Rejected, quote
from pddadmin.feed.registry import handles, handles_batch

from . import services
from .models import STARS, Goods, LogisticsFlagKind, Order, Shop


@handles("shop.opened")
def shop_opened(event: Event) -> None:
    services.shop_open(
        platform_id=event.platform_id("shop"),
        name=event.text("name"),
        deposit=event.money("deposit", Decimal("0.00")),
        balance=event.money("balance", Decimal("0.00")),
        hotline=event.text("hotline", None, max_length=32),
        category=event.text("category", None, max_length=100),
        at=event.at,
    )


@handles("goods.listed")
def goods_listed(event: Event) -> None:
    shop = event.ref(Shop, "shop")
    event.check_not_older(shop, f"shop {shop.platform_id}", field="opened_at")
    services.goods_list(
        shop=shop,
        platform_id=event.platform_id("goods"),
        name=event.text("name"),
        category=event.text("category", max_length=100),
        special=event.flag("special", False),
        warranty=event.flag("warranty", False),
        warranty_mandatory=event.flag("warranty_mandatory", False),
        at=event.at,
    )


@handles("goods.warranty_changed")
def goods_warranty_changed(event: Event) -> None:
    goods = event.ref(Goods, "goods", lock=True)
    event.check_not_older(goods, f"goods {goods.platform_id}")
    services.goods_set_warranty(goods=goods, warranty=event.flag("warranty"), at=event.at)


@dataclass(slots=True)
class _OrderFields:
    order: str
    shop: str
    goods: str
    buyer: str
    amount: Decimal
    promised_ship_by: dt.datetime
    aftersales_until: dt.datetime | None
    ship_to: str | None


def _order_fields(event: Event) -> _OrderFields:
    """An order.placed line's fields, read without the database (the importer reads them ahead)."""
    return _OrderFields(
        order=event.platform_id("order"),
        shop=event.platform_id("shop"),
        goods=event.platform_id("goods"),
        buyer=event.text("buyer", max_length=64),
        amount=event.money("amount"),
        promised_ship_by=event.moment("promised_ship_by"),
        aftersales_until=event.moment("aftersales_until", None),
        ship_to=event.text("ship_to", None, max_length=100),
    )


@handles_batch("order.placed", read=_order_fields)
def orders_placed(events: list[Event]) -> list[Exception | None]:
    goods_ids = {e.data.get("goods") for e in events if isinstance(e.data.get("goods"), str)}
    goods = Goods.objects.select_related("shop").in_bulk(goods_ids, field_name="platform_id")
    shop_ids = {e.data.get("shop") for e in events if isinstance(e.data.get("shop"), str)}
    shops = set(Shop.objects.filter(platform_id__in=shop_ids).values_list("platform_id", flat=True))
    parsed: list[services.NewOrder | Rejected] = []
    for event in events:
        try:
            parsed.append(_new_order(event, goods, shops))
        except Rejected as exc:
            parsed.append(exc)
    valid = [p for p in parsed if isinstance(p, services.NewOrder)]
    outcomes = iter(services.orders_place(orders=valid))
    return [p if isinstance(p, Rejected) else next(outcomes) for p in parsed]


def _new_order(event: Event, goods: dict[str, Goods], shops: set[str]) -> services.NewOrder:
    fields: _OrderFields = event.fields()
    if fields.shop not in shops:
        raise Rejected(f"unknown shop {fields.shop!r}")
    if fields.goods not in goods:
        raise Rejected(f"unknown goods {fields.goods!r}")
    return services.NewOrder(
        platform_id=fields.order,
        goods=goods[fields.goods],
        shop_platform_id=fields.shop,
        buyer=fields.buyer,
        amount=fields.amount,
        placed_at=event.at,
        promised_ship_by=fields.promised_ship_by,
        aftersales_until=fields.aftersales_until,
        ship_to=fields.ship_to,
    )


def _order_steps(step: str, events: list[Event]) -> list[Exception | None]:
    items: list[services.OrderStep | Rejected] = []
    for event in events:
        try:
            tracking = event.text("tracking", max_length=64) if step == "ship" else ""
            items.append(services.OrderStep(event.platform_id("order"), event.at, tracking))
        except Rejected as exc:
            items.append(exc)
    valid = [i for i in items if isinstance(i, services.OrderStep)]
    outcomes = iter(services.orders_advance(step=step, items=valid))
    return [i if isinstance(i, Rejected) else next(outcomes) for i in items]


@handles_batch("order.grouped")
def orders_grouped(events: list[Event]) -> list[Exception | None]:
    return _order_steps("group", events)


# `order.shipped` is registered by the after-sales app (aftersales/feed_handlers.py): an order
# may not ship over an open after-sales case (SPEC §2.1), which this app cannot see.


@handles_batch("order.received")
def orders_received(events: list[Event]) -> list[Exception | None]:
    return _order_steps("receive", events)


# Facts about orders (SPEC §5.1): batch handlers like the fulfilment steps, since a real feed
# holds one rating for every few orders; registered as facts of their order (they read it and
# write rows only the metrics read), so the importer gathers them from between other lines. A
# line is read in the order a lone handler would read it: an unknown order is named before a
# bad field.


def _order_facts(events: list[Event], read: Callable[[Event], Any]) -> tuple[list[Any], dict[str, Order]]:
    """Each event's fact (or the Rejected that refused it) and the known orders, locked."""
    ids = []
    for event in events:
        with contextlib.suppress(Rejected):  # read again below, where its rejection is kept
            ids.append(event.platform_id("order"))
    orders = services.orders_locked(ids)
    items: list[Any] = []
    for event in events:
        try:
            order_id = event.platform_id("order")
            if order_id not in orders:
                raise Rejected(f"unknown order {order_id!r}")
            items.append(read(event))
        except Rejected as exc:
            items.append(exc)
    return items, orders


def _outcomes(items: list[Any], errors: list[Exception | None]) -> list[Exception | None]:
    applied = iter(errors)
    return [i if isinstance(i, Rejected) else next(applied) for i in items]


@handles_batch("order.logistics_flagged", fact_of="order")
def orders_logistics_flagged(events: list[Event]) -> list[Exception | None]:
    def read(event: Event) -> services.LogisticsFact:
        order = event.platform_id("order")
        return services.LogisticsFact(order, event.at, event.choice("kind", LogisticsFlagKind.values))

    items, orders = _order_facts(events, read)
    valid = [i for i in items if isinstance(i, services.LogisticsFact)]
    return _outcomes(items, services.orders_flag_logistics(items=valid, locked=orders))


def _stars(event: Event, name: str, *, required: bool) -> int | None:
    value = event.data.get(name)
    if value is None:
        if required:
            raise Rejected(f"field '{name}' is required")
        return None
    if services.stars_error(value, name):  # JSON integers only: not true, not "5", not 5.0
        low, high = STARS
        raise Rejected(f"field '{name}' must be a whole number of stars from {low} to {high}, got {quote(value)}")
    return value


@handles_batch("order.rated", fact_of="order")
def orders_rated(events: list[Event]) -> list[Exception | None]:
    def read(event: Event) -> services.Rating:
        return services.Rating(
            order=event.platform_id("order"),
            at=event.at,
            logistics=_stars(event, "logistics", required=True),
            description=_stars(event, "description", required=False),
            service=_stars(event, "service", required=False),
        )

    items, orders = _order_facts(events, read)
    valid = [i for i in items if isinstance(i, services.Rating)]
    return _outcomes(items, services.orders_rate(items=valid, locked=orders))
