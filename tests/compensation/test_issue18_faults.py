"""Issue #18's faults on the violation and money pages, each seen in the browser once: the success
message shown twice, titles with database ids, English history words and memos, English download
headers."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone, translation

from compensation.models import Account, Charge, LedgerTransaction, ViolationOrder
from compensation.selectors import memo_shown
from compensation.services.payouts import payouts_issue
from tests.logins import sign_in

from .conftest import report, upheld, warranty_orders

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogues")]


@pytest.fixture
def paid(shop):
    now = timezone.now()
    orders = warranty_orders(shop, 1, placed_at=now - dt.timedelta(days=3))
    violation = upheld(
        orders, platform_id="V-18-PAID", at=now - dt.timedelta(days=2), ruled_at=now - dt.timedelta(days=1)
    )
    payouts_issue(now=now - dt.timedelta(hours=1))
    return violation


def test_a_success_message_on_the_violation_page_shows_once(client, agent, shop):
    violation = report(
        warranty_orders(shop, 1, placed_at=timezone.now() - dt.timedelta(days=3)),
        platform_id="V-18-1",
        at=timezone.now(),
    )
    url = reverse("compensation:violation", args=[violation.pk])
    response = sign_in(client, agent, language="zh-hans").post(
        url, {"action": "explain", "text": "已上门维修"}, follow=True
    )
    body = response.content.decode()
    with translation.override("zh-hans"):
        said = str(translation.gettext("Your explanation was saved."))
    assert said != "Your explanation was saved."  # the catalogue says it in Chinese
    assert body.count(said) == 1


def test_a_ruling_message_on_the_warranty_page_shows_once(client, reviewer, shop):
    violation = report(
        warranty_orders(shop, 1, placed_at=timezone.now() - dt.timedelta(days=3)),
        platform_id="V-18-2",
        at=timezone.now(),
    )
    url = reverse("compensation:violation", args=[violation.pk])
    response = sign_in(client, reviewer, language="zh-hans").post(
        url, {"action": "rule", "breach": "1", "note": "属实"}, follow=True
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [str(m) for m in response.context["messages"]]
    assert len(shown) == 1
    assert response.content.decode().count(shown[0]) == 1


def test_titles_name_platform_ids_not_row_ids(client, admin_user, paid):
    line = ViolationOrder.objects.select_related("violation", "order").get(violation=paid)
    charge = Charge.objects.select_related("shop").get(violation=paid)
    txn = LedgerTransaction.objects.select_related("shop").get(pk=charge.transaction_id)
    assert str(line) == f"V-18-PAID · {line.order.platform_id}"
    assert charge.cause in str(charge) and line.order.platform_id in str(charge)
    assert not re.search(rf"#{txn.pk}\b", str(txn)) and txn.shop.platform_id in str(txn)
    # the admin's inline rows are titled so (a superuser sees them all)
    sign_in(client, admin_user, language="zh-hans")
    body = client.get(reverse("admin:compensation_violation_change", args=[paid.pk])).content.decode()
    titles = re.findall(r'<td class="original">\s*<p>\s*(.*?)\s*<', body, flags=re.S)
    assert f"V-18-PAID · {line.order.platform_id}" in titles
    assert titles and not [t for t in titles if re.fullmatch(r"\d+\s*[#/:]\s*\S*", t)], titles
    assert "V-18-PAID: 判定" in titles


def test_the_violation_history_speaks_chinese(client, reviewer, paid):
    body = sign_in(client, reviewer, language="zh-hans").get(reverse("compensation:violation", args=[paid.pk]))
    history = body.content.decode().split('id="history"', 1)[1]
    for english in (">report<", ">rule<", ">explain<", ">feed<", ">admin<"):
        assert english not in history, english
    assert "投诉录入" in history and "判定" in history


def test_memos_are_said_in_the_readers_language_whatever_language_wrote_them(owner, paid):
    charge = Charge.objects.get(violation=paid)
    txn = LedgerTransaction.objects.get(pk=charge.transaction_id)
    txn_stored = txn.memo
    with translation.override("zh-hans"):
        chinese = memo_shown(txn)
        opening = memo_shown(LedgerTransaction.objects.filter(shop=charge.shop, kind="opening").get())
    with translation.override("en"):
        english = memo_shown(txn)
    assert "V-18-PAID" in chinese and "V-18-PAID" in english and chinese != english
    assert not re.search("[A-Za-z]{4,}", chinese.replace("V-18-PAID", "").replace(charge.order.platform_id, ""))
    assert opening == "期初余额"
    assert txn_stored  # the stored memo is still there, as written


def test_downloads_are_headed_in_chinese(client, owner, shop, paid):
    sign_in(client, owner, language="zh-hans")
    payouts = client.get(reverse("compensation:payouts"), {"export": "csv"}).content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(payouts)))
    assert header[:3] == ["违规单号", "订单号", "买家ID"]
    deposit = Account.objects.get(shop=shop, kind="deposit")
    statement = client.get(reverse("compensation:statement", args=[deposit.pk]), {"export": "csv"})
    header = next(csv.reader(io.StringIO(statement.content.decode("utf-8-sig"))))
    assert not any(re.search("[A-Za-z]", cell) for cell in header), header
    assert header[2] == "类型"  # the ledger's word, not a case's 售后类型 from another catalogue
    rows = list(csv.reader(io.StringIO(statement.content.decode("utf-8-sig"))))[1:]
    assert rows[0][4] == "期初余额"
