"""SPEC §8: the logistics facts of SPEC §5.1 through the feed — a shop's main category
(`shop.opened`), an order's destination (`order.placed`), the platform's logistics flags
(`order.logistics_flagged`) and the buyer's rating (`order.rated`) — and every line refused."""

import re

import pytest

from pddadmin.shops.models import LogisticsFlag, Order, OrderRating, Shop
from tests.conftest import at
from tests.feed.helpers import feed_line, run_import

pytestmark = pytest.mark.django_db


def t(text: str) -> str:
    return at(text).isoformat()


WORLD = [
    feed_line("w1", "shop.opened", t("2026-03-01 09:00"), shop="S1", name="旗舰店", category="家居日用"),
    feed_line("w2", "shop.opened", t("2026-03-01 09:00"), shop="S2", name="小店", category=None),
    feed_line("w3", "goods.listed", t("2026-03-01 09:00"), shop="S1", goods="G1", name="杯子", category="home"),
    # O1 received, O2 shipped, O3 grouped, O4 only placed; O1 ships to Xinjiang.
    *[
        feed_line(
            f"p{n}",
            "order.placed",
            t("2026-03-02 10:00"),
            order=f"O{n}",
            shop="S1",
            goods="G1",
            buyer=f"B{n}",
            amount="59.90",
            promised_ship_by=t("2026-03-04 10:00"),
            ship_to="新疆维吾尔自治区" if n == 1 else None,
        )
        for n in (1, 2, 3, 4)
    ],
    *[feed_line(f"g{n}", "order.grouped", t("2026-03-02 10:05"), order=f"O{n}") for n in (1, 2, 3)],
    *[feed_line(f"s{n}", "order.shipped", t("2026-03-03 10:00"), order=f"O{n}", tracking=f"SF{n}") for n in (1, 2)],
    feed_line("r1", "order.received", t("2026-03-05 10:00"), order="O1"),
]


@pytest.fixture
def world(tmp_path):
    code, _out, rejected, err = run_import(tmp_path / "world.jsonl", *WORLD)
    assert (code, rejected) == (0, []), err


def imported(tmp_path, *lines: str) -> dict[int, str]:
    """Import `lines` after the world; the reason of each rejected line, by its number."""
    _code, _out, _rejected, err = run_import(tmp_path / "more.jsonl", *lines)
    return {int(n): reason for n, reason in re.findall(r"^line (\d+): (.*)$", err, flags=re.M)}


def flag(event_id: str, when: str, **fields) -> str:
    return feed_line(event_id, "order.logistics_flagged", t(when), **fields)


def rating(event_id: str, when: str, **fields) -> str:
    return feed_line(event_id, "order.rated", t(when), **fields)


def test_main_category_and_destination_are_kept(world):
    assert dict(Shop.objects.values_list("platform_id", "category")) == {"S1": "家居日用", "S2": ""}
    assert dict(Order.objects.values_list("platform_id", "ship_to")) == {
        "O1": "新疆维吾尔自治区",
        "O2": "",
        "O3": "",
        "O4": "",
    }


def test_bad_category_or_destination_refuse_the_line(world, tmp_path):
    reasons = imported(
        tmp_path,
        feed_line("x1", "shop.opened", shop="S3", name="店", category=7),
        feed_line("x2", "shop.opened", shop="S4", name="店", category="x" * 101),
        feed_line(
            "x3",
            "order.placed",
            t("2026-03-02 10:00"),
            order="O9",
            shop="S1",
            goods="G1",
            buyer="B9",
            amount="1.00",
            promised_ship_by=t("2026-03-04 10:00"),
            ship_to=["新疆"],
        ),
        feed_line(
            "x4",
            "order.placed",
            t("2026-03-02 10:00"),
            order="O8",
            shop="S1",
            goods="G1",
            buyer="B8",
            amount="1.00",
            promised_ship_by=t("2026-03-04 10:00"),
            ship_to="",
        ),
    )
    assert reasons == {
        1: "field 'category' must be a non-empty string, got 7",
        2: "field 'category' is longer than 100 characters: " + '"' + "x" * 80 + '… (101 characters)"',
        3: "field 'ship_to' must be a non-empty string, got [\"新疆\"]",
        4: "field 'ship_to' must be a non-empty string, got \"\"",
    }
    assert not Shop.objects.filter(platform_id__in=["S3", "S4"]).exists()
    assert not Order.objects.filter(platform_id__in=["O8", "O9"]).exists()


def test_each_kind_of_flag_on_the_orders_it_needs_and_several_per_order(world, tmp_path):
    reasons = imported(
        tmp_path,
        flag("f1", "2026-03-06 10:00", order="O1", kind="fake_shipment"),
        flag("f2", "2026-03-06 11:00", order="O2", kind="fake_shipment"),
        flag("f3", "2026-03-06 12:00", order="O2", kind="slow_delivery"),
        flag("f4", "2026-03-06 12:00", order="O2", kind="slow_delivery"),  # the same again: a second flag
        flag("f5", "2026-03-06 13:00", order="O3", kind="complaint"),  # grouped, not shipped
        flag("f6", "2026-03-06 13:00", order="O3", kind="slow_delivery"),
    )
    assert reasons == {}
    flags = sorted(
        LogisticsFlag.objects.values_list("order__platform_id", "kind", "shop__platform_id", "goods__platform_id")
    )
    assert flags == [
        ("O1", "fake_shipment", "S1", "G1"),
        ("O2", "fake_shipment", "S1", "G1"),
        ("O2", "slow_delivery", "S1", "G1"),
        ("O2", "slow_delivery", "S1", "G1"),
        ("O3", "complaint", "S1", "G1"),
        ("O3", "slow_delivery", "S1", "G1"),
    ]
    assert LogisticsFlag.objects.get(order__platform_id="O1").flagged_at == at("2026-03-06 10:00")


def test_every_invalid_flag_is_refused_with_its_reason(world, tmp_path):
    reasons = imported(
        tmp_path,
        flag("x1", "2026-03-06 10:00", order="O3", kind="fake_shipment"),  # grouped, never shipped
        flag("x2", "2026-03-06 10:00", order="O4", kind="slow_delivery"),  # not grouped
        flag("x3", "2026-03-06 10:00", order="O4", kind="complaint"),
        flag("x4", "2026-03-06 10:00", order="O404", kind="complaint"),
        flag("x5", "2026-03-06 10:00", order="O2", kind="lost"),
        flag("x6", "2026-03-06 10:00", order="O2"),
        flag("x7", "2026-03-06 10:00", order="O2", kind=["complaint"]),
        flag("x8", "2026-03-06 10:00", kind="complaint"),
        flag("x9", "2026-03-06 10:00", order="O/2", kind="complaint"),
        # O1 was received at 2026-03-05 10:00: a flag dated before that is stale
        flag("x10", "2026-03-05 09:59", order="O1", kind="fake_shipment"),
    )
    kinds = "fake_shipment, slow_delivery, complaint"
    assert reasons == {
        1: "order O3 is not shipped: a fake shipment needs a shipped order",
        2: "order O4 is not grouped: only a grouped order can be flagged for its logistics",
        3: "order O4 is not grouped: only a grouped order can be flagged for its logistics",
        4: "unknown order 'O404'",
        5: f"field 'kind' must be one of {kinds}; got \"lost\"",
        6: "field 'kind' is required",
        7: f"field 'kind' must be one of {kinds}; got [\"complaint\"]",
        8: "field 'order' is required",
        9: reasons[9],
        10: "logistics flag at 2026-03-05 09:59:00 is older than the last change of order O1 (2026-03-05 10:00:00)",
    }
    assert reasons[9].startswith("field 'order' must be an id of 1–64 ASCII letters")
    assert not LogisticsFlag.objects.exists()


def test_a_flag_at_the_instant_of_the_last_change_is_accepted_and_changes_nothing_of_the_order(world, tmp_path):
    before = Order.objects.get(platform_id="O2").changed_at
    # O2 shipped at 2026-03-03 10:00; a flag at that instant, then one later
    assert (
        imported(
            tmp_path,
            flag("f1", "2026-03-03 10:00", order="O2", kind="fake_shipment"),
            flag("f2", "2026-03-08 10:00", order="O2", kind="slow_delivery"),
            # not a change of the order: its receipt, dated between the two flags, still applies
            feed_line("r2", "order.received", t("2026-03-05 10:00"), order="O2"),
            # nor the stale rule among flags: an earlier flag after a later one is accepted
            flag("f3", "2026-03-06 10:00", order="O2", kind="complaint"),
        )
        == {}
    )
    order = Order.objects.get(platform_id="O2")
    assert before == at("2026-03-03 10:00")
    assert (order.received_at, order.changed_at) == (at("2026-03-05 10:00"), at("2026-03-05 10:00"))
    assert LogisticsFlag.objects.filter(order=order).count() == 3


def test_a_received_order_is_rated_once(world, tmp_path):
    assert (
        imported(tmp_path, rating("a1", "2026-03-06 10:00", order="O1", logistics=1, description=5, service=None)) == {}
    )
    stored = OrderRating.objects.get(order__platform_id="O1")
    assert (stored.logistics, stored.description, stored.service) == (1, 5, None)
    assert (stored.shop.platform_id, stored.goods.platform_id, stored.rated_at) == ("S1", "G1", at("2026-03-06 10:00"))
    assert Order.objects.get(platform_id="O1").changed_at == at("2026-03-05 10:00")  # not a change of the order

    reasons = imported(tmp_path, rating("a2", "2026-03-07 10:00", order="O1", logistics=5))
    assert reasons == {1: "order O1 is already rated: an order is rated once"}
    assert OrderRating.objects.get().logistics == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"logistics": 0}, "field 'logistics' must be a whole number of stars from 1 to 5, got 0"),
        ({"logistics": 6}, "field 'logistics' must be a whole number of stars from 1 to 5, got 6"),
        ({"logistics": -1}, "field 'logistics' must be a whole number of stars from 1 to 5, got -1"),
        ({"logistics": True}, "field 'logistics' must be a whole number of stars from 1 to 5, got true"),
        ({"logistics": "5"}, "field 'logistics' must be a whole number of stars from 1 to 5, got \"5\""),
        ({"logistics": 5.0}, "field 'logistics' must be a whole number of stars from 1 to 5, got 5.0"),
        ({"logistics": [5]}, "field 'logistics' must be a whole number of stars from 1 to 5, got [5]"),
        ({}, "field 'logistics' is required"),
        ({"logistics": None}, "field 'logistics' is required"),
        (
            {"logistics": 4, "description": "4"},
            "field 'description' must be a whole number of stars from 1 to 5, got \"4\"",
        ),
        (
            {"logistics": 4, "description": False},
            "field 'description' must be a whole number of stars from 1 to 5, got false",
        ),
        ({"logistics": 4, "service": 0}, "field 'service' must be a whole number of stars from 1 to 5, got 0"),
        ({"logistics": 4, "service": 9}, "field 'service' must be a whole number of stars from 1 to 5, got 9"),
        ({"logistics": 4, "order": "O2"}, "order O2 is not received: only a received order can be rated"),
        ({"logistics": 4, "order": "O4"}, "order O4 is not received: only a received order can be rated"),
        ({"logistics": 4, "order": "O404"}, "unknown order 'O404'"),
    ],
)
def test_every_invalid_rating_is_refused_with_its_reason(world, tmp_path, fields, reason):
    line = rating("x1", "2026-03-06 10:00", **{"order": "O1", **fields})
    assert imported(tmp_path, line) == {1: reason}
    assert not OrderRating.objects.exists()


def test_a_rating_older_than_the_orders_last_change_is_refused(world, tmp_path):
    reasons = imported(tmp_path, rating("x1", "2026-03-05 09:00", order="O1", logistics=3))
    assert reasons == {
        1: "rating at 2026-03-05 09:00:00 is older than the last change of order O1 (2026-03-05 10:00:00)"
    }
    assert imported(tmp_path, rating("a1", "2026-03-05 10:00", order="O1", logistics=3)) == {}  # the same instant


def test_reimporting_flags_and_ratings_applies_them_once(world, tmp_path):
    lines = [
        flag("f1", "2026-03-06 10:00", order="O2", kind="slow_delivery"),
        rating("a1", "2026-03-06 10:00", order="O1", logistics=2),
    ]
    assert imported(tmp_path, *lines) == {}
    assert imported(tmp_path, *lines) == {}
    assert (LogisticsFlag.objects.count(), OrderRating.objects.count()) == (1, 1)


def test_ratings_in_one_run_are_judged_in_file_order(world, tmp_path):
    # One run of order.rated lines, applied as a batch: the second rating of O1 is refused by the
    # first, valid and invalid lines mix, and each rejected line writes nothing.
    lines = [
        rating("a1", "2026-03-06 10:00", order="O1", logistics=2),
        rating("a2", "2026-03-06 11:00", order="O2", logistics=4),  # shipped, not received
        rating("a3", "2026-03-06 12:00", order="O1", logistics=5),
        rating("a4", "2026-03-06 12:00", order="O404", logistics=9),  # the order is named first
    ]
    assert imported(tmp_path, *lines) == {
        2: "order O2 is not received: only a received order can be rated",
        3: "order O1 is already rated: an order is rated once",
        4: "unknown order 'O404'",
    }
    assert list(OrderRating.objects.values_list("order__platform_id", "logistics")) == [("O1", 2)]


def test_a_run_of_flags_costs_the_same_statements_whatever_its_length(world, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pddadmin.feed.importer import import_events

    def statements(prefix: str, n: int) -> int:
        lines = [
            flag(f"{prefix}{k}", "2026-03-06 10:00", order=f"O{1 + k % 3}", kind="slow_delivery") for k in range(n)
        ]
        lines.append(flag(f"{prefix}bad", "2026-03-06 10:00", order="O4", kind="slow_delivery"))
        with CaptureQueriesContext(connection) as queries:
            report = import_events(lines=lines)
        assert (report.applied, report.rejected) == (n, 1)
        return len(queries)

    assert statements("a", 10) == statements("b", 90)
    assert LogisticsFlag.objects.count() == 100
