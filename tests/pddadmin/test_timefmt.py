"""#18.4: what a person reads is in Asia/Shanghai and in one format, in messages and on pages."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import translation

from aftersales.services.deadlines import DeadlineReport
from pddadmin.timefmt import shown

MOMENT = dt.datetime(2026, 12, 2, 18, 29, 5, 123456, tzinfo=dt.UTC)


def test_a_moment_is_shown_in_shanghai_to_the_minute_or_second():
    assert shown(MOMENT) == "2026-12-03 02:29"
    assert shown(MOMENT, seconds=True) == "2026-12-03 02:29:05"
    assert shown(None) == "-"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_pages_write_a_moment_the_same_way_in_each_language(language):
    with translation.override(language):
        rendered = Template("{{ at }}|{{ at|date }}|{{ at|time }}").render(Context({"at": MOMENT}))
    assert rendered == "2026-12-03 02:29|2026-12-03|02:29"


def test_the_deadline_jobs_summary_has_no_raw_utc_iso_moment():
    report = DeadlineReport(now=MOMENT)
    assert "up to 2026-12-03 02:29:05 " in report.summary()
    assert "+00:00" not in report.summary() and ".123456" not in report.summary()
