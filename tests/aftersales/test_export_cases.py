"""`export_cases` (SPEC §9): exact columns, formats and the CSV formula guard."""

import contextlib
import csv
import io
import json
import zoneinfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.models import Liable, State
from aftersales.services import cases as svc
from pddadmin.exports import safe_cell
from tests.aftersales.helpers import HOUR, case_in, last_step_at, make_order, open_case

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
COLUMNS = [
    "case",
    "order",
    "shop",
    "kind",
    "state",
    "close_reason",
    "reason",
    "amount",
    "refund_amount",
    "refunded_at",
    "intervened",
    "liable",
]


def export(fmt: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        call_command("export_cases", "--format", fmt, stdout=out)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def cases(reviewer):
    pending = open_case(amount="12.30")
    ruled = case_in(State.UNDER_INTERVENTION)
    ruled = svc.case_rule(
        case=ruled, liable=Liable.MERCHANT, note="n", actor=reviewer, at=last_step_at(State.UNDER_INTERVENTION) + HOUR
    )
    cancelled = case_in(State.CLOSED)
    return pending, ruled, cancelled


def test_jsonl_rows(cases):
    pending, ruled, _ = cases
    text, err = export("jsonl")
    rows = [json.loads(line) for line in text.splitlines()]
    assert [list(r) for r in rows] == [COLUMNS] * 3
    assert rows[0] == {
        "case": pending.platform_id,
        "order": pending.order.platform_id,
        "shop": pending.shop.platform_id,
        "kind": "refund_only",
        "state": "pending_merchant",
        "close_reason": None,
        "reason": "quality_issue",
        "amount": "12.30",
        "refund_amount": None,
        "refunded_at": None,
        "intervened": False,
        "liable": None,
    }
    assert rows[1]["state"] == "refunded" and rows[1]["refund_amount"] == "59.90"
    assert rows[1]["refunded_at"] == ruled.resolved_at.astimezone(SHANGHAI).isoformat()
    assert rows[1]["refunded_at"].endswith("+08:00")
    assert (rows[1]["intervened"], rows[1]["liable"]) == (True, "merchant")
    assert (rows[2]["state"], rows[2]["close_reason"]) == ("closed", "buyer_cancelled")
    assert err.strip() == "export_cases: 3 cases written as jsonl"


def test_csv_rows(cases):
    text, _ = export("csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    assert rows[1][COLUMNS.index("close_reason")] == "" and rows[1][COLUMNS.index("intervened")] == "false"
    assert rows[2][COLUMNS.index("intervened")] == "true" and rows[2][COLUMNS.index("amount")] == "59.90"
    assert len(rows) == 4


def test_csv_neutralises_formula_like_ids():
    order = make_order(platform_id="=HYPERLINK(1)")
    open_case(order)
    text, _ = export("csv")
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[COLUMNS.index("order")] == "'=HYPERLINK(1)"
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(prefix + "x") == "'" + prefix + "x"
    assert safe_cell("x=1") == "x=1"


def test_export_is_one_query_whatever_the_number_of_cases(cases):
    with CaptureQueriesContext(connection) as ctx:
        export("jsonl")
    assert len(ctx.captured_queries) <= 2  # the select (plus a cursor declaration on some backends)
