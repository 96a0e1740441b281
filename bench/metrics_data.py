"""Bulk generator of realistic metrics data on PostgreSQL (bench only, never the tests).

1,000 shops of very different sizes (a few big ones, a long tail), 20 goods each in 40 categories
shared across shops, N orders placed over `days` days (60 by default) ending on LAST_DAY, whatever
the length, so a longer history only adds older days (97 % of them grouped, within two hours), and
~8 % of orders with an after-sales case: two thirds refunded, one in eight escalated to the
platform, a handful of orders with a second case. Each table is one INSERT … SELECT over
generate_series, so 1M orders take seconds, not minutes.

Logistics (SPEC §5.1, issue 17): shops have one of 12 main categories (one in ten has none),
2 % of orders ship to Xinjiang, grouped orders ship within a day and most are received; ~4 % of
orders get a logistics flag (a third of them fake shipments, on shipped orders), ~35 % of received
orders are rated, 1 star for the logistics in ~8 % of the ratings. With the logistics refunds,
well over 5 % of the orders have an anomaly source (the bench reports the share).
"""

import datetime as dt
from contextlib import contextmanager

from django.db import connection

SHOPS = 1_000
GOODS_PER_SHOP = 20
CATEGORIES = 40
DAYS = 60
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
LAST_DAY = (START + dt.timedelta(days=DAYS - 1)).date()  # the last full day of data, for every length
END = START + dt.timedelta(days=DAYS)


def start_for(days: int) -> dt.datetime:
    """The first moment of a history of `days` days ending with LAST_DAY."""
    return END - dt.timedelta(days=days)


_TABLES = (
    "metrics_goodsdaysnapshot, metrics_shopdaysnapshot, aftersales_refund, aftersales_casetransition, "
    "aftersales_evidence, aftersales_aftersalescase, shops_logisticsflag, shops_orderrating, shops_order, "
    "shops_goods, shops_shopmembership, shops_shop"
)

_SHOPS = """
INSERT INTO shops_shop (platform_id, name, deposit, balance, hotline, category, opened_at, changed_at)
SELECT 'S' || lpad(i::text, 5, '0'), '店铺' || i, 1000.00, 0.00, '13800138000',
       CASE WHEN i %% 10 = 0 THEN '' ELSE 'main' || (i %% 12) END, %(start)s, %(start)s
FROM generate_series(1, %(shops)s) i
"""

_GOODS = """
INSERT INTO shops_goods (platform_id, shop_id, name, category, special, warranty, warranty_mandatory,
                         listed_at, changed_at)
SELECT 'G' || lpad(s::text, 5, '0') || '-' || lpad(j::text, 2, '0'), s, '商品' || s || '-' || j,
       'cat' || ((s * 7 + j) %% %(categories)s), j %% 10 = 0, j %% 3 = 0, false, %(start)s, %(start)s
FROM generate_series(1, %(shops)s) s, generate_series(1, %(goods_per_shop)s) j
"""

# Shop id skewed by random()^2: shop 1 gets ~30× the orders of shop 1000. Goods skewed within the shop.
_ORDERS = """
WITH x AS MATERIALIZED (  -- materialised: each random() is drawn once per order, not once per use
    SELECT i, 1 + floor(%(shops)s * power(random(), 2))::int AS shop_id,
           floor(%(goods_per_shop)s * power(random(), 1.5))::int AS goods_offset,
           -- placed in id order, as an importer writes them: ids and heap follow time
           %(start)s::timestamptz + (i - 1 + random()) / %(orders)s * %(days)s * interval '1 day' AS placed_at,
           random() AS r, random() AS r_ship, random() AS r_to
    FROM generate_series(1, %(orders)s) i
)
INSERT INTO shops_order (platform_id, shop_id, goods_id, buyer, amount, placed_at, promised_ship_by,
                         grouped_at, shipped_at, received_at, tracking, ship_to, warranty, changed_at)
SELECT 'O' || lpad(i::text, 8, '0'), x.shop_id, g.id,
       'B' || floor(random() * 300000)::int, round((9.9 + random() * 190)::numeric, 2),
       x.placed_at, x.placed_at + interval '48 hours',
       CASE WHEN x.r < 0.97 THEN x.placed_at + x.r * interval '2 hours' END,
       CASE WHEN x.r < 0.97 AND x.r_ship < 0.95 THEN x.placed_at + (2 + x.r_ship * 20) * interval '1 hour' END,
       CASE WHEN x.r < 0.97 AND x.r_ship < 0.8 THEN x.placed_at + (2 + x.r_ship * 3) * interval '1 day' END,
       '', CASE WHEN x.r_to < 0.02 THEN '新疆维吾尔自治区' WHEN x.r_to < 0.5 THEN '浙江省' ELSE '广东省' END,
       false, x.placed_at
FROM x
JOIN shops_goods g
  ON g.platform_id = 'G' || lpad(x.shop_id::text, 5, '0') || '-' || lpad((1 + x.goods_offset)::text, 2, '0')
"""

_REASONS = (
    "ARRAY['quality_issue','not_as_described','counterfeit','defective','not_shipped','damaged_in_transit',"
    "'wrong_or_missing','lost_in_transit','changed_mind','changed_mind','other','quality_issue']"
)

# _IN_TIME_ORDER: cases, refunds, flags and ratings are inserted in the order of their time, as
# production writes each when it happens (an append-only row at its moment), so a window's rows
# share heap pages as they do there; orders are placed in id order for the same reason.

# One case for ~8 % of orders, opened 0–10 days after grouping (or placement).
_CASES = f"""
WITH picked AS MATERIALIZED (
    SELECT o.id, o.shop_id, o.amount, COALESCE(o.grouped_at, o.placed_at) AS since,
           random() AS r, random() AS r2
    FROM shops_order o
), y AS MATERIALIZED (
    SELECT p.id AS order_id, p.shop_id, p.amount, n,
           -- a second case is always opened after the first one was closed
           p.since + (n * 12 + random() * 10) * interval '1 day' AS opened_at,
           random() AS r1, random() < 0.125 AS intervened,
           CASE WHEN n = 0 AND p.r < 0.0805 * 0.05 THEN 'closed'
                WHEN p.r2 < 0.67 THEN 'refunded' WHEN p.r2 < 0.9 THEN 'closed' ELSE 'pending_merchant' END AS state
    FROM picked p CROSS JOIN LATERAL generate_series(0, CASE WHEN p.r < 0.0805 * 0.05 THEN 1 ELSE 0 END) n
    WHERE p.r < 0.0805
)
INSERT INTO aftersales_aftersalescase (
    platform_id, order_id, shop_id, kind, reason, amount, state, opened_at, submitted_at,
    intervened_at, escalated_at, resolved_at, close_reason, liable, buyer_statement, merchant_statement,
    ruling_note, return_receiver, return_phone, return_region, return_detail, return_tracking, changed_at)
SELECT 'C' || lpad(y.order_id::text, 8, '0') || y.n, y.order_id, y.shop_id,
       CASE WHEN y.r1 < 0.6 THEN 'refund_only' ELSE 'return_refund' END,
       ({_REASONS})[1 + floor(random() * 12)::int], y.amount,
       y.state, y.opened_at, y.opened_at,
       CASE WHEN y.intervened THEN y.opened_at + interval '3 days' + random() * interval '2 days' END,
       CASE WHEN y.intervened THEN y.opened_at + interval '3 days' END,
       CASE WHEN y.state IN ('refunded', 'closed') THEN y.opened_at + interval '6 days' END,
       CASE WHEN y.state = 'closed' THEN CASE WHEN y.intervened THEN 'ruled_for_merchant' ELSE 'buyer_cancelled' END
            ELSE '' END,
       CASE WHEN y.intervened AND y.state = 'refunded' THEN 'merchant'
            WHEN y.intervened AND y.state = 'closed' THEN 'buyer' ELSE '' END,
       '', '', '', '', '', '', '', '', y.opened_at
FROM y
ORDER BY 8  -- opened_at: rows are written when they happen (_IN_TIME_ORDER above)
"""

# An open case waits for the merchant for 48 hours (the forecast projects it refunded then).
_DUE = """
UPDATE aftersales_aftersalescase SET due_at = opened_at + interval '48 hours' WHERE state = 'pending_merchant'
"""

# ~4 % of grouped orders flagged once (a few twice), 1–10 days after grouping; fake shipments
# only on shipped orders.
_FLAGS = """
WITH k AS MATERIALIZED (  -- each random() drawn once per order
    SELECT o.id, o.shop_id, o.goods_id, o.grouped_at, o.shipped_at, random() AS r, random() AS r2, random() AS pick
    FROM shops_order o WHERE o.grouped_at IS NOT NULL
)
INSERT INTO shops_logisticsflag (order_id, shop_id, goods_id, kind, flagged_at)
SELECT k.id, k.shop_id, k.goods_id,
       CASE WHEN k.shipped_at IS NOT NULL AND k.r < 0.34 THEN 'fake_shipment'
            WHEN k.r < 0.67 THEN 'slow_delivery' ELSE 'complaint' END,
       k.grouped_at + (1 + k.r2 * 9 + n) * interval '1 day'
FROM k CROSS JOIN LATERAL generate_series(1, CASE WHEN k.pick < 0.002 THEN 2 ELSE 1 END) n
WHERE k.pick < 0.04
ORDER BY 5  -- flagged_at
"""

# ~35 % of received orders rated 1–15 days after receipt; 1 logistics star in ~8 % of them.
_RATINGS = """
WITH k AS MATERIALIZED (
    SELECT o.id, o.shop_id, o.goods_id, o.received_at, random() AS r, random() AS r2, random() AS pick
    FROM shops_order o WHERE o.received_at IS NOT NULL
)
INSERT INTO shops_orderrating (order_id, shop_id, goods_id, logistics, description, service, rated_at)
SELECT k.id, k.shop_id, k.goods_id,
       CASE WHEN k.r < 0.08 THEN 1 WHEN k.r < 0.15 THEN 3 ELSE 5 END,
       CASE WHEN k.r2 < 0.5 THEN 5 END, NULL,
       k.received_at + (1 + k.r2 * 14) * interval '1 day'
FROM k WHERE k.pick < 0.35
ORDER BY 7  -- rated_at
"""


_REFUNDS = """
INSERT INTO aftersales_refund (case_id, order_id, shop_id, goods_id, amount, reason, reason_class, intervened,
                               liable, refunded_at)
SELECT c.id, c.order_id, c.shop_id, o.goods_id, c.amount, c.reason,
       CASE WHEN c.reason IN ('quality_issue', 'not_as_described', 'counterfeit', 'defective') THEN 'quality'
            WHEN c.reason IN ('not_shipped', 'damaged_in_transit', 'wrong_or_missing', 'lost_in_transit')
            THEN 'logistics' ELSE 'other' END,
       c.intervened_at IS NOT NULL, c.liable,
       COALESCE(c.intervened_at + interval '1 day', c.opened_at + random() * interval '48 hours')
FROM aftersales_aftersalescase c JOIN shops_order o ON o.id = c.order_id
WHERE c.state = 'refunded'
ORDER BY 10  -- refunded_at
"""


@contextmanager
def _indexes_deferred(cursor, table: str):
    """Drop the secondary indexes and unique constraints of `table`, rebuild them afterwards:
    one sorted build per index is far cheaper than a million single-row index inserts."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND i.indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    for name, _definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def generate(*, orders: int = 1_000_000, days: int = DAYS, progress=print) -> dict[str, int]:
    """Replace every shop, goods, order, case and refund with a fresh synthetic set: `orders`
    orders placed over the `days` days up to LAST_DAY."""
    params = {
        "start": start_for(days),
        "shops": SHOPS,
        "goods_per_shop": GOODS_PER_SHOP,
        "categories": CATEGORIES,
        "orders": orders,
        "days": days,
    }
    counts = {}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
        # The rows are consistent by construction; skip the per-row foreign-key triggers.
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for name, table, sql in (
                ("shops", "shops_shop", _SHOPS),
                ("goods", "shops_goods", _GOODS),
                ("orders", "shops_order", _ORDERS),
                ("cases", "aftersales_aftersalescase", _CASES),
                ("refunds", "aftersales_refund", _REFUNDS),
                ("open cases given their deadline", "aftersales_aftersalescase", _DUE),
                ("logistics flags", "shops_logisticsflag", _FLAGS),
                ("ratings", "shops_orderrating", _RATINGS),
            ):
                with _indexes_deferred(cursor, table):
                    cursor.execute(sql, params)
                    counts[name] = cursor.rowcount
                cursor.execute(f"ANALYZE {table}")  # the next INSERT … SELECT reads it
                progress(f"  {name}: {counts[name]:,}")
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return counts
