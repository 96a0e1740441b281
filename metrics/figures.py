"""What each SPEC §5 figure counts, said once: which rows (refunds, cases, orders), by which of
their times the window applies, and which condition they meet. An order counts once however many
of its rows meet it.

Three readers build their queries from these descriptions and nothing else, so they cannot
disagree (tests/metrics/test_one_definition.py holds them to it):
- the daily snapshot (metrics.services), hand-written SQL for speed, whose conditions and time
  columns are generated from here (`sql_condition`, `sql_params`);
- the live figures of a day not snapshotted yet (metrics.selectors.shop_figures), ORM aggregates
  filtered by `q()`;
- the orders behind a figure, the dashboard's click-through (metrics.selectors.numerator_orders),
  from `rows()`.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

from aftersales.models import AfterSalesCase, Liable, ReasonClass, Refund
from pddadmin.shops.models import Order


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


GROUPED = Figure("grouped", Order, "grouped_at", order="pk", sql_name="grouped")
# SPEC §5: a case refunded in the window that was intervened and ruled merchant-liable.
DISPUTE_REFUND = Figure(
    "dispute_refund", Refund, "refunded_at", (("intervened", True), ("liable", Liable.MERCHANT)), sql_name="dispute"
)
# SPEC §5: a case refunded in the window whose reason in force at the refund is of class quality.
QUALITY_REFUND = Figure(
    "quality_refund", Refund, "refunded_at", (("reason_class", ReasonClass.QUALITY),), sql_name="quality"
)
# SPEC §5.1, the part counted today: a case refunded in the window for a logistics reason.
LOGISTICS_ANOMALY = Figure(
    "logistics_anomaly", Refund, "refunded_at", (("reason_class", ReasonClass.LOGISTICS),), sql_name="logistics"
)
# SPEC §5: a case whose first intervention falls in the window.
INTERVENTION = Figure("intervention", AfterSalesCase, "intervened_at", sql_name="intervention")

# The snapshot SQL computes the refund figures in this order (quality first: the goods flags read it).
FIGURES = {f.key: f for f in (GROUPED, QUALITY_REFUND, DISPUTE_REFUND, LOGISTICS_ANOMALY, INTERVENTION)}


def by_model() -> dict[type[models.Model], tuple[Figure, ...]]:
    """The figures grouped by the rows they count. One scan of a kind of row's window serves all
    its figures, so they share the time column."""
    groups: dict[type[models.Model], tuple[Figure, ...]] = {}
    for f in FIGURES.values():
        groups[f.model] = (*groups.get(f.model, ()), f)
    return groups


REFUND_FIGURES = by_model()[Refund]
assert all(len({f.time for f in group}) == 1 for group in by_model().values()), "one time column a kind of row"


def sql_params() -> dict[str, Any]:
    """The values every figure's `sql_condition` names."""
    return {name: value for f in FIGURES.values() for name, value in f.sql_params().items()}
