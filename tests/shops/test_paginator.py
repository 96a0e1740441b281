"""Order lists on big tables never run a full COUNT(*)."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pddadmin.shops.models import Order
from pddadmin.shops.paginator import LargeTablePaginator, planner_estimate
from tests import factories
from tests.shops.admin_helpers import client_for

ROWS = 60
LIMIT = 20


@pytest.fixture
def big_table(db, monkeypatch):
    """A table "bigger" than the exact-count limit; the limit is lowered so the test stays small."""
    monkeypatch.setattr(LargeTablePaginator, "exact_limit", LIMIT)
    goods = factories.GoodsFactory()
    template = factories.OrderFactory.build(goods=goods)
    Order.objects.bulk_create(
        Order(
            platform_id=f"BIG{n:05d}",
            shop=goods.shop,
            goods=goods,
            buyer=f"B{n}",
            amount=template.amount,
            placed_at=template.placed_at + dt.timedelta(minutes=n),
            promised_ship_by=template.promised_ship_by,
            changed_at=template.placed_at,
        )
        for n in range(ROWS)
    )
    return goods.shop


def count_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if re.search(r"COUNT\(", q["sql"], re.IGNORECASE)]


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_order_changelist_never_counts_the_whole_table(big_table, who):
    user = (
        factories.member(big_table, "owner") if who == "owner" else factories.UserFactory(is_superuser=True)
    )
    client = client_for(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:shops_order_changelist"))
    assert response.status_code == 200
    counts = count_queries(captured.captured_queries)
    assert counts, "the paginator should run its bounded count"
    for sql in counts:
        # Every COUNT runs over a LIMITed subquery: never over the whole table.
        assert re.search(r"LIMIT \d+\) subquery$", sql), sql
    assert any(f"LIMIT {LIMIT + 1}" in sql and "shops_order" in sql for sql in counts)
    cl = response.context["cl"]
    assert cl.result_count >= LIMIT + 1
    assert cl.full_result_count is None
    assert len(cl.result_list) == min(ROWS, cl.list_per_page)


def test_small_results_are_counted_exactly(big_table):
    owner = factories.member(big_table, "owner")
    response = client_for(owner).get(reverse("admin:shops_order_changelist"), {"q": "BIG00007"})
    assert response.context["cl"].result_count == 1


def test_paginator_counts_exactly_up_to_the_limit(big_table):
    queryset = Order.objects.order_by("-placed_at")
    assert LargeTablePaginator(queryset.filter(buyer="B1"), 10).count == 1
    assert LargeTablePaginator(queryset.filter(buyer__in=[f"B{n}" for n in range(LIMIT)]), 10).count == LIMIT
    big = LargeTablePaginator(queryset, 10).count
    assert big >= LIMIT + 1
    if connection.vendor == "postgresql":
        assert big == max(LIMIT + 1, planner_estimate(queryset))
    else:
        assert planner_estimate(queryset) is None
        assert big == LIMIT + 1


def test_plain_lists_still_work():
    assert LargeTablePaginator(list(range(35)), 10).num_pages == 4
