"""Set-based writes on PostgreSQL: many rows in one statement, each column one array parameter.

`INSERT … SELECT FROM unnest(%s::bigint[], …)` and `UPDATE … FROM unnest(…)` send a batch's rows as
a few arrays, whatever their number: no statement text that grows with the rows (no `IN (…)` list,
no `CASE WHEN id = … THEN …` per row as Django's bulk_update builds), and no model instance per row.
Ids are taken with `nextval` in the statement, so rows that point at each other (a charge at its
ledger transaction) are written in one round trip. The other databases (SQLite, for the tests)
keep the ORM's bulk calls: callers check `set_based()`.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def set_based() -> bool:
    return connection.vendor == "postgresql"


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def next_id(model: type[Model]) -> str:
    """SQL taking the next id of `model`'s table (its identity sequence), once per row."""
    return f"nextval(pg_get_serial_sequence('{model._meta.db_table}', 'id'))"


def unnest(alias: str, columns: Sequence[tuple[str, str]]) -> str:
    """`unnest(%s::type[], …) WITH ORDINALITY AS alias(name, …, ord)` for (name, type) columns:
    the caller passes one list per column, in the same order; `ord` numbers the rows from 1."""
    arrays = ", ".join(f"%s::{kind}[]" for _name, kind in columns)
    names = ", ".join(name for name, _kind in columns)
    return f"unnest({arrays}) WITH ORDINALITY AS {alias}({names}, ord)"


def update_column(model: type[Model], column: str, kind: str, ids: Sequence[int], values: Sequence) -> int:
    """Set `column` of each row `ids[i]` to `values[i]`, in one statement; rows changed."""
    if not ids:
        return 0
    name = connection.ops.quote_name(column)
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table(model)} t SET {name} = v.value FROM unnest(%s::bigint[], %s::{kind}[]) AS v(id, value) "
            "WHERE t.id = v.id",
            [list(ids), list(values)],
        )
        return cur.rowcount
