"""The array literals of pddadmin.setsql read back, on PostgreSQL, as the values they were made of:
the joined fast path (no NULL, nothing to escape) and the quoting path give the same arrays."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pddadmin import setsql

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def read_back(kind: str, values) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{kind}[]", [setsql.array(kind, values)])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        ["a", "b c", "拼多多", "{x}", "a,b", "NULL", " lead"],
        ['say "hi"', "back\\slash", 'both \\"', None, ""],
        [None, None],
        ["plain", None],
    ],
)
def test_text_arrays_read_back_as_they_were(postgres_only, values):
    assert read_back("text", values) == values
    assert read_back("text", iter(values)) == values  # any iterable, not only a list


@pytest.mark.parametrize(
    "kind, values",
    [
        ("bigint", [1, 2, 9_000_000_000_000]),
        ("bigint", [1, None, 3]),
        ("numeric", [Decimal("0.00"), Decimal("-12.30"), Decimal("100")]),
        ("numeric", [None, Decimal("1.01")]),
    ],
)
def test_number_arrays_read_back_as_they_were(postgres_only, kind, values):
    assert read_back(kind, values) == values


def test_time_arrays_read_back_as_the_same_instants(postgres_only):
    values = [
        dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 4, 20, 0, 0, 123456, tzinfo=SHANGHAI),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    ]
    assert read_back("timestamptz", values) == values
    assert read_back("timestamptz", [values[0], None]) == [values[0], None]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.none() | st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))))
def test_any_text_reads_back(postgres_only, values):
    assert read_back("text", values) == values


@pytest.mark.parametrize(
    "field, kind",
    [("grouped_at", "timestamptz"), ("tracking", "text"), ("amount", "numeric"), ("shop", "bigint"), ("id", "bigint")],
)
def test_a_fields_values_go_as_the_array_of_its_kind(field, kind):
    from pddadmin.shops.models import Order

    assert setsql.kind_of(Order._meta.get_field(field)) == kind


def test_a_field_of_another_kind_is_refused():
    from pddadmin.shops.models import Goods

    with pytest.raises(ValueError, match="no array literal"):
        setsql.kind_of(Goods._meta.get_field("warranty"))
