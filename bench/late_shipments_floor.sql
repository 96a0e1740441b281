-- The floor of bench/late_shipments.py: SPEC §7.3 (late-shipment compensation) and §6.1 (deposit
-- first, then goods balance, the rest to arrears) written by hand, set-based: the late shipments
-- due (grouped by promised_ship_by, not shipped, refunded or declared out of stock by then, no
-- shipping charge yet), each priced and split with a window sum, then every row the job writes
-- (ledger transactions, entries, coupons, charges, account and shop balances, the orders' watch
-- cleared) by eight plain INSERT … SELECT / UPDATE statements in one transaction, committed (the
-- foreign keys checked at the commit, as the job's commits check them). No batches, no locks
-- beyond the statements' own, no start-up:
-- `psql -v now=… -v rate=… -v minimum=… -v maximum=… -v refunding=… -v liability=… -v days=…
--  -v memo_before=… -v memo_after=… -f` this file.
-- The column lists and the rule are spelled out here, not read from the code; the policy's figures,
-- the states that refund on their own and the memo's text around the order id are the code's (the
-- bench passes them).
BEGIN;

CREATE TEMP TABLE floor_due ON COMMIT DROP AS
SELECT x.*, x.amount - x.from_deposit - x.from_balance AS arrears,
       nextval(pg_get_serial_sequence('compensation_ledgertransaction', 'id')) AS txn_id,
       nextval(pg_get_serial_sequence('compensation_coupon', 'id')) AS coupon_id
FROM (
    -- Deposit first, then balance (both start >= 0 here): what the charges before this one left.
    SELECT d.*, LEAST(d.amount, GREATEST(dep.balance - d.before, 0)) AS from_deposit,
           LEAST(d.amount - LEAST(d.amount, GREATEST(dep.balance - d.before, 0)),
                 GREATEST(bal.balance - GREATEST(d.before - dep.balance, 0), 0)) AS from_balance,
           dep.id AS dep_id, bal.id AS bal_id, arr.id AS arr_id
    FROM (SELECT due.*, SUM(due.amount) OVER (PARTITION BY due.shop_id
                 ORDER BY due.at, due.platform_id COLLATE "C" ROWS UNBOUNDED PRECEDING) - due.amount AS before
          FROM (SELECT o.id AS order_id, o.shop_id, o.platform_id, o.buyer, o.promised_ship_by AS at,
                       LEAST(GREATEST(ROUND(o.amount * :rate, 2), :minimum), :maximum) AS amount
                FROM shops_order o
                WHERE o.late_shipment_due_at <= :'now' AND o.grouped_at <= o.promised_ship_by
                  AND (o.shipped_at IS NULL OR o.shipped_at > o.promised_ship_by)
                  AND (o.out_of_stock_at IS NULL OR o.out_of_stock_at > o.promised_ship_by)
                  AND NOT EXISTS (SELECT 1 FROM aftersales_refund r
                                  WHERE r.order_id = o.id AND r.refunded_at <= o.promised_ship_by)
                  AND NOT EXISTS (SELECT 1 FROM aftersales_aftersalescase c WHERE c.order_id = o.id
                                  AND c.state = ANY(:'refunding'::text[]) AND c.due_at <= o.promised_ship_by)
                  AND NOT EXISTS (SELECT 1 FROM compensation_charge ch WHERE ch.order_id = o.id
                                  AND ch.kind IN ('late_shipment', 'out_of_stock'))) due) d
    JOIN compensation_account dep ON dep.shop_id = d.shop_id AND dep.kind = 'deposit'
    JOIN compensation_account bal ON bal.shop_id = d.shop_id AND bal.kind = 'balance'
    JOIN compensation_account arr ON arr.shop_id = d.shop_id AND arr.kind = 'arrears'
) x;

INSERT INTO compensation_ledgertransaction (id, kind, shop_id, at, memo, recorded_at)
SELECT txn_id, 'late_shipment', shop_id, at, :'memo_before' || platform_id || :'memo_after', now() FROM floor_due;

INSERT INTO compensation_entry (transaction_id, account_id, amount, at)
SELECT txn_id, dep_id, -from_deposit, at FROM floor_due WHERE from_deposit <> 0 UNION ALL
SELECT txn_id, bal_id, -from_balance, at FROM floor_due WHERE from_balance <> 0 UNION ALL
SELECT txn_id, arr_id, -arrears, at FROM floor_due WHERE arrears <> 0 UNION ALL
SELECT txn_id, :liability, amount, at FROM floor_due;

INSERT INTO compensation_coupon (id, code, buyer, face_value, min_spend, scope, issued_at, expires_at, status)
SELECT coupon_id, upper(substr(md5(random()::text), 1, 16)), buyer, amount, 0, 'platform', at,
       at + :days * interval '1 day', 'active'
FROM floor_due;

INSERT INTO compensation_charge (kind, cause, shop_id, order_id, message, buyer, amount, from_deposit, from_balance,
                                 arrears, coupon_id, transaction_id, at)
SELECT 'late_shipment', 'shipping:' || platform_id, shop_id, order_id, '', buyer, amount, from_deposit, from_balance,
       arrears, coupon_id, txn_id, at
FROM floor_due;

UPDATE compensation_account a SET balance = a.balance + m.delta
FROM (SELECT dep_id AS id, -SUM(from_deposit) AS delta FROM floor_due GROUP BY dep_id UNION ALL
      SELECT bal_id, -SUM(from_balance) FROM floor_due GROUP BY bal_id UNION ALL
      SELECT arr_id, -SUM(arrears) FROM floor_due GROUP BY arr_id UNION ALL
      SELECT :liability, SUM(amount) FROM floor_due) m
WHERE a.id = m.id;

UPDATE shops_shop s SET deposit = d.balance, balance = b.balance
FROM compensation_account d, compensation_account b
WHERE d.shop_id = s.id AND d.kind = 'deposit' AND b.shop_id = s.id AND b.kind = 'balance'
  AND s.id IN (SELECT shop_id FROM floor_due);

UPDATE shops_order SET late_shipment_due_at = NULL WHERE late_shipment_due_at <= :'now';

COMMIT;
