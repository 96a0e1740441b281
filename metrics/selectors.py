"""Reading service-quality figures (SPEC §5). Every figure is computed in the database."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet
from django.db.models.functions import NullIf

from aftersales.models import REASON_CLASS, AfterSalesCase, ReasonClass, State, automatic_transitions
from pddadmin.shops.models import Order, Shop

from .figures import FIGURES as FIGURE_DEFINITIONS
from .figures import AnyOf, by_model
from .forecast import FORECAST_DAYS, goods_forecast
from .models import Flag, GoodsDaySnapshot, ShopDaySnapshot, ShopRates
from .windows import Window, window_for, yesterday

# The three SPEC §5 rates, in display order: (key, numerator field).
RATES = ("dispute_refund", "quality_refund", "intervention")
FIGURES = tuple(FIGURE_DEFINITIONS)
SCOPES = ("window", "day")


def _rate_expression(numerator: str, denominator: str) -> ExpressionWrapper:
    # For ordering only; displayed and exported rates come from `ratio` (exact, half-up).
    return ExpressionWrapper(F(numerator) * 1.0 / NullIf(F(denominator), 0), output_field=FloatField())


def _logistics_rate_expression(anomaly: str, grouped: str) -> ExpressionWrapper:
    # SPEC §5.1's formula, anomaly / (anomaly × 100 + grouped), for ordering only, as above.
    return ExpressionWrapper(F(anomaly) * 1.0 / NullIf(F(anomaly) * 100 + F(grouped), 0), output_field=FloatField())


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
    """One point per day from the shop's first snapshot among the `days` days up to D (at most
    `days` points): the three window rates (None where no snapshot or no orders). Days before the
    shop's first snapshot are left out, so the chart and its title say the span there is data for."""
    first = day - dt.timedelta(days=days - 1)
    rows = {
        s.date: s
        for s in ShopDaySnapshot.objects.filter(shop_id=getattr(shop, "pk", shop), date__gte=first, date__lte=day)
    }
    if not rows:
        return []
    first = min(rows)
    points = []
    for offset in range((day - first).days + 1):
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
            logistics_rate=_logistics_rate_expression("logistics_anomaly_orders", "grouped_orders"),
            category_logistics_rate=_logistics_rate_expression(
                "category_logistics_anomaly_orders", "category_grouped_orders"
            ),
        )
        .order_by("-quality_refund_orders", "goods__platform_id")
    )


def platform_ranking(*, day: dt.date) -> QuerySet[ShopDaySnapshot]:
    """Every shop's snapshot of `day`, with sortable rates and its restriction state."""
    return (
        ShopDaySnapshot.objects.filter(date=day)
        .select_related("shop")
        .annotate(**{f"{key}_rate_sort": _rate_expression(f"{key}_orders", "grouped_orders") for key in RATES})
        .annotate(logistics_anomaly_rate_sort=_logistics_rate_expression("logistics_anomaly_orders", "grouped_orders"))
        .order_by(F("dispute_refund_rate_sort").desc(nulls_last=True), "shop__platform_id")
    )


def restricted_goods(*, day: dt.date, limit: int = 100) -> "Bounded":
    """Goods under a quality restriction on `day`, 5× first, then longest-running."""
    return _bounded(
        GoodsDaySnapshot.objects.filter(date=day, streak_3x__gt=0)  # the partial index; restricted ⊂ flagged
        .exclude(restriction="")
        .select_related("goods", "shop")
        .order_by("-restriction", "restricted_since", "goods__platform_id"),
        limit,
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


# --- Logistics service (SPEC §5.1) ----------------------------------------------------------------

LOGISTICS_LINE = 5  # SPEC §5.1: flagged when both figures are above 5× the category's


@dataclass(frozen=True)
class Bounded:
    """The first rows of a list, and how many there are in all."""

    rows: list
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _bounded(queryset: QuerySet, limit: int) -> Bounded:
    # One row more than shown tells whether a COUNT is needed at all; usually it is not.
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return Bounded(rows, len(rows))
    return Bounded(rows[:limit], queryset.order_by().count())


@dataclass(frozen=True)
class LogisticsTiles:
    """The shop's logistics figures of a day. From a snapshot, everything; from live figures (a
    day not snapshotted yet) only the shop's own counts: the category figures, the flag and the
    restriction are the snapshot job's, computed over every shop at once."""

    orders: int
    grouped: int
    rate: Decimal | None
    snapshot: ShopDaySnapshot | None

    @property
    def denominator(self) -> int:
        return self.orders * 100 + self.grouped

    @property
    def line_rate(self) -> Decimal | None:
        """The rate the shop must stay at or under: 5× its category's."""
        rate = self.snapshot.category_logistics_anomaly_rate if self.snapshot else None
        return None if rate is None else rate * LOGISTICS_LINE

    @property
    def line_count(self) -> Decimal | None:
        count = self.snapshot.category_logistics_anomaly_count if self.snapshot else None
        return None if count is None else count * LOGISTICS_LINE

    @property
    def state(self) -> str:
        """ "restricted", "over_5x", "clear", or "" when no snapshot says it."""
        if self.snapshot is None:
            return ""
        if self.snapshot.logistics_restricted:
            return "restricted"
        return "over_5x" if self.snapshot.logistics_over_5x else "clear"


def logistics_tiles(*, figures: ShopRates, snapshot: ShopDaySnapshot | None) -> LogisticsTiles:
    return LogisticsTiles(
        orders=figures.logistics_anomaly_orders,
        grouped=figures.grouped_orders,
        rate=figures.logistics_anomaly_rate,
        snapshot=snapshot,
    )


def logistics_goods(*, shop: Shop | int, day: dt.date, limit: int = 10) -> Bounded:
    """The shop's goods with their logistics figures on `day`: restricted first (longest-running),
    then over 5×, then by rate; goods without a rate last."""
    return _bounded(
        GoodsDaySnapshot.objects.filter(shop_id=getattr(shop, "pk", shop), date=day)
        .select_related("goods")
        .annotate(logistics_rate=_logistics_rate_expression("logistics_anomaly_orders", "grouped_orders"))
        .order_by(
            F("logistics_restricted_since").asc(nulls_last=True),
            "-logistics_over_5x",
            F("logistics_rate").desc(nulls_last=True),
            "goods__platform_id",
        ),
        limit,
    )


# --- The "coming up" panel: the do-nothing forecast (SPEC §5.2) on the dashboard -------------------


@dataclass(frozen=True)
class CaseToAct:
    pk: int
    platform_id: str
    due_at: dt.datetime | None


@dataclass(frozen=True)
class ComingUp:
    """One line of the panel. `kind` is the figure: "quality" (the forecast's projection, SPEC
    §5.2) or "logistics" (a 5× logistics flag running towards its restriction, SPEC §5.1); `level`
    is "flag" (the line crossed) or "restrict" (the flag held long enough to become a
    restriction); `line` is the flag value (over_3x, over_5x; logistics: logistics_over_5x).
    `goods` is a goods' platform id, or "" for the shop itself (logistics only)."""

    goods: str
    name: str
    kind: str
    level: str
    line: str
    date: dt.date
    cases: tuple[CaseToAct, ...]

    @property
    def urgency(self) -> tuple:
        # soonest first; on one day a restriction before a flag, 5× before 3×, the shop before goods
        return (self.date, self.level != "restrict", Flag.OVER_5X not in self.line, self.goods)


@dataclass(frozen=True)
class ComingUpPanel:
    day: dt.date  # the day the forecast is made for (D: the last complete day shown)
    last: dt.date  # D + 7
    rows: list[ComingUp]


def forecast_day(day: dt.date) -> dt.date:
    """The day a forecast shown beside `day` is made for: it starts at the end of a complete day
    (SPEC §5.2), so today and later fall back to yesterday."""
    return min(day, yesterday())


def _refunding_states() -> list[str]:
    # The states an open case leaves by itself for `refunded`, as the FSM declares them.
    return sorted(str(s) for s, t in automatic_transitions().items() if t.target == State.REFUNDED)


def _logistics_coming(*, shop: Shop, day: dt.date, consecutive_days: int) -> list[tuple[str, str, dt.date]]:
    """(goods platform id or "" for the shop, name, day) of each 5× logistics flag of `day` not yet
    restricted: its restriction comes on the day the streak reaches the consecutive-day rule, if
    the flag holds. The forecast projects quality figures only (metrics.forecast), so this is the
    flag's own arithmetic, said as such on the page."""
    running = Q(logistics_over_5x=True, logistics_restricted_since__isnull=True)
    shop_row = ShopDaySnapshot.objects.filter(running, shop=shop, date=day).values_list("logistics_streak", flat=True)
    goods_rows = GoodsDaySnapshot.objects.filter(running, shop=shop, date=day, logistics_streak__gt=0).values_list(
        "goods__platform_id", "goods__name", "logistics_streak"
    )
    found = [("", shop.name, streak) for streak in shop_row] + list(goods_rows)
    return [
        (goods, name, day + dt.timedelta(days=consecutive_days - streak))
        for goods, name, streak in found
        if 0 < consecutive_days - streak <= FORECAST_DAYS
    ]


def coming_up(*, shop: Shop, day: dt.date, consecutive_days: int) -> ComingUpPanel:
    """The shop's goods projected to be flagged or restricted within the forecast's 7 days if
    nobody acts, most urgent first, with the open cases behind each: the forecast's statements,
    the logistics flags running, and one read of the cases for their pages and deadlines."""
    made_for = forecast_day(day)
    forecast = goods_forecast(day=made_for, shop=shop, consecutive_days=consecutive_days)
    names = {g.goods: g.name for g in forecast.goods}
    quality = [("flag", c) for c in forecast.flags_coming] + [("restrict", c) for c in forecast.restrictions_coming]
    logistics = _logistics_coming(shop=shop, day=made_for, consecutive_days=consecutive_days)

    # Cases to act on: for a quality line, the forecast's (the open cases whose automatic refunds
    # cause it); for a logistics restriction, the open cases with a logistics reason that refund
    # themselves at their deadline (each would add an anomaly order).
    logistics_reasons = [r for r, c in REASON_CLASS.items() if c == ReasonClass.LOGISTICS]
    wanted = Q(platform_id__in={case for _level, c in quality for case in c.cases})
    if logistics:
        waiting = Q(state__in=_refunding_states(), reason__in=logistics_reasons)
        goods_ids = [goods for goods, _name, _date in logistics if goods]
        scope = Q() if any(goods == "" for goods, _n, _d in logistics) else Q(order__goods__platform_id__in=goods_ids)
        wanted |= waiting & scope
    found = AfterSalesCase.objects.filter(wanted, shop=shop).order_by("due_at", "platform_id")
    by_id: dict[str, CaseToAct] = {}
    by_goods: dict[str, list[CaseToAct]] = {}
    if quality or logistics:
        for pk, platform_id, due_at, goods, reason in found.values_list(
            "pk", "platform_id", "due_at", "order__goods__platform_id", "reason"
        ):
            by_id[platform_id] = CaseToAct(pk, platform_id, due_at)
            if reason in logistics_reasons:
                by_goods.setdefault(goods, []).append(by_id[platform_id])

    rows = [
        ComingUp(
            goods=c.goods,
            name=names.get(c.goods, ""),
            kind="quality",
            level=level,
            line=c.level,
            date=c.date,
            cases=tuple(by_id[case] for case in c.cases if case in by_id),
        )
        for level, c in quality
    ]
    for goods, name, date in logistics:
        cases = (
            by_goods.get(goods, [])
            if goods
            else sorted((c for found in by_goods.values() for c in found), key=lambda c: c.platform_id)
        )
        end = window_for(date).end
        by_then = tuple(c for c in cases if c.due_at is not None and c.due_at < end)  # refunded by that day
        rows.append(ComingUp(goods, name, "logistics", "restrict", "logistics_over_5x", date, by_then))
    return ComingUpPanel(
        day=made_for, last=made_for + dt.timedelta(days=FORECAST_DAYS), rows=sorted(rows, key=lambda r: r.urgency)
    )


# --- The reviewers' lists of the logistics restrictions ------------------------------------------


def logistics_restricted_shops(*, day: dt.date, limit: int = 100) -> Bounded:
    """Shops under the logistics restriction on `day` (店铺二级限制), longest-running first."""
    return _bounded(
        ShopDaySnapshot.objects.filter(date=day, logistics_restricted_since__isnull=False)
        .select_related("shop")
        .order_by("logistics_restricted_since", "shop__platform_id"),
        limit,
    )


def logistics_restricted_goods(*, day: dt.date, limit: int = 100) -> Bounded:
    """Goods under the logistics restriction on `day`, longest-running first."""
    return _bounded(
        # logistics_streak > 0 lets the partial index goods_snapshot_flagged serve it; restricted ⊂ flagged
        GoodsDaySnapshot.objects.filter(date=day, logistics_streak__gt=0, logistics_restricted_since__isnull=False)
        .select_related("goods", "shop")
        .order_by("logistics_restricted_since", "shop__platform_id", "goods__platform_id"),
        limit,
    )
