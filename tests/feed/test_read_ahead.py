"""The importer reads the next chunk in a thread while it applies this one (issue #20.1): what a
type reads of its fields without the database is read there, once, and a line whose fields are
bad fails at its own turn exactly as when read inline."""

import dataclasses
import io
import sys
import threading

import pytest
from django.utils import translation

from pddadmin.feed import registry
from pddadmin.feed.events import Event, Rejected
from pddadmin.feed.importer import import_events
from pddadmin.shops.models import Order

from .helpers import feed_line, run_import

WORLD = [
    feed_line("s1", "shop.opened", shop="S1", name="A"),
    feed_line("g1", "goods.listed", shop="S1", goods="G1", name="n", category="c"),
]


def placed(i: int, **changes) -> str:
    fields = {"order": f"O{i}", "shop": "S1", "goods": "G1", "buyer": "B", "amount": "10.00",
              "promised_ship_by": "2026-01-04T10:00:00+08:00", **changes}  # fmt: skip
    return feed_line(f"o{i}", "order.placed", at="2026-01-02T10:00:00+08:00", **fields)


def test_fields_are_read_once_and_what_reading_raised_is_raised_at_every_turn():
    calls = []

    def read(event: Event) -> int:
        calls.append(event.id)
        if "x" not in event.data:
            raise Rejected("field 'x' is required")
        return event.data["x"]

    good = Event.parse('{"id": "a", "type": "t", "at": "2026-01-01T00:00:00Z", "x": 7}', 1)
    bad = Event.parse('{"id": "b", "type": "t", "at": "2026-01-01T00:00:00Z"}', 2)
    good.read_ahead(read)
    bad.read_ahead(read)  # keeps the rejection for the line's turn instead of raising it here
    good.read_ahead(read)  # read already: not again
    assert good.fields() == 7 and good.fields() == 7
    for _ in range(2):
        with pytest.raises(Rejected, match="'x' is required"):
            bad.fields()
    assert calls == ["a", "b"]
    unread = Event.parse('{"id": "c", "type": "t", "at": "2026-01-01T00:00:00Z", "x": 1}', 3)
    with pytest.raises(RuntimeError, match="'t' event were not read"):
        unread.fields()


def test_a_batch_handler_gets_the_lines_nobody_read_ahead_read_by_its_own_registration():
    seen = []

    def read(event: Event) -> int:
        return event.data["x"] * 10

    @registry.handles_batch("test.read_by_registration", read=read)
    def apply(events: list[Event]) -> list[Exception | None]:
        seen.extend(e.fields() for e in events)
        return [None] * len(events)

    try:
        own = registry.lookup("test.read_by_registration")
        ahead = Event.parse('{"id": "a", "type": "t", "at": "2026-01-01T00:00:00Z", "x": 1}', 1)
        ahead.read_ahead(lambda event: "read ahead")
        unread = Event.parse('{"id": "b", "type": "t", "at": "2026-01-01T00:00:00Z", "x": 2}', 2)
        assert own.apply_batch([ahead, unread]) == [None, None]
        own.apply(Event.parse('{"id": "c", "type": "t", "at": "2026-01-01T00:00:00Z", "x": 3}', 3))
    finally:
        del registry._registry["test.read_by_registration"]
    assert seen == ["read ahead", 20, 30]


def watch_reading(monkeypatch, languages: list | None = None) -> list[str]:
    """The names of the threads that read order.placed lines' fields, one per line read (and the
    language active there, into `languages`)."""
    own = registry.lookup("order.placed")
    threads: list[str] = []

    def watched(event: Event):
        threads.append(threading.current_thread().name)
        if languages is not None:
            languages.append(translation.get_language())
        return own.read(event)

    monkeypatch.setitem(registry._registry, "order.placed", dataclasses.replace(own, read=watched))
    return threads


@pytest.mark.django_db
def test_order_lines_are_read_in_the_reader_thread_and_bad_ones_fail_at_their_turn(monkeypatch):
    threads = watch_reading(monkeypatch)
    lines = [*WORLD, placed(1), placed(2, amount="-1.00"), placed(3), placed(4, shop="S9")]

    report = import_events(lines=lines, batch_size=3)

    assert threads and all(name.startswith("feed-reader") for name in threads), threads
    assert len(threads) == 4  # once per line, though a failing chunk is replayed line by line
    assert sorted(Order.objects.values_list("platform_id", flat=True)) == ["O1", "O3"]
    assert [(line, reason.split(":")[0]) for line, reason in report.rejections] == [
        (4, "field 'amount' must not be negative"),
        (6, "unknown shop 'S9'"),
    ]


@pytest.mark.django_db
def test_standard_input_is_read_inline_so_an_interrupt_need_not_wait_for_a_pipe(monkeypatch, tmp_path):
    threads = watch_reading(monkeypatch)
    feed = "\n".join([*WORLD, placed(1), placed(2)]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(feed.encode())))

    code, out, rejected, _ = run_import("-")

    assert (code, rejected, threads) == (0, [], ["MainThread", "MainThread"])  # read inline, no thread
    assert "4 applied" in out
    path = tmp_path / "feed.jsonl"
    run_import(path, placed(3))
    assert threads[2:] == ["feed-reader_0"]  # a regular file is read ahead


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans", None])
def test_the_reader_thread_reads_in_the_callers_language(monkeypatch, language):
    languages: list = []
    threads = watch_reading(monkeypatch, languages)
    with translation.override(language):
        import_events(lines=[*WORLD, placed(1), placed(2)])
    assert threads == ["feed-reader_0"] * 2 and languages == [language] * 2
