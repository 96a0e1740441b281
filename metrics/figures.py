"""What each SPEC §5 figure counts, said once: which rows (refunds, cases, orders, logistics flags,
ratings), by which of their times the window applies, and which condition they meet. An order
counts once however many of its rows meet it.

Three readers build their queries from these descriptions and nothing else, so they cannot
disagree (tests/metrics/test_one_definition.py holds them to it):
- the daily snapshot (metrics.services), hand-written SQL for speed, whose conditions and time
  columns are generated from here (`sql_condition`, `sql_params`, `AnyOf.goods_sql`);
- the live figures of a day not snapshotted yet (metrics.selectors.shop_figures), ORM aggregates
  filtered by `q()`;
- the orders behind a figure, the dashboard's click-through (metrics.selectors.numerator_orders),
  from `orders()`.
The forecast (metrics.forecast) runs the snapshot's SQL over projected refunds.
"""

import datetime as dt
import functools
import operator
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.db.models import Q, QuerySet

from aftersales.models import AfterSalesCase, Liable, ReasonClass, Refund
from pddadmin.shops.models import XINJIANG, LogisticsFlag, LogisticsFlagKind, Order, OrderRating


@dataclass(frozen=True)
class Figure:
    key: str  # the snapshot's `<key>_orders` and `day_<key>_orders` columns
    model: type[models.Model]  # the rows that count
    time: str  # their time the window applies to
    where: tuple[tuple[str, Any], ...] = ()  # field = value, all of them
    order: str = "order_id"  # the row's order
    sql_name: str = ""  # the figure's name inside the snapshot SQL

    def q(self) -> Q:
        return Q(**dict(self.where))

    def window(self, *, shop_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet:
        """The shop's rows of the figure's kind whose time falls in [start, end), counting or not."""
        return self.model.objects.filter(shop_id=shop_id, **{f"{self.time}__gte": start, f"{self.time}__lt": end})

    def rows(self, *, shop_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet:
        """The shop's rows that count for the figure in [start, end)."""
        return self.window(shop_id=shop_id, start=start, end=end).filter(self.q())

    def orders(self, *, shop_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet[Order]:
        """The shop's orders the figure counts in [start, end)."""
        return Order.objects.filter(pk__in=self.rows(shop_id=shop_id, start=start, end=end).values(self.order))

    def column(self, field: str) -> str:
        return self.model._meta.get_field(field).column

    @property
    def time_column(self) -> str:
        return self.column(self.time)

    def sql_condition(self) -> str:
        """The condition as SQL over the model's table, its values named as in `sql_params`;
        "" when every row of the window counts."""
        return " AND ".join(f"{self.column(field)} = %({self.key}_{i})s" for i, (field, _v) in enumerate(self.where))

    def sql_params(self) -> dict[str, Any]:
        return {f"{self.key}_{i}": getattr(value, "value", value) for i, (_f, value) in enumerate(self.where)}


# The orders a figure of several sources leaves out of its sources that do not count there.
XINJIANG_ORDER = Q(order__ship_to__startswith=XINJIANG)
assert not set(XINJIANG) & set("%_\\"), "the prefix is matched with LIKE as it is"


@dataclass(frozen=True)
class Source(Figure):
    """One of the ways an order counts for a figure of several sources (`AnyOf`): rows of one
    kind, as a Figure describes them, and whether an order shipped to Xinjiang counts by them."""

    xinjiang: bool = False

    def q(self) -> Q:
        return super().q() if self.xinjiang else super().q() & ~XINJIANG_ORDER


@dataclass(frozen=True)
class AnyOf:
    """A figure counting the orders that any of its sources counts, each once (SPEC §5.1)."""

    key: str
    sources: tuple[Source, ...]
    sql_name: str

    def orders(self, *, shop_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet[Order]:
        counted = [Q(pk__in=s.rows(shop_id=shop_id, start=start, end=end).values(s.order)) for s in self.sources]
        return Order.objects.filter(shop_id=shop_id).filter(functools.reduce(operator.or_, counted))

    def by_model(self) -> dict[type[models.Model], tuple[Source, ...]]:
        groups: dict[type[models.Model], tuple[Source, ...]] = {}
        for s in self.sources:
            groups[s.model] = (*groups.get(s.model, ()), s)
        return groups

    def sql_params(self) -> dict[str, Any]:
        return {"xinjiang_like": f"{XINJIANG}%", **{k: v for s in self.sources for k, v in s.sql_params().items()}}

    def goods_sql(self, tables: dict[type[models.Model], str]) -> str:
        """Per goods, the orders counted in the window [start, end) and on the day [day_start,
        end), as SQL over `tables` (each source model's table, or a relation with its columns).

        Each kind of row is scanned once; per order, whether a source that counts everywhere
        (`e`) or one that leaves Xinjiang out (`x`) met it; the Xinjiang orders are then read
        whole from their small partial index (order_xinjiang) rather than looked up one by one."""
        scans = []
        for model, sources in self.by_model().items():
            first = sources[0]
            assert all(s.time == first.time for s in sources), "one time column a kind of row"

            def met(group: tuple[Source, ...]) -> str:
                return " OR ".join(f"({s.sql_condition() or '1 = 1'})" for s in group) or "1 = 0"

            everywhere = tuple(s for s in sources if s.xinjiang)
            outside = tuple(s for s in sources if not s.xinjiang)
            scans.append(
                f"SELECT {first.column('goods')} AS goods_id, {first.column('order')} AS order_id, "
                f"{first.time_column} AS at, "
                f"CASE WHEN {met(everywhere)} THEN 1 ELSE 0 END AS e, CASE WHEN {met(outside)} THEN 1 ELSE 0 END AS x "
                f"FROM {tables[model]} {model._meta.model_name} "  # a relation needs a name of its own
                f"WHERE {first.time_column} >= %(start)s AND {first.time_column} < %(end)s AND ({met(sources)})"
            )
        qn = connection.ops.quote_name
        meta = Order._meta
        union = "\n            UNION ALL ".join(scans)
        return f"""
    SELECT p.goods_id,
        SUM(CASE WHEN p.w_e = 1 OR (p.w_x = 1 AND xj.id IS NULL) THEN 1 ELSE 0 END) AS {self.sql_name},
        SUM(CASE WHEN p.d_e = 1 OR (p.d_x = 1 AND xj.id IS NULL) THEN 1 ELSE 0 END) AS day_{self.sql_name}
    FROM (
        SELECT goods_id, order_id, MAX(e) AS w_e, MAX(x) AS w_x,
            MAX(CASE WHEN at >= %(day_start)s THEN e ELSE 0 END) AS d_e,
            MAX(CASE WHEN at >= %(day_start)s THEN x ELSE 0 END) AS d_x
        FROM (
            {union}
        ) src
        GROUP BY goods_id, order_id
    ) p
    LEFT JOIN (
        SELECT {qn(meta.pk.column)} AS id FROM {qn(meta.db_table)}
        WHERE {qn(meta.get_field("ship_to").column)} LIKE %(xinjiang_like)s
    ) xj ON xj.id = p.order_id
    GROUP BY p.goods_id
"""


GROUPED = Figure("grouped", Order, "grouped_at", order="pk", sql_name="grouped")
# SPEC §5: a case refunded in the window that was intervened and ruled merchant-liable.
DISPUTE_REFUND = Figure(
    "dispute_refund", Refund, "refunded_at", (("intervened", True), ("liable", Liable.MERCHANT)), sql_name="dispute"
)
# SPEC §5: a case refunded in the window whose reason in force at the refund is of class quality.
QUALITY_REFUND = Figure(
    "quality_refund", Refund, "refunded_at", (("reason_class", ReasonClass.QUALITY),), sql_name="quality"
)
# SPEC §5: a case whose first intervention falls in the window.
INTERVENTION = Figure("intervention", AfterSalesCase, "intervened_at", sql_name="intervention")


def _flagged(kind: str, *, xinjiang: bool = False) -> Source:
    return Source(f"logistics_{kind}", LogisticsFlag, "flagged_at", (("kind", kind),), xinjiang=xinjiang)


# SPEC §5.1: an order is a logistics anomaly when any of these happened to it in the window; an
# order shipped to Xinjiang only for a fake shipment.
LOGISTICS_ANOMALY = AnyOf(
    "logistics_anomaly",
    (
        _flagged(LogisticsFlagKind.FAKE_SHIPMENT, xinjiang=True),  # 虚假发货
        _flagged(LogisticsFlagKind.SLOW_DELIVERY),  # 物流时效异常
        _flagged(LogisticsFlagKind.COMPLAINT),  # 有效物流投诉
        # 售后退款原因与物流相关: the reason in force at the refund
        Source("logistics_refund", Refund, "refunded_at", (("reason_class", ReasonClass.LOGISTICS),)),
        # 物流服务DSR为1分
        Source("logistics_rating", OrderRating, "rated_at", (("logistics", 1),)),
    ),
    sql_name="logistics",
)

# The snapshot SQL computes the refund figures in this order (quality first: the goods flags read it).
FIGURES: dict[str, Figure | AnyOf] = {
    f.key: f for f in (GROUPED, QUALITY_REFUND, DISPUTE_REFUND, LOGISTICS_ANOMALY, INTERVENTION)
}
SIMPLE_FIGURES = tuple(f for f in FIGURES.values() if isinstance(f, Figure))
# The numerators counted per goods and summed per shop (an order has one goods); interventions
# are counted per shop, from the cases.
GOODS_FIGURES = (QUALITY_REFUND, DISPUTE_REFUND, LOGISTICS_ANOMALY)


def by_model() -> dict[type[models.Model], tuple[Figure, ...]]:
    """The single-source figures grouped by the rows they count. One scan of a kind of row's
    window serves all its figures, so they share the time column."""
    groups: dict[type[models.Model], tuple[Figure, ...]] = {}
    for f in SIMPLE_FIGURES:
        groups[f.model] = (*groups.get(f.model, ()), f)
    return groups


REFUND_FIGURES = by_model()[Refund]
assert all(len({f.time for f in group}) == 1 for group in by_model().values()), "one time column a kind of row"


def sql_params() -> dict[str, Any]:
    """The values every figure's SQL names."""
    return {name: value for f in FIGURES.values() for name, value in f.sql_params().items()}
