"""Writing the daily snapshots (SPEC §5). One function, called by `compute_metrics` and the schedule.

The whole day is a handful of set-based statements, so the work stays in the database whatever
the number of shops:
1. one row per goods: grouped and quality refund orders of the window and the day (one scan of
   the window's orders, grouped by goods), its category's figures (window functions over the same
   rows), the 3× / 5× flags, and the consecutive-day streaks carried on from the previous day's
   snapshot;
2. one row per shop: grouped orders summed from (1), numerators from refunds and cases by shop.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from aftersales.models import AfterSalesCase, Liable, ReasonClass, Refund
from pddadmin.shops.models import Goods, Order, Shop

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


_GOODS_COUNTS = """
SELECT g.id AS goods_id, g.shop_id, g.category,
    COALESCE(o.grouped, 0) AS grouped, COALESCE(o.day_grouped, 0) AS day_grouped,
    COALESCE(q.quality, 0) AS quality, COALESCE(q.day_quality, 0) AS day_quality
FROM {goods} g
LEFT JOIN (
    SELECT goods_id, COUNT(*) AS grouped,
        COUNT(CASE WHEN grouped_at >= %(day_start)s THEN 1 END) AS day_grouped
    FROM {order}
    WHERE grouped_at >= %(start)s AND grouped_at < %(end)s
    GROUP BY goods_id
) o ON o.goods_id = g.id
LEFT JOIN (
    SELECT qr.goods_id, COUNT(DISTINCT qr.order_id) AS quality,
        COUNT(DISTINCT CASE WHEN qr.refunded_at >= %(day_start)s THEN qr.order_id END) AS day_quality
    FROM (
        -- The scalar subquery keeps this a primary-key lookup per quality refund of the window
        -- (a few percent of orders) instead of a second scan of every order.
        SELECT r.order_id, r.refunded_at, (SELECT ro.goods_id FROM {order} ro WHERE ro.id = r.order_id) AS goods_id
        FROM {refund} r
        WHERE r.reason_class = %(quality)s AND r.refunded_at >= %(start)s AND r.refunded_at < %(end)s
    ) qr
    GROUP BY qr.goods_id
) q ON q.goods_id = g.id
"""

# Category figures are over every shop's goods of the category on the same day.
_WITH_CATEGORY = """
SELECT t.*,
    SUM(t.grouped) OVER (PARTITION BY t.category) AS cat_grouped,
    SUM(t.quality) OVER (PARTITION BY t.category) AS cat_quality,
    SUM(CASE WHEN t.grouped > 0 THEN 1 ELSE 0 END) OVER (PARTITION BY t.category) AS cat_goods
FROM ({inner}) t
"""

# rate > k × category rate  ⇔  q / grouped > k · cq / cg  ⇔  q · cg > k · cq · grouped (grouped, cg > 0);
# count > k × category count  ⇔  q > k · cq / n  ⇔  q · n > k · cq. Integers only: no float edge cases.
_OVER = (
    "(c.grouped > 0 AND c.quality * c.cat_grouped > {k} * c.cat_quality * c.grouped"
    " AND c.quality * c.cat_goods > {k} * c.cat_quality)"
)

_WITH_FLAGS = f"""
SELECT c.*,
    CASE WHEN {_OVER.format(k=3)} THEN 1 ELSE 0 END AS over3,
    CASE WHEN {_OVER.format(k=5)} THEN 1 ELSE 0 END AS over5
FROM ({{inner}}) c
"""

_WITH_STREAKS = """
SELECT f.*,
    CASE WHEN f.over3 = 1 THEN COALESCE(p.streak_3x, 0) + 1 ELSE 0 END AS streak3,
    CASE WHEN f.over5 = 1 THEN COALESCE(p.streak_5x, 0) + 1 ELSE 0 END AS streak5,
    p.restriction AS prev_restriction, p.restricted_since AS prev_since
FROM ({inner}) f
LEFT JOIN (
    -- only yesterday's flagged goods can carry a streak (partial index goods_snapshot_flagged)
    SELECT goods_id, streak_3x, streak_5x, restriction, restricted_since
    FROM {snapshot}
    WHERE date = %(previous)s AND streak_3x > 0
) p ON p.goods_id = f.goods_id
"""

# Each goods' final row, built in a temporary table first: PostgreSQL runs CREATE TABLE … AS
# with parallel workers (an INSERT … SELECT never does), and the orders scan is most of the work.
_GOODS_DAY = "metrics_goods_day"
_CREATE_GOODS_DAY = """
CREATE TEMPORARY TABLE {goods_day} AS
SELECT s.goods_id, s.shop_id, s.category, s.grouped AS grouped_orders, s.day_grouped AS day_grouped_orders,
    s.quality AS quality_refund_orders, s.day_quality AS day_quality_refund_orders,
    s.cat_grouped AS category_grouped_orders, s.cat_quality AS category_quality_refund_orders,
    s.cat_goods AS category_goods,
    CASE WHEN s.over5 = 1 THEN %(over_5x)s WHEN s.over3 = 1 THEN %(over_3x)s ELSE '' END AS flag,
    s.streak3 AS streak_3x, s.streak5 AS streak_5x,
    CASE WHEN s.streak5 >= %(days)s THEN %(over_5x)s WHEN s.streak3 >= %(days)s THEN %(over_3x)s ELSE '' END
        AS restriction,
    -- a restriction keeps the day it started while it holds (also when it rises from 3× to 5×)
    CASE WHEN s.streak3 >= %(days)s THEN
        CASE WHEN s.prev_restriction <> '' THEN s.prev_since ELSE %(date)s END
    END AS restricted_since
FROM ({inner}) s
"""

_GOODS_COLUMNS = (
    "goods_id, shop_id, category, grouped_orders, day_grouped_orders, quality_refund_orders, "
    "day_quality_refund_orders, category_grouped_orders, category_quality_refund_orders, category_goods, "
    "flag, streak_3x, streak_5x, restriction, restricted_since"
)
_INSERT_GOODS = f"""
INSERT INTO {{snapshot}} ({_GOODS_COLUMNS}, date, computed_at)
SELECT {_GOODS_COLUMNS}, %(date)s, %(now)s FROM {{goods_day}}
ORDER BY goods_id  -- index entries in key order: fewer pages touched than in category order
"""

# Grouped orders are summed from the goods rows (an order has one goods, so the sum is exact
# and the orders are scanned once); the numerators count distinct orders per shop
# straight from refunds and cases, which carry their shop.
_INSERT_SHOPS = """
INSERT INTO {shop_snapshot} (
    shop_id, date,
    grouped_orders, dispute_refund_orders, quality_refund_orders, intervention_orders, logistics_anomaly_orders,
    day_grouped_orders, day_dispute_refund_orders, day_quality_refund_orders, day_intervention_orders,
    day_logistics_anomaly_orders, flagged_goods, restricted_goods, computed_at
)
SELECT sh.id, %(date)s,
    COALESCE(g.grouped, 0), COALESCE(r.dispute, 0), COALESCE(r.quality, 0), COALESCE(c.intervention, 0),
    COALESCE(r.logistics, 0),
    COALESCE(g.day_grouped, 0), COALESCE(r.day_dispute, 0), COALESCE(r.day_quality, 0),
    COALESCE(c.day_intervention, 0), COALESCE(r.day_logistics, 0),
    COALESCE(g.flagged, 0), COALESCE(g.restricted, 0), %(now)s
FROM {shop} sh
LEFT JOIN (
    SELECT shop_id, SUM(grouped_orders) AS grouped, SUM(day_grouped_orders) AS day_grouped,
        COUNT(CASE WHEN flag <> '' THEN 1 END) AS flagged, COUNT(CASE WHEN restriction <> '' THEN 1 END) AS restricted
    FROM {goods_day}
    GROUP BY shop_id
) g ON g.shop_id = sh.id
LEFT JOIN (
    SELECT shop_id,
        COUNT(DISTINCT CASE WHEN intervened = %(true)s AND liable = %(merchant)s THEN order_id END) AS dispute,
        COUNT(DISTINCT CASE WHEN intervened = %(true)s AND liable = %(merchant)s
            AND refunded_at >= %(day_start)s THEN order_id END) AS day_dispute,
        COUNT(DISTINCT CASE WHEN reason_class = %(quality)s THEN order_id END) AS quality,
        COUNT(DISTINCT CASE WHEN reason_class = %(quality)s
            AND refunded_at >= %(day_start)s THEN order_id END) AS day_quality,
        COUNT(DISTINCT CASE WHEN reason_class = %(logistics)s THEN order_id END) AS logistics,
        COUNT(DISTINCT CASE WHEN reason_class = %(logistics)s
            AND refunded_at >= %(day_start)s THEN order_id END) AS day_logistics
    FROM {refund}
    WHERE refunded_at >= %(start)s AND refunded_at < %(end)s
    GROUP BY shop_id
) r ON r.shop_id = sh.id
LEFT JOIN (
    SELECT shop_id, COUNT(DISTINCT order_id) AS intervention,
        COUNT(DISTINCT CASE WHEN intervened_at >= %(day_start)s THEN order_id END) AS day_intervention
    FROM {case}
    WHERE intervened_at >= %(start)s AND intervened_at < %(end)s
    GROUP BY shop_id
) c ON c.shop_id = sh.id
"""


def _tables() -> dict[str, str]:
    qn = connection.ops.quote_name
    return {
        "goods": qn(Goods._meta.db_table),
        "order": qn(Order._meta.db_table),
        "refund": qn(Refund._meta.db_table),
        "case": qn(AfterSalesCase._meta.db_table),
        "shop": qn(Shop._meta.db_table),
        "snapshot": qn(GoodsDaySnapshot._meta.db_table),
        "goods_snapshot": qn(GoodsDaySnapshot._meta.db_table),
        "shop_snapshot": qn(ShopDaySnapshot._meta.db_table),
        "goods_day": qn(_GOODS_DAY),
    }


def goods_day_sql() -> str:
    tables = _tables()
    sql = _GOODS_COUNTS.format(**tables)
    sql = _WITH_CATEGORY.format(inner=sql)
    sql = _WITH_FLAGS.format(inner=sql)
    sql = _WITH_STREAKS.format(inner=sql, snapshot=tables["snapshot"])
    return _CREATE_GOODS_DAY.format(inner=sql, goods_day=tables["goods_day"])


def goods_snapshot_sql() -> str:
    return _INSERT_GOODS.format(**_tables())


def shop_snapshot_sql() -> str:
    return _INSERT_SHOPS.format(**_tables())


def _params(day: dt.date, now: dt.datetime, consecutive_days: int) -> dict:
    ops = connection.ops
    window = window_for(day)
    return {
        "date": ops.adapt_datefield_value(day),
        "previous": ops.adapt_datefield_value(day - dt.timedelta(days=1)),
        "start": ops.adapt_datetimefield_value(window.start),
        "day_start": ops.adapt_datetimefield_value(window.day_start),
        "end": ops.adapt_datetimefield_value(window.end),
        "now": ops.adapt_datetimefield_value(now),
        "true": True,
        "merchant": Liable.MERCHANT.value,
        "quality": ReasonClass.QUALITY.value,
        "logistics": ReasonClass.LOGISTICS.value,
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
    params = _params(day, timezone.now(), consecutive_days)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two copies running for the same day would both delete, then collide on insert.
            # (SQLite writers are already serialised by the IMMEDIATE transaction.)
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
            # The per-refund subquery inflates the cost estimate past jit_above_cost; compiling
            # the plan then took longer (~0.4 s) than the whole aggregation it was meant to speed up.
            cursor.execute("SET LOCAL jit = off")
        GoodsDaySnapshot.objects.filter(date=day).delete()
        ShopDaySnapshot.objects.filter(date=day).delete()
        goods_day = _tables()["goods_day"]
        cursor.execute(f"DROP TABLE IF EXISTS {goods_day}")
        cursor.execute(goods_day_sql(), params)
        cursor.execute(goods_snapshot_sql(), params)
        goods = cursor.rowcount
        cursor.execute(shop_snapshot_sql(), params)
        shops = cursor.rowcount
        cursor.execute(
            f"SELECT COUNT(CASE WHEN flag <> '' THEN 1 END), COUNT(CASE WHEN restriction <> '' THEN 1 END) "
            f"FROM {goods_day}"
        )
        flagged, restricted = cursor.fetchone()
        cursor.execute(f"DROP TABLE {goods_day}")
    return ComputeResult(date=day, shops=shops, goods=goods, flagged_goods=flagged, restricted_goods=restricted)
