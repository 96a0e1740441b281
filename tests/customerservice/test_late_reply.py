"""Late-reply violations and their fines (SPEC §7.1, §6.1): recorded by the job at their due
moments, each covering what SPEC says, fined by the ladder of the shop's calendar year."""

import datetime as dt
import io
import logging
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Count

from compensation.models import Charge, ChargeKind, CreditKind
from compensation.services import credits
from compensation.services.charges import shipping_compensation
from compensation.services.ledger import ledger_differences
from customerservice import selectors
from customerservice.models import Conversation, LateReplyViolation, Message
from tests.concurrency import errors_of, run_in_threads
from tests.feed.helpers import run_command

from .conftest import H48, SECOND, T0, at, exported_charges, fines, fines_received, open_shop, receive, reply, run_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

Y = Decimal


@pytest.fixture
def shop(db):
    return open_shop(deposit="1000.00")


def violation_of(message: Message) -> LateReplyViolation | None:
    message.refresh_from_db()
    return message.violation


# --- the 48-hour boundary ----------------------------------------------------------------------


def test_a_reply_at_exactly_48_hours_is_in_time_one_second_later_is_late(shop):
    on_time = receive(shop, "B1", T0, platform_id="M-on-time")
    late = receive(shop, "B2", T0, platform_id="M-late")
    reply(shop, "B1", T0 + H48)
    reply(shop, "B2", T0 + H48 + SECOND)
    run_job(T0 + dt.timedelta(days=10))
    assert violation_of(on_time) is None
    violation = violation_of(late)
    assert violation is not None and violation.message == late
    assert violation.due_at == T0 + H48  # due and stamped at the reply due, not at the late reply
    assert fines(shop) == [("M-late", Y("100.00"), T0 + H48)]


def test_nothing_is_due_before_the_reply_due_and_the_job_stamps_the_due_moment(shop):
    message = receive(shop, "B1", T0, platform_id="M1")
    assert run_job(T0 + H48 - SECOND).total == 0
    assert violation_of(message) is None
    report = run_job(T0 + H48)
    assert report.applied == {ChargeKind.LATE_REPLY: 1}
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]
    assert run_job(T0 + dt.timedelta(days=30)).total == 0  # once, ever


def test_an_unanswered_message_is_a_violation_answered_or_not_later(shop):
    receive(shop, "B1", T0, platform_id="M1")
    run_job(T0 + dt.timedelta(days=3))
    reply(shop, "B1", T0 + dt.timedelta(days=3, seconds=1))  # a late reply never undoes it
    run_job(T0 + dt.timedelta(days=4))
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]
    assert LateReplyViolation.objects.get().message.answered_at == T0 + dt.timedelta(days=3, seconds=1)


def test_a_late_reply_before_the_job_ran_is_still_a_violation(shop):
    receive(shop, "B1", T0, platform_id="M1")
    reply(shop, "B1", T0 + dt.timedelta(days=3))
    run_job(T0 + dt.timedelta(days=4))
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]


# --- what a violation covers -------------------------------------------------------------------


def test_one_violation_covers_every_message_received_by_its_due_and_not_answered_by_then(shop):
    first = receive(shop, "B1", T0, platform_id="M1")
    second = receive(shop, "B1", T0 + dt.timedelta(hours=10), platform_id="M2")
    third = receive(shop, "B1", T0 + H48, platform_id="M3")  # received at the due itself
    after = receive(shop, "B1", T0 + H48 + SECOND, platform_id="M4")  # starts its own clock
    reply(shop, "B1", T0 + dt.timedelta(hours=60))  # in time for M4, late for M1 … M3
    run_job(T0 + dt.timedelta(days=10))
    violation = LateReplyViolation.objects.get()
    assert violation.message == first
    assert set(violation.covered.all()) == {first, second, third}
    assert violation_of(after) is None
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]


def test_a_reply_answers_several_messages_in_time_and_none_is_fined(shop):
    for hour in range(5):
        receive(shop, "B1", T0 + dt.timedelta(hours=hour))
    reply(shop, "B1", T0 + H48)  # exactly the first one's due
    run_job(T0 + dt.timedelta(days=10))
    assert fines(shop) == []
    assert not Message.objects.filter(answered_at__isnull=True, reply_due_at__isnull=False).exists()


def test_a_message_answered_in_time_for_itself_but_after_an_earlier_due_is_covered(shop):
    """M2 came while M1 waited; the reply came after M1's due but within M2's own 48 h."""
    m1 = receive(shop, "B1", T0, platform_id="M1")
    m2 = receive(shop, "B1", T0 + dt.timedelta(hours=40), platform_id="M2")
    reply(shop, "B1", T0 + dt.timedelta(hours=50))
    run_job(T0 + dt.timedelta(days=10))
    violation = LateReplyViolation.objects.get()
    assert set(violation.covered.all()) == {m1, m2}
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]


def test_a_second_violation_in_a_conversation(shop):
    receive(shop, "B1", T0, platform_id="M1")
    receive(shop, "B1", T0 + dt.timedelta(hours=49), platform_id="M2")  # after M1's due: a new clock
    receive(shop, "B1", T0 + dt.timedelta(hours=50), platform_id="M3")
    run_job(T0 + dt.timedelta(days=10))
    violations = list(LateReplyViolation.objects.order_by("due_at"))
    assert [(v.message.platform_id, v.due_at, v.rank) for v in violations] == [
        ("M1", T0 + H48, 1),
        ("M2", T0 + dt.timedelta(hours=49) + H48, 2),
    ]
    assert sorted(violations[1].covered.values_list("platform_id", flat=True)) == ["M2", "M3"]
    assert [amount for _m, amount, _at in fines(shop)] == [Y("100.00"), Y("200.00")]
    conversation = Conversation.objects.get()
    assert conversation.last_violation_at == violations[1].due_at


def test_the_job_running_in_between_finds_the_same_violations(shop):
    receive(shop, "B1", T0, platform_id="M1")
    receive(shop, "B1", T0 + dt.timedelta(hours=30), platform_id="M2")
    run_job(T0 + H48)  # M1 is due: covers M2 too
    receive(shop, "B1", T0 + dt.timedelta(hours=49), platform_id="M3")
    run_job(T0 + dt.timedelta(hours=78))  # M2's own due: covered already, nothing new
    assert len(fines(shop)) == 1
    run_job(T0 + dt.timedelta(hours=97))  # M3's due
    assert [m for m, _a, _at in fines(shop)] == ["M1", "M3"]


def test_nothing_at_or_before_a_recorded_violation_can_be_added_to_its_conversation(shop):
    """The violation is a fact fixed by the messages at or before its due: a line that would
    change it arrives too late (the stale rule), and nothing of it is kept."""
    receive(shop, "B1", T0, platform_id="M1")
    run_job(T0 + dt.timedelta(days=3))
    for write in (
        lambda: reply(shop, "B1", T0 + H48, platform_id="R-at-due"),
        lambda: reply(shop, "B1", T0 + dt.timedelta(hours=47), platform_id="R-before"),
        lambda: receive(shop, "B1", T0 + H48, platform_id="M-at-due"),
    ):
        with pytest.raises(ValidationError, match="not after the late-reply violation"):
            write()
    assert Message.objects.count() == 1
    reply(shop, "B1", T0 + H48 + SECOND)  # after the due: a late reply, accepted
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]


# --- the ladder --------------------------------------------------------------------------------


def late_messages(shop, dues: list[dt.datetime], prefix: str = "M") -> None:
    for n, due in enumerate(dues):
        receive(shop, f"{prefix}-buyer-{n}", due - H48, platform_id=f"{prefix}{n}")


def test_the_fourth_and_fifth_violation_of_a_year_cost_300(shop):
    late_messages(shop, [T0 + dt.timedelta(days=d) for d in range(5)])
    run_job(T0 + dt.timedelta(days=30))
    amounts = [amount for _m, amount, _at in fines(shop)]
    assert amounts == [Y("100.00"), Y("200.00"), Y("300.00"), Y("300.00"), Y("300.00")]
    assert list(LateReplyViolation.objects.order_by("due_at").values_list("rank", flat=True)) == [1, 2, 3, 4, 5]
    assert fines_received() == sum(amounts)


def test_the_ladder_starts_again_on_the_first_of_january_in_shanghai_time(shop):
    dues = [at("2025-12-30 09:00"), at("2025-12-31 23:59:59"), at("2026-01-01 00:00:00"), at("2026-01-01 08:00")]
    late_messages(shop, dues)
    run_job(at("2026-02-01 00:00"))
    rows = list(LateReplyViolation.objects.order_by("due_at").values_list("due_at", "year", "rank", "fine"))
    assert rows == [
        (dues[0], 2025, 1, Y("100.00")),
        (dues[1], 2025, 2, Y("200.00")),
        (dues[2], 2026, 1, Y("100.00")),  # 2025-12-31 16:00 UTC: already 2026 in Shanghai
        (dues[3], 2026, 2, Y("200.00")),
    ]


def test_the_ladder_is_the_same_when_the_job_ran_each_day(shop):
    dues = [at("2025-12-30 09:00"), at("2025-12-31 23:59:59"), at("2026-01-01 00:00:00"), at("2026-01-01 08:00")]
    late_messages(shop, dues)
    for day in range(28, 34):
        run_job(at("2025-12-01 12:00") + dt.timedelta(days=day))
    assert [amount for _m, amount, _at in fines(shop)] == [Y("100.00"), Y("200.00"), Y("100.00"), Y("200.00")]


def test_violations_due_at_the_same_instant_rank_by_message_id(shop):
    due = T0 + H48
    for platform_id in ["M-b", "M-B", "M-a", "M-10", "M-9"]:  # plain string order: M-10 < M-9 < M-B < M-a < M-b
        receive(shop, f"buyer-{platform_id}", T0, platform_id=platform_id)
    run_job(due)
    assert [m for m, _a, _at in fines(shop)] == ["M-10", "M-9", "M-B", "M-a", "M-b"]
    assert list(LateReplyViolation.objects.order_by("rank").values_list("message__platform_id", flat=True)) == [
        "M-10",
        "M-9",
        "M-B",
        "M-a",
        "M-b",
    ]


def test_each_shop_has_its_own_ladder(shop):
    other = open_shop()
    late_messages(shop, [T0 + H48], prefix="A")
    late_messages(other, [T0 + H48, T0 + H48 + SECOND], prefix="B")
    run_job(T0 + dt.timedelta(days=5))
    assert [a for _m, a, _t in fines(shop)] == [Y("100.00")]
    assert [a for _m, a, _t in fines(other)] == [Y("100.00"), Y("200.00")]


def test_next_fine_and_violations_of_the_year(shop):
    assert selectors.next_fine(shop=shop, now=T0) == Y("100.00")
    late_messages(shop, [T0 + H48, T0 + 2 * H48, T0 + 3 * H48])
    run_job(T0 + dt.timedelta(days=10))
    assert selectors.next_fine(shop=shop, now=T0 + dt.timedelta(days=10)) == Y("300.00")
    assert selectors.next_fine(shop=shop, now=at("2027-01-01 00:00")) == Y("100.00")
    year = list(selectors.violations_of_year(shop=shop, year=2026))
    assert [(v.rank, v.fine, v.covered_count) for v in year] == [(1, Y("100.00"), 1), (2, Y("200.00"), 1),
                                                                  (3, Y("300.00"), 1)]  # fmt: skip
    assert list(selectors.violations_of_year(shop=shop, year=2025)) == []


# --- money -------------------------------------------------------------------------------------


def test_a_fine_comes_from_the_deposit_then_the_balance_then_arrears_and_goes_to_the_platform(db):
    shop = open_shop(deposit="150.00", balance="100.00")
    late_messages(shop, [T0 + H48, T0 + 2 * H48])  # ¥100, then ¥200
    run_job(T0 + dt.timedelta(days=10))
    charges = list(Charge.objects.filter(shop=shop).order_by("at"))
    assert [(c.from_deposit, c.from_balance, c.arrears) for c in charges] == [
        (Y("100.00"), Y("0.00"), Y("0.00")),
        (Y("50.00"), Y("100.00"), Y("50.00")),
    ]
    assert all(c.coupon_id is None and c.order_id is None for c in charges)
    assert fines_received() == Y("300.00")
    assert ledger_differences() == []


def test_a_settlement_applies_the_fines_due_by_its_time_first(db):
    shop = open_shop(deposit="0.00")
    receive(shop, "B1", T0, platform_id="M1")
    # No job ran; the settlement at the due moment first applies the fine due then (SPEC §6.1).
    credit = credits.shop_credit(shop=shop, kind=CreditKind.SETTLEMENT, amount=Y("500.00"), at=T0 + H48, source="feed")
    assert fines(shop) == [("M1", Y("100.00"), T0 + H48)]
    assert (credit.to_arrears, credit.credited) == (Y("100.00"), Y("400.00"))
    shop.refresh_from_db()
    assert shop.balance == Y("400.00")


def test_late_reply_fines_come_before_shipping_at_the_same_instant(db):
    from tests import factories

    shop = open_shop(deposit="100.00")
    goods = factories.GoodsFactory(shop=shop)
    order = factories.OrderFactory(goods=goods, platform_id="A-order", buyer="B1",
                                   placed_at=T0, promised_ship_by=T0 + H48, grouped_at=T0,
                                   late_shipment_due_at=T0 + H48)  # fmt: skip
    receive(shop, "B1", T0, platform_id="Z-message")
    run_job(T0 + dt.timedelta(days=5))
    rows = list(Charge.objects.filter(shop=shop).order_by("id").values_list("kind", "from_deposit", "arrears"))
    # The fine takes the whole deposit first, though the order's id sorts before the message's.
    compensation = shipping_compensation(ChargeKind.LATE_SHIPMENT, order.amount)
    assert rows == [
        (ChargeKind.LATE_REPLY, Y("100.00"), Y("0.00")),
        (ChargeKind.LATE_SHIPMENT, Y("0.00"), compensation),
    ]


def test_export_charges_shows_late_reply_rows(shop):
    receive(shop, "B1", T0, platform_id="M1")
    run_job(T0 + dt.timedelta(days=3))
    (row,) = exported_charges()
    assert row == {
        "kind": "late_reply",
        "shop": shop.platform_id,
        "violation": None,
        "order": None,
        "message": "M1",
        "buyer": "B1",
        "amount": "100.00",
        "from_deposit": "100.00",
        "from_balance": "0.00",
        "arrears": "0.00",
        "coupon": None,
        "at": (T0 + H48).isoformat(),
        "expires_at": None,
    }


def test_process_deadlines_records_the_violations_and_says_so(shop):
    receive(shop, "B1", T0, platform_id="M1")
    code, out, err = run_command("process_deadlines", "--now", (T0 + dt.timedelta(days=3)).isoformat())
    assert code == 0, err
    assert "1 late_reply" in out
    code, out, _err = run_command("process_deadlines", "--now", (T0 + dt.timedelta(days=3)).isoformat())
    assert "0 automatic charges" in out
    assert LateReplyViolation.objects.count() == 1


# --- two workers at once -----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_process_deadlines_at_once_charge_each_violation_once(postgres_only):
    shops = [open_shop(deposit="500.00") for _ in range(8)]
    for s, shop in enumerate(shops):
        for b in range(12):
            for k in range(3):  # three messages a conversation, the first late: one violation each
                receive(shop, f"B{s}-{b}", T0 + dt.timedelta(hours=b, minutes=k), platform_id=f"M{s}-{b}-{k}")
    now = (T0 + dt.timedelta(days=5)).isoformat()
    outcomes = run_in_threads(2, lambda _i: call_command("process_deadlines", "--now", now, stdout=io.StringIO()))
    assert errors_of(outcomes) == []
    assert LateReplyViolation.objects.count() == 8 * 12
    assert Charge.objects.filter(kind=ChargeKind.LATE_REPLY).count() == 8 * 12
    assert not Message.objects.filter(violation__isnull=True).exists()
    per_shop = LateReplyViolation.objects.values("shop").annotate(n=Count("id"))
    assert {row["n"] for row in per_shop} == {12}
    for shop in shops:
        ranks = list(LateReplyViolation.objects.filter(shop=shop).order_by("due_at").values_list("rank", flat=True))
        assert ranks == list(range(1, 13))
    assert ledger_differences() == []
    assert fines_received() == 8 * (Y("100.00") + Y("200.00") + 10 * Y("300.00"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_job_leaves_a_conversation_held_by_a_writer_for_later_and_then_charges_it(postgres_only, caplog):
    """An importer's chunk holds a conversation (the lock of its messages): the job must not wait
    for it while it holds shops (NOWAIT), and still ends with nothing due left."""
    shop = open_shop()
    held = receive(shop, "B-held", T0, platform_id="M-held")
    receive(shop, "B-free", T0, platform_id="M-free")
    locked, done = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=held.conversation_id)
                locked.set()
                done.wait(timeout=1.5)  # the job has deferred the shop by now, or times out waiting
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert locked.wait(timeout=10)
    try:
        with caplog.at_level(logging.INFO, logger="compensation.services.charges"):
            report = run_job(T0 + dt.timedelta(days=3))
    finally:
        done.set()
        thread.join()
    assert f"automatic charges of shops [{shop.pk}] deferred" in caplog.text  # NOWAIT, then the waiting pass
    assert report.applied == {ChargeKind.LATE_REPLY: 2}
    assert sorted(m for m, _a, _at in fines(shop)) == ["M-free", "M-held"]
    assert ledger_differences() == []
