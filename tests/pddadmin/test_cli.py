import datetime as dt

import pytest
from django.core.management.base import CommandError

from pddadmin.cli import parse_moment_option

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-10T00:00:00+08:00", dt.datetime(2026, 3, 10, tzinfo=SHANGHAI)),
        ("2026-03-09T16:00:00Z", dt.datetime(2026, 3, 10, tzinfo=SHANGHAI)),
        ("2026-03-10T00:00:00", dt.datetime(2026, 3, 10, tzinfo=SHANGHAI)),  # no offset: Shanghai wall clock
        ("2026-03-10", dt.datetime(2026, 3, 10, tzinfo=SHANGHAI)),  # a date: its Shanghai midnight
    ],
)
def test_command_times_are_iso_8601_with_shanghai_as_the_default_zone(text, expected):
    assert parse_moment_option(text, "--now") == expected


@pytest.mark.parametrize("text", ["tomorrow", "10/03/2026", "2026-02-30T00:00:00+08:00", ""])
def test_a_bad_time_names_the_option(text):
    with pytest.raises(CommandError, match="--now must be an ISO-8601 time"):
        parse_moment_option(text, "--now")
