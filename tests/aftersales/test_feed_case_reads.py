"""A case line reads its case once: the handler reads it locked, with what the rules read, and
tells the service so (`locked=True`), which does not read it again."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.models import AfterSalesCase, State
from pddadmin.feed.importer import import_events
from tests.feed.helpers import feed_line

from .test_feed_cases import t, world

pytestmark = pytest.mark.django_db


def case_reads(line: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        report = import_events(lines=[line])
    assert (report.applied, report.rejections) == (1, [])
    return sum(1 for q in queries if q["sql"].startswith("SELECT") and 'FROM "aftersales_aftersalescase"' in q["sql"])


def test_each_case_line_reads_its_case_once():
    opened = feed_line("e-c1", "case.opened", t(50), order="O1", case="C1", kind="refund_only",
                       reason="quality_issue", amount="59.90")  # fmt: skip
    report = import_events(lines=[*world(), feed_line("e-ship", "order.shipped", t(2), order="O1", tracking="SF1"),
                                  opened])  # fmt: skip
    assert report.rejections == []
    assert case_reads(feed_line("e-r", "case.merchant_refused", t(51), case="C1", reason="已发货")) == 1
    assert case_reads(feed_line("e-x", "case.escalated", t(52), case="C1")) == 1
    assert AfterSalesCase.objects.get(platform_id="C1").state == State.UNDER_INTERVENTION
