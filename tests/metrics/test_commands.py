"""compute_metrics and export_metrics as SPEC §9 words them."""

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from metrics.models import ShopDaySnapshot
from tests import factories
from tests.conftest import at
from tests.metrics.helpers import case, orders, refund

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def figures(db):
    """S0002: 3 grouped orders, 1 quality + dispute refund, 1 intervention; S0001: nothing."""
    empty = factories.ShopFactory(platform_id="S0001")
    shop = factories.ShopFactory(platform_id="S0002")
    goods = factories.GoodsFactory(shop=shop)
    a, b, _c = orders(goods, 3, at("2026-03-20 10:00"))
    refund(a, at("2026-03-21 10:00"), intervened=True, liable="merchant")
    case(b, intervened_at=at("2026-03-22 10:00"))
    return empty, shop


def test_export_json_computes_missing_snapshot(figures):
    document = json.loads(run("export_metrics", "--date", "2026-03-31"))
    assert document == {
        "date": "2026-03-31",
        "window_days": 30,
        "shops": [
            {"shop": "S0001", "grouped_orders": 0, "dispute_refund_orders": 0, "quality_refund_orders": 0,
             "intervention_orders": 0, "logistics_anomaly_orders": 0, "dispute_refund_rate": None,
             "quality_refund_rate": None, "intervention_rate": None, "logistics_anomaly_rate": None},
            {"shop": "S0002", "grouped_orders": 3, "dispute_refund_orders": 1, "quality_refund_orders": 1,
             "intervention_orders": 2, "logistics_anomaly_orders": 0, "dispute_refund_rate": 0.333333,
             "quality_refund_rate": 0.333333, "intervention_rate": 0.666667,
             "logistics_anomaly_rate": 0.0},  # 0 / (0 × 100 + 3)
        ],
    }
    assert ShopDaySnapshot.objects.filter(date=dt.date(2026, 3, 31)).count() == 2


def test_export_reads_the_existing_snapshot(figures):
    run("compute_metrics", "--date", "2026-03-31")
    _empty, shop = figures
    orders(shop.goods.get(), 7, at("2026-03-25 10:00"))  # after the snapshot: not in the export
    document = json.loads(run("export_metrics", "--date", "2026-03-31", "--shop", "S0002"))
    assert [row["grouped_orders"] for row in document["shops"]] == [3]


def test_export_csv_has_header_and_empty_cells_for_null(figures):
    rows = list(csv.reader(io.StringIO(run("export_metrics", "--date", "2026-03-31", "--format", "csv"))))
    assert rows == [
        ["shop", "grouped_orders", "dispute_refund_orders", "quality_refund_orders", "intervention_orders",
         "logistics_anomaly_orders", "dispute_refund_rate", "quality_refund_rate", "intervention_rate",
         "logistics_anomaly_rate"],
        ["S0001", "0", "0", "0", "0", "0", "", "", "", ""],
        ["S0002", "3", "1", "1", "2", "0", "0.333333", "0.333333", "0.666667", "0.000000"],
    ]


def test_export_unknown_shop_is_an_error(figures):
    with pytest.raises(CommandError, match="unknown shop 'S9999'"):
        run("export_metrics", "--date", "2026-03-31", "--shop", "S9999")


def test_export_bad_date_is_an_error(figures):
    with pytest.raises(CommandError, match="invalid date"):
        run("export_metrics", "--date", "31/03/2026")


def test_compute_metrics_is_idempotent_and_summarises(figures):
    first = run("compute_metrics", "--date", "2026-03-31")
    second = run("compute_metrics", "--date", "2026-03-31")
    assert first.startswith("compute_metrics: 2026-03-31: 2 shops, 1 goods (0 flagged, 0 restricted)")
    assert second.splitlines()[0].rsplit(" in ", 1)[0] == first.splitlines()[0].rsplit(" in ", 1)[0]
    assert ShopDaySnapshot.objects.count() == 2


def test_compute_metrics_defaults_to_yesterday_in_shanghai(figures, monkeypatch):
    from django.utils import timezone

    # 2026-04-01 00:30 in Shanghai is still 2026-03-31 in UTC: "yesterday" is 2026-03-31.
    monkeypatch.setattr(timezone, "now", lambda: at("2026-04-01 00:30").astimezone(dt.UTC))
    assert run("compute_metrics").startswith("compute_metrics: 2026-03-31:")


def test_export_says_what_it_did_on_stderr_and_keeps_stdout_for_data(figures):
    first_err, second_err = io.StringIO(), io.StringIO()
    out = run("export_metrics", "--date", "2026-03-31", stderr=first_err)
    json.loads(out)  # nothing but the document on stdout
    run("export_metrics", "--date", "2026-03-31", "--shop", "S0002", "--format", "csv", stderr=second_err)
    assert first_err.getvalue() == "export_metrics: 2026-03-31: 2 shops written as json (snapshot computed now)\n"
    assert second_err.getvalue() == "export_metrics: 2026-03-31: 1 shop written as csv (stored snapshot)\n"
