"""Which function applies which event type. Apps register theirs in `<app>/feed_handlers.py`."""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events import BatchHandler, Event, Handler


@dataclass(frozen=True)
class Registration:
    event_type: str
    apply: Handler
    # A batch handler validates many consecutive events of its type and applies the valid ones
    # in one go; it returns, per event, the exception that rejected it or None. It must write
    # nothing for a rejected event.
    apply_batch: BatchHandler | None = None
    # A fact about the entity whose platform id is in this field: it reads that entity only, and
    # writes only rows no other line of a feed reads. The importer's one-pass path may then apply
    # it after later lines, up to the next line that names the same id, to batch the facts a
    # real feed scatters between other lines (one rating every few orders).
    fact_of: str | None = None
    # The batch handler's reading of a line's own fields, with no database: the importer's reader
    # thread calls it (`Event.read_ahead`) while the chunk before is being applied; `apply_batch`
    # reads the lines nobody has read, so the handler takes every result with `event.fields()`.
    read: Callable[[Event], Any] | None = None


_registry: dict[str, Registration] = {}


def handles(event_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _add(Registration(event_type, fn))
        return fn

    return register


def handles_batch(
    event_type: str, *, fact_of: str | None = None, read: Callable[[Event], Any] | None = None
) -> Callable[[BatchHandler], BatchHandler]:
    def register(fn: BatchHandler) -> BatchHandler:
        @functools.wraps(fn)
        def read_and_apply(events: list[Event]) -> list[Exception | None]:
            for event in events:
                event.read_ahead(read)
            return fn(events)

        apply_batch = fn if read is None else read_and_apply

        def apply_one(event: Event) -> None:
            (error,) = apply_batch([event])
            if error is not None:
                raise error

        _add(Registration(event_type, apply_one, apply_batch, fact_of, read))
        return fn

    return register


def _add(registration: Registration) -> None:
    if registration.event_type in _registry:
        raise RuntimeError(f"feed event type {registration.event_type!r} is registered twice")
    _registry[registration.event_type] = registration


def lookup(event_type: str) -> Registration | None:
    return _registry.get(event_type)


def event_types() -> list[str]:
    return sorted(_registry)
