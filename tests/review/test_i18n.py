"""Chinese first, English available."""

import pytest
from django.urls import reverse

from tests.review.factories import EscalatedCaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogues")]


def test_queue_and_case_page_in_chinese_by_default_and_english_on_request(client, login, reviewer, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    case = EscalatedCaseFactory()
    login(reviewer)
    html = client.get(reverse("review:queue")).content.decode()
    for text in ("平台介入队列", "下一单", "领取", "时效（小时）", "打开售后单", "联保投诉"):
        assert text in html, text
    html = client.get(reverse("review:case", args=[case.pk])).content.decode()
    for text in ("商家责任：退款给买家", "买家陈述与凭证", "状态变更日志"):
        assert text in html, text
    english = client.get(reverse("review:queue"), headers={"accept-language": "en"}).content.decode()
    assert "Platform intervention queue" in english and "Next case" in english


def test_warranty_pages_and_next_case_messages_in_chinese(client, login, reviewer, settings):
    """The strings the review app took over from aftersales and compensation come from its own catalogue."""
    settings.LANGUAGE_CODE = "zh-hans"
    login(reviewer)
    html = client.get(reverse("review:warranty")).content.decode()
    for text in ("联保投诉", "录入买家投诉", "暂无待判定的投诉。"):
        assert text in html, text
    html = client.post(reverse("review:warranty_report"), {"orders": "NOPE", "reason": "extra_fee"}).content.decode()
    assert "未知订单 NOPE。" in html and "录入投诉" in html

    case = EscalatedCaseFactory()
    shown = [str(m) for m in client.post(reverse("review:next"), follow=True).context["messages"]]
    assert shown == [f"您已领取售后单 {case.platform_id}。"]
    shown = [str(m) for m in client.post(reverse("review:next"), follow=True).context["messages"]]
    assert shown == [f"售后单 {case.platform_id} 仍由您领取：请先判定或释放，再领取下一单。"]
