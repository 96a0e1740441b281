-- The floor of bench/process_deadlines.py: the case part of `process_deadlines` written by hand
-- as one statement. One UPDATE … RETURNING moves every due case (SPEC §2.3: pending_merchant and
-- return_shipped are refunded, the buyer's waiting states close as buyer_overdue, each stamped
-- with its deadline) and feeds the INSERTs of their log rows and of the refunds of the cases it
-- refunded: the same rows the job writes (the bench checks they are equal). No batches, no
-- locks beyond the UPDATE's own, no start-up: `psql -v now=… -f` this file, one transaction.
-- The column lists and the reason → class map are spelled out here, not read from the code.
BEGIN;
WITH due AS (
    SELECT id, state FROM aftersales_aftersalescase
    WHERE due_at <= :'now'::timestamptz
      AND state IN ('pending_merchant', 'merchant_refused', 'awaiting_return', 'return_shipped', 'return_refused')
), moved AS (
    UPDATE aftersales_aftersalescase c SET
        state = CASE due.state WHEN 'pending_merchant' THEN 'refunded' WHEN 'return_shipped' THEN 'refunded'
                ELSE 'closed' END,
        close_reason = CASE WHEN due.state IN ('merchant_refused', 'awaiting_return', 'return_refused')
                       THEN 'buyer_overdue' ELSE c.close_reason END,
        due_at = NULL, resolved_at = c.due_at, changed_at = c.due_at, updated_at = now()
    FROM due WHERE c.id = due.id
    RETURNING c.id, c.state, c.changed_at, c.order_id, c.shop_id, c.amount, c.reason, c.intervened_at, c.liable,
        due.state AS from_state
), logged AS (
    INSERT INTO aftersales_casetransition
        (case_id, transition, from_state, to_state, actor_kind, actor_id, at, note, recorded_at)
    SELECT id,
        CASE from_state WHEN 'pending_merchant' THEN 'auto_agree' WHEN 'return_shipped' THEN 'auto_refund'
        ELSE 'expire' END,
        from_state, state, 'system', NULL, changed_at, '', now()
    FROM moved
)
INSERT INTO aftersales_refund
    (case_id, order_id, shop_id, goods_id, amount, reason, reason_class, intervened, liable, refunded_at)
SELECT m.id, m.order_id, m.shop_id, o.goods_id, m.amount, m.reason,
    CASE WHEN m.reason IN ('quality_issue', 'not_as_described', 'counterfeit', 'defective') THEN 'quality'
         WHEN m.reason IN ('not_shipped', 'damaged_in_transit', 'wrong_or_missing', 'lost_in_transit')
         THEN 'logistics' ELSE 'other' END,
    m.intervened_at IS NOT NULL, m.liable, m.changed_at
FROM moved m JOIN shops_order o ON o.id = m.order_id
WHERE m.state = 'refunded';
COMMIT;
