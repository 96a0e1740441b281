-- The floor of bench/metrics.py (#20.3): one day's shop AND goods figures of SPEC §5 and §5.1,
-- written by hand as directly as SQL allows, into two temporary tables (the subject writes its
-- rows into the snapshot tables; the check compares them column by column). Two statements:
-- the goods rows (grouped orders, quality and dispute refund orders, logistics anomaly orders,
-- window and day, and their category's figures), then the shop rows (the goods rows summed, the
-- interventions counted from the cases, the shops' main-category figures).
-- {refund} is aftersales_refund itself, or its window read shop by shop (bench/metrics.py runs
-- both and holds compute_metrics to the faster); %(start)s, %(day_start)s, %(end)s are the
-- window's UTC bounds. Flags and streaks (integer comparisons on these columns) are left out.
CREATE TEMPORARY TABLE floor_goods ON COMMIT DROP AS
WITH o AS (
    SELECT goods_id, COUNT(*) AS grouped, COUNT(*) FILTER (WHERE grouped_at >= %(day_start)s) AS day_grouped
    FROM shops_order WHERE grouped_at >= %(start)s AND grouped_at < %(end)s
    GROUP BY goods_id
), r AS (
    SELECT goods_id,
        COUNT(DISTINCT order_id) FILTER (WHERE reason_class = 'quality') AS quality,
        COUNT(DISTINCT order_id) FILTER (WHERE reason_class = 'quality' AND refunded_at >= %(day_start)s)
            AS day_quality,
        COUNT(DISTINCT order_id) FILTER (WHERE intervened AND liable = 'merchant') AS dispute,
        COUNT(DISTINCT order_id) FILTER (WHERE intervened AND liable = 'merchant' AND refunded_at >= %(day_start)s)
            AS day_dispute
    FROM {refund} refund WHERE refunded_at >= %(start)s AND refunded_at < %(end)s
    GROUP BY goods_id
), l AS (
    -- SPEC §5.1: orders with any anomaly source in the window; Xinjiang ones only for a fake shipment
    SELECT goods_id, COUNT(*) AS logistics, COUNT(*) FILTER (WHERE on_day) AS day_logistics
    FROM (
        SELECT s.goods_id, s.order_id, bool_or(s.at >= %(day_start)s) AS on_day
        FROM (
            SELECT goods_id, order_id, flagged_at AS at, kind = 'fake_shipment' AS everywhere
            FROM shops_logisticsflag WHERE flagged_at >= %(start)s AND flagged_at < %(end)s
            UNION ALL
            SELECT goods_id, order_id, refunded_at, false FROM {refund} refund
            WHERE refunded_at >= %(start)s AND refunded_at < %(end)s AND reason_class = 'logistics'
            UNION ALL
            SELECT goods_id, order_id, rated_at, false FROM shops_orderrating
            WHERE rated_at >= %(start)s AND rated_at < %(end)s AND logistics = 1
        ) s
        LEFT JOIN shops_order x ON x.id = s.order_id AND x.ship_to LIKE '新疆%%'
        WHERE s.everywhere OR x.id IS NULL
        GROUP BY s.goods_id, s.order_id
    ) per_order
    GROUP BY goods_id
), counts AS (
    SELECT g.id AS goods_id, g.shop_id, g.category,
        COALESCE(o.grouped, 0) AS grouped_orders, COALESCE(o.day_grouped, 0) AS day_grouped_orders,
        COALESCE(r.quality, 0) AS quality_refund_orders, COALESCE(r.day_quality, 0) AS day_quality_refund_orders,
        COALESCE(r.dispute, 0) AS dispute_refund_orders, COALESCE(r.day_dispute, 0) AS day_dispute_refund_orders,
        COALESCE(l.logistics, 0) AS logistics_anomaly_orders, COALESCE(l.day_logistics, 0)
            AS day_logistics_anomaly_orders
    FROM shops_goods g
    LEFT JOIN o ON o.goods_id = g.id LEFT JOIN r ON r.goods_id = g.id LEFT JOIN l ON l.goods_id = g.id
)
SELECT c.*,
    SUM(c.grouped_orders) OVER w AS category_grouped_orders,
    SUM(c.quality_refund_orders) OVER w AS category_quality_refund_orders,
    COUNT(*) FILTER (WHERE c.grouped_orders > 0) OVER w AS category_goods,
    SUM(c.logistics_anomaly_orders) OVER w AS category_logistics_anomaly_orders
FROM counts c
WINDOW w AS (PARTITION BY c.category);

CREATE TEMPORARY TABLE floor_shops ON COMMIT DROP AS
WITH g AS (
    SELECT shop_id, SUM(grouped_orders) AS grouped, SUM(day_grouped_orders) AS day_grouped,
        SUM(dispute_refund_orders) AS dispute, SUM(day_dispute_refund_orders) AS day_dispute,
        SUM(quality_refund_orders) AS quality, SUM(day_quality_refund_orders) AS day_quality,
        SUM(logistics_anomaly_orders) AS logistics, SUM(day_logistics_anomaly_orders) AS day_logistics
    FROM floor_goods GROUP BY shop_id
), c AS (
    SELECT shop_id, COUNT(DISTINCT order_id) AS intervention,
        COUNT(DISTINCT order_id) FILTER (WHERE intervened_at >= %(day_start)s) AS day_intervention
    FROM aftersales_aftersalescase WHERE intervened_at >= %(start)s AND intervened_at < %(end)s
    GROUP BY shop_id
), counts AS (
    SELECT s.id AS shop_id, s.category,
        COALESCE(g.grouped, 0) AS grouped_orders, COALESCE(g.dispute, 0) AS dispute_refund_orders,
        COALESCE(g.quality, 0) AS quality_refund_orders, COALESCE(c.intervention, 0) AS intervention_orders,
        COALESCE(g.logistics, 0) AS logistics_anomaly_orders, COALESCE(g.day_grouped, 0) AS day_grouped_orders,
        COALESCE(g.day_dispute, 0) AS day_dispute_refund_orders, COALESCE(g.day_quality, 0)
            AS day_quality_refund_orders,
        COALESCE(c.day_intervention, 0) AS day_intervention_orders, COALESCE(g.day_logistics, 0)
            AS day_logistics_anomaly_orders
    FROM shops_shop s LEFT JOIN g ON g.shop_id = s.id LEFT JOIN c ON c.shop_id = s.id
)
SELECT c.*,
    SUM(c.grouped_orders) OVER w AS category_grouped_orders,
    SUM(c.logistics_anomaly_orders) OVER w AS category_logistics_anomaly_orders,
    COUNT(*) FILTER (WHERE c.grouped_orders > 0) OVER w AS category_shops
FROM counts c
WINDOW w AS (PARTITION BY c.category);
