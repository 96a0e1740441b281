"""Buyer messages and merchant replies through the services (SPEC §7.1, §7.2), and the reads the
workbench makes of them."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from customerservice import selectors
from customerservice.models import Conversation, Direction, Message
from customerservice.services.messages import ReplyRefused
from tests import factories

from .conftest import H48, SECOND, T0, open_shop, receive, reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def shop(db):
    return open_shop()


def test_a_buyer_message_is_due_for_a_reply_48_hours_later(shop):
    message = receive(shop, "B1", T0)
    assert message.direction == Direction.RECEIVED
    assert message.reply_due_at == T0 + H48
    assert message.answered_at is None
    conversation = message.conversation
    assert (conversation.shop, conversation.buyer) == (shop, "B1")
    assert conversation.reply_due_at == T0 + H48
    assert conversation.last_message_at == T0


def test_one_conversation_per_shop_and_buyer(shop):
    other = open_shop()
    first = receive(shop, "B1", T0)
    second = receive(shop, "B1", T0 + dt.timedelta(minutes=5))
    third = receive(other, "B1", T0 + dt.timedelta(minutes=6))
    fourth = receive(shop, "B2", T0 + dt.timedelta(minutes=7))
    assert first.conversation_id == second.conversation_id
    assert len({first.conversation_id, third.conversation_id, fourth.conversation_id}) == 3
    assert Conversation.objects.count() == 3


def test_a_reply_answers_every_unanswered_message_before_it(shop):
    m1 = receive(shop, "B1", T0)
    m2 = receive(shop, "B1", T0 + dt.timedelta(hours=1))
    m3 = receive(shop, "B1", T0 + dt.timedelta(hours=2))
    other_buyer = receive(shop, "B2", T0 + dt.timedelta(hours=2))
    answer = reply(shop, "B1", T0 + dt.timedelta(hours=3))
    for message in (m1, m2, m3):
        message.refresh_from_db()
        assert (message.answered_at, message.answered_by) == (T0 + dt.timedelta(hours=3), answer)
    other_buyer.refresh_from_db()
    assert other_buyer.answered_at is None
    conversation = Conversation.objects.get(pk=m1.conversation_id)
    assert conversation.reply_due_at is None
    assert set(answer.answered.all()) == {m1, m2, m3}


def test_a_second_reply_answers_only_what_came_after_the_first(shop):
    m1 = receive(shop, "B1", T0)
    first = reply(shop, "B1", T0 + dt.timedelta(hours=1))
    m2 = receive(shop, "B1", T0 + dt.timedelta(hours=2))
    conversation = Conversation.objects.get(pk=m1.conversation_id)
    assert conversation.reply_due_at == m2.at + H48  # the new message's clock, not the first one's
    second = reply(shop, "B1", T0 + dt.timedelta(hours=3))
    m1.refresh_from_db()
    m2.refresh_from_db()
    assert m1.answered_by == first
    assert m2.answered_by == second


def test_a_reply_at_exactly_the_due_and_one_second_later_record_when_they_answered(shop):
    on_time = receive(shop, "B1", T0)
    late = receive(shop, "B2", T0)
    reply(shop, "B1", T0 + H48)
    reply(shop, "B2", T0 + H48 + SECOND)
    on_time.refresh_from_db()
    late.refresh_from_db()
    assert on_time.answered_at == on_time.reply_due_at
    assert late.answered_at == late.reply_due_at + SECOND


def test_the_merchant_may_write_first(shop):
    answer = reply(shop, "B9", T0)
    assert answer.direction == Direction.REPLIED
    assert answer.reply_due_at is None
    assert answer.conversation.reply_due_at is None
    assert not answer.answered.exists()


def test_a_refused_reply_names_the_rule_and_part_and_writes_nothing(shop):
    message = receive(shop, "B1", T0)
    with pytest.raises(ReplyRefused) as refused:
        reply(shop, "B1", T0 + dt.timedelta(hours=1), text="加我 www.example.com 详聊", platform_id="R-bad")
    assert refused.value.breach.rule == "link"
    assert refused.value.breach.part == "www.example.com"
    assert "rule link" in refused.value.messages[0]
    assert '"www.example.com"' in refused.value.messages[0]
    assert refused.value.code == "rule_broken"
    assert not Message.objects.filter(platform_id="R-bad").exists()
    message.refresh_from_db()
    assert message.answered_at is None
    assert message.conversation.reply_due_at == T0 + H48
    assert message.conversation.last_message_at == T0


def test_a_refused_reply_of_a_merchant_writing_first_opens_no_conversation(shop):
    with pytest.raises(ReplyRefused) as refused:
        reply(shop, "B1", T0, text="转账到支付宝账号 shop_pay_2024 即可")
    assert refused.value.breach.rule == "payment_account"
    assert not Conversation.objects.exists()


def test_an_attachment_that_is_not_an_image_is_refused(shop):
    with pytest.raises(ValidationError, match="attachment 1 is not an image"):
        reply(shop, "B1", T0, text="见附件", images=[b"not an image at all"])
    assert not Message.objects.exists()


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_a_message_needs_a_text_of_1_to_2000_characters(shop, text):
    with pytest.raises(ValidationError):
        receive(shop, "B1", T0, text=text)
    with pytest.raises(ValidationError):
        reply(shop, "B1", T0, text=text)
    assert not Message.objects.exists()


def test_2000_characters_are_allowed(shop):
    assert len(receive(shop, "B1", T0, text="好" * 2000).text) == 2000


def test_a_message_id_is_unique_across_both_kinds(shop):
    receive(shop, "B1", T0, platform_id="X1")
    with pytest.raises(ValidationError, match="message X1 already exists"):
        reply(shop, "B1", T0 + SECOND, platform_id="X1")
    with pytest.raises(ValidationError, match="message X1 already exists"):
        receive(shop, "B2", T0 + SECOND, platform_id="X1")
    assert Message.objects.count() == 1


def test_a_message_older_than_the_last_of_its_conversation_is_refused(shop):
    receive(shop, "B1", T0)
    with pytest.raises(ValidationError, match="older than the last message"):
        receive(shop, "B1", T0 - SECOND)
    with pytest.raises(ValidationError, match="older than the last message"):
        reply(shop, "B1", T0 - SECOND)
    receive(shop, "B1", T0)  # the same instant is not older
    receive(shop, "B2", T0 - SECOND)  # another conversation has its own clock
    assert Message.objects.count() == 3


def test_the_order_must_be_one_of_that_shop_and_buyer(shop):
    goods = factories.GoodsFactory(shop=shop)
    mine = factories.OrderFactory(goods=goods, buyer="B1")
    other_buyer = factories.OrderFactory(goods=goods, buyer="B2")
    other_shop = factories.OrderFactory(buyer="B1")
    assert receive(shop, "B1", T0, order=mine).order == mine
    for order in (other_buyer, other_shop):
        with pytest.raises(ValidationError, match=f"order {order.platform_id} is not an order of shop"):
            receive(shop, "B1", T0 + SECOND, order=order)
    assert Message.objects.count() == 1


def test_back_office_replies_need_an_owner_or_agent_and_get_an_id(shop):
    agent = factories.member(shop, "agent")
    owner = factories.member(shop, "owner")
    viewer = factories.member(shop, "viewer")
    outsider = factories.member(open_shop(), "owner")
    receive(shop, "B1", T0)
    for user in (viewer, outsider):
        with pytest.raises(PermissionDenied):
            reply(shop, "B1", T0 + SECOND, actor=user, platform_id=None, source="admin")
    first = reply(shop, "B1", T0 + 2 * SECOND, actor=agent, platform_id=None, source="admin")
    second = reply(shop, "B1", T0 + 3 * SECOND, actor=owner, platform_id=None, source="admin")
    assert first.author == agent
    assert first.platform_id.startswith("reply:") and second.platform_id.startswith("reply:")
    assert first.platform_id != second.platform_id
    assert Message.objects.filter(direction=Direction.REPLIED).count() == 2


# --- the workbench's reads -------------------------------------------------------------------


def test_waiting_conversations_most_urgent_first_with_time_left(shop):
    now = T0 + dt.timedelta(hours=30)
    receive(shop, "late", T0 - dt.timedelta(hours=20))  # overdue by 2 h
    receive(shop, "soon", T0)
    receive(shop, "soon", T0 + dt.timedelta(hours=10))  # the oldest unanswered message sets the clock
    receive(shop, "later", T0 + dt.timedelta(hours=5))
    receive(shop, "done", T0 + dt.timedelta(hours=1))
    reply(shop, "done", T0 + dt.timedelta(hours=2))
    receive(open_shop(), "elsewhere", T0)
    waiting = list(selectors.waiting_conversations(Conversation.objects.filter(shop=shop), now=now))
    assert [c.buyer for c in waiting] == ["late", "soon", "later"]
    assert [c.time_left for c in waiting] == [
        dt.timedelta(hours=-2),
        dt.timedelta(hours=18),
        dt.timedelta(hours=23),
    ]
    assert [c.unanswered for c in waiting] == [1, 2, 1]
    at_risk = selectors.at_risk(Conversation.objects.filter(shop=shop), now=now)
    assert sorted(c.buyer for c in at_risk) == ["late"]


def test_conversations_are_scoped_to_the_users_shops(shop):
    agent = factories.member(shop, "agent")
    receive(shop, "B1", T0)
    receive(open_shop(), "B2", T0)
    assert [c.buyer for c in selectors.conversations_for(agent)] == ["B1"]


def test_the_thread_in_time_order_with_what_answered_each_message(shop):
    m1 = receive(shop, "B1", T0)
    r1 = reply(shop, "B1", T0 + dt.timedelta(minutes=1))
    m2 = receive(shop, "B1", T0 + dt.timedelta(minutes=2))
    thread = list(selectors.thread(m1.conversation))
    assert thread == [m1, r1, m2]
    assert thread[0].answered_by == r1
    assert thread[2].answered_by is None
