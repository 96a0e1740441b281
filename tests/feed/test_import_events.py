"""SPEC §8: the envelope contract of `import_events`, on the foundation event types."""

import datetime as dt
import io
import json
import sys
from decimal import Decimal

import pytest

from aftersales.models import ReturnAddress
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.models import Goods, Order, Shop

from .helpers import feed_line, run_import

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

WORLD = [
    feed_line("e1", "shop.opened", shop="S1", name="旗舰店", deposit="1000.00", hotline="13800138000"),
    feed_line("e2", "goods.listed", shop="S1", goods="G1", name="手机", category="digital", warranty=True,
              warranty_mandatory=True),
    feed_line("e3", "goods.listed", shop="S1", goods="G2", name="苹果", category="fruit", special=True),
    feed_line("e4", "order.placed", at="2026-01-02T10:00:00+08:00", order="O1", shop="S1", goods="G1",
              buyer="B1", amount="59.90", promised_ship_by="2026-01-04T10:00:00+08:00"),
    feed_line("e5", "order.grouped", at="2026-01-02T10:05:00+08:00", order="O1"),
    feed_line("e6", "order.shipped", at="2026-01-03T09:00:00+08:00", order="O1", tracking="SF100"),
    feed_line("e7", "order.received", at="2026-01-05T09:00:00+08:00", order="O1"),
    feed_line("e8", "address.added", shop="S1", address="A1", receiver="张三", phone="0571-88886666",
              region="浙江省/杭州市/西湖区", detail="文三路1号"),
]


def test_a_feed_applies_every_event_in_order(tmp_path):
    code, out, rejected, err = run_import(tmp_path / "feed.jsonl", *WORLD)

    assert (code, rejected, err) == (0, [], "")
    assert "8 applied" in out
    shop = Shop.objects.get(platform_id="S1")
    assert shop.deposit == Decimal("1000.00") and shop.hotline == "13800138000"
    order = Order.objects.get(platform_id="O1")
    assert order.shop == shop and order.goods.platform_id == "G1" and order.warranty is True
    assert order.amount == Decimal("59.90")
    assert order.grouped_at == dt.datetime(2026, 1, 2, 10, 5, tzinfo=SHANGHAI)
    assert order.tracking == "SF100" and order.received_at is not None
    address = ReturnAddress.objects.get(platform_id="A1")
    assert address.is_default and (address.province, address.city, address.district) == ("浙江省", "杭州市", "西湖区")


def test_importing_the_same_feed_twice_applies_it_once(tmp_path):
    path = tmp_path / "feed.jsonl"
    run_import(path, *WORLD)
    snapshot = list(Order.objects.values()), list(Shop.objects.values()), ImportedEvent.objects.count()

    code, out, rejected, _ = run_import(path)

    assert (code, rejected) == (0, [])
    assert "0 applied, 8 skipped" in out
    assert (list(Order.objects.values()), list(Shop.objects.values()), ImportedEvent.objects.count()) == snapshot


def test_bad_lines_are_rejected_by_number_and_the_rest_applied(tmp_path):
    lines = [
        *WORLD[:3],  # 1-3 good
        '{"id": "x1", "type": ',  # 4 malformed JSON
        feed_line("x2", "order.teleported", order="O1"),  # 5 unknown type
        feed_line("x3", "goods.listed", shop="NOPE", goods="G9", name="n", category="c"),  # 6 unknown shop
        feed_line("x4", "order.placed", order="O9", shop="S1", goods="G404", buyer="B", amount="1.00",
                  promised_ship_by="2026-01-04T10:00:00+08:00"),  # 7 unknown goods
        feed_line("x5", "order.shipped", order="O404", tracking="T"),  # 8 unknown order
        feed_line("x6", "order.placed", order="O2", shop="S1", goods="G1", buyer="B", amount="abc",
                  promised_ship_by="2026-01-04T10:00:00+08:00"),  # 9 bad amount
        feed_line("x7", "goods.warranty_changed", goods="G1", warranty=False),  # 10 mandatory warranty off
        feed_line("x8", "order.placed", at="2026-01-02T10:00:00+08:00", order="O3", shop="S1", goods="G2",
                  buyer="B", amount="9.90", promised_ship_by="2026-01-04T10:00:00+08:00"),  # 11 good
        feed_line("x9", "order.grouped", at="2026-01-03T10:00:00+08:00", order="O3"),  # 12 good
        feed_line("x10", "order.shipped", at="2026-01-02T12:00:00+08:00", order="O3", tracking="T1"),  # 13 older
        feed_line("x11", "shop.opened", shop="S2", name="二店", hotline="12345"),  # 14 invalid hotline
        feed_line("x12", "shop.opened", shop="S3", name="三店", hotline="010-12345678"),  # 15 good
    ]
    code, out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)

    assert code == 1
    assert rejected == [4, 5, 6, 7, 8, 9, 10, 13, 14]
    assert "6 applied" in out and "9 rejected" in out
    reasons = dict(line.split(": ", 1) for line in err.strip().splitlines())
    assert "malformed JSON" in reasons["line 4"]
    assert "order.teleported" in reasons["line 5"]
    assert "NOPE" in reasons["line 6"]
    assert "G404" in reasons["line 7"]
    assert "O404" in reasons["line 8"]
    assert "amount" in reasons["line 9"]
    assert "mandatory" in reasons["line 10"]
    assert "older than the last change of order O3" in reasons["line 13"]
    assert "12345" in reasons["line 14"]
    # Nothing of a rejected line was applied; everything else was.
    assert Goods.objects.get(platform_id="G1").warranty is True
    assert not Order.objects.filter(platform_id__in=["O2", "O9"]).exists()
    assert Order.objects.get(platform_id="O3").shipped_at is None
    assert set(Shop.objects.values_list("platform_id", flat=True)) == {"S1", "S3"}
    assert not Goods.objects.filter(platform_id="G9").exists()
    # Each rejected id is remembered with its reason (line 4 has none to remember).
    rejections = dict(ImportedEvent.objects.exclude(rejection="").values_list("event_id", "rejection"))
    assert set(rejections) == {"x2", "x3", "x4", "x5", "x6", "x7", "x10", "x11"}
    assert rejections["x3"] == reasons["line 6"]
    assert set(ImportedEvent.objects.filter(rejection="").values_list("event_id", flat=True)) == {
        "e1", "e2", "e3", "x8", "x9", "x12"
    }


def test_reimporting_a_file_changes_nothing_even_where_a_line_was_rejected(tmp_path):
    # Line 1 is rejected (its order comes later); on a second import the order exists, but the
    # line's id was seen: it is skipped, not applied (SPEC §8).
    lines = [
        *WORLD[:3],
        feed_line("late", "order.grouped", at="2026-01-02T10:05:00+08:00", order="O1"),
        WORLD[3],
    ]
    path = tmp_path / "feed.jsonl"
    code, _, rejected, _ = run_import(path, *lines)
    assert (code, rejected) == (1, [4])

    code, out, rejected, err = run_import(path)
    assert (code, rejected, err) == (0, [], "")
    assert "0 applied, 5 skipped" in out
    assert Order.objects.get(platform_id="O1").grouped_at is None


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_an_id_seen_rejected_is_skipped_later_in_the_file_whatever_the_batching(tmp_path, batch_size):
    lines = [
        WORLD[0],
        feed_line("dup", "shop.opened", shop="S2", name="二店", hotline="12345"),  # rejected: hotline
        feed_line("dup", "shop.opened", shop="S2", name="二店", hotline="13900139000"),  # same id: skipped
    ]
    code, out, rejected, _ = run_import(tmp_path / "feed.jsonl", *lines, batch_size=batch_size)
    assert (code, rejected) == (1, [2])
    assert "1 applied, 1 skipped" in out
    assert not Shop.objects.filter(platform_id="S2").exists()


def test_a_repeated_id_is_skipped_silently_and_nulls_mean_defaults(tmp_path):
    lines = [
        feed_line("e1", "shop.opened", shop="S1", name="A", deposit=None, balance=None, hotline=None),
        feed_line("e1", "shop.opened", shop="S1", name="A"),
        feed_line("e2", "goods.listed", shop="S1", goods="G1", name="n", category="c", special=None, warranty=None),
    ]
    code, out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)

    assert (code, rejected, err) == (0, [], "")
    assert "1 skipped" in out
    shop = Shop.objects.get()
    assert (shop.deposit, shop.balance, shop.hotline) == (Decimal("0.00"), Decimal("0.00"), "")
    goods = Goods.objects.get()
    assert (goods.special, goods.warranty, goods.warranty_mandatory) == (False, False, False)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"at": "2026-01-01T10:00:00"}, "no UTC offset"),
        ({"at": "yesterday"}, "not an ISO-8601 time"),
        ({"at": None}, "'at' is missing"),
        ({"id": ""}, "'id'"),
        ({"type": None}, "'type'"),
        ({"deposit": 10}, "decimal string"),
        ({"deposit": "-5.00"}, "negative"),
        ({"name": ""}, "'name'"),
    ],
)
def test_envelope_and_field_errors_name_what_is_wrong(tmp_path, fields, reason):
    event = {"id": "e1", "type": "shop.opened", "at": "2026-01-01T10:00:00+08:00", "shop": "S1", "name": "A"}
    event.update(fields)
    code, _, rejected, err = run_import(tmp_path / "f.jsonl", json.dumps(event))

    assert (code, rejected) == (1, [1])
    assert reason in err
    assert not Shop.objects.exists()


def test_reads_standard_input(tmp_path, monkeypatch):
    data = ("\n".join(WORLD[:2]) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, _, rejected, _ = run_import("-")

    assert (code, rejected) == (0, [])
    assert Goods.objects.filter(platform_id="G1").exists()


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_orders_give_the_same_outcome_whatever_the_batch_size(tmp_path, batch_size):
    run_import(tmp_path / "world.jsonl", *WORLD[:3])
    placed = "2026-01-02T10:00:00+08:00"
    ship_by = "2026-01-04T10:00:00+08:00"
    lines = [
        feed_line("o1", "order.placed", at=placed, order="O1", shop="S1", goods="G1", buyer="B1", amount="10.00",
                  promised_ship_by=ship_by),
        feed_line("o2", "order.placed", at=placed, order="O1", shop="S1", goods="G2", buyer="B2", amount="10.00",
                  promised_ship_by=ship_by),  # same order id again
        feed_line("o3", "order.placed", at=placed, order="O3", shop="S1", goods="G2", buyer="B3", amount="0.00",
                  promised_ship_by=ship_by),  # amount must be > 0
        feed_line("o1", "order.placed", at=placed, order="O4", shop="S1", goods="G2", buyer="B4", amount="1.00",
                  promised_ship_by=ship_by),  # repeated event id: skipped
        feed_line("o5", "order.placed", at=placed, order="O5", shop="S2", goods="G2", buyer="B5", amount="1.00",
                  promised_ship_by=ship_by),  # unknown shop
        feed_line("o6", "order.placed", at=placed, order="O6", shop="S1", goods="G2", buyer="B6", amount="1.00",
                  promised_ship_by=ship_by),
    ]
    code, _, rejected, err = run_import(tmp_path / "orders.jsonl", *lines, batch_size=batch_size)

    assert (code, rejected) == (1, [2, 3, 5])
    assert sorted(Order.objects.values_list("platform_id", "buyer")) == [("O1", "B1"), ("O6", "B6")]
    assert "order O1 already exists" in err and "unknown shop 'S2'" in err


def test_platform_staff_find_rejected_events_and_their_reasons_in_the_admin(tmp_path, client, reviewer):
    run_import(tmp_path / "feed.jsonl", WORLD[0], feed_line("bad", "shop.opened", shop="S2", name="二店",
                                                            hotline="12345"))
    client.force_login(reviewer)
    page = client.get("/admin/feed/importedevent/?outcome=rejected")
    assert page.status_code == 200
    text = page.content.decode()
    assert "bad" in text and "12345" in text
    assert ">e1<" not in text
    assert ">e1<" in client.get("/admin/feed/importedevent/?outcome=applied").content.decode()


def test_a_feed_that_breaks_off_keeps_the_chunks_before_it_and_raises_the_readers_error():
    # The next chunk is read in a thread while this one is applied: what reading raises still
    # reaches the caller, after the chunks read before it are applied, as when reading was inline.
    from pddadmin.feed.importer import import_events

    def lines():
        for text in WORLD[:5]:
            yield text.encode()
        raise OSError("the feed's connection was reset")

    with pytest.raises(OSError, match="connection was reset"):
        import_events(lines=lines(), batch_size=2)
    assert sorted(ImportedEvent.objects.values_list("event_id", flat=True)) == ["e1", "e2", "e3", "e4"]
    assert Order.objects.filter(platform_id="O1").exists()
