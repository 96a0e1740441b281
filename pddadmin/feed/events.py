"""The feed event envelope and typed readers for its fields (SPEC §8).

Readers raise `Rejected` with a message that names the field, so the importer can print a
one-line reason without the handlers formatting anything.
"""

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)
REQUIRED: Any = object()


class Rejected(Exception):
    """A feed line that cannot be applied; the message is the one-line reason."""


def parse_moment(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise Rejected(f"field '{name}' must be an ISO-8601 time string, got {json.dumps(value)}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(f"field '{name}' is not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Rejected(f"field '{name}' has no UTC offset: {value!r}")
    return moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class Event:
    line: int
    id: str
    type: str
    at: dt.datetime
    data: dict[str, Any]

    @classmethod
    def parse(cls, raw: str | bytes, line: int) -> "Event":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise Rejected(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
        except UnicodeDecodeError:
            raise Rejected("line is not valid UTF-8") from None
        if not isinstance(data, dict):
            raise Rejected("an event must be a JSON object")
        event_id = data.get("id")
        if not isinstance(event_id, str) or not event_id.strip():
            raise Rejected("field 'id' is missing or not a non-empty string")
        if len(event_id) > 128:
            raise Rejected("field 'id' is longer than 128 characters")
        event_type = data.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise Rejected("field 'type' is missing or not a string")
        if "at" not in data or data["at"] is None:
            raise Rejected("field 'at' is missing")
        return cls(line=line, id=event_id, type=event_type, at=parse_moment(data["at"], "at"), data=data)

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
            raise Rejected(f"field '{name}' must be a non-empty string")
        if len(value) > max_length:
            raise Rejected(f"field '{name}' is longer than {max_length} characters")
        return value.strip()

    def money(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, str):
            raise Rejected(f"field '{name}' must be a decimal string such as \"59.90\", got {json.dumps(value)}")
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise Rejected(f"field '{name}' is not a decimal amount: {value!r}") from None
        if not amount.is_finite():
            raise Rejected(f"field '{name}' is not a finite amount: {value!r}")
        if amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise Rejected(f"field '{name}' has more than 2 decimal places: {value!r}")
        if abs(amount) >= Decimal("1e12"):
            raise Rejected(f"field '{name}' is too large: {value!r}")
        return amount.quantize(Decimal("0.01"))

    def moment(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        return parse_moment(value, name)

    def flag(self, name: str, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise Rejected(f"field '{name}' must be true or false, got {json.dumps(value)}")
        return value

    def choice(self, name: str, choices: Any, default: Any = REQUIRED) -> Any:
        value = self._get(name, default)
        if value is default and default is not REQUIRED:
            return value
        allowed = [str(c) for c in choices]
        if value not in allowed:
            raise Rejected(f"field '{name}' must be one of {', '.join(allowed)}; got {json.dumps(value)}")
        return value

    def text_list(self, name: str) -> list[str]:
        value = self._get(name, REQUIRED)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise Rejected(f"field '{name}' must be a non-empty list of ids")
        if len(set(value)) != len(value):
            raise Rejected(f"field '{name}' lists the same id twice")
        return value

    def ref(self, model: type[M], name: str, *, label: str | None = None, lock: bool = False,
            queryset: models.QuerySet | None = None) -> M:
        """The object whose platform id is in field `name`, or a rejection naming it."""
        platform_id = self.text(name, max_length=64)
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
