"""A chunk's lines are applied in one savepoint, the services' own atomic blocks taking none
inside it (pddadmin.feed.importer._apply_at_once); whatever fails in that pass sends the chunk to
the line-by-line path, so the outcome is that path's (SPEC §8). These tests make the pass fail
in the two ways it must notice: a line raising, and an error caught inside a handler."""

import pytest
from django.db import IntegrityError, connection, transaction

from pddadmin.feed import registry
from pddadmin.feed.events import Rejected
from pddadmin.feed.importer import import_events
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.models import Shop

from .helpers import feed_line

pytestmark = pytest.mark.django_db

AT = "2026-03-01T10:00:00+08:00"


def shop_line(n: int) -> str:
    return feed_line(f"s{n}", "shop.opened", AT, shop=f"S{n}", name=f"店铺{n}", hotline="13800138000")


def new_shop(platform_id: str, name: str, at) -> Shop:
    return Shop.objects.create(platform_id=platform_id, name=name, opened_at=at, changed_at=at)


@pytest.fixture
def handler(monkeypatch):
    """Registers `test.probe`: a line that first tries to write a duplicate shop inside its own
    atomic block, catches the failure (legitimate with a savepoint: the block alone is undone),
    then records its own shop (unless "then_nothing"); or, with "fail": true, refuses itself after
    writing."""
    calls: list[str] = []

    def probe(event):
        calls.append(event.id)
        if event.data.get("duplicate"):
            try:
                with transaction.atomic():
                    new_shop("S0", "again", event.at)
            except IntegrityError:
                pass
            if event.data.get("then_nothing"):
                return
        new_shop(event.data["shop"], "probe", event.at)
        if event.data.get("fail"):
            raise Rejected("probe refused")

    monkeypatch.setitem(registry._registry, "test.probe", registry.Registration("test.probe", probe))
    return calls


def probe_line(n: int, **fields) -> str:
    return feed_line(f"p{n}", "test.probe", AT, shop=f"P{n}", **fields)


def test_a_failing_line_leaves_the_chunk_to_the_line_by_line_path(handler):
    lines = [shop_line(0), probe_line(1), probe_line(2, fail=True), probe_line(3), shop_line(4)]
    report = import_events(lines=lines)
    assert (report.applied, report.rejections) == (4, [(3, "probe refused")])
    assert sorted(Shop.objects.values_list("platform_id", flat=True)) == ["P1", "P3", "S0", "S4"]
    assert ImportedEvent.objects.get(event_id="p2").rejection == "probe refused"
    # Tried at once (stopping at the refused line), then line by line.
    assert handler == ["p1", "p2", "p1", "p2", "p3"]


def test_an_error_caught_inside_a_line_is_not_kept_by_the_pass(handler):
    lines = [shop_line(0), probe_line(1, duplicate=True), probe_line(2)]
    report = import_events(lines=lines)
    assert (report.applied, report.rejected) == (3, 0)
    assert sorted(Shop.objects.values_list("platform_id", flat=True)) == ["P1", "P2", "S0"]
    assert Shop.objects.get(platform_id="S0").name == "店铺0"
    assert not connection.needs_rollback
    assert handler == ["p1", "p1", "p2"]  # the pass met the caught error's broken transaction


def test_an_error_caught_as_the_last_thing_of_the_chunk_is_not_kept_either(handler):
    # No statement follows the caught error: the pass itself notices the transaction it left.
    lines = [shop_line(0), probe_line(1, duplicate=True, then_nothing=True)]
    report = import_events(lines=lines)
    assert (report.applied, report.rejected) == (2, 0)
    assert list(Shop.objects.values_list("platform_id", "name")) == [("S0", "店铺0")]
    assert ImportedEvent.objects.count() == 2
    assert handler == ["p1", "p1"]


def test_a_chunk_of_applied_lines_is_applied_once(handler):
    lines = [shop_line(0), probe_line(1), probe_line(2), shop_line(3)]
    report = import_events(lines=lines)
    assert (report.applied, report.rejected) == (4, 0)
    assert handler == ["p1", "p2"]
