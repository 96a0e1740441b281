-- The floor of bench/import_events.py (2): what an import of N order.placed lines writes, as COPY
-- of the same rows into the same tables (their indexes and constraints as they are): the
-- imported-event records, then the orders with every column the importer writes. Run by
-- `psql -1 -f` (one transaction, as one chunk's) in the directory holding events.tsv and
-- orders.tsv, which the bench renders from the same feed.
\copy feed_importedevent (event_id, type, at, imported_at) FROM 'events.tsv'
\copy shops_order (platform_id, shop_id, goods_id, buyer, amount, placed_at, promised_ship_by, aftersales_until, ship_to, warranty, changed_at, tracking) FROM 'orders.tsv'
