"""The jobs page's summaries in Chinese (#18.3): each job's real summary line, said again from its
figures; an error or a line the page does not know is shown as it is."""

import re

import pytest
from django.core.management import call_command

from pddadmin.jobs.runner import run_job
from pddadmin.jobs.templatetags.job_summaries import summary_shown
from tests import factories
from tests.logins import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogues")]


def test_each_jobs_summary_reads_in_chinese(client):
    call_command("setup_schedules", verbosity=0)
    lines = {name: run_job(name) for name in ("process_deadlines", "issue_payouts")}
    lines["compute_metrics"] = run_job("compute_metrics", date="2026-01-01")
    page = sign_in(client, factories.UserFactory(is_superuser=True), language="zh-hans").get("/jobs/")
    body = page.content.decode()
    for name, line in lines.items():
        row = body.split(f'id="job-{name}"')[1].split("</tr>")[0]
        summary = re.findall(r"<td>(.*?)</td>", row, flags=re.S)[6]
        assert line not in row, name  # not the command's English line
        assert not re.search(r"[A-Za-z]{3,}", summary), (name, summary)
        assert "秒" in summary and re.search(r"\d", summary), (name, summary)


def test_a_line_it_does_not_know_is_shown_as_it_is():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert summary_shown("RuntimeError: disk full") == "RuntimeError: disk full"
        assert summary_shown("issue_payouts: 3 payouts, 300.00 in coupons (deposit 100.00, balance 150.00, "
                             "arrears 50.00) in 0.2s") == (
            "3 笔赔付，优惠券共 ¥300.00（保证金 ¥100.00，货款 ¥150.00，欠款 ¥50.00），0.2 秒"
        )  # fmt: skip
