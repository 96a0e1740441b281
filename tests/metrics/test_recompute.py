"""Re-running compute_metrics for a stored day: only what changed is written (SPEC §9: idempotent)."""


import pytest

from metrics.models import GoodsDaySnapshot, ShopDaySnapshot
from metrics.services import metrics_compute
from tests import factories
from tests.concurrency import errors_of, run_in_threads
from tests.conftest import at
from tests.metrics.helpers import orders, refund
from tests.metrics.test_compute import D

pytestmark = pytest.mark.django_db


def stamps() -> dict:
    """Every stored row of D by key, with its computed_at."""
    goods = {(r.shop_id, r.goods_id): r.computed_at for r in GoodsDaySnapshot.objects.filter(date=D)}
    shops = {r.shop_id: r.computed_at for r in ShopDaySnapshot.objects.filter(date=D)}
    return {"goods": goods, "shops": shops}


def test_rerun_rewrites_only_the_rows_whose_figures_changed(shop, other_shop):
    # Other categories than g1's: a refund of g1 changes its whole category's figures.
    g1, g2 = factories.GoodsFactory(shop=shop), factories.GoodsFactory(shop=shop, category="home")
    g3 = factories.GoodsFactory(shop=other_shop, category="home")
    (o1, _) = orders(g1, 2, at("2026-03-20 10:00"))
    orders(g3, 1, at("2026-03-20 10:00"))
    metrics_compute(day=D)
    before = stamps()

    refund(o1, at("2026-03-25 10:00"))  # g1 and its shop change
    g4 = factories.GoodsFactory(shop=shop)  # listed after the first run: a new row
    metrics_compute(day=D)
    after = stamps()

    assert after["goods"][(shop.pk, g1.pk)] > before["goods"][(shop.pk, g1.pk)]
    assert after["goods"][(shop.pk, g2.pk)] == before["goods"][(shop.pk, g2.pk)]
    assert after["goods"][(other_shop.pk, g3.pk)] == before["goods"][(other_shop.pk, g3.pk)]
    assert (shop.pk, g4.pk) in after["goods"] and len(after["goods"]) == 4
    assert after["shops"][shop.pk] > before["shops"][shop.pk]
    assert after["shops"][other_shop.pk] == before["shops"][other_shop.pk]
    row = GoodsDaySnapshot.objects.get(date=D, goods=g1)
    assert (row.grouped_orders, row.quality_refund_orders) == (2, 1)
    assert ShopDaySnapshot.objects.get(date=D, shop=shop).quality_refund_orders == 1

    metrics_compute(day=D)  # nothing changed since: nothing is written
    assert stamps() == after


def test_rerun_follows_goods_that_moved_or_were_deleted(shop, other_shop):
    moved, dropped = factories.GoodsFactory(shop=shop), factories.GoodsFactory(shop=shop)
    orders(moved, 3, at("2026-03-20 10:00"))
    metrics_compute(day=D)

    type(moved).objects.filter(pk=moved.pk).update(shop=other_shop)  # behind the feed's back
    dropped.delete()  # no orders: deletable, and its snapshot rows go with it
    assert not GoodsDaySnapshot.objects.filter(goods_id=dropped.pk).exists()
    metrics_compute(day=D)

    assert list(GoodsDaySnapshot.objects.filter(date=D).values_list("shop_id", "goods_id")) == [
        (other_shop.pk, moved.pk)
    ]
    shops = dict(ShopDaySnapshot.objects.filter(date=D).values_list("shop_id", "grouped_orders"))
    assert shops == {shop.pk: 0, other_shop.pk: 3}


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_day_at_once_leave_one_row_each(postgres_only, shop):
    goods = factories.GoodsFactory(shop=shop)
    orders(goods, 4, at("2026-03-20 10:00"))
    outcomes = run_in_threads(4, lambda i: metrics_compute(day=D))
    errors = errors_of(outcomes)
    assert errors == []
    assert GoodsDaySnapshot.objects.filter(date=D).count() == 1
    assert ShopDaySnapshot.objects.get(date=D, shop=shop).grouped_orders == 4
