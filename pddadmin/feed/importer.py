"""Apply a JSON Lines platform feed (SPEC §8).

Lines are applied in file order, each on its own: a rejected line leaves nothing behind
(savepoint) but the record that its id was seen, with the reason; an id seen before, applied or
rejected, is skipped, so re-importing a file changes nothing even when what made a line fail
has changed since (a line without a readable id cannot be recorded, and is rejected again).

Runs of consecutive events whose type has a batch handler are validated and written together,
which is what makes 100k-line order feeds fast; if such a run meets a conflict (another importer
wrote the same ids meanwhile) it is rolled back and replayed line by line, so the outcome never
depends on batching.
"""

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone, translation

from pddadmin import setsql

from .events import UNSTORABLE, Event, Rejected
from .models import ImportedEvent
from .registry import Registration, lookup

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    lines: int = 0
    applied: int = 0
    skipped: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)


REASON_LIMIT = 300


def reason_of(exc: BaseException) -> str:
    """One printable line, short whatever the message held (values are quoted short already,
    SPEC §8; this is the guard for messages that come from elsewhere)."""
    if isinstance(exc, ValidationError):
        text = "; ".join(str(m) for m in exc.messages)
    else:
        text = str(exc) or exc.__class__.__name__
    text = " ".join(UNSTORABLE.sub("\ufffd", text).split())
    return text if len(text) <= REASON_LIMIT else text[:REASON_LIMIT] + "…"


def import_events(
    *,
    lines: Iterable[str | bytes],
    batch_size: int | None = None,
    on_reject: Callable[[int, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    read_ahead: bool = True,
) -> ImportReport:
    """`read_ahead`: read the next chunk in a thread (`_read_ahead`); False for a source whose reads
    may block indefinitely (a pipe), which an interrupted import would otherwise wait for."""
    report = ImportReport()
    batch_size = batch_size or settings.FEED_BATCH_SIZE

    def reject(line: int, exc: BaseException) -> None:
        report.rejections.append((line, reason_of(exc)))

    numbered = enumerate(lines, start=1)
    read_next = partial(_read_chunk, numbered, batch_size, setsql.set_based())
    for chunk in (_read_ahead if read_ahead else _read_inline)(read_next):
        report.lines += chunk.size
        reported = len(report.rejections)
        report.rejections.extend(chunk.unreadable)
        # One transaction per chunk: each line is a savepoint inside it, so a line costs no
        # commit of its own, and a crash loses at most the chunk, which a re-import redoes.
        with transaction.atomic():
            _apply_chunk(chunk, report, reject)
        # Within a chunk, parse errors are found before rule errors: report in line order.
        report.rejections[reported:] = sorted(report.rejections[reported:])
        if on_reject:
            for line, reason in report.rejections[reported:]:
                on_reject(line, reason)
        if on_progress:
            on_progress(chunk.size)
        _forget_queries()
    return report


@dataclass
class _Chunk:
    size: int = 0  # lines read, blank ones included; 0 at the end of the feed
    events: list[Event] = field(default_factory=list)  # the first line of each id, in file order
    repeated: int = 0  # later lines of an id already in the chunk: skipped
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (line, reason): no event
    claim: list[str] | None = None  # `_claim`'s parameters, on PostgreSQL


def _read_ahead(read_next: Callable[[], "_Chunk"]) -> Iterator["_Chunk"]:
    """The feed's chunks, each read by a thread while the caller applies the one before: the
    database's work on a chunk (its writes, the foreign-key checks at its commit) is time the
    importer otherwise spends waiting. Nothing read there touches the database (`_read_chunk`);
    one chunk ahead, as when reading inline, and what reading raises is raised here, in turn. The
    thread reads in the caller's language (Django's is per thread), so a reason reads the same."""
    language = translation.get_language()  # None when deactivated, as the command runs

    def read_in_language() -> _Chunk:
        with translation.override(language):
            return read_next()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-reader") as reader:
        upcoming = reader.submit(read_in_language)
        while (chunk := upcoming.result()).size:
            upcoming = reader.submit(read_in_language)
            yield chunk


def _read_inline(read_next: Callable[[], "_Chunk"]) -> Iterator["_Chunk"]:
    while (chunk := read_next()).size:
        yield chunk


def _read_chunk(numbered: Iterator[tuple[int, str | bytes]], batch_size: int, set_based: bool) -> _Chunk:
    """The next chunk's lines as events, with what can be made of them without the database: each
    type's reading of its fields (`Registration.read`) and the parameters of the chunk's claim."""
    chunk = _Chunk()
    ids: set[str] = set()
    for number, raw in itertools.islice(numbered, batch_size):
        chunk.size += 1
        if not raw.strip():
            continue  # a blank line carries no event
        try:
            event = Event.parse(raw, number)
        except Rejected as exc:
            chunk.unreadable.append((number, reason_of(exc)))
            continue
        except (ValueError, RecursionError, MemoryError) as exc:  # a line no reader foresaw
            chunk.unreadable.append((number, reason_of(Rejected(f"unreadable line: {exc.__class__.__name__}"))))
            continue
        if event.id in ids:
            chunk.repeated += 1
            continue
        ids.add(event.id)
        chunk.events.append(event)
        registration = lookup(event.type)
        if registration is not None and registration.read is not None:
            event.read_ahead(registration.read)
    if set_based and chunk.events:
        chunk.claim = _claim_parameters(chunk.events)
    return chunk


def _forget_queries() -> None:
    """With DEBUG on, Django keeps the last 9,000 statements: for an import, chunks' claims and
    COPYs of a thousand values each, which made a 1,000,000-line import's memory grow with its
    length. Dropped after each chunk, unless a test is capturing them."""
    if settings.DEBUG and not connection.force_debug_cursor:
        connection.queries_log.clear()


def _apply_chunk(chunk: _Chunk, report: ImportReport, reject: Callable) -> None:
    # The chunk's ids are claimed at once, in one statement with one array parameter per column:
    # an id seen before (applied or rejected, by this importer or another) is not returned and
    # its line is skipped; so is a second line of the same id within the chunk.
    unique = chunk.events
    report.skipped += chunk.repeated
    claimed = _claim(unique, chunk.claim) if unique else set()
    fresh = [event for event in unique if event.id in claimed]
    report.skipped += len(unique) - len(fresh)
    refused: list[tuple[str, str]] = []

    def reject_event(event: Event, exc: BaseException) -> None:
        reject(event.line, exc)
        refused.append((event.id, reason_of(exc)[:500]))

    known = _known(fresh, reject_event)
    runs = list(_runs(known))
    if not _apply_at_once(list(_runs(_facts_deferred(known))), report, reject_event):
        for registration, run in runs:
            if registration.apply_batch is not None and len(run) > 1:
                _apply_run(registration, run, report, reject_event)
            else:
                for event in run:
                    _apply_one(registration, event, report, reject_event)
    # After the lines, outside their rolled-back savepoints: the claims of rejected lines become
    # the records of their rejections.
    _record_rejections(refused)


def _known(events: list[Event], reject: Callable) -> list[tuple[Registration, Event]]:
    """The events of a registered type, with their registration; the others are rejected."""
    known = []
    for event in events:
        registration = lookup(event.type)
        if registration is None:
            reject(event, Rejected(f"unknown event type {event.type!r}"))
        else:
            known.append((registration, event))
    return known


def _runs(known: list[tuple[Registration, Event]]) -> Iterator[tuple[Registration, list[Event]]]:
    """Consecutive events of one registered type."""
    for registration, group in itertools.groupby(known, key=lambda pair: pair[0]):
        yield registration, [event for _, event in group]


def _facts_deferred(known: list[tuple[Registration, Event]]) -> list[tuple[Registration, Event]]:
    """The events in an order that gives facts (`Registration.fact_of`) long runs: each fact
    waits, with the facts of its type before it, until a later line that is not such a fact
    names its entity (in any of its fields, as a value or in a list: a line that may change what
    the fact reads), or the chunk ends. Nothing else reads what a fact writes, so every line's
    outcome is the one of file order; the facts of a type keep their order among themselves."""
    ordered: list[tuple[Registration, Event]] = []
    waiting: dict[Registration, list[tuple[Registration, Event]]] = {}
    about: set[str] = set()
    for pair in known:
        registration, event = pair
        if registration.fact_of is not None:
            waiting.setdefault(registration, []).append(pair)
            subject = event.data.get(registration.fact_of)
            if isinstance(subject, str):
                about.add(subject)
            continue
        if about and not about.isdisjoint(_named(event)):
            for facts in waiting.values():
                ordered.extend(facts)
            waiting.clear()
            about.clear()
        ordered.append(pair)
    for facts in waiting.values():
        ordered.extend(facts)
    return ordered


def _named(event: Event) -> Iterator[str]:
    for value in event.data.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


def _claim_parameters(events: list[Event]) -> list[str]:
    # Three arrays instead of 4 × N placeholders: the driver's query parsing was a visible part of
    # large imports; and each array one literal (setsql.array), not a list the driver adapts
    # value by value.
    return [
        setsql.array("text", [e.id for e in events]),
        setsql.array("text", [e.type for e in events]),
        setsql.array("timestamptz", [e.at for e in events]),
    ]


def _claim(events: list[Event], parameters: list[str] | None) -> set[str]:
    """Record events as imported and return the ids this importer won.

    An id another importer already recorded (or is recording: the insert waits for its
    transaction) is not returned, so exactly one importer applies each event. The unique index
    on event_id answers each id, however many are on record.
    """
    table = connection.ops.quote_name(ImportedEvent._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} (event_id, type, at, imported_at) "
            "SELECT *, now() FROM unnest(%s::varchar[], %s::varchar[], %s::timestamptz[]) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return {row[0] for row in cursor.fetchall()}
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    won: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(events), SQLITE_ROWS):
            part = events[start : start + SQLITE_ROWS]
            cursor.execute(
                f"INSERT INTO {table} (event_id, type, at, imported_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s)"] * len(part))
                + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                [p for e in part for p in (e.id, e.type, adapt(e.at), now)],
            )
            won.update(row[0] for row in cursor.fetchall())
    return won


# Rows per INSERT on SQLite, whose statements take a bounded number of parameters.
SQLITE_ROWS = 500


def _record_rejections(refused: list[tuple[str, str]]) -> None:
    """The reasons of this chunk's rejected lines, on the records their claims made."""
    if not refused:
        return
    table = connection.ops.quote_name(ImportedEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS e SET rejection = r.reason "
                "FROM unnest(%s::varchar[], %s::varchar[]) AS r(event_id, reason) WHERE e.event_id = r.event_id",
                [[event_id for event_id, _ in refused], [reason for _, reason in refused]],
            )
        else:
            cursor.executemany(f"UPDATE {table} SET rejection = %s WHERE event_id = %s", [(r, i) for i, r in refused])


class _Replay(Exception):
    """The chunk's pass without savepoints met a failure: it is rolled back and replayed."""


# What makes a line fail (the same as _apply_one's and _apply_run's), or the pass.
_FAILURES = (_Replay, Rejected, ValidationError, DatabaseError, ArithmeticError, ValueError, RecursionError)


def _apply_at_once(runs: list[tuple[Registration, list[Event]]], report: ImportReport, reject: Callable) -> bool:
    """Apply the chunk's lines in one savepoint instead of one (or more) per line; False, with
    nothing written, when a line fails, and the caller replays the chunk line by line.

    Nearly every line of a real feed is applied, and a line's savepoint and its service's own
    cost more round trips than many a line's work. The outcome is the replay's whenever a line
    fails, and the same rows when none does: a line that succeeds on its own succeeds here too,
    in the same order, over the same rows. Inside the pass the services' atomic blocks take no
    savepoint of their own (as `atomic(savepoint=False)`): an error inside one then marks the
    transaction for rollback or aborts it, which fails the pass; it is never silently kept.
    A batch handler's rejections (returned, nothing written for them) are kept as they are.
    """
    if all(registration.apply_batch is not None and len(run) > 1 for registration, run in runs):
        return False  # only batches: the per-line path costs no per-line savepoint either
    applied = 0
    refused: list[tuple[Event, Exception]] = []
    try:
        with transaction.atomic(), _no_inner_savepoints():
            for registration, run in runs:
                if registration.apply_batch is not None and len(run) > 1:
                    errors = registration.apply_batch(run)
                    for event, error in zip(run, errors, strict=True):
                        if error is None:
                            applied += 1
                        else:
                            refused.append((event, error))
                else:
                    for event in run:
                        registration.apply(event)
                        applied += 1
            if connection.needs_rollback:
                raise _Replay()  # an inner block failed and its error was caught: not kept
    except _FAILURES as exc:
        log.debug("chunk replayed line by line: %s", exc.__class__.__name__)
        return False
    report.applied += applied
    for event, error in refused:
        reject(event, error)
    return True


@contextlib.contextmanager
def _no_inner_savepoints() -> Iterator[None]:
    """Atomic blocks opened meanwhile get no savepoint (Django's reading of a `savepoint()` of
    None, as when savepoints are not available): their failure fails the enclosing block."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.savepoint = lambda: None
    try:
        yield
    finally:
        del wrapper.savepoint


def _apply_one(registration: Registration, event: Event, report: ImportReport, reject: Callable) -> None:
    try:
        with transaction.atomic():
            registration.apply(event)
    except (Rejected, ValidationError) as exc:
        reject(event, exc)
        return
    except IntegrityError as exc:
        log.info("line %s conflicted: %s", event.line, exc)
        reject(event, Rejected(f"conflicts with existing data ({reason_of(exc)})"))
        return
    except (DatabaseError, ArithmeticError, ValueError, RecursionError) as exc:
        # What the readers did not foresee (a value the database refuses, a date computed out of
        # range) still costs this line only: its savepoint is gone, the import goes on.
        log.warning("line %s could not be applied", event.line, exc_info=True)
        reject(event, Rejected(f"cannot be applied: {exc.__class__.__name__}: {reason_of(exc)}"))
        return
    report.applied += 1


def _apply_run(registration: Registration, run: list[Event], report: ImportReport, reject: Callable) -> None:
    assert registration.apply_batch is not None
    try:
        with transaction.atomic():
            errors = registration.apply_batch(run)
    except (DatabaseError, ArithmeticError, ValueError, RecursionError) as exc:
        # Another importer wrote the same ids meanwhile, or one line holds what the batch could
        # not foresee: line by line, each line settles its own fate.
        log.info("batch of %s events failed (%s); replaying line by line", len(run), exc)
        for event in run:
            _apply_one(registration, event, report, reject)
        return
    for event, error in zip(run, errors, strict=True):
        if error is None:
            report.applied += 1
        else:
            reject(event, error)
