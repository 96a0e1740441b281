"""Writes for shops, goods and orders. The feed handlers and the admin both call these."""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from pddadmin import setsql
from pddadmin.timefmt import shown

from .models import STARS, Goods, LogisticsFlag, LogisticsFlagKind, Order, OrderRating, Role, Shop, ShopMembership
from .selectors import is_platform_staff
from .validators import normalize_phone, validate_hotline


@transaction.atomic
def shop_open(
    *,
    platform_id: str,
    name: str,
    at: dt.datetime,
    deposit: Decimal = Decimal("0.00"),
    balance: Decimal = Decimal("0.00"),
    hotline: str | None = None,
    category: str | None = None,
) -> Shop:
    if Shop.objects.filter(platform_id=platform_id).exists():
        raise ValidationError(_("shop %(id)s already exists") % {"id": platform_id})
    if deposit < 0:
        raise ValidationError(_("deposit cannot be negative"))
    if balance < 0:
        raise ValidationError(_("goods balance cannot be negative"))
    if hotline:
        validate_hotline(hotline)
    # The opening deposit and balance reach the ledger (compensation) the first time it locks the
    # shop's books, as opening entries stamped with `at`; until then these are the whole story.
    return Shop.objects.create(
        platform_id=platform_id,
        name=name,
        deposit=deposit,
        balance=balance,
        hotline=normalize_phone(hotline or ""),
        category=category or "",
        opened_at=at,
        changed_at=at,
    )


def shop_lock(shop: Shop) -> Shop:
    """Lock the shop's row for the caller's transaction: it serialises every change to the
    shop's settings, staff and money (the ledger takes it first too)."""
    return Shop.objects.select_for_update().get(pk=shop.pk)


@transaction.atomic
def shop_set_hotline(*, shop: Shop, hotline: str, at: dt.datetime | None = None) -> Shop:
    """The after-sales hotline (SPEC §3): required, a valid mainland or service number."""
    if not (hotline or "").strip():
        raise ValidationError(_("the after-sales hotline is required"))
    validate_hotline(hotline)
    shop = shop_lock(shop)
    shop.hotline = normalize_phone(hotline)
    shop.changed_at = max(shop.changed_at, at or timezone.now())
    shop.save(update_fields=["hotline", "changed_at"])
    return shop


def goods_list(
    *,
    shop: Shop,
    platform_id: str,
    name: str,
    category: str,
    at: dt.datetime,
    special: bool = False,
    warranty: bool = False,
    warranty_mandatory: bool = False,
) -> Goods:
    if Goods.objects.filter(platform_id=platform_id).exists():
        raise ValidationError(_("goods %(id)s already exists") % {"id": platform_id})
    if warranty_mandatory and not warranty:
        raise ValidationError(
            _("goods %(id)s requires national warranty, so warranty cannot be off") % {"id": platform_id}
        )
    return Goods.objects.create(
        shop=shop,
        platform_id=platform_id,
        name=name,
        category=category,
        special=special,
        warranty=warranty,
        warranty_mandatory=warranty_mandatory,
        listed_at=at,
        changed_at=at,
    )


def goods_set_warranty(*, goods: Goods, warranty: bool, at: dt.datetime | None = None) -> Goods:
    """Switch 全国联保 on or off for future orders; earlier orders keep their snapshot."""
    if goods.warranty_mandatory and not warranty:
        raise ValidationError(
            _("national warranty is mandatory for goods %(id)s and cannot be switched off") % {"id": goods.platform_id}
        )
    at = at or timezone.now()
    Goods.objects.filter(pk=goods.pk).update(warranty=warranty, changed_at=at)
    goods.warranty, goods.changed_at = warranty, at
    return goods


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, a third of the
# cost of reading an order.placed line (bench/import_events); nothing changes a NewOrder once made.
@dataclass(slots=True)
class NewOrder:
    platform_id: str
    goods: Goods
    shop_platform_id: str
    buyer: str
    amount: Decimal
    placed_at: dt.datetime
    promised_ship_by: dt.datetime
    aftersales_until: dt.datetime | None = None
    ship_to: str | None = None  # the destination province


def orders_place(*, orders: Sequence[NewOrder]) -> list[ValidationError | None]:
    """Place many orders at once; per order, the error that refused it or None.

    Set-based on purpose: the platform sends orders by the hundred thousand. Refused orders
    write nothing; the others are inserted together.
    """
    asked = Order.objects.filter(setsql.among(Order, "platform_id", {o.platform_id for o in orders}))
    existing = set(asked.values_list("platform_id", flat=True))
    errors: list[ValidationError | None] = []
    accepted: list[dict] = []
    for new in orders:
        error = _order_error(new, existing)
        errors.append(error)
        if error is None:
            existing.add(new.platform_id)
            accepted.append(
                {
                    "platform_id": new.platform_id,
                    "shop_id": new.goods.shop_id,
                    "goods_id": new.goods.pk,
                    "buyer": new.buyer,
                    "amount": new.amount,
                    "placed_at": new.placed_at,
                    "promised_ship_by": new.promised_ship_by,
                    "aftersales_until": new.aftersales_until,
                    "ship_to": new.ship_to or "",
                    "warranty": new.goods.warranty,
                    "changed_at": new.placed_at,
                    "tracking": "",
                }
            )
    _insert_orders(accepted)
    return errors


def _insert_orders(rows: list[dict]) -> None:
    """Insert new orders. On PostgreSQL through COPY: building Django model instances and
    preparing every value costs ~4x the database's own work at feed volumes (bench/import_events)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Order.objects.bulk_create([Order(**row) for row in rows])
        return
    columns = [connection.ops.quote_name(Order._meta.get_field(name).column) for name in rows[0]]
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor: COPY is not part of the DB-API Django wraps
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row.values()))


def _order_error(new: NewOrder, existing: set[str]) -> ValidationError | None:
    if new.platform_id in existing:
        return ValidationError(_("order %(id)s already exists") % {"id": new.platform_id})
    if new.goods.shop.platform_id != new.shop_platform_id:
        return ValidationError(
            _("goods %(goods)s belongs to shop %(owner)s, not %(shop)s")
            % {"goods": new.goods.platform_id, "owner": new.goods.shop.platform_id, "shop": new.shop_platform_id}
        )
    if new.amount <= 0:
        return ValidationError(_("order amount must be greater than 0, got %(amount)s") % {"amount": new.amount})
    if new.placed_at < new.goods.changed_at:
        return ValidationError(
            _("order placed at %(at)s is older than the last change of goods %(goods)s")
            % {"at": shown(new.placed_at, seconds=True), "goods": new.goods.platform_id}
        )
    return None


@dataclass(frozen=True)
class OrderStep:
    """A fulfilment step the platform reports for an order: grouped, shipped or received."""

    order: str  # platform id
    at: dt.datetime
    tracking: str = ""


ORDER_STEP_FIELDS = {"group": "grouped_at", "ship": "shipped_at", "receive": "received_at"}
STEP_ALSO_WRITES = {"group": ("late_shipment_due_at",), "ship": ("tracking", "late_shipment_due_at")}


def orders_locked(platform_ids: Iterable[str]) -> dict[str, Order]:
    """These orders by platform id (the unknown ones left out), locked for the caller's
    transaction in one read (in id order, the lock order every writer of orders keeps)."""
    asked = setsql.among(Order, "platform_id", set(platform_ids))
    return {o.platform_id: o for o in Order.objects.select_for_update().filter(asked).order_by("pk")}


def orders_advance(
    *, step: str, items: Sequence[OrderStep], locked: dict[str, Order] | None = None
) -> list[ValidationError | None]:
    """Apply one fulfilment step to many orders, in order; per item the error that refused it.

    Set-based for the feed's bulk: one locking read and one bulk update whatever the count.
    Refused items change nothing. A step may not be older than the order's last change.
    `locked`: the items' orders as `orders_locked` read them in the caller's transaction.
    """
    field = ORDER_STEP_FIELDS[step]
    with transaction.atomic():
        orders = locked if locked is not None else orders_locked(i.order for i in items)
        errors = [_apply_step(step, field, item, orders.get(item.order)) for item in items]
        changed = {item.order for item, error in zip(items, errors, strict=True) if error is None}
        if changed:
            fields = [field, "changed_at", *STEP_ALSO_WRITES.get(step, ())]
            _write_steps([orders[o] for o in changed], fields)
    return errors


def _write_steps(orders: list[Order], fields: list[str]) -> None:
    """One UPDATE for the whole batch on PostgreSQL, its values in one array per column (a
    statement per row cost a parse and plan each); elsewhere one prepared UPDATE executed per
    row. Never bulk_update: its CASE WHEN costs ~1 ms of ORM work per row, which made order
    steps most of a 20,000-order demo import (issue 8)."""
    meta = Order._meta
    qn = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(f"%s::{c.db_type(connection)}[]" for c in columns)
            names = ", ".join(f"v{i}" for i in range(len(columns)))
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} AS o SET "
                + ", ".join(f"{qn(c.column)} = v.v{i}" for i, c in enumerate(columns))
                + f" FROM unnest(%s::bigint[], {values}) AS v(pk, {names}) WHERE o.{qn(meta.pk.column)} = v.pk",
                [
                    setsql.array("bigint", [o.pk for o in orders]),
                    *(setsql.array(setsql.kind_of(c), [getattr(o, c.attname) for o in orders]) for c in columns),
                ],
            )
            return
        assignments = ", ".join(f"{qn(c.column)} = %s" for c in columns)
        rows = [[c.get_db_prep_save(getattr(o, c.attname), connection) for c in columns] + [o.pk] for o in orders]
        cursor.executemany(
            f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {qn(meta.pk.column)} = %s",
            rows,
        )


def _apply_step(step: str, field: str, item: OrderStep, order: Order | None) -> ValidationError | None:
    if order is None:
        return ValidationError(_("unknown order %(id)s") % {"id": item.order})
    if item.at < order.changed_at:
        return ValidationError(
            _("%(step)s at %(at)s is older than the last change of order %(id)s (%(last)s)")
            % {
                "step": step,
                "at": shown(item.at, seconds=True),
                "id": order.platform_id,
                "last": shown(order.changed_at, seconds=True),
            }
        )
    if getattr(order, field) is not None:
        already = {
            "group": _("order %(id)s is already grouped"),
            "ship": _("order %(id)s is already shipped"),
            "receive": _("order %(id)s is already received"),
        }[step]
        return ValidationError(already % {"id": order.platform_id})
    if step == "ship" and not item.tracking.strip():
        return ValidationError(_("a tracking number is required to ship an order"))
    if step == "receive" and order.shipped_at is None:
        return ValidationError(_("order %(id)s cannot be received before it is shipped") % {"id": order.platform_id})
    setattr(order, field, item.at)
    order.changed_at = item.at
    if step == "group" and item.at <= order.promised_ship_by:
        order.late_shipment_due_at = order.promised_ship_by  # SPEC §7.3: it may fall late now
    if step == "ship":
        order.tracking = item.tracking.strip()
        if item.at <= order.promised_ship_by:
            order.late_shipment_due_at = None  # shipped in time: it can no longer fall late
    return None


# --- What the platform and the buyer say about an order's logistics (SPEC §5.1, §8) ----------


@dataclass(frozen=True)
class LogisticsFact:
    """A platform flag on an order's logistics (`order.logistics_flagged`)."""

    order: str  # platform id
    at: dt.datetime
    kind: str


@dataclass(frozen=True)
class Rating:
    """A buyer's stars for a received order (`order.rated`): logistics, optionally the
    description and the service."""

    order: str  # platform id
    at: dt.datetime
    logistics: int
    description: int | None = None
    service: int | None = None


def _fact_error(order: Order | None, item: LogisticsFact | Rating, what: str) -> ValidationError | None:
    """Why a fact about `order` is refused before its own rules: an unknown order, or a fact
    older than the order's last change (it is about the order as it is, like any line that
    touches it). The fact itself does not change the order (SPEC §8): `changed_at` stays."""
    if order is None:
        return ValidationError(_("unknown order %(id)s") % {"id": item.order})
    if item.at < order.changed_at:
        return ValidationError(
            _("%(what)s at %(at)s is older than the last change of order %(id)s (%(last)s)")
            % {
                "what": what,
                "at": shown(item.at, seconds=True),
                "id": order.platform_id,
                "last": shown(order.changed_at, seconds=True),
            }
        )
    return None


def orders_flag_logistics(
    *, items: Sequence[LogisticsFact], locked: dict[str, Order] | None = None
) -> list[ValidationError | None]:
    """The platform found fake shipments, delivery-time anomalies or upheld logistics
    complaints, in order; per item the error that refused it. Each needs a grouped order, a fake
    shipment a shipped one; an order may be flagged any number of times. One locking read of
    the orders (a fulfilment step of one waits, or is waited for) and one insert for the batch.
    `locked`: the items' orders as `orders_locked` read them in the caller's transaction."""
    with transaction.atomic():
        orders = locked if locked is not None else orders_locked(i.order for i in items)
        errors = [_flag_error(item, orders.get(item.order)) for item in items]
        flags = []
        for item, error in zip(items, errors, strict=True):
            if error is None:
                order = orders[item.order]
                flags.append(
                    LogisticsFlag(
                        order=order, shop_id=order.shop_id, goods_id=order.goods_id, kind=item.kind, flagged_at=item.at
                    )
                )
        LogisticsFlag.objects.bulk_create(flags)
    return errors


def _flag_error(item: LogisticsFact, order: Order | None) -> ValidationError | None:
    if item.kind not in LogisticsFlagKind.values:
        return ValidationError(
            _("unknown logistics flag %(kind)s: use %(kinds)s")
            % {"kind": item.kind, "kinds": ", ".join(LogisticsFlagKind.values)}
        )
    if error := _fact_error(order, item, _("logistics flag")):
        return error
    if order.grouped_at is None:
        return ValidationError(
            _("order %(id)s is not grouped: only a grouped order can be flagged for its logistics")
            % {"id": order.platform_id}
        )
    if item.kind == LogisticsFlagKind.FAKE_SHIPMENT and order.shipped_at is None:
        return ValidationError(
            _("order %(id)s is not shipped: a fake shipment needs a shipped order") % {"id": order.platform_id}
        )
    return None


def stars_error(stars: object, label: str) -> str | None:
    """Why `stars` is not a rating of 1–5 whole stars (a number, not a boolean), or None."""
    low, high = STARS
    if isinstance(stars, bool) or not isinstance(stars, int) or not low <= stars <= high:
        return _("%(label)s must be a whole number of stars from %(low)s to %(high)s, got %(value)s") % {
            "label": label,
            "low": low,
            "high": high,
            "value": stars,
        }
    return None


def orders_rate(*, items: Sequence[Rating], locked: dict[str, Order] | None = None) -> list[ValidationError | None]:
    """Buyers rate received orders, in order; per item the error that refused it. Once per
    order: an order rated before, or earlier in the batch, refuses the item. One locking read of
    the orders, one of their ratings, one insert for the batch. `locked`: as for
    `orders_flag_logistics`."""
    with transaction.atomic():
        orders = locked if locked is not None else orders_locked(i.order for i in items)
        asked = setsql.among(OrderRating, "order_id", {o.pk for o in orders.values()})
        rated = set(OrderRating.objects.filter(asked).values_list("order_id", flat=True))
        errors, ratings = [], []
        for item in items:
            order = orders.get(item.order)
            error = _rating_error(item, order, rated)
            errors.append(error)
            if error is None:
                rated.add(order.pk)
                ratings.append(
                    OrderRating(
                        order=order,
                        shop_id=order.shop_id,
                        goods_id=order.goods_id,
                        logistics=item.logistics,
                        description=item.description,
                        service=item.service,
                        rated_at=item.at,
                    )
                )
        OrderRating.objects.bulk_create(ratings)
    return errors


def _rating_error(item: Rating, order: Order | None, rated: set[int]) -> ValidationError | None:
    stars = [
        (pgettext("stars for", "logistics"), item.logistics, True),
        (pgettext("stars for", "description"), item.description, False),
        (pgettext("stars for", "service"), item.service, False),
    ]
    for label, given, required in stars:
        error = stars_error(given, label) if given is not None or required else None
        if error:
            return ValidationError(error)
    if error := _fact_error(order, item, _("rating")):
        return error
    if order.received_at is None:
        return ValidationError(
            _("order %(id)s is not received: only a received order can be rated") % {"id": order.platform_id}
        )
    if order.pk in rated:
        return ValidationError(_("order %(id)s is already rated: an order is rated once") % {"id": order.platform_id})
    return None


# --- Shop staff ---------------------------------------------------------------------------


def _keeps_an_owner(shop: Shop, *, without_user_id: int) -> bool:
    return ShopMembership.objects.filter(shop=shop, role=Role.OWNER).exclude(user_id=without_user_id).exists()


@transaction.atomic
def membership_set(*, shop: Shop, user, role: str) -> ShopMembership:
    """Make `user` staff of `shop` with `role` (adding or changing the membership)."""
    if role not in Role.values:
        raise ValidationError(_("unknown role “%(role)s”") % {"role": role})
    if not user.is_active:
        raise ValidationError(_("user %(user)s is inactive") % {"user": user})
    # The shop row lock serialises staff changes, so two owners demoting each other at once
    # cannot leave the shop without an owner.
    shop = shop_lock(shop)
    membership = ShopMembership.objects.filter(shop=shop, user=user).first()
    demoting_owner = membership is not None and membership.role == Role.OWNER and role != Role.OWNER
    if demoting_owner and not _keeps_an_owner(shop, without_user_id=user.pk):
        raise ValidationError(_("a shop needs at least one owner; appoint another owner first"))
    if membership is None:
        membership = ShopMembership.objects.create(shop=shop, user=user, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    if not user.is_staff:
        # Shop staff work in the back-office, whose login admits only staff accounts: a member who
        # is not staff would be told "added" and then could not sign in.
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return membership


@transaction.atomic
def membership_remove(*, membership: ShopMembership) -> None:
    shop = shop_lock(membership.shop)
    current = ShopMembership.objects.filter(pk=membership.pk).first()
    if current is None:
        return
    if current.role == Role.OWNER and not _keeps_an_owner(shop, without_user_id=current.user_id):
        raise ValidationError(_("a shop needs at least one owner; appoint another owner first"))
    current.delete()
    user = current.user
    # The last shop gone, the account no longer opens the back-office, unless it has a platform role.
    if user.is_staff and not ShopMembership.objects.filter(user=user).exists() and not is_platform_staff(user):
        user.is_staff = False
        user.save(update_fields=["is_staff"])
