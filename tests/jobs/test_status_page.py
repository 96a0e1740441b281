"""/jobs/: platform admins see each job's last run, and failures with their error."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from pddadmin.jobs.models import JobRun, Outcome
from pddadmin.jobs.runner import run_job
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/jobs/"


@pytest.fixture
def admin_client(login):
    return login(factories.UserFactory(is_superuser=True))


def test_url_name():
    assert reverse("jobs:status") == URL


def test_anonymous_goes_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("who", ["owner", "agent", "reviewer"])
def test_only_platform_admins(login, request, who):
    assert login(request.getfixturevalue(who)).get(URL).status_code == 403


def test_a_failing_job_is_visible_with_its_error(admin_client, monkeypatch):
    call_command("setup_schedules")
    run_job("issue_payouts")

    def broken(**kwargs):
        raise RuntimeError("disk full while writing snapshots")

    monkeypatch.setattr("metrics.management.commands.compute_metrics.metrics_compute", broken)
    with pytest.raises(RuntimeError):
        run_job("compute_metrics")

    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="jobs-failing"' in page and "1 job is failing" in page
    row = page.split('id="job-compute_metrics"')[1].split("</tr>")[0]
    assert 'data-outcome="failed"' in row and "RuntimeError: disk full while writing snapshots" in row
    ok_row = page.split('id="job-issue_payouts"')[1].split("</tr>")[0]
    assert 'data-outcome="ok"' in ok_row and "issue_payouts: 0 payouts" in ok_row
    never_row = page.split('id="job-process_deadlines"')[1].split("</tr>")[0]
    assert 'data-outcome="never"' in never_row
    failure = JobRun.objects.get(outcome=Outcome.FAILED)
    block = page.split(f'id="failure-{failure.pk}"')[1]
    assert "Traceback" in block and "disk full while writing snapshots" in block

    # Once the job succeeds again it is no longer "failing", but the failure stays listed.
    monkeypatch.undo()
    run_job("compute_metrics", date="2026-01-01")
    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="jobs-failing"' not in page
    assert f'id="failure-{failure.pk}"' in page


def test_a_run_that_never_finished_is_shown_as_stuck(admin_client):
    JobRun.objects.create(job="process_deadlines", started_at=timezone.now() - dt.timedelta(hours=2))
    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = page.split('id="job-process_deadlines"')[1].split("</tr>")[0]
    assert 'data-outcome="stuck"' in row and "did not finish" in row
    assert "1 job is failing" in page


def test_unscheduled_job_is_pointed_out(admin_client):
    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.count("not scheduled: run setup_schedules") == 3


def test_run_history_admin_filters_by_the_known_jobs(admin_client):
    now = timezone.now()
    JobRun.objects.create(job="compute_metrics", started_at=now, outcome=Outcome.OK, summary="metrics run")
    JobRun.objects.create(job="issue_payouts", started_at=now, outcome=Outcome.OK, summary="payouts run")
    page = admin_client.get("/admin/jobs/jobrun/?job=compute_metrics")
    assert page.status_code == 200
    text = page.content.decode()
    assert "metrics run" in text and "payouts run" not in text
    assert "process_deadlines" in text  # offered in the filter though it never ran
