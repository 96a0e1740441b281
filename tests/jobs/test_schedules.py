"""The schedules, run by django-q2's own scheduler and worker (sync mode), call the jobs."""

import datetime as dt
import io
from ast import literal_eval
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule, Task
from django_q.scheduler import scheduler
from django_q.tasks import async_task

from aftersales.models import AfterSalesCase
from compensation.models import Charge
from metrics.models import ShopDaySnapshot
from pddadmin.jobs.models import JobRun, Outcome
from pddadmin.jobs.runner import JOBS
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")


def setup_schedules() -> str:
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue()


def fire_all() -> None:
    """Make every schedule due and let django-q2's scheduler hand them to the (sync) worker."""
    Schedule.objects.update(next_run=timezone.now() - dt.timedelta(minutes=1))
    scheduler(broker=get_broker())


@pytest.mark.django_db
def test_setup_schedules_is_idempotent():
    assert setup_schedules().strip() == (
        "setup_schedules: process_deadlines created, issue_payouts created, compute_metrics created"
    )
    first = {s.name: (s.pk, s.next_run) for s in Schedule.objects.all()}
    assert setup_schedules().strip().endswith("compute_metrics unchanged")
    assert {s.name: (s.pk, s.next_run) for s in Schedule.objects.all()} == first
    rows = {s.name: s for s in Schedule.objects.all()}
    assert (rows["process_deadlines"].schedule_type, rows["process_deadlines"].minutes) == (Schedule.MINUTES, 1)
    assert (rows["issue_payouts"].schedule_type, rows["issue_payouts"].minutes) == (Schedule.MINUTES, 5)
    assert (rows["compute_metrics"].schedule_type, rows["compute_metrics"].cron) == (Schedule.CRON, "10 0 * * *")
    assert {s.func for s in rows.values()} == {"pddadmin.jobs.runner.run_job"}


@pytest.mark.django_db
def test_setup_schedules_repairs_edits_and_duplicates():
    setup_schedules()
    Schedule.objects.filter(name="issue_payouts").update(minutes=60)
    Schedule.objects.create(name="process_deadlines", func="pddadmin.jobs.runner.run_job", args="'process_deadlines'")
    assert "issue_payouts updated" in setup_schedules()
    assert Schedule.objects.get(name="issue_payouts").minutes == 5
    assert Schedule.objects.filter(name="process_deadlines").count() == 1


@pytest.mark.django_db
def test_metrics_schedule_runs_at_0010_shanghai():
    setup_schedules()
    next_run = Schedule.objects.get(name="compute_metrics").next_run
    local = next_run.astimezone(SHANGHAI)
    assert (local.hour, local.minute) == (0, 10)
    assert dt.timedelta(0) < next_run - timezone.now() <= dt.timedelta(days=1)


@pytest.mark.django_db
def test_each_schedule_calls_its_job(world, sync_cluster):
    setup_schedules()
    fire_all()

    runs = {run.job: run for run in JobRun.objects.all()}
    assert set(runs) == set(JOBS)
    assert all(run.outcome == Outcome.OK and run.finished_at and run.duration is not None for run in runs.values())
    # The effects are the jobs' own: the overdue case agreed, the upheld violation paid,
    # yesterday's snapshot written (the cron job's day is the day before, in Shanghai).
    assert AfterSalesCase.objects.get(platform_id="JC1").state == "refunded"
    assert Charge.objects.filter(order__platform_id="JO2", kind="warranty").count() == 1
    yesterday = timezone.now().astimezone(SHANGHAI).date() - dt.timedelta(days=1)
    snapshot = ShopDaySnapshot.objects.get(shop__platform_id="J1", date=yesterday)
    assert snapshot.grouped_orders == 1
    assert runs["process_deadlines"].summary.startswith("process_deadlines: 1 cases moved")
    assert runs["issue_payouts"].summary.startswith("issue_payouts: 1 payouts, 100.00 in coupons")
    assert runs["compute_metrics"].summary.startswith(f"compute_metrics: {yesterday.isoformat()}: 1 shops")
    # django-q2 recorded each task as a success, with the summary as its result.
    tasks = {t.group: t for t in Task.objects.all()}
    assert {name: (t.success, t.result) for name, t in tasks.items()} == {
        name: (True, run.summary) for name, run in runs.items()
    }
    # ...and moved each schedule on to its next run.
    after = {s.name: s.next_run for s in Schedule.objects.all()}
    assert all(moment > timezone.now() for moment in after.values())
    assert after["compute_metrics"].astimezone(SHANGHAI).strftime("%H:%M") == "00:10"

    fire_all()  # a second round finds nothing left to do
    assert JobRun.objects.count() == 6
    assert Charge.objects.filter(kind="warranty").count() == 1
    assert JobRun.objects.filter(job="process_deadlines").first().summary.startswith("process_deadlines: 0 cases moved")


@pytest.mark.django_db
def test_a_failing_scheduled_job_is_recorded_and_shown(world, sync_cluster, monkeypatch, login):
    def broken(**kwargs):
        raise RuntimeError("the case table is locked by a migration")

    monkeypatch.setattr("pddadmin.jobs.management.commands.process_deadlines.process_deadlines", broken)
    setup_schedules()
    schedule = Schedule.objects.get(name="process_deadlines")
    # The task exactly as the scheduler sends it. (Through scheduler() itself the failure would
    # be rolled back with the scheduler's transaction: in sync mode the worker re-raises into it.
    # In the real cluster the worker catches it and files the task under failures.)
    with pytest.raises(RuntimeError, match="the case table is locked"):
        async_task(schedule.func, *literal_eval(f"({schedule.args},)"), q_options={"group": schedule.name})

    failed = JobRun.objects.get(job="process_deadlines")
    assert failed.outcome == Outcome.FAILED
    assert failed.summary == "RuntimeError: the case table is locked by a migration"
    assert "Traceback" in failed.error and "the case table is locked" in failed.error
    assert failed.finished_at is not None
    assert AfterSalesCase.objects.get(platform_id="JC1").state == "pending_merchant"

    client = login(factories.UserFactory(is_superuser=True))
    page = client.get("/jobs/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = page.split('id="job-process_deadlines"')[1].split("</tr>")[0]
    assert 'data-outcome="failed"' in row and "RuntimeError: the case table is locked by a migration" in row
    assert "1 job is failing" in page
    assert "the case table is locked" in page.split(f'id="failure-{failed.pk}"')[1]
