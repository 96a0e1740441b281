"""Writing the daily snapshots (SPEC §5). One function, called by `compute_metrics` and the schedule.

The whole day is a handful of set-based statements, so the work stays in the database whatever
the number of shops:
1. one row per goods: grouped orders and refund numerators of the window and the day (one scan
   of the window's orders, grouped by goods, and one of its refunds), the logistics anomaly orders
   (one scan of each kind of source row, SPEC §5.1), its category's figures, the 3× / 5× quality
   flags and the logistics 5× flag, and the consecutive-day streaks carried on from the previous
   day's snapshot;
2. one row per shop: the goods rows summed, interventions counted from the cases, and the shop
   against the shops of its main category (logistics flag and streak, as the goods').

A day not stored yet is inserted straight; a stored day is compared with the new figures and
only the rows that differ are written (see _UPDATE_CHANGED_GOODS). How fast, against what:
bench/results/metrics.md.
"""

import datetime as dt
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from aftersales.models import AfterSalesCase, Refund
from pddadmin.shops.models import Goods, Order, Shop

from .figures import GOODS_FIGURES, GROUPED, INTERVENTION, REFUND_FIGURES, AnyOf, Figure
from .figures import sql_params as figure_sql_params
from .models import Flag, GoodsDaySnapshot, ShopDaySnapshot
from .windows import window_for

# Any constant will do: it only has to be the same for every copy of compute_metrics.
_ADVISORY_LOCK_KEY = 0x6D657472  # "metr"


@dataclass(frozen=True)
class ComputeResult:
    date: dt.date
    shops: int
    goods: int
    flagged_goods: int
    restricted_goods: int


# The goods' grouped orders of the window: an index-only range scan of order_grouped_goods
# (grouped_at, goods), which holds the window's orders side by side whatever the history before
# it, hashed by goods.
_GROUPED = """
    SELECT goods_id, COUNT(*) AS grouped,
        COUNT(CASE WHEN {grouped_at} >= %(day_start)s THEN 1 END) AS day_grouped
    FROM {order}
    WHERE {grouped_at} >= %(start)s AND {grouped_at} < %(end)s{of_goods}
    GROUP BY goods_id
"""


def grouped_sql(*, goods: str | None = None) -> str:
    """Per goods, its grouped orders of the window and of the day; only of the goods listed in the
    relation `goods` (its `id`s) when given."""
    of_goods = f" AND goods_id IN (SELECT id FROM {goods})" if goods else ""
    return _GROUPED.format(order=table_names()["order"], grouped_at=GROUPED.time_column, of_goods=of_goods)


# Refund numerators are counted per goods and summed per shop: an order has one goods, so its
# shop's distinct orders are exactly the sum of its goods' distinct orders, and the refunds of
# the window are scanned once for both levels. Figures of several sources (the logistics
# anomalies, SPEC §5.1) bring their own per-goods counts (metrics.figures.AnyOf.goods_sql).
_GOODS_COUNTS = """
SELECT g.id AS goods_id, g.shop_id, g.category,
    COALESCE(o.grouped, 0) AS grouped, COALESCE(o.day_grouped, 0) AS day_grouped,
    {refund_columns},
    {any_of_columns}
FROM {goods} g
LEFT JOIN ({grouped}) o ON o.goods_id = g.id
LEFT JOIN (
    -- Distinct orders counted in two steps: one flag per order (an order may have two refunds),
    -- then plain sums; six COUNT(DISTINCT …) would sort each goods' refunds six times. The ORDER
    -- BY lets both steps stream from refund_goods_order_at instead of hashing every order.
    SELECT goods_id, {refund_sums}
    FROM (
        SELECT goods_id, order_id,
            {refund_flags}
        FROM {refund} refund
        WHERE {refunded_at} >= %(start)s AND {refunded_at} < %(end)s
        GROUP BY goods_id, order_id
        ORDER BY goods_id, order_id
    ) per_order
    GROUP BY goods_id
) r ON r.goods_id = g.id
{any_of_joins}
"""


def _refund_parts() -> dict[str, str]:
    """The refund figures' pieces of _GOODS_COUNTS, from their definitions (metrics.figures): per
    order a window flag and a day flag of each figure, their sums per goods, and the columns."""
    flags, sums, columns = [], [], []
    for f in REFUND_FIGURES:
        name, condition = f.sql_name, f.sql_condition() or "1 = 1"
        flags += [
            f"MAX(CASE WHEN {condition} THEN 1 ELSE 0 END) AS w_{name}",
            f"MAX(CASE WHEN {condition} AND {f.time_column} >= %(day_start)s THEN 1 ELSE 0 END) AS d_{name}",
        ]
        sums.append(f"SUM(w_{name}) AS {name}, SUM(d_{name}) AS day_{name}")
        columns.append(f"COALESCE(r.{name}, 0) AS {name}, COALESCE(r.day_{name}, 0) AS day_{name}")
    return {
        "refund_flags": ",\n            ".join(flags),
        "refund_sums": ",\n        ".join(sums),
        "refund_columns": ",\n    ".join(columns),
        "refunded_at": REFUND_FIGURES[0].time_column,
    }


def _any_of_parts(tables: dict) -> dict[str, str]:
    columns, joins = [], []
    for i, f in enumerate(f for f in GOODS_FIGURES if isinstance(f, AnyOf)):
        name = f.sql_name
        columns.append(f"COALESCE(a{i}.{name}, 0) AS {name}, COALESCE(a{i}.day_{name}, 0) AS day_{name}")
        joins.append(f"LEFT JOIN ({f.goods_sql(tables)}) a{i} ON a{i}.goods_id = g.id")
    return {"any_of_columns": ",\n    ".join(columns), "any_of_joins": "\n".join(joins)}


# Category figures are over every shop's goods of the category on the same day: a small grouped
# table joined back by hash, which keeps the goods rows in their order (a window function would
# sort all of them by category first). That order is the snapshot's key order, given here while
# the rows are narrow, so the insert fills each index page once instead of revisiting it.
_WITH_CATEGORY = """
WITH {ctes}t AS (SELECT * FROM ({inner}) u{order_by}),
k AS (
    SELECT category,
        -- integers, not PostgreSQL's numeric SUM of bigints: the flags multiply them for every goods
        CAST(SUM(grouped) AS BIGINT) AS cat_grouped, CAST(SUM(quality) AS BIGINT) AS cat_quality,
        CAST(SUM(logistics) AS BIGINT) AS cat_logistics,
        COUNT(CASE WHEN grouped > 0 THEN 1 END) AS cat_goods
    FROM t
    GROUP BY category
)
SELECT t.*, k.cat_grouped, k.cat_quality, k.cat_logistics, k.cat_goods FROM t JOIN k ON k.category = t.category
"""

# rate > k × category rate  ⇔  q / grouped > k · cq / cg  ⇔  q · cg > k · cq · grouped (grouped, cg > 0);
# count > k × category count  ⇔  q > k · cq / n  ⇔  q · n > k · cq. Integers only: no float edge cases.
_OVER = (
    "(c.grouped > 0 AND c.quality * c.cat_grouped > {k} * c.cat_quality * c.grouped"
    " AND c.quality * c.cat_goods > {k} * c.cat_quality)"
)
# SPEC §5.1, the same for the logistics rate a / (100 a + grouped) of a goods or a shop against its
# category's ca / (100 ca + cg), both denominators positive for a member with grouped orders:
# a · (100 ca + cg) > 5 · ca · (100 a + grouped); count: a · n > 5 · ca. Members without grouped
# orders in the window are never flagged, as at the goods level of §5 (decided here).
LOGISTICS_TIMES = 5
_LOGISTICS_OVER = (
    "(c.grouped > 0 AND c.logistics * (100 * c.cat_logistics + c.cat_grouped)"
    " > {k} * c.cat_logistics * (100 * c.logistics + c.grouped)"
    " AND c.logistics * c.{members} > {k} * c.cat_logistics)"
)


def over_category(
    *, k: int, orders: int, grouped: int, category_orders: int, category_grouped: int, members: int
) -> bool:
    """_OVER for one goods' numbers, in Python: its quality refund orders and grouped orders
    against the category's quality refund orders, grouped orders and goods with grouped orders.
    For the case page's what-if (metrics.case_impact), which has numbers, not rows; tests hold it
    to the SQL above on the same numbers."""
    return (
        grouped > 0
        and orders * category_grouped > k * category_orders * grouped
        and orders * members > k * category_orders
    )


def logistics_over_category(
    *, orders: int, grouped: int, category_orders: int, category_grouped: int, members: int, k: int = LOGISTICS_TIMES
) -> bool:
    """_LOGISTICS_OVER in Python, as over_category is _OVER (the anomaly orders as `orders`)."""
    return (
        grouped > 0
        and orders * (100 * category_orders + category_grouped) > k * category_orders * (100 * orders + grouped)
        and orders * members > k * category_orders
    )


def quality_flag(**figures: int) -> Flag:
    """The goods' quality flag (SPEC §5) from over_category's numbers: 5× before 3×, as the snapshot."""
    if over_category(k=5, **figures):
        return Flag.OVER_5X
    return Flag.OVER_3X if over_category(k=3, **figures) else Flag.NONE


_WITH_FLAGS = f"""
SELECT c.*,
    CASE WHEN {_OVER.format(k=3)} THEN 1 ELSE 0 END AS over3,
    CASE WHEN {_OVER.format(k=5)} THEN 1 ELSE 0 END AS over5,
    CASE WHEN {_LOGISTICS_OVER.format(k=LOGISTICS_TIMES, members="cat_goods")} THEN 1 ELSE 0 END AS overl
FROM ({{inner}}) c
"""

# Streaks carried on from the day before; only its flagged goods can carry one (the partial index
# goods_snapshot_flagged, whose condition this repeats).
_WITH_STREAKS = """
SELECT f.*,
    CASE WHEN f.over3 = 1 THEN COALESCE(p.streak_3x, 0) + 1 ELSE 0 END AS streak3,
    CASE WHEN f.over5 = 1 THEN COALESCE(p.streak_5x, 0) + 1 ELSE 0 END AS streak5,
    CASE WHEN f.overl = 1 THEN COALESCE(p.logistics_streak, 0) + 1 ELSE 0 END AS streakl,
    p.restriction AS prev_restriction, p.restricted_since AS prev_since,
    p.logistics_restricted_since AS prev_logistics_since
FROM ({inner}) f
LEFT JOIN (
    SELECT goods_id, streak_3x, streak_5x, restriction, restricted_since, logistics_streak,
        logistics_restricted_since
    FROM {goods_snapshot}
    WHERE date = %(previous)s AND (streak_3x > 0 OR logistics_streak > 0)
) p ON p.goods_id = f.goods_id
"""

_GOODS_VALUES = (
    "category, grouped_orders, day_grouped_orders, quality_refund_orders, "
    "day_quality_refund_orders, dispute_refund_orders, day_dispute_refund_orders, logistics_anomaly_orders, "
    "day_logistics_anomaly_orders, category_grouped_orders, category_quality_refund_orders, category_goods, "
    "flag, streak_3x, streak_5x, restriction, restricted_since, category_logistics_anomaly_orders, "
    "logistics_over_5x, logistics_streak, logistics_restricted_since"
)
GOODS_COLUMNS = f"goods_id, shop_id, {_GOODS_VALUES}"
# Each goods' row of the day, its columns named as the snapshot's.
_GOODS_ROWS = """
SELECT s.goods_id, s.shop_id, s.category, s.grouped AS grouped_orders, s.day_grouped AS day_grouped_orders,
    {figure_columns},
    s.cat_grouped AS category_grouped_orders, s.cat_quality AS category_quality_refund_orders,
    s.cat_goods AS category_goods,
    CASE WHEN s.over5 = 1 THEN %(over_5x)s WHEN s.over3 = 1 THEN %(over_3x)s ELSE '' END AS flag,
    s.streak3 AS streak_3x, s.streak5 AS streak_5x,
    CASE WHEN s.streak5 >= %(days)s THEN %(over_5x)s WHEN s.streak3 >= %(days)s THEN %(over_3x)s ELSE '' END
        AS restriction,
    -- a restriction keeps the day it started while it holds (also when it rises from 3× to 5×)
    CASE WHEN s.streak3 >= %(days)s THEN
        CASE WHEN s.prev_restriction <> '' THEN s.prev_since ELSE %(date)s END
    END AS restricted_since,
    s.cat_logistics AS category_logistics_anomaly_orders,
    {logistics_restriction}
FROM ({inner}) s
"""
# The logistics flag and restriction of a goods or a shop row `s` (SPEC §5.1): restricted from the
# day its streak reaches the configured days, keeping that day while it holds.
_LOGISTICS_RESTRICTION = """s.overl = 1 AS logistics_over_5x, s.streakl AS logistics_streak,
    CASE WHEN s.streakl >= %(days)s THEN COALESCE(s.prev_logistics_since, %(date)s) END AS logistics_restricted_since"""

# A day not stored yet (the daily run): straight in, in the key order the rows come in (see
# _WITH_CATEGORY; sorting the finished rows again cost more than it saved).
_INSERT_GOODS = f"""
INSERT INTO {{goods_snapshot}} ({GOODS_COLUMNS}, date, computed_at)
SELECT {GOODS_COLUMNS}, %(date)s, %(now)s FROM ({{rows}}) r
"""

# A day stored already (a re-run): the new rows go to a temporary table, and only what differs
# is written: changed rows updated, new goods inserted, rows of goods gone deleted. Re-running a
# day whose data has not changed writes nothing, leaving no dead rows to slow later runs down.
_GOODS_DAY = "metrics_goods_day"
_CREATE_GOODS_DAY = "CREATE TEMPORARY TABLE {goods_day} AS {rows}"
_UPDATE_CHANGED_GOODS = """
UPDATE {goods_snapshot} SET {assignments}, computed_at = %(now)s
FROM {goods_day} t
WHERE {goods_snapshot}.date = %(date)s
    AND {goods_snapshot}.shop_id = t.shop_id AND {goods_snapshot}.goods_id = t.goods_id
    AND ({changed})
"""
# NOT IN rather than NOT EXISTS: its hashed subplan stays a hash lookup per row however few rows
# the planner expects (a just-written day has no statistics yet; NOT EXISTS became a nested loop
# over 20,000 × 20,000 rows). Neither side has NULL keys.
_INSERT_NEW_GOODS = f"""
INSERT INTO {{goods_snapshot}} ({GOODS_COLUMNS}, date, computed_at)
SELECT {GOODS_COLUMNS}, %(date)s, %(now)s FROM {{goods_day}} t
WHERE (t.shop_id, t.goods_id) NOT IN (SELECT shop_id, goods_id FROM {{goods_snapshot}} WHERE date = %(date)s)
ORDER BY shop_id, goods_id
"""
_DELETE_GONE_GOODS = """
DELETE FROM {goods_snapshot}
WHERE date = %(date)s AND (shop_id, goods_id) NOT IN (SELECT shop_id, goods_id FROM {goods_day})
"""

# Everything but interventions is summed from the day's goods rows (exact: see _GOODS_COUNTS);
# interventions are counted from the cases, which carry their shop but not their goods. Then the
# shop against the shops of its main category (SPEC §5.1), as the goods against theirs.
_SHOP_VALUES = (
    "grouped_orders, dispute_refund_orders, quality_refund_orders, intervention_orders, logistics_anomaly_orders, "
    "day_grouped_orders, day_dispute_refund_orders, day_quality_refund_orders, day_intervention_orders, "
    "day_logistics_anomaly_orders, flagged_goods, restricted_goods, category, category_grouped_orders, "
    "category_logistics_anomaly_orders, category_shops, logistics_over_5x, logistics_streak, "
    "logistics_restricted_since, logistics_flagged_goods, logistics_restricted_goods"
)
_SHOP_COUNTS = """
SELECT sh.id AS shop_id, sh.category,
    COALESCE(g.grouped, 0) AS grouped, COALESCE(g.dispute, 0) AS dispute, COALESCE(g.quality, 0) AS quality,
    COALESCE(c.intervention, 0) AS intervention, COALESCE(g.logistics, 0) AS logistics,
    COALESCE(g.day_grouped, 0) AS day_grouped, COALESCE(g.day_dispute, 0) AS day_dispute,
    COALESCE(g.day_quality, 0) AS day_quality, COALESCE(c.day_intervention, 0) AS day_intervention,
    COALESCE(g.day_logistics, 0) AS day_logistics,
    COALESCE(g.flagged, 0) AS flagged, COALESCE(g.restricted, 0) AS restricted,
    COALESCE(g.logistics_flagged, 0) AS logistics_flagged, COALESCE(g.logistics_restricted, 0) AS logistics_restricted
FROM {shop} sh
LEFT JOIN (
    SELECT shop_id, SUM(grouped_orders) AS grouped, SUM(day_grouped_orders) AS day_grouped,
        SUM(dispute_refund_orders) AS dispute, SUM(day_dispute_refund_orders) AS day_dispute,
        SUM(quality_refund_orders) AS quality, SUM(day_quality_refund_orders) AS day_quality,
        SUM(logistics_anomaly_orders) AS logistics, SUM(day_logistics_anomaly_orders) AS day_logistics,
        COUNT(CASE WHEN flag <> '' THEN 1 END) AS flagged, COUNT(CASE WHEN restriction <> '' THEN 1 END) AS restricted,
        COUNT(CASE WHEN logistics_over_5x THEN 1 END) AS logistics_flagged,
        COUNT(logistics_restricted_since) AS logistics_restricted
    FROM {goods_snapshot}
    WHERE date = %(date)s
    GROUP BY shop_id
) g ON g.shop_id = sh.id
LEFT JOIN (
    SELECT shop_id, COUNT(*) AS intervention, SUM(on_day) AS day_intervention
    FROM (
        SELECT shop_id, order_id, MAX(CASE WHEN {intervened_at} >= %(day_start)s THEN 1 ELSE 0 END) AS on_day
        FROM {case}
        WHERE {intervened_at} >= %(start)s AND {intervened_at} < %(end)s{intervention_condition}
        GROUP BY shop_id, order_id
    ) per_order
    GROUP BY shop_id
) c ON c.shop_id = sh.id
"""
_SHOP_ROWS = f"""
SELECT s.shop_id, s.grouped, s.dispute, s.quality, s.intervention, s.logistics,
    s.day_grouped, s.day_dispute, s.day_quality, s.day_intervention, s.day_logistics, s.flagged, s.restricted,
    s.category, s.cat_grouped, s.cat_logistics, s.cat_shops,
    {_LOGISTICS_RESTRICTION},
    s.logistics_flagged, s.logistics_restricted
FROM (
    SELECT f.*,
        CASE WHEN f.overl = 1 THEN COALESCE(p.logistics_streak, 0) + 1 ELSE 0 END AS streakl,
        p.logistics_restricted_since AS prev_logistics_since
    FROM (
        SELECT c.*,
            CASE WHEN {_LOGISTICS_OVER.format(k=LOGISTICS_TIMES, members="cat_shops")} THEN 1 ELSE 0 END AS overl
        FROM (
            WITH t AS ({{counts}}),
            k AS (
                SELECT category, CAST(SUM(grouped) AS BIGINT) AS cat_grouped,
                    CAST(SUM(logistics) AS BIGINT) AS cat_logistics,
                    COUNT(CASE WHEN grouped > 0 THEN 1 END) AS cat_shops
                FROM t
                GROUP BY category
            )
            SELECT t.*, k.cat_grouped, k.cat_logistics, k.cat_shops FROM t JOIN k ON k.category = t.category
        ) c
    ) f
    LEFT JOIN (
        SELECT shop_id, logistics_streak, logistics_restricted_since
        FROM {{shop_snapshot}}
        WHERE date = %(previous)s AND logistics_streak > 0
    ) p ON p.shop_id = f.shop_id
) s
"""
_INSERT_SHOPS = f"""
INSERT INTO {{shop_snapshot}} (shop_id, {_SHOP_VALUES}, date, computed_at)
SELECT r.*, %(date)s, %(now)s FROM ({{rows}}) r
WHERE 1 = 1  -- SQLite would read the ON CONFLICT below as a join's ON: a WHERE ends the FROM clause
{{on_conflict}}
"""


def table_names() -> dict[str, str]:
    qn = connection.ops.quote_name
    return {
        "goods": qn(Goods._meta.db_table),
        "order": qn(Order._meta.db_table),
        "refund": qn(Refund._meta.db_table),
        "case": qn(AfterSalesCase._meta.db_table),
        "shop": qn(Shop._meta.db_table),
        "goods_snapshot": qn(GoodsDaySnapshot._meta.db_table),
        "shop_snapshot": qn(ShopDaySnapshot._meta.db_table),
        "goods_day": qn(_GOODS_DAY),
    }


def _columns(values: str) -> list[str]:
    return [c.strip() for c in values.split(",")]


def _differs(stored: str, new: str, columns: list[str]) -> str:
    """SQL true where a stored row's figure differs from the new one (NULLs compared as values)."""
    return " OR ".join(f"{stored}.{c} IS DISTINCT FROM {new}.{c}" for c in columns)


@dataclass(frozen=True)
class Inputs:
    """What the goods rows of a day are computed from, each a table or a relation with its
    columns. The daily snapshot reads the tables themselves (`snapshot_inputs`); the forecast
    (metrics.forecast) the same definitions over projected refunds and held denominators."""

    goods: str  # id, shop_id, category
    grouped: str  # per goods: goods_id, grouped, day_grouped
    rows: dict[type[models.Model], str]  # the rows each figure counts, by model (Refund, LogisticsFlag, …)
    goods_snapshot: str  # the day before's goods rows, as the snapshot table's columns
    # The rows the figures of several sources (metrics.figures.AnyOf) read, when not `rows`.
    source_rows: dict[type[models.Model], str] | None = None
    # The rows in the snapshot's key order (shop, goods), which its insert wants.
    key_order: bool = True
    # Common table expressions the relations above name ("name AS (…), "), read once.
    ctes: str = ""


# A window's rows of a table indexed only by (shop, time), read shop by shop: one range scan of
# that index per shop, so the cost follows the window's rows. A plain range condition on the time
# alone reads every row ever written (a scan of the table, or of the whole index), and that
# grows with the history (bench/results/metrics.md). OFFSET 0 keeps PostgreSQL from flattening
# the subquery back into that plain join.
_BY_SHOP = """(SELECT w.* FROM {shop} sh CROSS JOIN LATERAL (
    SELECT * FROM {table} WHERE {shop_column} = sh.id AND {time} >= %(start)s AND {time} < %(end)s OFFSET 0
) w)"""


def window_rows(model: type[models.Model], time: str) -> str:
    """The rows of `model` whose `time` falls in the window [start, end), read shop by shop, as a
    relation with the table's columns (PostgreSQL; its readers repeat the window's condition)."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    return _BY_SHOP.format(
        shop=table_names()["shop"],
        table=table,
        shop_column=qn(model._meta.get_field("shop").column),
        time=qn(model._meta.get_field(time).column),
    )


# Refunds read shop by shop pay a heap fetch for each row of the window; read as the table, an
# index entry for each refund ever made, about a tenth of that. Shop by shop wins once the window
# holds less than a tenth of the refunds (a long history); below that (a young database) the
# table is read whole. Measured both ways in bench/results/metrics.md; both give the same rows.
BY_SHOP_SHARE = 10


def refunds_by_shop(cursor, params: dict) -> bool:
    """Whether to read the window's refunds shop by shop (see BY_SHOP_SHARE), from the planner's
    estimates: the window's rows against the table's (a table never analysed reads as the table)."""
    if connection.vendor != "postgresql":
        return False
    qn = connection.ops.quote_name
    table, time = Refund._meta.db_table, qn(Refund._meta.get_field("refunded_at").column)
    cursor.execute(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {qn(table)} WHERE {time} >= %(start)s AND {time} < %(end)s", params
    )
    (plan,) = cursor.fetchone()
    window = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
    (total,) = cursor.fetchone()
    return window * BY_SHOP_SHARE < total


def snapshot_inputs(*, by_shop: bool = False) -> Inputs:
    tables = table_names()
    grouped = grouped_sql()
    rows = {
        model: connection.ops.quote_name(model._meta.db_table)
        for f in GOODS_FIGURES
        for model in ([f.model] if isinstance(f, Figure) else [s.model for s in f.sources])
    }
    ctes = ""
    if by_shop:
        # The window's refunds read once for the refund figures and the logistics refunds.
        rows[Refund] = "refund_window"
        ctes = f"refund_window AS MATERIALIZED {window_rows(Refund, 'refunded_at')}, "
    return Inputs(
        goods=tables["goods"], grouped=grouped, rows=rows, goods_snapshot=tables["goods_snapshot"], ctes=ctes
    )


def goods_rows_sql(inputs: Inputs | None = None) -> str:
    inputs = inputs or snapshot_inputs()
    sql = _GOODS_COUNTS.format(
        goods=inputs.goods,
        grouped=inputs.grouped,
        refund=inputs.rows[Refund],
        **_refund_parts(),
        **_any_of_parts(inputs.rows if inputs.source_rows is None else inputs.source_rows),
    )
    sql = _WITH_CATEGORY.format(
        inner=sql, order_by=" ORDER BY shop_id, goods_id" if inputs.key_order else "", ctes=inputs.ctes
    )
    sql = _WITH_FLAGS.format(inner=sql)
    sql = _WITH_STREAKS.format(inner=sql, goods_snapshot=inputs.goods_snapshot)
    figure_columns = ",\n    ".join(
        f"s.{f.sql_name} AS {f.key}_orders, s.day_{f.sql_name} AS day_{f.key}_orders" for f in GOODS_FIGURES
    )
    return _GOODS_ROWS.format(inner=sql, figure_columns=figure_columns, logistics_restriction=_LOGISTICS_RESTRICTION)


def shop_snapshot_sql(*, stored: bool) -> str:
    """The shop rows of the day: inserted, or for a stored day upserted where a figure differs
    (as the goods rows, see _UPDATE_CHANGED_GOODS; an upsert costs the fresh insert a third more)."""
    tables = table_names()
    on_conflict = ""
    if stored:
        table = tables["shop_snapshot"]
        columns = _columns(_SHOP_VALUES)
        assignments = ", ".join(f"{c} = excluded.{c}" for c in (*columns, "computed_at"))
        changed = _differs(table, "excluded", columns)
        on_conflict = f"ON CONFLICT (shop_id, date) DO UPDATE SET {assignments} WHERE {changed}"
    condition = INTERVENTION.sql_condition()
    counts = _SHOP_COUNTS.format(
        **tables,
        intervened_at=INTERVENTION.time_column,
        intervention_condition=f" AND {condition}" if condition else "",
    )
    rows = _SHOP_ROWS.format(counts=counts, shop_snapshot=tables["shop_snapshot"])
    return _INSERT_SHOPS.format(shop_snapshot=tables["shop_snapshot"], rows=rows, on_conflict=on_conflict)


def _write_goods_rows(cursor, day: dt.date, params: dict) -> int:
    """Write the goods rows of `day`; return how many the day has."""
    tables = table_names()
    snapshot, goods_day = tables["goods_snapshot"], tables["goods_day"]
    rows = goods_rows_sql(snapshot_inputs(by_shop=refunds_by_shop(cursor, params)))
    if not GoodsDaySnapshot.objects.filter(date=day).exists():
        cursor.execute(_INSERT_GOODS.format(goods_snapshot=snapshot, rows=rows), params)
        return cursor.rowcount
    columns = _columns(_GOODS_VALUES)
    cursor.execute(f"DROP TABLE IF EXISTS {goods_day}")
    cursor.execute(_CREATE_GOODS_DAY.format(goods_day=goods_day, rows=rows), params)
    cursor.execute(
        _UPDATE_CHANGED_GOODS.format(
            goods_snapshot=snapshot,
            goods_day=goods_day,
            assignments=", ".join(f"{c} = t.{c}" for c in columns),
            changed=_differs(snapshot, "t", columns),
        ),
        params,
    )
    cursor.execute(_INSERT_NEW_GOODS.format(goods_snapshot=snapshot, goods_day=goods_day), params)
    cursor.execute(_DELETE_GONE_GOODS.format(goods_snapshot=snapshot, goods_day=goods_day), params)
    cursor.execute(f"SELECT COUNT(*) FROM {goods_day}")
    (goods,) = cursor.fetchone()
    cursor.execute(f"DROP TABLE {goods_day}")
    return goods


_SUMMARY = """
SELECT COUNT(*), COALESCE(SUM(flagged_goods), 0), COALESCE(SUM(restricted_goods), 0)
FROM {shop_snapshot} WHERE date = %(date)s
"""


def day_params(day: dt.date, now: dt.datetime, consecutive_days: int) -> dict:
    ops = connection.ops
    window = window_for(day)
    return {
        "date": ops.adapt_datefield_value(day),
        "previous": ops.adapt_datefield_value(day - dt.timedelta(days=1)),
        "start": ops.adapt_datetimefield_value(window.start),
        "day_start": ops.adapt_datetimefield_value(window.day_start),
        "end": ops.adapt_datetimefield_value(window.end),
        "now": ops.adapt_datetimefield_value(now),
        **figure_sql_params(),
        "over_3x": Flag.OVER_3X.value,
        "over_5x": Flag.OVER_5X.value,
        "days": consecutive_days,
    }


def metrics_compute(*, day: dt.date, consecutive_days: int | None = None) -> ComputeResult:
    """Write (or replace) the shop and goods snapshots of `day`, atomically.

    Streaks continue from the snapshot of the day before; a missing day breaks them, since a
    restriction needs the condition on consecutive *daily snapshots* (SPEC §5).
    """
    if consecutive_days is None:
        consecutive_days = settings.GOODS_RESTRICTION_CONSECUTIVE_DAYS
    params = day_params(day, timezone.now(), consecutive_days)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip for four things:
            # - the lock: two copies running for the same day would both find it missing, then
            #   collide on insert (SQLite writers are already serialised by the IMMEDIATE transaction);
            # - jit off: the goods grouping's estimate crosses jit_above_cost, and compiling the
            #   plan took longer than the aggregation it was meant to speed up;
            # - serial plans: the window's orders come out of one range of order_grouped_goods into
            #   one hash by goods. A parallel plan hashes every goods in each worker and merges them,
            #   and the per-shop refund scans gain nothing from workers (once twice as slow on 1M
            #   orders; bench/results/metrics.md measures the serial plan against its floor);
            # - no wait for the WAL flush at commit: snapshots are derived and recomputable, and the
            #   job run recorded after this (a synchronous commit) flushes the WAL up to and past
            #   this transaction, so a run reported done is durable.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s), set_config('jit', 'off', true), "
                "set_config('max_parallel_workers_per_gather', '0', true), "
                "set_config('synchronous_commit', 'off', true)",
                [_ADVISORY_LOCK_KEY],
            )
        goods = _write_goods_rows(cursor, day, params)
        stored = ShopDaySnapshot.objects.filter(date=day).exists()
        cursor.execute(shop_snapshot_sql(stored=stored), params)
        cursor.execute(_SUMMARY.format(**table_names()), params)
        shops, flagged, restricted = cursor.fetchone()
    return ComputeResult(date=day, shops=shops, goods=goods, flagged_goods=flagged, restricted_goods=restricted)
