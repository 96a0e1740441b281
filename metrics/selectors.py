"""Reading service-quality figures (SPEC §5). Every figure is computed in the database."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.functions import NullIf

from pddadmin.shops.models import Order, Shop

from .figures import FIGURES as FIGURE_DEFINITIONS
from .figures import AnyOf, by_model
from .models import GoodsDaySnapshot, ShopDaySnapshot, ShopRates
from .windows import Window, window_for

# The three SPEC §5 rates, in display order: (key, numerator field).
RATES = ("dispute_refund", "quality_refund", "intervention")
FIGURES = tuple(FIGURE_DEFINITIONS)
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


def shop_figures(*, shop: Shop | int, day: dt.date) -> ShopFigures:
    """One aggregate query per kind of row (orders, refunds, cases) on its (shop, time) index; each
    figure counted as metrics.figures defines it: distinct orders, in the window and on the day."""
    shop_id = getattr(shop, "pk", shop)
    w = window_for(day)
    counts: dict[str, int] = {}
    for figures in by_model().values():
        on_day = Q(**{f"{figures[0].time}__gte": w.day_start})
        aggregates = {}
        for f in figures:
            aggregates[f"{f.key}_orders"] = Count(f.order, distinct=True, filter=f.q())
            aggregates[f"day_{f.key}_orders"] = Count(f.order, distinct=True, filter=f.q() & on_day)
        counts.update(figures[0].window(shop_id=shop_id, start=w.start, end=w.end).aggregate(**aggregates))
    for f in FIGURE_DEFINITIONS.values():
        if isinstance(f, AnyOf):  # its orders, from every source at once: one count each
            counts[f"{f.key}_orders"] = f.orders(shop_id=shop_id, start=w.start, end=w.end).count()
            counts[f"day_{f.key}_orders"] = f.orders(shop_id=shop_id, start=w.day_start, end=w.end).count()
    return ShopFigures(day=day, **counts)


# --- The orders behind a figure -------------------------------------------------------------------


def _bounds(w: Window, scope: str) -> tuple[dt.datetime, dt.datetime]:
    return (w.day_start if scope == "day" else w.start), w.end


def numerator_orders(*, shop: Shop | int, day: dt.date, figure: str, scope: str = "window") -> QuerySet[Order]:
    """The orders counted in one figure of the shop's snapshot: click-through from the dashboard."""
    if figure not in FIGURES or scope not in SCOPES:
        raise ValueError(f"unknown figure {figure!r} / scope {scope!r}")
    start, end = _bounds(window_for(day), scope)
    counted = FIGURE_DEFINITIONS[figure].orders(shop_id=getattr(shop, "pk", shop), start=start, end=end)
    return counted.select_related("goods").order_by("-grouped_at", "platform_id")


# --- Export (SPEC §9) ---------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "shop",
    "grouped_orders",
    "dispute_refund_orders",
    "quality_refund_orders",
    "intervention_orders",
    "logistics_anomaly_orders",
    "dispute_refund_rate",
    "quality_refund_rate",
    "intervention_rate",
    "logistics_anomaly_rate",
)


def export_rows(*, day: dt.date, shop: Shop | None = None) -> list[dict]:
    """One row per shop (every shop, by platform id) from the day's snapshot; rates as Decimal or None."""
    snapshots = ShopDaySnapshot.objects.filter(date=day).select_related("shop").order_by("shop__platform_id")
    if shop is not None:
        snapshots = snapshots.filter(shop=shop)
    figures = EXPORT_COLUMNS[1:]  # counts and rates, named as the snapshot's fields
    return [{"shop": s.shop.platform_id, **{column: getattr(s, column) for column in figures}} for s in snapshots]

