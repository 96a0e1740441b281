import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from compensation.models import Account, Violation, ViolationState
from compensation.selectors import PAYOUT_COLUMNS, STATEMENT_COLUMNS
from compensation.services.payouts import payouts_issue
from tests import factories
from tests.logins import sign_in

from .conftest import headed, report, upheld, warranty_orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(shop, other_shop):
    now = timezone.now()
    orders = warranty_orders(shop, 2, placed_at=now - dt.timedelta(days=3))
    paid = upheld(orders[:1], platform_id="V-PAID", at=now - dt.timedelta(days=2), ruled_at=now - dt.timedelta(days=1))
    payouts_issue(now=now - dt.timedelta(hours=1))
    open_ = report(orders[1:], platform_id="V-OPEN", at=now - dt.timedelta(hours=2))
    foreign = report(
        warranty_orders(other_shop, 1, placed_at=now - dt.timedelta(days=3)),
        platform_id="V-OTHER",
        at=now - dt.timedelta(hours=2),
    )
    return paid, open_, foreign


login = sign_in


def test_merchant_sees_only_own_shops_violations(client, owner, data):
    body = login(client, owner).get(reverse("compensation:violations")).content.decode()
    assert "V-PAID" in body and "V-OPEN" in body and "V-OTHER" not in body
    assert client.get(reverse("compensation:violation", args=[data[2].pk])).status_code == 404


def test_reviewer_sees_all_shops(client, reviewer, data):
    body = login(client, reviewer).get(reverse("compensation:violations")).content.decode()
    assert all(v in body for v in ("V-PAID", "V-OPEN", "V-OTHER"))


def test_anonymous_is_sent_to_login(client, data):
    response = client.get(reverse("compensation:violations"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_agent_submits_explanation_with_evidence_through_the_page(client, agent, data):
    url = reverse("compensation:violation", args=[data[1].pk])
    page = login(client, agent).get(url).content.decode()
    assert 'name="action" value="explain"' in page and 'value="rule"' not in page
    response = client.post(
        url,
        {
            "action": "explain",
            "text": "我们已提供维修",
            "url": "https://img.example/a.png",
            "evidence_note": "聊天记录",
        },
    )
    assert response.status_code == 302
    violation = Violation.objects.get(platform_id="V-OPEN")
    assert violation.explanation == "我们已提供维修" and violation.evidence.get().url == "https://img.example/a.png"


def test_viewer_sees_no_explanation_form_and_cannot_post_one(client, viewer, data):
    url = reverse("compensation:violation", args=[data[1].pk])
    assert 'value="explain"' not in login(client, viewer).get(url).content.decode()
    assert client.post(url, {"action": "explain", "text": "x"}).status_code == 403
    assert Violation.objects.get(platform_id="V-OPEN").explanation == ""


def test_reviewer_rules_on_the_violation_page(client, reviewer, owner, data):
    # The queue of reports is the review app's (tests/review/test_warranty.py); the ruling is here.
    url = reverse("compensation:violation", args=[data[1].pk])
    response = login(client, reviewer).post(url, {"action": "rule", "breach": "1", "note": "拒绝保修属实"})
    assert response.status_code == 302 and response["Location"] == reverse("review:warranty")
    violation = Violation.objects.get(platform_id="V-OPEN")
    assert (violation.state, violation.ruled_by) == (ViolationState.UPHELD, reviewer)
    assert violation.ruling_note == "拒绝保修属实"
    # ruling twice through the page is refused with a message, nothing changes
    response = client.post(url, {"action": "rule", "breach": "0", "note": "again"}, follow=True)
    assert "违规单 V-OPEN 已判定（违规）" in response.content.decode()  # pages speak Chinese by default
    assert Violation.objects.get(platform_id="V-OPEN").state == ViolationState.UPHELD


def test_merchant_cannot_rule(client, owner, data):
    login(client, owner)
    url = reverse("compensation:violation", args=[data[1].pk])
    assert client.post(url, {"action": "rule", "breach": "1", "note": "x"}).status_code == 403


def test_payouts_page_and_export_are_scoped(client, owner, outsider, data):
    body = login(client, owner, language="en").get(reverse("compensation:payouts")).content.decode()
    assert "V-PAID" in body
    csv = client.get(reverse("compensation:payouts") + "?export=csv").content.decode("utf-8-sig")
    assert csv.splitlines()[0] == ",".join(headed(PAYOUT_COLUMNS))
    assert "V-PAID" in csv and ",100.00," in csv
    xlsx = client.get(reverse("compensation:payouts") + "?export=xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "V-PAID" not in login(client, outsider).get(reverse("compensation:payouts")).content.decode()


def test_statement_shows_running_balance_and_is_scoped(client, owner, outsider, shop, data):
    deposit = Account.objects.get(shop=shop, kind="deposit")
    url = reverse("compensation:statement", args=[deposit.pk])
    body = login(client, owner, language="en").get(url).content.decode()
    # factory shop: deposit 1000.00 taken over as opening, then one payout of 100 from the deposit
    assert "1000.00" in body and "-100.00" in body and "900.00" in body
    csv = client.get(url + "?export=csv").content.decode("utf-8-sig").splitlines()
    assert csv[0] == ",".join(headed(STATEMENT_COLUMNS))
    # a negative amount stays a number: neutralising is for text a spreadsheet would run
    assert [line.rsplit(",", 2)[1:] for line in csv[1:]] == [["1000.00", "1000.00"], ["-100.00", "900.00"]]
    assert login(client, outsider).get(url).status_code == 404


def test_admin_ledger_is_read_only_for_owner(client, owner, data):
    login(client, owner)
    assert client.get(reverse("admin:compensation_charge_changelist")).status_code == 200
    assert client.get(reverse("admin:compensation_account_add")).status_code == 403


def test_pages_render_for_member_without_data(client, db):
    user = factories.member(factories.ShopFactory(), "viewer")
    login(client, user)
    for name in ("violations", "payouts", "accounts"):
        assert client.get(reverse(f"compensation:{name}")).status_code == 200


def test_pages_speak_chinese_by_default(client, owner, data):
    from django.utils import translation

    login(client, owner)
    with translation.override("zh-hans"):
        body = client.get(reverse("compensation:violations"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "全国联保违规" in body and "待判定" in body
