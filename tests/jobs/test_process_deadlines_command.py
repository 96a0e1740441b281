"""`manage.py process_deadlines` run by hand starts as the scheduled run does: without Django's
system checks (call_command, which the runner uses, skips them; by hand they imported every
view and template tag, ~0.4 s of the command's start-up)."""

import io
from contextlib import redirect_stdout

import pytest
from django.core.management import ManagementUtility, call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def checks_fail(monkeypatch):
    def run_checks(*args, **kwargs):
        raise AssertionError("system checks ran")

    monkeypatch.setattr("django.core.management.base.checks.run_checks", run_checks)
    # run_from_argv closes every connection when the command ends: the test's own too.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


def by_hand(*argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        ManagementUtility(["manage.py", "process_deadlines", *argv]).execute()
    return out.getvalue()


def test_run_by_hand_skips_the_system_checks(checks_fail):
    text = by_hand("--now", "2026-01-05T00:00:00+08:00")
    assert text.startswith("process_deadlines: 0 cases moved at their deadlines up to 2026-01-05 00:00:00")


def test_skip_checks_is_still_accepted(checks_fail):
    assert by_hand("--now", "2026-01-05T00:00:00+08:00", "--skip-checks").startswith("process_deadlines: 0 cases")
    out = io.StringIO()
    call_command("process_deadlines", now="2026-01-05T00:00:00+08:00", skip_checks=False, stdout=out)
    assert out.getvalue().startswith("process_deadlines: 0 cases")
