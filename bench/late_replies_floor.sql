-- The floor of bench/late_replies.py: SPEC §7.1 (late-reply violations and their fines) and §6.1
-- (deposit first, then goods balance, the rest to arrears) written by hand, set-based: the
-- violations (a recursive query: each conversation's first late message, then the first late one
-- after the last violation's due), their rank per shop and Shanghai year (ROW_NUMBER) and fine,
-- each split with a window sum, then every row the job writes by nine plain INSERT … SELECT /
-- UPDATE statements in one transaction, committed (the foreign keys checked at the commit, as the
-- job's commits check them). No batches, no locks beyond the statements' own, no start-up:
-- `psql -v now=… -v zone=… -v fines=… -v memo_before=… -v memo_after=… -f` this file.
-- The column lists and the fine ladder (¥100, ¥200, then ¥300) are spelled out here, not read from
-- the code; the memo's text around the message id is the code's (the bench passes it).
BEGIN;

-- A buyer message not answered by its own reply due (the late-reply watch), due by now.
CREATE TEMP TABLE floor_v ON COMMIT DROP AS
SELECT x.*, x.amount - x.from_deposit - x.from_balance AS arrears,
       nextval(pg_get_serial_sequence('compensation_ledgertransaction', 'id')) AS txn_id,
       nextval(pg_get_serial_sequence('compensation_charge', 'id')) AS charge_id,
       nextval(pg_get_serial_sequence('customerservice_latereplyviolation', 'id')) AS violation_id
FROM (
    -- Deposit first, then balance (both start >= 0 here): what the fines before this one left.
    SELECT d.*, LEAST(d.amount, GREATEST(dep.balance - d.before, 0)) AS from_deposit,
           LEAST(d.amount - LEAST(d.amount, GREATEST(dep.balance - d.before, 0)),
                 GREATEST(bal.balance - GREATEST(d.before - dep.balance, 0), 0)) AS from_balance,
           dep.id AS dep_id, bal.id AS bal_id, arr.id AS arr_id
    FROM (SELECT f.*, SUM(f.amount) OVER (PARTITION BY f.shop_id
                 ORDER BY f.due, f.platform_id COLLATE "C" ROWS UNBOUNDED PRECEDING) - f.amount AS before
          FROM (SELECT r.*, (CASE WHEN rank = 1 THEN 100.00 WHEN rank = 2 THEN 200.00 ELSE 300.00 END)::numeric(14, 2)
                           AS amount
                FROM (
                    WITH RECURSIVE starts AS (
                        (SELECT DISTINCT ON (m.conversation_id) m.id, m.conversation_id, m.platform_id, m.at,
                                m.reply_due_at AS due
                         FROM customerservice_message m
                         WHERE m.reply_due_at IS NOT NULL AND m.violation_id IS NULL
                           AND (m.answered_at IS NULL OR m.answered_at > m.reply_due_at)
                           AND m.reply_due_at <= :'now'::timestamptz
                         ORDER BY m.conversation_id, m.at, m.platform_id COLLATE "C")
                        UNION ALL
                        SELECT nxt.* FROM starts s CROSS JOIN LATERAL (
                            SELECT m.id, m.conversation_id, m.platform_id, m.at, m.reply_due_at
                            FROM customerservice_message m
                            WHERE m.conversation_id = s.conversation_id AND m.at > s.due
                              AND m.reply_due_at IS NOT NULL AND m.violation_id IS NULL
                              AND (m.answered_at IS NULL OR m.answered_at > m.reply_due_at)
                              AND m.reply_due_at <= :'now'::timestamptz
                            ORDER BY m.at, m.platform_id COLLATE "C" LIMIT 1) nxt
                    )
                    SELECT s.*, c.shop_id, c.buyer, EXTRACT(YEAR FROM s.due AT TIME ZONE :'zone')::int AS year,
                           ROW_NUMBER() OVER (PARTITION BY c.shop_id, EXTRACT(YEAR FROM s.due AT TIME ZONE :'zone')
                                              ORDER BY s.due, s.platform_id COLLATE "C") AS rank
                    FROM starts s JOIN customerservice_conversation c ON c.id = s.conversation_id
                ) r) f) d
    JOIN compensation_account dep ON dep.shop_id = d.shop_id AND dep.kind = 'deposit'
    JOIN compensation_account bal ON bal.shop_id = d.shop_id AND bal.kind = 'balance'
    JOIN compensation_account arr ON arr.shop_id = d.shop_id AND arr.kind = 'arrears'
) x;

INSERT INTO compensation_ledgertransaction (id, kind, shop_id, at, memo, recorded_at)
SELECT txn_id, 'late_reply', shop_id, due, :'memo_before' || platform_id || :'memo_after', now() FROM floor_v;

INSERT INTO compensation_entry (transaction_id, account_id, amount, at)
SELECT txn_id, dep_id, -from_deposit, due FROM floor_v WHERE from_deposit <> 0 UNION ALL
SELECT txn_id, bal_id, -from_balance, due FROM floor_v WHERE from_balance <> 0 UNION ALL
SELECT txn_id, arr_id, -arrears, due FROM floor_v WHERE arrears <> 0 UNION ALL
SELECT txn_id, :fines, amount, due FROM floor_v;

INSERT INTO compensation_charge (id, kind, cause, shop_id, violation_id, line_id, order_id, message, buyer, amount,
                                 from_deposit, from_balance, arrears, coupon_id, transaction_id, at)
SELECT charge_id, 'late_reply', 'late_reply:' || platform_id, shop_id, NULL, NULL, NULL, platform_id,
       buyer, amount, from_deposit, from_balance, arrears, NULL, txn_id, due FROM floor_v;

INSERT INTO customerservice_latereplyviolation (id, conversation_id, shop_id, message_id, due_at, year, rank, fine,
                                                charge_id, recorded_at)
SELECT violation_id, conversation_id, shop_id, id, due, year, rank, amount, charge_id, now() FROM floor_v;

-- Covered: the conversation's messages received from the starting one to its due and not answered
-- by then.
UPDATE customerservice_message m SET violation_id = v.violation_id FROM floor_v v
WHERE m.conversation_id = v.conversation_id AND m.at >= v.at AND m.at <= v.due
  AND m.reply_due_at IS NOT NULL AND m.violation_id IS NULL
  AND (m.answered_at IS NULL OR m.answered_at > v.due);

UPDATE customerservice_conversation c SET last_violation_at = v.last
FROM (SELECT conversation_id, MAX(due) AS last FROM floor_v GROUP BY conversation_id) v
WHERE c.id = v.conversation_id;

UPDATE compensation_account a SET balance = a.balance + m.delta FROM (
    SELECT dep_id AS id, -SUM(from_deposit) AS delta FROM floor_v GROUP BY dep_id UNION ALL
    SELECT bal_id, -SUM(from_balance) FROM floor_v GROUP BY bal_id UNION ALL
    SELECT arr_id, -SUM(arrears) FROM floor_v GROUP BY arr_id UNION ALL
    SELECT :fines, SUM(amount) FROM floor_v) m
WHERE a.id = m.id;

UPDATE shops_shop s SET deposit = d.balance, balance = b.balance
FROM compensation_account d, compensation_account b
WHERE d.shop_id = s.id AND d.kind = 'deposit' AND b.shop_id = s.id AND b.kind = 'balance'
  AND s.id IN (SELECT shop_id FROM floor_v);

COMMIT;
