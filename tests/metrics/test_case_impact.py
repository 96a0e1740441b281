"""The case page's panel "对商品指标的影响" (issue #17.3): what each action the user can take now,
and doing nothing, would do to the goods' quality or logistics figures, against the 3× / 5× lines.

The flag rule in Python (metrics.services.over_category, logistics_over_category) is held to the
snapshot's own SQL on the same numbers first; the pages are then read over worlds built through
the feed importer and compute_metrics, as the snapshot tests build theirs.
"""

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metrics.services import _WITH_FLAGS, LOGISTICS_TIMES, logistics_over_category, over_category

pytestmark = pytest.mark.django_db

# The columns the snapshot's flag SQL reads of a goods row, given as literal numbers.
_ROW = (
    "SELECT %(grouped)s AS grouped, %(quality)s AS quality, %(cat_grouped)s AS cat_grouped, "
    "%(cat_quality)s AS cat_quality, %(cat_goods)s AS cat_goods, %(logistics)s AS logistics, "
    "%(cat_logistics)s AS cat_logistics"
)


def sql_flags(numbers: dict) -> tuple[bool, bool, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.over3, f.over5, f.overl FROM ({_WITH_FLAGS.format(inner=_ROW)}) f",
            numbers,
        )
        over3, over5, overl = cursor.fetchone()
    return bool(over3), bool(over5), bool(overl)


small = st.integers(min_value=0, max_value=40)


@st.composite
def goods_rows(draw) -> dict:
    """A goods and its category as the snapshot sees them: the goods' counts are part of its
    category's (the category sums its goods), and a goods with grouped orders is one of the
    category's goods with grouped orders."""
    grouped = draw(small)
    quality = draw(st.integers(min_value=0, max_value=grouped + 5))
    logistics = draw(st.integers(min_value=0, max_value=grouped + 5))
    return {
        "grouped": grouped,
        "quality": quality,
        "logistics": logistics,
        "cat_grouped": grouped + draw(small),
        "cat_quality": quality + draw(small),
        "cat_logistics": logistics + draw(small),
        "cat_goods": (1 if grouped else 0) + draw(st.integers(min_value=0, max_value=8)),
    }


def python_flags(n: dict) -> tuple[bool, bool, bool]:
    quality = {
        "orders": n["quality"],
        "grouped": n["grouped"],
        "category_orders": n["cat_quality"],
        "category_grouped": n["cat_grouped"],
        "members": n["cat_goods"],
    }
    logistics = {**quality, "orders": n["logistics"], "category_orders": n["cat_logistics"]}
    return over_category(k=3, **quality), over_category(k=5, **quality), logistics_over_category(**logistics)


EDGE = {"grouped": 10, "cat_grouped": 30, "cat_goods": 3, "logistics": 0, "cat_logistics": 0}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(goods_rows())
# exactly 3× on both rate (3/10 = 3 × 3/30) and count (3 = 3 × 3/3): not over
@example({**EDGE, "quality": 3, "cat_quality": 3})
# rate 4/10 > 3 × 4/30 but count 4 = 3 × 4/3: not over
@example({**EDGE, "quality": 4, "cat_quality": 4})
# one more: both strictly above 3×, and exactly 5× of neither
@example({**EDGE, "quality": 4, "cat_quality": 3})
# exactly 5× on both (5/10 = 5 × 5/50 and 5 = 5 × 5/5)
@example(
    {
        "grouped": 10,
        "quality": 5,
        "cat_grouped": 50,
        "cat_quality": 5,
        "cat_goods": 5,
        "logistics": 0,
        "cat_logistics": 0,
    }
)
# logistics at exactly 5×: 1/(100+10) = 5 × 1/(100+450)... and count 1 = 5 × 1/5
@example(
    {
        "grouped": 10,
        "quality": 0,
        "cat_grouped": 450,
        "cat_quality": 0,
        "cat_goods": 5,
        "logistics": 1,
        "cat_logistics": 1,
    }
)
# no grouped orders: never flagged, whatever the numerators
@example(
    {
        "grouped": 0,
        "quality": 3,
        "cat_grouped": 10,
        "cat_quality": 3,
        "cat_goods": 1,
        "logistics": 3,
        "cat_logistics": 3,
    }
)
def test_python_flag_rule_agrees_with_the_snapshot_sql(numbers):
    assert python_flags(numbers) == sql_flags(numbers)


def test_the_edges_are_where_spec_puts_them():
    """Strictly above, on rate and count both: the cases the examples above were chosen for."""
    at_3x = {"orders": 3, "grouped": 10, "category_orders": 3, "category_grouped": 30, "members": 3}
    assert not over_category(k=3, **at_3x)
    assert over_category(k=3, **{**at_3x, "orders": 4, "category_orders": 3})
    assert not over_category(k=3, **{**at_3x, "orders": 4, "category_orders": 4})  # count exactly 3×
    at_5x = {"orders": 1, "grouped": 10, "category_orders": 1, "category_grouped": 450, "members": 5}
    assert LOGISTICS_TIMES == 5
    assert not logistics_over_category(**at_5x)
    assert logistics_over_category(**{**at_5x, "category_grouped": 451, "members": 6})
