"""The row locks the automatic charges' reads take on PostgreSQL (FOR NO KEY UPDATE): a batch's late
orders and its conversations are kept from their writers, who lock them FOR UPDATE, but a row
inserted beside them (a case on the order, a message's foreign-key check) takes KEY SHARE and does
not wait for the job."""

import datetime as dt
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from compensation.services import charges, ledger
from compensation.services.shipping import LateShipment
from customerservice.models import Conversation
from customerservice.services.late_reply import LateReply
from pddadmin.shops.models import Order
from tests.conftest import at
from tests.customerservice.conftest import open_shop, receive
from tests.feed.helpers import Feed, run_import

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PSB = at("2026-03-03 18:00")


def attempts(table: str, pk: int) -> dict[str, str]:
    """From another session, while the job's batch holds the row: a foreign-key check's lock
    (KEY SHARE) and a writer's (FOR UPDATE), each given up at once if it would wait."""
    outcomes: dict[str, str] = {}

    def other_session() -> None:
        try:
            for name, clause in (("key share", "FOR KEY SHARE"), ("for update", "FOR UPDATE")):
                with transaction.atomic(), connection.cursor() as cur:
                    try:
                        cur.execute(f"SELECT 1 FROM {table} WHERE id = %s {clause} NOWAIT", [pk])
                        outcomes[name] = "granted"
                    except OperationalError:
                        outcomes[name] = "refused"
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_session)
    thread.start()
    thread.join(timeout=30)
    return outcomes


def test_a_late_orders_lock_keeps_its_writers_out_but_not_a_row_pointing_at_it(tmp_path, postgres_only):
    feed = Feed()
    feed.shop(PSB - dt.timedelta(days=4), "S1", deposit="100.00")
    feed.order(PSB - dt.timedelta(days=3), "O1", "S1", amount="200.00", promised_ship_by=PSB, grouped=PSB)
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines(feed.in_time_order()))
    assert (code, rejected) == (0, []), err
    order = Order.objects.get(platform_id="O1")
    with transaction.atomic():
        ledger.lock_books(shop_id=order.shop_id)
        offer = LateShipment().due(shop_ids=[order.shop_id], now=PSB, limit=charges.BATCH, nowait=True)
        assert [pk for _key, pk in offer.candidates] == [order.pk]
        assert attempts(Order._meta.db_table, order.pk) == {"key share": "granted", "for update": "refused"}


def test_a_conversations_lock_keeps_its_writers_out_but_not_a_row_pointing_at_it(postgres_only):
    shop = open_shop()
    message = receive(shop, "B1", at("2026-01-01 10:00"))
    with transaction.atomic():
        ledger.lock_books(shop_id=shop.pk)
        offer = LateReply().due(shop_ids=[shop.pk], now=at("2026-01-04 10:00"), limit=charges.BATCH, nowait=True)
        assert [pk for _key, pk in offer.candidates] == [message.pk]
        assert attempts(Conversation._meta.db_table, message.conversation_id) == {
            "key share": "granted",
            "for update": "refused",
        }
