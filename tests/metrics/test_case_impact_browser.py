"""The panel "对商品指标的影响" in a real browser, in Chinese: the quality case a refund from the
3× line and the logistics case crossing the 5× line of tests/metrics/test_case_impact.py's world.
Screenshots: var/screenshots/case-impact-*.png."""

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.models import AfterSalesCase
from metrics.services import metrics_compute
from pddadmin.shops.models import Shop
from tests import factories
from tests.browsers import log_in, shot
from tests.conftest import at
from tests.feed.helpers import run_import
from tests.metrics.test_case_impact import PAGE_NOW, D, build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "impact-pass-1"


def test_the_case_page_shows_each_actions_effect(live_server, tab, tmp_path, monkeypatch):
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *build().lines())
    assert (code, rejected) == (0, []), err
    metrics_compute(day=D)
    agent = factories.member(Shop.objects.get(platform_id="S1"), "agent")
    agent.set_password(PASSWORD)
    agent.save()
    moment = at(PAGE_NOW)
    monkeypatch.setattr(timezone, "now", lambda: moment)  # the live server runs in this process

    quality = reverse("admin:aftersales_aftersalescase_change", args=[AfterSalesCase.objects.get(platform_id="CQ").pk])
    log_in(tab, live_server, agent.username, quality, password=PASSWORD)
    panel = tab.locator("#case-impact")
    assert "对商品指标的影响" in panel.inner_text()
    agree = panel.locator("tr[data-action=merchant_agree]").inner_text()
    assert "立即退款" in agree and "超过3倍线" in agree and "15.00%" in agree and "20.00%" in agree
    assert "不退款，除非买家申请平台介入" in panel.locator("tr[data-action=merchant_refuse]").inner_text()
    waiting = panel.locator("tr[data-action=waiting]").inner_text()
    assert "不处理" in waiting and "2026-03-22 15:00" in waiting and "超过3倍线" in waiting
    shot(tab, "case-impact-quality")

    tab.goto(live_server.url + reverse(
        "admin:aftersales_aftersalescase_change", args=[AfterSalesCase.objects.get(platform_id="CL").pk]
    ))  # fmt: skip
    panel = tab.locator("#case-impact")
    assert "物流服务异常指标" in panel.inner_text()
    assert "超过5倍线" in panel.locator("tr[data-action=merchant_agree]").inner_text()
    shot(tab, "case-impact-logistics")
