"""From the platform feed to the export: import_events → compute_metrics → export_metrics."""

import io
import json

import pytest
from django.core.management import call_command

from aftersales.models import Refund
from metrics.models import ShopDaySnapshot

pytestmark = pytest.mark.django_db

FEED = [
    {"type": "shop.opened", "at": "2026-03-01T09:00:00+08:00", "shop": "S1", "name": "茶叶店"},
    {"type": "goods.listed", "at": "2026-03-01T09:10:00+08:00", "shop": "S1", "goods": "G1", "name": "绿茶",
     "category": "tea"},
    *[{"type": "order.placed", "at": "2026-03-10T10:00:00+08:00", "order": f"O{n}", "shop": "S1", "goods": "G1",
       "buyer": f"B{n}", "amount": "59.90", "promised_ship_by": "2026-03-20T10:00:00+08:00"} for n in range(1, 5)],
    *[{"type": "order.grouped", "at": "2026-03-10T10:05:00+08:00", "order": f"O{n}"} for n in range(1, 5)],
    # O1: quality case, refused, escalated, ruled merchant-liable → dispute + quality + intervention
    {"type": "case.opened", "at": "2026-03-12T10:00:00+08:00", "case": "C1", "order": "O1", "kind": "refund_only",
     "reason": "quality_issue", "amount": "59.90"},
    {"type": "case.merchant_refused", "at": "2026-03-12T11:00:00+08:00", "case": "C1", "reason": "用户使用不当"},
    {"type": "case.escalated", "at": "2026-03-12T12:00:00+08:00", "case": "C1"},
    {"type": "case.ruled", "at": "2026-03-13T10:00:00+08:00", "case": "C1", "liable": "merchant",
     "note": "商品确有质量问题"},
    # O2: opened as "changed mind", resubmitted as damaged in transit, agreed → a logistics refund, not quality
    {"type": "case.opened", "at": "2026-03-14T10:00:00+08:00", "case": "C2", "order": "O2", "kind": "refund_only",
     "reason": "changed_mind", "amount": "59.90"},
    {"type": "case.merchant_refused", "at": "2026-03-14T11:00:00+08:00", "case": "C2", "reason": "不支持"},
    {"type": "case.resubmitted", "at": "2026-03-14T12:00:00+08:00", "case": "C2", "reason": "damaged_in_transit"},
    {"type": "case.merchant_agreed", "at": "2026-03-14T13:00:00+08:00", "case": "C2"},
    # O3: a quality case the buyer cancelled → nothing
    {"type": "case.opened", "at": "2026-03-15T10:00:00+08:00", "case": "C3", "order": "O3", "kind": "refund_only",
     "reason": "defective", "amount": "10.00"},
    {"type": "case.cancelled", "at": "2026-03-15T11:00:00+08:00", "case": "C3"},
]


def test_feed_to_export(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "".join(json.dumps({"id": f"e{n}", **event}, ensure_ascii=False) + "\n" for n, event in enumerate(FEED)),
        encoding="utf-8",
    )
    err = io.StringIO()
    call_command("import_events", str(feed), stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""
    assert Refund.objects.count() == 2

    call_command("compute_metrics", "--date", "2026-03-31", stdout=io.StringIO())
    out = io.StringIO()
    call_command("export_metrics", "--date", "2026-03-31", stdout=out)
    assert json.loads(out.getvalue())["shops"] == [{
        "shop": "S1", "grouped_orders": 4, "dispute_refund_orders": 1, "quality_refund_orders": 1,
        "intervention_orders": 1, "logistics_anomaly_orders": 1, "dispute_refund_rate": 0.25,
        "quality_refund_rate": 0.25, "intervention_rate": 0.25,
        "logistics_anomaly_rate": 0.009615,  # 1 / (1 × 100 + 4) = 0.0096153…
    }]
    snapshot = ShopDaySnapshot.objects.get(date="2026-03-31")
    assert snapshot.logistics_anomaly_orders == 1  # O2, classified by its reason at refund time
    # the day view: nothing happened on 2026-03-31
    assert (snapshot.day_grouped_orders, snapshot.day_quality_refund_orders) == (0, 0)
