import pytest
from django.core.management import CommandError

from pddadmin.jobs.models import JobRun, Outcome
from pddadmin.jobs.runner import UnknownJob, run_job

pytestmark = pytest.mark.django_db


def test_run_job_returns_and_records_the_summary_line():
    summary = run_job("issue_payouts")
    run = JobRun.objects.get()
    assert summary.startswith("issue_payouts: 0 payouts")
    assert (run.job, run.outcome, run.summary, run.error) == ("issue_payouts", Outcome.OK, summary, "")
    assert run.started_at <= run.finished_at


def test_a_command_error_is_recorded_and_raised():
    with pytest.raises(CommandError, match="--now must be"):
        run_job("process_deadlines", now="yesterday-ish")
    run = JobRun.objects.get()
    assert run.outcome == Outcome.FAILED
    assert "--now must be an ISO-8601 time" in run.summary
    assert "CommandError" in run.error


def test_unknown_job():
    with pytest.raises(UnknownJob, match="unknown job 'nap'"):
        run_job("nap")
    assert not JobRun.objects.exists()
