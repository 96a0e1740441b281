"""The job commands start without Django's system checks when run by hand, as the scheduler's
call_command runs them (`pddadmin.cli.JobCommand`): the checks import every view and template
tag, ~0.4 s of a 1 s start-up. --skip-checks stays accepted."""

import gc
import io
from contextlib import redirect_stdout

import pytest
from django.core.management import ManagementUtility, call_command, get_commands, load_command_class

pytestmark = pytest.mark.django_db

RUNS = {
    "import_events": ["-"],
    "compute_metrics": ["--date", "2026-01-04"],
    "issue_payouts": ["--now", "2026-01-05T00:00:00+08:00"],
    "process_deadlines": ["--now", "2026-01-05T00:00:00+08:00"],
}


@pytest.fixture
def checks_fail(monkeypatch):
    def run_checks(*args, **kwargs):
        raise AssertionError("system checks ran")

    monkeypatch.setattr("django.core.management.base.checks.run_checks", run_checks)
    # run_from_argv closes every connection when the command ends: the test's own too.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("extra", [[], ["--skip-checks"]])
def test_a_job_command_by_hand_runs_no_system_checks(checks_fail, monkeypatch, name, extra):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    out = io.StringIO()
    with redirect_stdout(out):
        ManagementUtility(["manage.py", name, *RUNS[name], *extra]).execute()
    assert out.getvalue().startswith(f"{name}: ")


def test_call_command_may_still_ask_for_the_checks_to_be_skipped_or_not(checks_fail):
    out = io.StringIO()
    call_command("process_deadlines", now="2026-01-05T00:00:00+08:00", skip_checks=False, stdout=out)
    assert out.getvalue().startswith("process_deadlines: 0 cases")


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_job_runs_with_what_start_up_made_frozen_and_nothing_frozen_after(monkeypatch, name):
    # Frozen, the collector's full passes skip the start-up objects while the job allocates; after
    # it nothing stays frozen, or a process running commands again and again would keep them all.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    command = load_command_class(get_commands()[name], name)
    frozen_while_running = []
    handle = command.handle

    def watched_handle(*args, **options):
        frozen_while_running.append(gc.get_freeze_count())
        return handle(*args, **options)

    command.handle = watched_handle
    call_command(command, *RUNS[name], stdout=io.StringIO())
    assert frozen_while_running and frozen_while_running[0] > 10_000, frozen_while_running
    assert gc.get_freeze_count() == 0
