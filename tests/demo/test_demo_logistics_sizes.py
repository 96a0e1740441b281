"""The demo's logistics story (tests/demo/test_demo_logistics.py) in small worlds ending at either
edge of a day: its market is laid out from the end of the last snapshotted day, not from the hour
of the end, and fits a period of ten days. A module of its own: test_demo_logistics.py keeps its
default-size world for the whole module."""

import datetime as dt

import pytest

from metrics.models import Flag, GoodsDaySnapshot, ShopDaySnapshot

from .test_demo_logistics import export, owner_shop, seed


@pytest.mark.django_db
@pytest.mark.parametrize("end", ["2026-03-01T00:30:00+08:00", "2026-03-01T23:40:00+08:00"])
def test_the_story_holds_in_a_small_world_at_any_hour(end):
    """Ten days and 40 random orders, ending just after midnight or just before it."""
    seed("--orders", "40", "--days", "10", "--seed", "5", "--end", end)
    last_day = dt.datetime.fromisoformat(end).date() - dt.timedelta(days=1)
    shop = owner_shop()
    assert GoodsDaySnapshot.objects.filter(shop=shop, date=last_day, logistics_restricted_since__isnull=False)
    assert ShopDaySnapshot.objects.filter(date=last_day, logistics_restricted_since__isnull=False).exists()
    document = export("export_forecast", "--date", last_day.isoformat(), "--shop", shop.platform_id)
    assert any(len(r["cases"]) >= 2 for r in document["goods"] if r["level"] == Flag.OVER_3X), document
