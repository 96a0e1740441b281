"""Reading service-quality figures (SPEC §5). Every figure is computed in the database."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.functions import NullIf

from aftersales.models import AfterSalesCase, Liable, ReasonClass, Refund
from pddadmin.shops.models import Order, Shop

from .models import GoodsDaySnapshot, ShopDaySnapshot, ShopRates
from .windows import Window, window_for

# The three SPEC §5 rates, in display order: (key, numerator field).
RATES = ("dispute_refund", "quality_refund", "intervention")
FIGURES = (*RATES, "logistics_anomaly", "grouped")
SCOPES = ("window", "day")


def _rate_expression(numerator: str, denominator: str) -> ExpressionWrapper:
    # For ordering only; displayed and exported rates come from `ratio` (exact, half-up).
    return ExpressionWrapper(F(numerator) * 1.0 / NullIf(F(denominator), 0), output_field=FloatField())


# --- Snapshots ---------------------------------------------------------------------------------


def snapshot_get(*, shop: Shop | int, day: dt.date) -> ShopDaySnapshot | None:
    shop_id = getattr(shop, "pk", shop)
    return ShopDaySnapshot.objects.filter(shop_id=shop_id, date=day).first()


def snapshot_latest_date(*, shop: Shop | int | None = None) -> dt.date | None:
    snapshots = ShopDaySnapshot.objects.all()
    if shop is not None:
        snapshots = snapshots.filter(shop_id=getattr(shop, "pk", shop))
    return snapshots.order_by("-date").values_list("date", flat=True).first()


def snapshot_exists(*, day: dt.date) -> bool:
    return ShopDaySnapshot.objects.filter(date=day).exists()


def shop_trend(*, shop: Shop | int, day: dt.date, days: int = 90) -> list[dict]:
    """One point per day D-days+1 … D: the three window rates (None where no snapshot or no orders)."""
    first = day - dt.timedelta(days=days - 1)
    rows = {
        s.date: s
        for s in ShopDaySnapshot.objects.filter(shop_id=getattr(shop, "pk", shop), date__gte=first, date__lte=day)
    }
    points = []
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        snap = rows.get(date)
        point = {"date": date.isoformat()}
        for key in RATES:
            rate = getattr(snap, f"{key}_rate") if snap else None
            point[key] = float(rate) if rate is not None else None
        points.append(point)
    return points


def goods_snapshots(*, shop: Shop | int, day: dt.date) -> QuerySet[GoodsDaySnapshot]:
    """The shop's goods on `day` with their rate against the category, for the goods table."""
    return (
        GoodsDaySnapshot.objects.filter(shop_id=getattr(shop, "pk", shop), date=day)
        .select_related("goods")
        .annotate(
            rate=_rate_expression("quality_refund_orders", "grouped_orders"),
            category_rate=_rate_expression("category_quality_refund_orders", "category_grouped_orders"),
        )
        .order_by("-quality_refund_orders", "goods__platform_id")
    )


def platform_ranking(*, day: dt.date) -> QuerySet[ShopDaySnapshot]:
    """Every shop's snapshot of `day`, with sortable rates and its restriction state."""
    return (
        ShopDaySnapshot.objects.filter(date=day)
        .select_related("shop")
        .annotate(**{f"{key}_rate_sort": _rate_expression(f"{key}_orders", "grouped_orders") for key in RATES})
        .order_by(F("dispute_refund_rate_sort").desc(nulls_last=True), "shop__platform_id")
    )


def restricted_goods(*, day: dt.date, limit: int = 100) -> list[GoodsDaySnapshot]:
    """Goods under a restriction on `day`, 5× first, then longest-running."""
    return list(
        GoodsDaySnapshot.objects.filter(date=day, streak_3x__gt=0)  # the partial index; restricted ⊂ flagged
        .exclude(restriction="")
        .select_related("goods", "shop")
        .order_by("-restriction", "restricted_since", "goods__platform_id")[:limit]
    )


# --- Live figures (one shop; used when a day has no snapshot yet) --------------------------------


@dataclass(frozen=True)
class ShopFigures(ShopRates):
    """The same counts a ShopDaySnapshot holds, computed live for one shop and day."""

    day: dt.date
    grouped_orders: int
    dispute_refund_orders: int
    quality_refund_orders: int
    intervention_orders: int
    logistics_anomaly_orders: int
    day_grouped_orders: int
    day_dispute_refund_orders: int
    day_quality_refund_orders: int
    day_intervention_orders: int
    day_logistics_anomaly_orders: int


_DISPUTE = Q(intervened=True, liable=Liable.MERCHANT)
_QUALITY = Q(reason_class=ReasonClass.QUALITY)
_LOGISTICS = Q(reason_class=ReasonClass.LOGISTICS)


def shop_figures(*, shop: Shop | int, day: dt.date) -> ShopFigures:
    """Three aggregate queries on the (shop, time) indexes of orders, refunds and cases."""
    shop_id = getattr(shop, "pk", shop)
    w = window_for(day)
    in_day = Q(grouped_at__gte=w.day_start)
    orders = Order.objects.filter(shop_id=shop_id, grouped_at__gte=w.start, grouped_at__lt=w.end).aggregate(
        grouped=Count("id"), day_grouped=Count("id", filter=in_day)
    )
    refund_day = Q(refunded_at__gte=w.day_start)

    def distinct_orders(condition: Q) -> Count:
        return Count("order_id", distinct=True, filter=condition)

    refunds = Refund.objects.filter(shop_id=shop_id, refunded_at__gte=w.start, refunded_at__lt=w.end).aggregate(
        dispute=distinct_orders(_DISPUTE),
        day_dispute=distinct_orders(_DISPUTE & refund_day),
        quality=distinct_orders(_QUALITY),
        day_quality=distinct_orders(_QUALITY & refund_day),
        logistics=distinct_orders(_LOGISTICS),
        day_logistics=distinct_orders(_LOGISTICS & refund_day),
    )
    cases = AfterSalesCase.objects.filter(
        shop_id=shop_id, intervened_at__gte=w.start, intervened_at__lt=w.end
    ).aggregate(
        intervention=Count("order_id", distinct=True),
        day_intervention=distinct_orders(Q(intervened_at__gte=w.day_start)),
    )
    return ShopFigures(
        day=day,
        grouped_orders=orders["grouped"],
        dispute_refund_orders=refunds["dispute"],
        quality_refund_orders=refunds["quality"],
        intervention_orders=cases["intervention"],
        logistics_anomaly_orders=refunds["logistics"],
        day_grouped_orders=orders["day_grouped"],
        day_dispute_refund_orders=refunds["day_dispute"],
        day_quality_refund_orders=refunds["day_quality"],
        day_intervention_orders=cases["day_intervention"],
        day_logistics_anomaly_orders=refunds["day_logistics"],
    )


# --- The orders behind a figure -------------------------------------------------------------------


def _bounds(w: Window, scope: str) -> tuple[dt.datetime, dt.datetime]:
    return (w.day_start if scope == "day" else w.start), w.end


def numerator_orders(*, shop: Shop | int, day: dt.date, figure: str, scope: str = "window") -> QuerySet[Order]:
    """The orders counted in one figure of the shop's snapshot: click-through from the dashboard."""
    if figure not in FIGURES or scope not in SCOPES:
        raise ValueError(f"unknown figure {figure!r} / scope {scope!r}")
    shop_id = getattr(shop, "pk", shop)
    start, end = _bounds(window_for(day), scope)
    if figure == "grouped":
        orders = Order.objects.filter(shop_id=shop_id, grouped_at__gte=start, grouped_at__lt=end)
    elif figure == "intervention":
        case_orders = AfterSalesCase.objects.filter(
            shop_id=shop_id, intervened_at__gte=start, intervened_at__lt=end
        ).values("order_id")
        orders = Order.objects.filter(pk__in=case_orders)
    else:
        condition = {"dispute_refund": _DISPUTE, "quality_refund": _QUALITY, "logistics_anomaly": _LOGISTICS}[figure]
        refund_orders = (
            Refund.objects.filter(shop_id=shop_id, refunded_at__gte=start, refunded_at__lt=end)
            .filter(condition)
            .values("order_id")
        )
        orders = Order.objects.filter(pk__in=refund_orders)
    return orders.select_related("goods").order_by("-grouped_at", "platform_id")


# --- Export (SPEC §9) ---------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "shop",
    "grouped_orders",
    "dispute_refund_orders",
    "quality_refund_orders",
    "intervention_orders",
    "dispute_refund_rate",
    "quality_refund_rate",
    "intervention_rate",
)


def export_rows(*, day: dt.date, shop: Shop | None = None) -> list[dict]:
    """One row per shop (every shop, by platform id) from the day's snapshot; rates as Decimal or None."""
    snapshots = ShopDaySnapshot.objects.filter(date=day).select_related("shop").order_by("shop__platform_id")
    if shop is not None:
        snapshots = snapshots.filter(shop=shop)
    return [
        {
            "shop": s.shop.platform_id,
            "grouped_orders": s.grouped_orders,
            "dispute_refund_orders": s.dispute_refund_orders,
            "quality_refund_orders": s.quality_refund_orders,
            "intervention_orders": s.intervention_orders,
            "dispute_refund_rate": s.dispute_refund_rate,
            "quality_refund_rate": s.quality_refund_rate,
            "intervention_rate": s.intervention_rate,
        }
        for s in snapshots
    ]

