"""Set-based writes on PostgreSQL: many rows in one statement, each column one array parameter.

`INSERT … SELECT FROM unnest(%s::bigint[], …)` and `UPDATE … FROM unnest(…)` send a batch's rows as
a few arrays, whatever their number: no statement text that grows with the rows (no `IN (…)` list,
no `CASE WHEN id = … THEN …` per row as Django's bulk_update builds), and no model instance per row.
Ids are taken with `nextval` in the statement, so rows that point at each other (a charge at its
ledger transaction) are written in one round trip. The other databases (SQLite, for the tests)
keep the ORM's bulk calls: callers check `set_based()`. Shared by every app that writes or
narrows by the batch (the feed, the deadline and charge jobs).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import is_not

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    ExpressionWrapper,
    IntegerField,
    Model,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.expressions import RawSQL


def set_based() -> bool:
    return connection.vendor == "postgresql"


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def next_id(model: type[Model]) -> str:
    """SQL taking the next id of `model`'s table (its identity sequence), once per row."""
    return f"nextval(pg_get_serial_sequence('{model._meta.db_table}', 'id'))"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array(kind: str, values: Iterable) -> str:
    """A PostgreSQL array literal of `values` (None: NULL), for a `%s::kind[]` parameter.

    psycopg would quote a Python list element by element through its generic dumpers, which for
    a batch's tens of thousands of values costs more than the statement; one string is quoted once.
    Text and times are double-quoted (backslash escapes), numbers written as they are. A column
    without NULLs (and, for text, without a quote or backslash to escape) is joined in one call:
    the job's batches send a few hundred thousand values per statement."""
    values = values if isinstance(values, list) else list(values)
    whole = all(map(is_not, values, repeat(None)))  # not `None in`: that asks each value's __eq__
    if kind in ("bigint", "int", "numeric"):
        body = ",".join(map(str, values)) if whole else ",".join("NULL" if v is None else str(v) for v in values)
    elif kind == "timestamptz":
        if whole:  # an ISO time needs no quotes: no space, comma, brace, quote or backslash
            body = ",".join(map(dt.datetime.isoformat, values))
        else:
            body = ",".join("NULL" if v is None else v.isoformat() for v in values)
    elif kind == "text":
        everything = "".join(values) if whole else None
        if everything is not None and '"' not in everything and "\\" not in everything:
            body = '"' + '","'.join(values) + '"' if values else ""
        else:
            body = ",".join("NULL" if v is None else _quoted(v) for v in values)
    else:
        raise ValueError(f"no array literal for {kind}")
    return "{" + body + "}"


def kind_of(field) -> str:
    """The `array` kind of a model field's values."""
    if isinstance(field, DateTimeField):
        return "timestamptz"
    if isinstance(field, CharField | TextField):
        return "text"
    if isinstance(field, DecimalField):
        return "numeric"
    target = field.target_field if field.is_relation else field
    if isinstance(target, IntegerField):
        return "bigint"
    raise ValueError(f"no array literal for {field!r}")


def arrays(columns: Sequence[tuple[str, str]], lists: Sequence[Iterable]) -> dict[str, str]:
    """The parameters of `unnest(alias, columns)`: each column's values as an array literal."""
    return {name: array(kind, values) for (name, kind), values in zip(columns, lists, strict=True)}


def unnest(alias: str, columns: Sequence[tuple[str, str]]) -> str:
    """`unnest(%(name)s::type[], …) WITH ORDINALITY AS alias(name, …, ord)` for (name, type)
    columns: the caller passes one list per column under its name; `ord` numbers the rows from 1."""
    arrays = ", ".join(f"%({name})s::{kind}[]" for name, kind in columns)
    names = ", ".join(name for name, _kind in columns)
    return f"unnest({arrays}) WITH ORDINALITY AS {alias}({names}, ord)"


def among(model: type[Model], field: str, values: Iterable) -> Q | ExpressionWrapper:
    """A filter: `model`'s `field` (its name or column) is one of `values`.

    On PostgreSQL one array parameter (`= ANY(%s)`): an `IN (…)` list of a placeholder per value
    costs more to quote, send and parse than the index look-ups it asks for. Elsewhere `IN (…)`."""
    values = list(values)
    if not set_based():
        return Q(**{f"{field}__in": values})
    model_field = model._meta.get_field(field)
    target = model_field.target_field if model_field.is_relation else model_field
    kind = "bigint" if isinstance(target, IntegerField) else "text"
    sql = f"{table(model)}.{connection.ops.quote_name(model_field.column)} = ANY(%s::{kind}[])"
    return ExpressionWrapper(RawSQL(sql, [array(kind, values)]), output_field=BooleanField())


def fetch(values: QuerySet) -> list[tuple]:
    """The rows of a `values_list` queryset as the cursor reads them, without the ORM's per-row
    iteration and converters (a job reads tens of thousands a batch). Their values are the
    driver's: times as `micros` annotations, not DateTimeFields, where they count. Django keeps the
    columns in the order values_list names them, annotations included."""
    sql, params = values.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def micros(model: type[Model], column: str) -> RawSQL:
    """A timestamp column as microseconds since the epoch (PostgreSQL), exact: an integer the client
    reads without parsing a datetime, for rows read by the thousand only to be compared."""
    name = f"{table(model)}.{connection.ops.quote_name(column)}"
    return RawSQL(f"(EXTRACT(EPOCH FROM {name}) * 1000000)::bigint", [], output_field=BigIntegerField())


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def from_micros(micros: int) -> dt.datetime:
    """The UTC datetime `micros(…)` read: exact, and far cheaper than the client parsing its text."""
    return EPOCH + dt.timedelta(microseconds=micros)
