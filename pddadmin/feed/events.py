"""The feed event envelope and typed readers for its fields (SPEC §8).

Readers raise `Rejected` with a message that names the field, so the importer can print a
one-line reason without the handlers formatting anything.
"""

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)
REQUIRED: Any = object()
UNREAD: Any = object()

# SPEC §8: a platform id is 1–64 characters, an ASCII letter or digit and then letters, digits,
# `_`, `.`, `:` or `-`, so that it can stand in a URL as it is.
PLATFORM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
# SPEC §8: ASCII digits, at most two decimals; no sign, exponent, spaces or other digits.
AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
# What no stored text may hold: PostgreSQL refuses NUL, and a lone surrogate cannot be encoded.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Events are flat objects whose values are at most a list of ids; anything deeper is hostile.
MAX_DEPTH = 3
# Integer literals longer than this are refused before Python turns them into numbers (stars
# are 1–5; a 5,000-digit literal would otherwise raise from inside the JSON parser).
MAX_INT_DIGITS = 20
# The range of times the product stores and computes with: deadlines up to 50 years later
# (SPEC, coupon validity) must still be representable, so the far ends are refused.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
QUOTE_LIMIT = 80


class Rejected(Exception):
    """A feed line that cannot be applied; the message is the one-line reason."""


def quote(value: Any) -> str:
    """The offending value as a reason shows it: JSON, at most QUOTE_LIMIT characters of it
    (SPEC §8), so a megabyte value never becomes a megabyte message."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = UNSTORABLE.sub("\ufffd", text)
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT] + f"… ({len(text)} characters)"
    return json.dumps(text, ensure_ascii=False) if isinstance(value, str) else text


def parse_moment(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise Rejected(f"field '{name}' must be an ISO-8601 time string, got {quote(value)}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(f"field '{name}' is not an ISO-8601 time: {quote(value)}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Rejected(f"field '{name}' has no UTC offset: {quote(value)}")
    try:
        moment = moment.astimezone(dt.UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise Rejected(
            f"field '{name}' is out of range (from {EARLIEST.year} up to {LATEST.year} UTC): {quote(value)}"
        )
    return moment


def parse_platform_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not PLATFORM_ID.fullmatch(value):
        raise Rejected(
            f"field '{name}' must be an id of 1–64 ASCII letters, digits, '_', '.', ':' or '-' "
            f"starting with a letter or digit, got {quote(value)}"
        )
    return value


def _refuse_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise Rejected(f"a number has more than {MAX_INT_DIGITS} digits: {quote(literal)}")
    return int(literal)


def _refuse_constant(literal: str) -> None:
    raise Rejected(f"{literal} is not JSON")


# One decoder for every line (json.loads with hooks would build a new one per call).
_DECODER = json.JSONDecoder(parse_int=_refuse_int, parse_constant=_refuse_constant)


def _load(raw: str | bytes) -> tuple[Any, bool]:
    """The line's JSON, and whether its text is known storable as it is: no NUL, no backslash-u
    escape (which could spell a NUL or a lone surrogate), and decoded from UTF-8, which refuses
    surrogates (a str line may hold one)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(f"line is not valid UTF-8 (byte {exc.start + 1})") from None
        plain = "\x00" not in raw and "\\u" not in raw
    else:
        plain = "\\u" not in raw and not UNSTORABLE.search(raw)
    try:
        if raw.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        return _DECODER.decode(raw), plain
    except json.JSONDecodeError as exc:
        raise Rejected(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise Rejected(f"JSON nested deeper than {MAX_DEPTH} levels") from None


def _check_storable(data: dict[str, Any], plain: bool) -> None:
    """Every key and string of the event can be stored as text, and nothing is nested deeper
    than an event needs. Walked without recursion: the value itself may be hostile."""
    # The common line needs no walk: its text holds nothing unstorable (see _load) and none of its
    # values is a list or an object.
    if plain and not any(type(v) is dict or type(v) is list for v in data.values()):
        return
    stack: list[tuple[str, Any, int]] = [("", data, 1)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise Rejected(f"JSON nested deeper than {MAX_DEPTH} levels (at '{path}')")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and UNSTORABLE.search(key):
                    raise Rejected(f"a field name holds a NUL or an unpaired surrogate: {quote(key)}")
                stack.append((f"{path}.{key}" if path else str(key), item, depth + 1))
        elif isinstance(value, str) and UNSTORABLE.search(value):
            raise Rejected(f"field '{path}' holds a NUL character or an unpaired surrogate")


@dataclass(slots=True)
class Event:
    line: int
    id: str
    type: str
    at: dt.datetime
    data: dict[str, Any]
    # What its type's reader (`Registration.read`) made of the fields, or the exception it raised;
    # `read_ahead` sets it once. Not frozen: a frozen dataclass's __init__ costs twice as much,
    # and an import makes one Event per line.
    _fields: Any = field(default=UNREAD, repr=False, compare=False)

    @classmethod
    def parse(cls, raw: str | bytes, line: int) -> "Event":
        data, plain = _load(raw)
        if not isinstance(data, dict):
            raise Rejected("an event must be a JSON object")
        _check_storable(data, plain)
        event_id = parse_platform_id(data.get("id"), "id")
        event_type = data.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise Rejected("field 'type' is missing or not a string")
        if len(event_type) > 64:
            raise Rejected(f"field 'type' is not an event type: {quote(event_type)}")
        if "at" not in data or data["at"] is None:
            raise Rejected("field 'at' is missing")
        return cls(line=line, id=event_id, type=event_type, at=parse_moment(data["at"], "at"), data=data)

    def read_ahead(self, read: Callable[["Event"], Any]) -> None:
        """Read the fields with `read` (its type's `Registration.read`, pure) unless they have been
        read: in the importer's reader thread, ahead of the line's turn, or by its batch handler's
        registration. What `read` raised is kept for the line's handler to meet (`fields`)."""
        if self._fields is UNREAD:
            try:
                self._fields = read(self)
            except Exception as exc:  # raised at the line's turn, where its handler decides
                self._fields = exc

    def fields(self) -> Any:
        """What its type's reader made of the fields; what it raised is raised again, so the line
        fails as it would have."""
        if self._fields is UNREAD:
            raise RuntimeError(f"the fields of a {self.type!r} event were not read (Registration.read)")
        if isinstance(self._fields, Exception):
            raise self._fields
        return self._fields

    # --- field readers -------------------------------------------------------------------
    def _get(self, name: str, default: Any) -> Any:
        value = self.data.get(name)
        if value is None:
            if default is REQUIRED:
                raise Rejected(f"field '{name}' is required")
            return default
        return value

    def text(self, name: str, default: Any = REQUIRED, *, max_length: int = 200) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, str) or not value.strip():
            raise Rejected(f"field '{name}' must be a non-empty string, got {quote(value)}")
        if len(value) > max_length:
            raise Rejected(f"field '{name}' is longer than {max_length} characters: {quote(value)}")
        return value.strip()

    def platform_id(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        return parse_platform_id(value, name)

    def money(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, str) and value.startswith("-") and AMOUNT.fullmatch(value[1:]):
            raise Rejected(f"field '{name}' must not be negative: {quote(value)}")
        if not isinstance(value, str) or not AMOUNT.fullmatch(value):
            raise Rejected(
                f"field '{name}' must be a decimal string of ASCII digits with at most two decimals, "
                f"no sign, exponent or spaces, such as \"59.90\"; got {quote(value)}"
            )
        if len(value.partition(".")[0]) > 12:
            raise Rejected(f"field '{name}' is too large: {quote(value)}")
        return Decimal(value).quantize(Decimal("0.01"))

    def moment(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        return parse_moment(value, name)

    def flag(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise Rejected(f"field '{name}' must be true or false, got {quote(value)}")
        return value

    def choice(self, name: str, choices: Any, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        allowed = [str(c) for c in choices]
        if not isinstance(value, str) or value not in allowed:
            raise Rejected(f"field '{name}' must be one of {', '.join(allowed)}; got {quote(value)}")
        return value

    def id_list(self, name: str) -> list[str]:
        value = self._get(name, REQUIRED)
        if not isinstance(value, list) or not value:
            raise Rejected(f"field '{name}' must be a non-empty list of ids, got {quote(value)}")
        ids = [parse_platform_id(v, f"{name}[{i}]") for i, v in enumerate(value)]
        if len(set(ids)) != len(ids):
            raise Rejected(f"field '{name}' lists the same id twice")
        return ids

    def ref(self, model: type[M], name: str, *, label: str | None = None, lock: bool = False,
            queryset: models.QuerySet | None = None) -> M:
        """The object whose platform id is in field `name`, or a rejection naming it."""
        platform_id = self.platform_id(name)
        qs = queryset if queryset is not None else model._default_manager.all()
        if lock:
            qs = qs.select_for_update()
        try:
            return qs.get(platform_id=platform_id)
        except model.DoesNotExist:
            raise Rejected(f"unknown {label or name} {platform_id!r}") from None

    def check_not_older(self, obj: models.Model, label: str, field: str = "changed_at") -> None:
        last = getattr(obj, field)
        if last is not None and self.at < last:
            raise Rejected(
                f"event time {self.at.isoformat()} is older than the last change of {label} "
                f"({last.astimezone(dt.UTC).isoformat()})"
            )


Handler = Callable[[Event], None]
BatchHandler = Callable[[list[Event]], list[Exception | None]]
