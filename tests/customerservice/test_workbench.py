"""The customer-service workbench (issue #15.4): the waiting list, most urgent first, with the time
left and the next fine; a conversation's thread and reply form (refused replies keep their text and
show the part that breaks the rule, a double click sends once, a page gone stale sends nothing);
who may read and who may reply; the violations of a year; the dashboard tile and the job page."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import segno
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from compensation.models import Charge, ChargeKind
from compensation.services import charges
from customerservice.content_rules import check_reply
from customerservice.models import Conversation, Direction, LateReplyViolation, Message
from customerservice.services.messages import message_receive, message_reply
from pddadmin.jobs.runner import run_job
from pddadmin.shops.services import membership_set
from tests import factories
from tests.concurrency import errors_of, run_in_threads
from tests.logins import sign_in, signed_in

pytestmark = pytest.mark.django_db

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=TZ)
H = dt.timedelta(hours=1)
REFUSED = "亲，加我微信 shop_helper88 给您优惠"  # a payment account (SPEC §7.2)
FINE = "亲，今天下午发货，单号 SF1234567890123，请留意查收。"  # an order's tracking number passes


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """The pages and the services read timezone.now(): one fixed moment, so the time left is known."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture(autouse=True)
def english(client):
    client.cookies["django_language"] = "en"


_ids = iter(range(1, 10**6))


def receive(shop, buyer: str, at: dt.datetime, text: str = "请问什么时候发货？", **fields) -> Message:
    return message_receive(platform_id=f"WB{next(_ids):06d}", shop=shop, buyer=buyer, text=text, at=at, **fields)


def conversation_url(message: Message) -> str:
    return reverse("customerservice:conversation", args=[message.conversation_id])


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the page's reply form and the text in its text area."""
    form = re.search(r'<form method="post" enctype="multipart/form-data" class="cs-reply".*?</form>', html, re.S)
    assert form, "no reply form on the page"
    fields = dict(re.findall(r'<input type="hidden" name="(token|seen)" value="([^"]*)"', form.group(0)))
    fields["text"] = re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", form.group(0), re.S).group(1)
    return fields


def waiting_rows(html: str) -> list[tuple[int, str, str]]:
    """(conversation pk, row class, clock text) of each row of the waiting list, in page order."""
    rows = re.findall(
        r'<tr data-conversation="(\d+)"(?: class="([^"]*)")?>.*?<span class="cs-clock" data-due="[^"]+">([^<]*)</span>',
        html,
        re.S,
    )
    return [(int(pk), css, clock.strip()) for pk, css, clock in rows]


def clock_of(left: dt.timedelta) -> str:
    seconds = abs(int(left.total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def png(image) -> io.BytesIO:
    data = io.BytesIO()
    image.save(data, format="PNG")
    data.seek(0)
    return data


def qr_png(content: str) -> io.BytesIO:
    data = io.BytesIO()
    segno.make(content, error="m").save(data, kind="png", scale=8, border=4)
    data.seek(0)
    data.name = "qr.png"
    return data


def plain_png() -> io.BytesIO:
    data = png(Image.linear_gradient("L").resize((240, 160)).convert("RGB"))
    data.name = "photo.png"
    return data


def late_violations(shop, *dues: dt.datetime) -> None:
    """One unanswered message falling due at each of `dues`, and the job run at NOW (it records them
    and charges their fines)."""
    for n, due in enumerate(dues):
        receive(shop, f"late-{n}", due - 48 * H)
    charges.apply_due(now=NOW)


# --- the waiting list ------------------------------------------------------------------------------


def test_the_waiting_list_puts_the_most_urgent_first_with_its_time_left(login, agent, shop, other_shop):
    overdue = receive(shop, "B-overdue", NOW - 49 * H - 30 * dt.timedelta(minutes=1))
    soon = receive(shop, "B-soon", NOW - 44 * H)  # 4 h left: red
    edge = receive(shop, "B-edge", NOW - 42 * H)  # 6 h left: still red
    later = receive(shop, "B-later", NOW - 2 * H)
    receive(shop, "B-later", NOW - 1 * H)  # a second message: the clock stays the oldest one's
    answered = receive(shop, "B-answered", NOW - 20 * H)
    message_reply(shop=shop, buyer="B-answered", text=FINE, at=NOW - 19 * H)
    receive(other_shop, "B-elsewhere", NOW - 47 * H)  # another shop's: never listed

    html = login(agent).get(reverse("customerservice:workbench")).content.decode()
    rows = waiting_rows(html)
    expected = [
        (m.conversation_id, m.reply_due_at - NOW) for m in sorted([overdue, soon, edge, later], key=lambda m: m.at)
    ]
    assert [pk for pk, _css, _clock in rows] == [pk for pk, _left in expected]
    assert answered.conversation_id not in [pk for pk, _css, _clock in rows]
    by_pk = {pk: (css, clock) for pk, css, clock in rows}
    assert by_pk[overdue.conversation_id] == ("cs-overdue", f"overdue {clock_of(overdue.reply_due_at - NOW)}")
    assert "late-reply violation recorded" not in html  # overdue, but the job has not recorded it yet
    assert by_pk[soon.conversation_id] == ("cs-urgent", clock_of(soon.reply_due_at - NOW))
    assert by_pk[edge.conversation_id] == ("cs-urgent", "6:00:00")
    assert by_pk[later.conversation_id] == ("", clock_of(later.reply_due_at - NOW))
    assert clock_of(later.reply_due_at - NOW) == "46:00:00"
    # two messages wait in the later conversation, and its newest is the one previewed
    row = re.search(rf'<tr data-conversation="{later.conversation_id}".*?</tr>', html, re.S).group(0)
    assert re.search(r'<td class="pdd-num">2</td>', row)
    # the script counts down from the server's clock
    assert f'data-now="{NOW.isoformat()}"' in html or 'data-now="2026-03-10T12:00:00+08:00"' in html
    assert 'src="/static/customerservice/workbench.js"' in html


def test_the_next_fine_is_what_the_shops_next_violation_of_the_year_costs(login, agent, shop):
    client = login(agent)
    html = client.get(reverse("customerservice:workbench")).content.decode()
    assert re.search(r'cs-next-fine">¥100\.00<', html)
    assert "0 late-reply violations in 2026" in html

    late_violations(shop, NOW - 30 * H)
    recorded = Charge.objects.get(kind=ChargeKind.LATE_REPLY)
    html = client.get(reverse("customerservice:workbench")).content.decode()
    assert recorded.amount == Decimal("100.00")
    assert re.search(r'cs-next-fine">¥200\.00<', html)
    assert "1 late-reply violation in 2026" in html
    # the overdue conversation is marked as fined already (the job recorded its violation)
    fined = Conversation.objects.get(buyer="late-0")
    row = re.search(rf'<tr data-conversation="{fined.pk}".*?</tr>', html, re.S).group(0)
    assert "cs-overdue" in row and "late-reply violation recorded" in row


def test_a_user_of_several_shops_sees_them_all_or_one(client, shop, other_shop):
    user = factories.member(shop, "agent")
    membership_set(shop=other_shop, user=user, role="agent")
    mine = receive(shop, "B1", NOW - 10 * H)
    theirs = receive(other_shop, "B2", NOW - 20 * H)
    sign_in(client, user)
    url = reverse("customerservice:workbench")
    both = [pk for pk, _c, _t in waiting_rows(client.get(url).content.decode())]
    assert both == [theirs.conversation_id, mine.conversation_id]
    only = [pk for pk, _c, _t in waiting_rows(client.get(url, {"shop": shop.pk}).content.decode())]
    assert only == [mine.conversation_id]
    cards = re.findall(r'<div class="cs-card" data-shop="(\d+)"', client.get(url).content.decode())
    assert sorted(int(pk) for pk in cards) == sorted([shop.pk, other_shop.pk])


# --- a conversation --------------------------------------------------------------------------------


def test_the_thread_shows_messages_and_replies_and_links_the_order(login, agent, shop):
    order = factories.OrderFactory(goods__shop=shop, buyer="B1")
    first = receive(shop, "B1", NOW - 30 * H, text="订单什么时候发？", order=order)
    message_reply(shop=shop, buyer="B1", text=FINE, at=NOW - 29 * H)
    receive(shop, "B1", NOW - 3 * H, text="收到了，谢谢")
    html = login(agent).get(conversation_url(first)).content.decode()
    directions = re.findall(r'data-direction="(\w+)"', html)
    assert directions == [Direction.RECEIVED, Direction.REPLIED, Direction.RECEIVED]
    assert f'href="{reverse("admin:shops_order_change", args=[order.pk])}"' in html
    assert "answered in time" in html and "waiting, reply due" in html
    assert clock_of(NOW - 3 * H + 48 * H - NOW) in html


def test_a_reply_answers_the_conversation_and_it_leaves_the_list(login, agent, shop):
    first = receive(shop, "B1", NOW - 40 * H)
    second = receive(shop, "B1", NOW - 39 * H)
    client = login(agent)
    fields = form_fields(client.get(conversation_url(first)).content.decode())
    response = client.post(conversation_url(first), {**fields, "text": FINE})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('customerservice:workbench')}?shop={shop.pk}"
    reply = Message.objects.get(direction=Direction.REPLIED)
    assert (reply.text, reply.author, reply.source, reply.at) == (FINE, agent, "admin", NOW)
    for message in (first, second):
        message.refresh_from_db()
        assert message.answered_by == reply
    html = client.get(response["Location"]).content.decode()
    assert "it answers 2 message(s)" in html
    assert waiting_rows(html) == []


def test_an_image_without_a_qr_code_goes_with_the_reply(login, owner, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(owner)
    fields = form_fields(client.get(conversation_url(message)).content.decode())
    response = client.post(conversation_url(message), {**fields, "text": FINE, "images": [plain_png()]})
    assert response.status_code == 302
    assert Message.objects.filter(direction=Direction.REPLIED, author=owner).count() == 1


def test_a_refused_reply_keeps_nothing_shows_the_rule_and_marks_the_part(login, agent, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(agent)
    fields = form_fields(client.get(conversation_url(message)).content.decode())
    # Typed in a browser: lines end in CRLF; the offsets are into the text as the text area holds it.
    typed = "您好！\r\n" + REFUSED + "\r\n谢谢"
    response = client.post(conversation_url(message), {**fields, "text": typed})
    assert response.status_code == 200
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()
    message.refresh_from_db()
    assert message.answered_at is None
    assert Conversation.objects.get(pk=message.conversation_id).reply_due_at == message.reply_due_at
    html = response.content.decode()
    assert 'data-rule="payment_account"' in html
    assert "Not sent: A reply may not contain a payment account." in html
    before, part, after = re.search(
        r'<div class="cs-text" id="cs-refused-text">(.*?)<mark>(.*?)</mark>(.*?)</div>', html, re.S
    ).groups()
    text = typed.replace("\r\n", "\n")
    assert before + part + after == text
    assert "shop_helper88" in part and "谢谢" not in part
    kept = form_fields(html)
    assert kept["text"] == text and kept["token"] == fields["token"]  # the text stays to be edited
    start, end = (int(v) for v in re.search(r'<textarea[^>]*data-start="(\d+)" data-end="(\d+)"', html).groups())
    assert text[start:end] == part

    # edited, the same form sends
    edited = text.replace("加我微信 shop_helper88 给您优惠", "今天发货")
    assert check_reply(edited) is None
    response = client.post(conversation_url(message), {**kept, "text": edited})
    assert response.status_code == 302
    assert Message.objects.get(direction=Direction.REPLIED).text == edited


def test_a_qr_code_in_an_image_is_refused_by_the_images_number(login, agent, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(agent)
    fields = form_fields(client.get(conversation_url(message)).content.decode())
    images = [plain_png(), qr_png("https://example.com/pay/123")]
    response = client.post(conversation_url(message), {**fields, "text": FINE, "images": images})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-rule="qr_code"' in html
    assert "Image 2 shows a QR code" in html
    assert "Attach your 2 images again" in html
    assert form_fields(html)["text"] == FINE
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()


def test_a_file_that_is_not_an_image_is_refused_by_the_form(login, agent, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(agent)
    fields = form_fields(client.get(conversation_url(message)).content.decode())
    fake = io.BytesIO(b"not an image at all")
    fake.name = "photo.png"
    response = client.post(conversation_url(message), {**fields, "text": FINE, "images": [fake]})
    assert response.status_code == 200
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()
    assert form_fields(response.content.decode())["text"] == FINE


def test_a_double_click_sends_the_reply_once(login, agent, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(agent)
    fields = {**form_fields(client.get(conversation_url(message)).content.decode()), "text": FINE}
    first = client.post(conversation_url(message), fields)
    second = client.post(conversation_url(message), fields)
    assert first.status_code == second.status_code == 302
    assert Message.objects.filter(direction=Direction.REPLIED).count() == 1
    html = client.get(second["Location"]).content.decode()
    assert "This reply was sent already; it was not sent a second time." in html


@pytest.mark.django_db(transaction=True)
def test_the_same_form_posted_twice_at_once_sends_one_reply(postgres_only, agent, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    url = conversation_url(message)
    fields = {**form_fields(signed_in(agent).get(url).content.decode()), "text": FINE}
    outcomes = run_in_threads(4, lambda _i: signed_in(agent).post(url, fields).status_code)
    assert errors_of(outcomes) == []
    assert outcomes == [302] * 4
    assert Message.objects.filter(direction=Direction.REPLIED).count() == 1


def test_a_message_arriving_while_the_agent_writes_stops_the_reply_until_read(login, agent, shop):
    first = receive(shop, "B1", NOW - 5 * H)
    client = login(agent)
    fields = {**form_fields(client.get(conversation_url(first)).content.decode()), "text": FINE}
    newer = receive(shop, "B1", NOW - 1 * H, text="还有一个问题：能开发票吗？")
    response = client.post(conversation_url(first), fields)
    assert response.status_code == 200
    html = response.content.decode()
    assert "New messages arrived while you were writing" in html
    assert "能开发票吗" in html  # the new message is on the page now
    kept = form_fields(html)
    assert kept["text"] == FINE and int(kept["seen"]) == newer.pk
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()
    assert client.post(conversation_url(first), kept).status_code == 302
    newer.refresh_from_db()
    assert newer.answered_by is not None


def test_a_form_not_made_by_the_page_sends_nothing(login, agent, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(agent)
    response = client.post(conversation_url(message), {"text": FINE, "token": "reply:hand-made", "seen": "0"})
    assert response.status_code == 200
    assert "Please send again." in response.content.decode()
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()


# --- who may do what -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_viewers_and_platform_staff_read_but_do_not_reply(request, client, shop, role):
    user = request.getfixturevalue(role)
    message = receive(shop, "B1", NOW - 5 * H)
    sign_in(client, user)
    response = client.get(conversation_url(message))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="reply-form"' not in html and 'id="cs-read-only"' in html
    assert "请问什么时候发货" in html
    posted = client.post(conversation_url(message), {"text": FINE, "token": "0" * 32, "seen": str(message.pk)})
    assert posted.status_code == 403
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()


@pytest.mark.parametrize("role", ["owner", "agent"])
def test_owners_and_agents_get_the_reply_form(request, client, shop, role):
    message = receive(shop, "B1", NOW - 5 * H)
    sign_in(client, request.getfixturevalue(role))
    assert 'id="reply-form"' in client.get(conversation_url(message)).content.decode()


def test_another_shops_conversation_and_pages_are_not_found(client, outsider, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    sign_in(client, outsider)
    assert client.get(conversation_url(message)).status_code == 404
    assert client.post(conversation_url(message), {"text": FINE}).status_code == 404
    assert client.get(reverse("customerservice:workbench"), {"shop": shop.pk}).status_code == 404
    assert client.get(reverse("customerservice:violations"), {"shop": shop.pk}).status_code == 404
    assert waiting_rows(client.get(reverse("customerservice:workbench")).content.decode()) == []
    assert not Message.objects.filter(direction=Direction.REPLIED).exists()


def test_signing_in_is_required(client, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    for url in (reverse("customerservice:workbench"), conversation_url(message)):
        assert client.get(url)["Location"].startswith(reverse("admin:login"))


def test_the_navigation_offers_the_workbench_to_merchant_staff(login, viewer, shop):
    message = receive(shop, "B1", NOW - 5 * H)
    client = login(viewer)
    home = client.get(reverse("admin:index")).content.decode()
    assert f'<a href="{reverse("customerservice:workbench")}" data-nav="service">' in home
    html = client.get(conversation_url(message)).content.decode()
    assert 'data-nav="service" class="current" aria-current="page"' in html


# --- violations of a year --------------------------------------------------------------------------


def test_the_violations_page_lists_the_years_violations_with_their_fines(login, owner, shop):
    last_year = dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=TZ)
    late_violations(shop, last_year, dt.datetime(2026, 1, 1, 0, 0, tzinfo=TZ), NOW - 50 * H, NOW - 2 * H)
    client = login(owner)
    url = reverse("customerservice:violations")
    html = client.get(url).content.decode()
    rows = re.findall(r'<tr data-rank="(\d+)">.*?<td class="pdd-num">¥([\d.]+)</td>', html, re.S)
    this_year = LateReplyViolation.objects.filter(shop=shop, year=2026).order_by("rank")
    assert rows == [(str(v.rank), f"{v.fine}") for v in this_year]
    assert [fine for _rank, fine in rows] == ["100.00", "200.00", "300.00"]
    new_year = dt.datetime(2026, 1, 1, tzinfo=TZ)
    fined = sum(c.amount for c in Charge.objects.filter(kind=ChargeKind.LATE_REPLY, at__gte=new_year))
    assert re.search(r'id="cs-fined">¥([\d.]+)<', html).group(1) == f"{fined}"
    assert re.search(r'id="cs-next-fine">¥300\.00<', html)

    html = client.get(url, {"year": "2025"}).content.decode()
    assert re.findall(r'<tr data-rank="(\d+)">', html) == ["1"]
    assert "cs-next-fine" not in html  # only this year has a next fine
    assert client.get(url, {"year": "1999"}).status_code == 404
    assert client.get(url, {"year": "x"}).status_code == 404


# --- the dashboard tile and the job page -----------------------------------------------------------


def test_the_dashboard_tile_counts_the_conversations_at_risk_and_the_violations(login, owner, shop):
    late_violations(shop, NOW - 3 * H)  # overdue and answered by nobody: at risk, and a violation
    receive(shop, "B-soon", NOW - 43 * H)  # 5 h left
    receive(shop, "B-calm", NOW - 10 * H)  # 38 h left
    html = login(owner).get(reverse("metrics:dashboard")).content.decode()
    tile = re.search(r'<div class="pdd-figure" id="service-tile">.*?</div>\s*</div>', html, re.S).group(0)
    at_risk = Conversation.objects.filter(shop=shop, reply_due_at__lte=NOW + 6 * H).count()
    assert at_risk == 2
    assert re.search(rf'id="service-at-risk">{at_risk}<', tile)
    assert "1 late-reply violation in 2026" in tile
    assert f"{reverse('customerservice:workbench')}?shop={shop.pk}" in tile


def test_the_job_page_shows_the_violations_process_deadlines_recorded(client, admin_user, shop):
    receive(shop, "B1", NOW - 49 * H)
    receive(shop, "B2", NOW - 50 * H)
    summary = run_job("process_deadlines", now=NOW.isoformat())
    assert LateReplyViolation.objects.count() == 2
    assert "2 late_reply" in summary
    sign_in(client, admin_user)
    html = client.get(reverse("jobs:status")).content.decode()
    row = re.search(r'<tr id="job-process_deadlines".*?</tr>', html, re.S).group(0)
    assert "2 late_reply" in row


# --- in Chinese ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("compiled_catalogues")
def test_the_pages_speak_chinese(client, agent, shop):
    message = receive(shop, "B1", NOW - 45 * H)
    sign_in(client, agent, language="zh-hans")
    html = client.get(reverse("customerservice:workbench")).content.decode()
    assert "<h1>客服工作台</h1>" in html and "下一次回复超时罚款" in html
    fields = form_fields(client.get(conversation_url(message)).content.decode())
    html = client.post(conversation_url(message), {**fields, "text": REFUSED}).content.decode()
    assert "未发送：回复不得包含支付账号。" in html


def test_any_buyer_id_is_shown_escaped_and_links_by_pk(login, agent, shop):
    hostile = receive(shop, '<script>alert("x")</script>', NOW - 5 * H)
    blank = receive(shop, " ", NOW - 4 * H)
    html = login(agent).get(reverse("customerservice:workbench")).content.decode()
    assert "<script>alert(" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert f'<a href="{conversation_url(hostile)}">&lt;script&gt;' in html
    assert f'<a href="{conversation_url(blank)}">—</a>' in html
    assert login(agent).get(conversation_url(hostile)).status_code == 200
