"""Shipping compensation (SPEC §7.3): late shipment, due at promised_ship_by, and out of stock,
at the merchant's declaration. One per order, whichever comes first (Charge's constraint).

The late-shipment rule reads only facts stamped at or before promised_ship_by (shipped, refunded
or declared out of stock by then; an automatic refund due by then counts whether applied or not),
so the job finds the same charges whenever it runs after that moment.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from aftersales.models import AfterSalesCase
from aftersales.selectors import refunded_by
from aftersales.services.deadlines import apply_due_deadlines
from pddadmin import setsql
from pddadmin.shops.models import Order
from pddadmin.shops.selectors import handles_cases
from pddadmin.timefmt import shown

from ..models import SHIPPING_CHARGE_KINDS, Charge, ChargeKind
from ..selectors import out_of_stock_refusal
from . import charges, ledger


def shipping_cause(order_platform_id: str) -> str:
    return f"shipping:{order_platform_id}"


def _has_shipping_charge() -> Exists:
    return Exists(Charge.objects.filter(order=OuterRef("pk"), kind__in=SHIPPING_CHARGE_KINDS))


class LateShipment:
    """The automatic source of late-shipment compensation: orders whose watch is due."""

    kind = ChargeKind.LATE_SHIPMENT
    priority = 1  # SPEC §6.1: at the same instant, late-reply fines come first

    def shops_due(self, now: dt.datetime) -> QuerySet:
        return Order.objects.filter(late_shipment_due_at__lte=now).values("shop_id")

    def due(self, *, shop_ids: list[int], now: dt.datetime, limit: int, nowait: bool) -> charges.Offer:
        psb = F("promised_ship_by")
        excused = (
            Q(grouped_at__isnull=True)
            | Q(grouped_at__gt=psb)
            | Q(shipped_at__lte=psb)
            | Q(out_of_stock_at__lte=psb)
            | refunded_by(OuterRef("pk"), OuterRef("promised_ship_by"))
            | Q(_has_shipping_charge())
        )
        qs = Order.objects.filter(setsql.among(Order, "shop_id", shop_ids), late_shipment_due_at__lte=now).order_by(
            "shop_id", "late_shipment_due_at", charges.plain("platform_id")
        )
        if nowait and connection.vendor == "postgresql":
            # FOR NO KEY UPDATE, the lock the settling UPDATE takes anyway: it keeps out every
            # writer of the order (they lock it FOR UPDATE), not a row inserted beside it whose
            # foreign-key check takes KEY SHARE; and on 100,000 rows it is cheaper than FOR UPDATE
            # (bench.late_shipments: about 0.4 s of 15).
            qs = qs.select_for_update(nowait=True, of=("self",), no_key=True)
        qs = qs.annotate(excused=ExpressionWrapper(excused, output_field=BooleanField()))
        if setsql.set_based():  # the time as an integer, turned into a datetime without parsing text
            qs = qs.annotate(promised_us=setsql.micros(Order, "promised_ship_by"))
            fields = ("pk", "shop_id", "platform_id", "buyer", "amount", "promised_us", "excused")
            from_micros = setsql.from_micros
            rows = [(*row[:5], from_micros(row[5]), row[6]) for row in setsql.fetch(qs.values_list(*fields)[:limit])]
        else:
            fields = ("pk", "shop_id", "platform_id", "buyer", "amount", "promised_ship_by", "excused")
            rows = list(qs.values_list(*fields)[:limit])
        offer = charges.Offer(charges=[], candidates=[], last_key=None)
        price, memo = charges.shipping_pricer(self.kind), charges.memo_template(self.kind)
        for pk, shop_id, platform_id, buyer, paid, promised, excused_ in rows:
            key = charges.sort_key(shop_id=shop_id, at=promised, priority=self.priority, key=platform_id)
            offer.candidates.append((key, pk))
            if not excused_:
                offer.charges.append(
                    charges.DueCharge(
                        kind=self.kind,
                        shop_id=shop_id,
                        at=promised,
                        key=platform_id,
                        cause=shipping_cause(platform_id),
                        buyer=buyer,
                        amount=price(paid),
                        order_id=pk,
                        memo=memo % {"order": platform_id},
                    )
                )
        if len(rows) == limit:
            offer.last_key = offer.candidates[-1][0]
        return offer

    def price(self, offers: list[charges.DueCharge], books: dict[int, ledger.Books]) -> None:
        return None  # priced when read: the amount depends on the order alone

    def settle(self, *, candidates: list[int], charged: list) -> None:
        if not candidates:
            return
        if setsql.set_based():  # one array parameter, not an IN list of the batch's ids
            with connection.cursor() as cur:
                cur.execute(
                    f"UPDATE {setsql.table(Order)} SET late_shipment_due_at = NULL WHERE id = ANY(%s::bigint[])",
                    [setsql.array("bigint", candidates)],
                )
        else:
            Order.objects.filter(pk__in=candidates).update(late_shipment_due_at=None)


charges.register(LateShipment())


def _open_cases_due(order: Order, at: dt.datetime) -> QuerySet[AfterSalesCase]:
    return AfterSalesCase.objects.filter(order=order, due_at__lte=at).order_by("pk")


def _refusal(order: Order, at: dt.datetime) -> str | None:
    if at < order.changed_at:
        return _("declaration at %(at)s is older than the last change of order %(id)s (%(last)s)") % {
            "at": shown(at, seconds=True),
            "id": order.platform_id,
            "last": shown(order.changed_at, seconds=True),
        }
    return out_of_stock_refusal(order)


def order_declare_out_of_stock(*, order: Order, at: dt.datetime, actor=None) -> Charge | None:
    """The merchant declares a grouped, unshipped, unrefunded order out of stock (缺货, SPEC §7.3).

    Its buyer is owed an out-of-stock compensation now, unless the order already has a shipping
    compensation (a late shipment that fell due before): one per order. The order may still ship.
    `actor` None is the platform feed; a user must be the shop's owner or agent.
    """
    if actor is not None and not handles_cases(actor, order.shop_id):
        raise PermissionDenied(_("only the shop's owner or agents may declare an order out of stock"))
    with transaction.atomic():
        # Lock order: shop (books), then the order, then its cases, as everywhere else.
        books = ledger.lock_books(shop_id=order.shop_id)
        order = Order.objects.select_for_update().get(pk=order.pk)
        for case in _open_cases_due(order, at):  # SPEC §8: the order's cases' deadlines first
            apply_due_deadlines(case=case, now=at)
        refusal = _refusal(order, at)
        if refusal:
            raise ValidationError(refusal)
        order.out_of_stock_at = order.changed_at = at
        order.save(update_fields=["out_of_stock_at", "changed_at"])
        # Declared first, then the automatic charges due by now: a declaration at exactly
        # promised_ship_by excuses the late shipment (SPEC §7.3 "at or before that moment").
        charges.apply_due_locked(books, now=at)
        if Charge.objects.filter(order=order, kind__in=SHIPPING_CHARGE_KINDS).exists():
            return None
        kind = ChargeKind.OUT_OF_STOCK
        return charges.charge_issue(
            books,
            charges.DueCharge(
                kind=kind,
                shop_id=order.shop_id,
                at=at,
                key=order.platform_id,
                cause=shipping_cause(order.platform_id),
                buyer=order.buyer,
                amount=charges.shipping_compensation(kind, order.amount),
                order_id=order.pk,
                memo=charges.memo_for(kind, order=order.platform_id),
            ),
        )
