"""message.received and message.replied through import_events (SPEC §8): what is applied, and
every invalid line rejected with `line N:` and nothing of it applied."""

import pytest

from compensation.models import Charge
from customerservice.models import Conversation, LateReplyViolation, Message
from pddadmin.feed.models import ImportedEvent
from tests.feed.helpers import feed_line, run_command, run_import

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def base_feed() -> list[str]:
    return [
        feed_line("e1", "shop.opened", shop="S1", name="一号店", deposit="1000.00", hotline="13800138000"),
        feed_line("e2", "shop.opened", shop="S2", name="二号店", hotline="13800138001"),
        feed_line("e3", "goods.listed", shop="S1", goods="G1", name="耳机", category="数码"),
        feed_line("e4", "goods.listed", shop="S2", goods="G2", name="耳机", category="数码"),
        feed_line("e5", "order.placed", order="O1", shop="S1", goods="G1", buyer="B1", amount="99.00",
                  promised_ship_by="2026-01-03T10:00:00+08:00"),
        feed_line("e6", "order.placed", order="O2", shop="S1", goods="G1", buyer="B2", amount="99.00",
                  promised_ship_by="2026-01-03T10:00:00+08:00"),
        feed_line("e7", "order.placed", order="O3", shop="S2", goods="G2", buyer="B1", amount="99.00",
                  promised_ship_by="2026-01-03T10:00:00+08:00"),
    ]  # fmt: skip


def test_messages_and_replies_through_the_feed(tmp_path):
    lines = [
        *base_feed(),
        feed_line("m1", "message.received", at="2026-01-01T11:00:00+08:00", message="M1", shop="S1", buyer="B1",
                  text="耳机什么时候发货？", order="O1"),
        feed_line("m2", "message.received", at="2026-01-01T11:30:00+08:00", message="M2", shop="S1", buyer="B1",
                  text="在吗？", order=None),
        feed_line("m3", "message.replied", at="2026-01-01T12:00:00+08:00", message="M3", shop="S1", buyer="B1",
                  text="您好，今天发出，单号 SF1234567890123，售后电话 13800138000"),
        feed_line("m4", "message.received", at="2026-01-01T12:00:00+08:00", message="M4", shop="S1", buyer="B2",
                  text="还没发货"),
    ]  # fmt: skip
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (0, []), err
    m1, m2, m3, m4 = (Message.objects.get(platform_id=f"M{n}") for n in range(1, 5))
    assert m1.order.platform_id == "O1" and m2.order is None
    assert m1.answered_by == m3 and m2.answered_by == m3
    assert m3.source == "feed" and m3.direction == "replied"
    assert m4.answered_at is None
    assert Conversation.objects.count() == 2
    # Re-importing changes nothing.
    code, _out, rejected, _err = run_import(tmp_path / "feed.jsonl")
    assert (code, rejected) == (0, [])
    assert Message.objects.count() == 4


def test_a_late_reply_through_the_feed_is_fined_by_process_deadlines(tmp_path):
    lines = [
        *base_feed(),
        feed_line("m1", "message.received", at="2026-01-01T11:00:00+08:00", message="M1", shop="S1", buyer="B1",
                  text="在吗？"),
        feed_line("m2", "message.replied", at="2026-01-03T11:00:01+08:00", message="M2", shop="S1", buyer="B1",
                  text="在的"),
    ]  # fmt: skip
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (0, []), err
    code, out, err = run_command("process_deadlines", "--now", "2026-01-04T00:00:00+08:00")
    assert code == 0, err
    assert "1 late_reply" in out
    charge = Charge.objects.get()
    assert (charge.kind, charge.message, charge.buyer, f"{charge.amount}") == ("late_reply", "M1", "B1", "100.00")
    assert charge.at.isoformat() == "2026-01-03T03:00:00+00:00"
    assert LateReplyViolation.objects.get().charge == charge


FIRST = feed_line("ok", "message.received", at="2026-01-01T12:00:00+08:00", message="M1", shop="S1", buyer="B1",
                  text="你好")  # fmt: skip
AT = "2026-01-01T13:00:00+08:00"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (feed_line("x", "message.received", at=AT, message="M9", shop="S404", buyer="B1", text="hi"),
         "unknown shop 'S404'"),
        (feed_line("x", "message.replied", at=AT, message="M9", shop="S404", buyer="B1", text="hi"),
         "unknown shop 'S404'"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", buyer="B1", text="hi", order="O2"),
         "order O2 is not an order of shop S1 and buyer B1"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", buyer="B1", text="hi", order="O3"),
         "order O3 is not an order of shop S1 and buyer B1"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", buyer="B1", text="hi", order="O404"),
         "unknown order 'O404'"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", buyer="B1", text=""),
         "field 'text' must be a non-empty string"),
        (feed_line("x", "message.replied", at=AT, message="M9", shop="S1", buyer="B1", text="  "),
         "field 'text' must be a non-empty string"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", buyer="B1"),
         "field 'text' is required"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", buyer="B1", text="长" * 2001),
         "field 'text' is longer than 2000 characters"),
        (feed_line("x", "message.replied", at=AT, message="M9", shop="S1", buyer="B1", text="长" * 2001),
         "field 'text' is longer than 2000 characters"),
        (feed_line("x", "message.received", at=AT, message="M1", shop="S1", buyer="B2", text="hi"),
         "message M1 already exists"),
        (feed_line("x", "message.replied", at=AT, message="M1", shop="S1", buyer="B1", text="hi"),
         "message M1 already exists"),
        (feed_line("x", "message.received", at="2026-01-01T11:59:59+08:00", message="M9", shop="S1", buyer="B1",
                   text="hi"),
         "older than the last message of the conversation of shop S1 with B1"),
        (feed_line("x", "message.replied", at="2026-01-01T11:59:59+08:00", message="M9", shop="S1", buyer="B1",
                   text="hi"),
         "older than the last message of the conversation of shop S1 with B1"),
        (feed_line("x", "message.replied", at=AT, message="M9", shop="S1", buyer="B1",
                   text="加我 www.example.com 详聊"),
         'reply refused, rule link (A reply may not contain a link that leads off the platform.): "www.example.com"'),
        (feed_line("x", "message.replied", at=AT, message="M9", shop="S1", buyer="B1",
                   text="有问题发邮件到 service@example.cn"),
         "reply refused, rule email"),
        (feed_line("x", "message.replied", at=AT, message="M9", shop="S1", buyer="B1", text="你是傻逼吗"),
         "reply refused, rule abuse"),
        (feed_line("x", "message.received", at=AT, message="M 9", shop="S1", buyer="B1", text="hi"),
         "field 'message' must be an id"),
        (feed_line("x", "message.replied", at=AT, shop="S1", buyer="B1", text="hi"),
         "field 'message' is required"),
        (feed_line("x", "message.received", at=AT, message="M9", shop="S1", text="hi"),
         "field 'buyer' is required"),
    ],
)  # fmt: skip
def test_every_invalid_message_line_is_rejected_and_nothing_of_it_applied(tmp_path, line, reason):
    lines = [*base_feed(), FIRST, line]
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert code == 1
    assert rejected == [len(lines)], err
    assert f"line {len(lines)}: " in err and reason in err, err
    assert not Message.objects.filter(platform_id="M9").exists()
    assert Message.objects.count() == 1
    m1 = Message.objects.get(platform_id="M1")
    assert m1.answered_at is None  # a refused reply answers nothing
    assert list(Conversation.objects.values_list("buyer", "last_message_at")) == [("B1", m1.at)]
    assert ImportedEvent.objects.get(event_id="x").rejection


def test_a_refused_reason_quotes_at_most_80_characters_of_the_part(tmp_path):
    link = "https://example.com/" + "a" * 200
    lines = [*base_feed(), feed_line("x", "message.replied", at=AT, message="M9", shop="S1", buyer="B1",
                                     text=f"详情见 {link}")]  # fmt: skip
    code, _out, rejected, err = run_import(tmp_path / "feed.jsonl", *lines)
    assert (code, rejected) == (1, [len(lines)])
    assert f'"{link[:80]}… ({len(link)} characters)"' in err
    assert link[:81] not in err


def test_a_line_after_a_recorded_violation_of_its_conversation_is_stale(tmp_path):
    lines = [
        *base_feed(),
        feed_line("m1", "message.received", at="2026-01-01T11:00:00+08:00", message="M1", shop="S1", buyer="B1",
                  text="在吗？"),
    ]  # fmt: skip
    assert run_import(tmp_path / "a.jsonl", *lines)[0] == 0
    run_command("process_deadlines", "--now", "2026-01-03T11:00:00+08:00")  # M1's due: the violation
    late = [
        feed_line("r1", "message.replied", at="2026-01-03T11:00:00+08:00", message="R1", shop="S1", buyer="B1",
                  text="在的"),
        feed_line("r2", "message.replied", at="2026-01-03T11:00:01+08:00", message="R2", shop="S1", buyer="B1",
                  text="在的"),
    ]  # fmt: skip
    code, _out, rejected, err = run_import(tmp_path / "b.jsonl", *late)
    assert (code, rejected) == (1, [1]), err
    assert "not after the late-reply violation of the conversation of shop S1 with B1" in err
    assert list(Message.objects.order_by("at").values_list("platform_id", flat=True)) == ["M1", "R2"]
    assert Charge.objects.count() == 1
