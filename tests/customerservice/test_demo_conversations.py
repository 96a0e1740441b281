"""The demo world's conversations (issue #15.6, pddadmin/demo/conversations.py, called by
World.build): imported through the feed with no rejected line and the deadlines applied, as
seed_demo does, they leave the workbench something in every situation."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Count, F

from customerservice.models import Conversation, Direction, LateReplyViolation, Message, fine_for
from customerservice.selectors import next_fine
from pddadmin.demo.world import SHANGHAI, SHOPS, demo_feed
from pddadmin.feed.importer import import_events
from pddadmin.shops.models import Shop

END = dt.datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)
H = dt.timedelta(hours=1)
OURS = "DEMOCS-"  # the platform ids of the messages conversations.py writes


def demo_lines(*, seed: int = 3, end: dt.datetime = END, orders: int = 300, days: int = 30) -> list[str]:
    return list(demo_feed(orders=orders, days=days, seed=seed, end=end))


def test_the_conversations_are_deterministic_and_never_in_the_future():
    first = demo_lines()
    assert first == demo_lines()
    assert first != demo_lines(seed=4)
    events = [json.loads(line) for line in first]
    ours = [e for e in events if e["type"].startswith("message.") and e["message"].startswith(OURS)]
    assert {e["type"] for e in ours} == {"message.received", "message.replied"}
    assert max(dt.datetime.fromisoformat(e["at"]) for e in ours) <= END
    assert len({e["id"] for e in events}) == len(events)


@pytest.fixture
def imported(db):
    report = import_events(lines=demo_lines())
    assert report.rejections == []
    call_command("process_deadlines", "--now", END.isoformat(), stdout=io.StringIO())


def ours(**filters):
    return Message.objects.filter(platform_id__startswith=OURS, **filters)


def test_every_shop_has_buyers_answered_in_time_and_buyers_waiting(imported):
    for shop_id, *_rest in SHOPS:
        shop = Shop.objects.get(platform_id=shop_id)
        received = ours(conversation__shop=shop, direction=Direction.RECEIVED)
        assert received.filter(answered_at__lte=F("reply_due_at")).exists(), shop_id
        waiting = Conversation.objects.filter(shop=shop, reply_due_at__gt=END, messages__platform_id__startswith=OURS)
        lefts = sorted({c.reply_due_at - END for c in waiting})
        assert any(left < 6 * H for left in lefts) and any(left > 6 * H for left in lefts), (shop_id, lefts)


def test_a_reply_answers_several_messages_and_the_merchant_may_write_first(imported):
    answered = ours(direction=Direction.REPLIED).annotate(n=Count("answered"))
    assert answered.filter(n__gte=3).exists()  # several messages before one reply
    assert answered.filter(n=0).exists()  # the merchant writes again after answering


def test_a_buyer_asks_about_one_of_their_orders(imported):
    about = ours(direction=Direction.RECEIVED, order__isnull=False).select_related("order", "conversation")
    assert about.count() == len(SHOPS)
    for message in about:
        assert (message.order.shop_id, message.order.buyer) == (
            message.conversation.shop_id,
            message.conversation.buyer,
        )
        assert message.answered_at is not None


def test_late_replies_are_fined_one_hundred_then_two_hundred_in_the_first_shop(imported):
    started = LateReplyViolation.objects.filter(message__platform_id__startswith=OURS)
    by_shop = dict(started.values_list("shop__platform_id").annotate(n=Count("id")))
    assert by_shop == {SHOPS[0][0]: 2, SHOPS[1][0]: 1}
    first = Shop.objects.get(platform_id=SHOPS[0][0])
    year = LateReplyViolation.objects.filter(shop=first, year=END.year).order_by("rank")
    fines = [v.fine for v in year]
    assert fines[:2] == [fine_for(1), fine_for(2)] == [100, 200]
    assert next_fine(shop=first, now=END) == fine_for(len(fines) + 1)
    # one of them answered late, the other never answered and still waiting (overdue)
    late = ours(direction=Direction.RECEIVED, violation__in=started.filter(shop=first))
    assert late.filter(answered_at__gt=F("reply_due_at")).exists()
    assert late.filter(answered_at__isnull=True).count() == 2  # the never-answered one covers two messages
    assert Conversation.objects.filter(shop=first, reply_due_at__lt=END).exists()


def test_a_period_across_new_year_keeps_the_fines_in_the_end_year(db):
    end = dt.datetime(2026, 1, 2, 9, 0, tzinfo=SHANGHAI)
    assert import_events(lines=demo_lines(end=end, orders=100)).rejections == []
    call_command("process_deadlines", "--now", end.isoformat(), stdout=io.StringIO())
    started = LateReplyViolation.objects.filter(message__platform_id__startswith=OURS)
    assert set(started.values_list("year", flat=True)) == {2026}
    assert started.filter(shop__platform_id=SHOPS[0][0]).count() == 2
