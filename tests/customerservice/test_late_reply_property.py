"""Random histories of buyer messages, replies and settlements: the late-reply fines are the same
whether the job runs once at the end or many times in between (SPEC §7.1, §6.1)."""

import datetime as dt
import os
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compensation.models import CreditKind
from compensation.services import credits
from compensation.services.ledger import ledger_differences
from customerservice.models import LateReplyViolation, Message
from pddadmin.shops.models import Shop

from .conftest import H48, SECOND, at, exported_charges, open_shop, receive, reply, run_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

START = at("2025-12-29 08:00")  # histories cross the new year in Shanghai: the ladder starts again
HOUR = dt.timedelta(hours=1)
# Gaps between events: the 48 h boundary exactly, a second either side, and anything up to 3 days.
gap = st.one_of(
    st.sampled_from([dt.timedelta(0), SECOND, HOUR, H48 - SECOND, H48, H48 + SECOND]),
    st.integers(min_value=0, max_value=72 * 3600).map(lambda s: dt.timedelta(seconds=s)),
)
event = st.one_of(
    st.tuples(st.just("receive"), gap, st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("reply"), gap, st.integers(0, 1), st.integers(0, 2)),
    st.tuples(st.just("settle"), gap, st.integers(0, 1), st.integers(1, 500)),
)
# After an event, maybe run the job at a moment before the next event: the fraction of the gap.
job = st.one_of(st.none(), st.floats(min_value=0, max_value=0.999))
LADDER = (Decimal("100.00"), Decimal("200.00"), Decimal("300.00"))  # SPEC §7.1


class Rollback(Exception):
    pass


def replay(events: list[tuple], jobs: list[float | None]) -> dict:
    """Apply the history (running the job where `jobs` says), then the job once at the end; what
    the exports and the violations show. Rolled back afterwards."""
    outcome: dict = {}
    try:
        with transaction.atomic():
            shops = [open_shop(deposit="150.00", balance="80.00", platform_id=f"S{n}", at=START) for n in (0, 1)]
            clock = START
            times = []
            for _kind, pause, *_rest in events:
                clock += pause
                times.append(clock)
            for i, (kind, _pause, shop_index, arg) in enumerate(events):
                shop, when = shops[shop_index], times[i]
                if kind == "receive":
                    receive(shop, f"B{arg}", when, platform_id=f"M{i:03d}")
                elif kind == "reply":
                    reply(shop, f"B{arg}", when, platform_id=f"R{i:03d}")
                else:
                    credits.shop_credit(
                        shop=Shop.objects.get(pk=shop.pk),
                        kind=CreditKind.SETTLEMENT,
                        amount=Decimal(arg),
                        at=when,
                        source="feed",
                    )
                fraction = jobs[i] if i < len(jobs) else None
                if fraction is not None and i + 1 < len(events) and times[i + 1] > when:
                    run_job(when + (times[i + 1] - when) * fraction)
            run_job(clock + dt.timedelta(days=5))
            assert ledger_differences() == []
            outcome["charges"] = exported_charges()
            violations = LateReplyViolation.objects.select_related("message", "shop")
            outcome["violations"] = [
                (v.shop.platform_id, v.message.platform_id, v.due_at, v.year, v.rank, v.fine,
                 sorted(v.covered.values_list("platform_id", flat=True)))
                for v in sorted(violations, key=lambda v: (v.shop.platform_id, v.due_at, v.message.platform_id))
            ]  # fmt: skip
            outcome["messages"] = list(
                Message.objects.order_by("platform_id").values_list(
                    "platform_id", "answered_at", "answered_by__platform_id", "violation__message__platform_id"
                )
            )
            raise Rollback
    except Rollback:
        pass
    return outcome


def spec_violations(events: list[tuple]) -> list[tuple]:
    """SPEC §7.1 read literally, from the history alone: per conversation, a reply answers every
    buyer message before it still unanswered; the first message not answered by its due (and not
    covered) starts a violation at that due, covering every message received by then and not
    answered by then; ranked per shop and Shanghai calendar year by (due, message id)."""
    clock, conversations = START, {}
    for i, (kind, pause, shop_index, arg) in enumerate(events):
        clock += pause
        if kind == "settle":
            continue
        thread = conversations.setdefault((shop_index, arg), [])
        if kind == "receive":
            thread.append({"id": f"M{i:03d}", "at": clock, "answered": None})
        else:
            for message in thread:
                if message["answered"] is None:
                    message["answered"] = clock
    found = []  # (shop, due, starting message, covered)
    for (shop_index, _buyer), thread in conversations.items():
        covered: set[str] = set()
        for message in thread:
            due = message["at"] + H48
            if message["id"] in covered or (message["answered"] is not None and message["answered"] <= due):
                continue
            cover = [
                m["id"] for m in thread
                if m["id"] not in covered and m["at"] <= due and (m["answered"] is None or m["answered"] > due)
            ]  # fmt: skip
            covered.update(cover)
            found.append((shop_index, due, message["id"], sorted(cover)))
    ranked, counts = [], {}
    for shop_index, due, starter, cover in sorted(found):
        year = due.astimezone(ZoneInfo("Asia/Shanghai")).year
        counts[shop_index, year] = rank = counts.get((shop_index, year), 0) + 1
        ranked.append((f"S{shop_index}", starter, due, year, rank, LADDER[min(rank, 3) - 1], cover))
    return ranked


@settings(
    max_examples=int(os.environ.get("LATE_REPLY_EXAMPLES", "40")),  # more for a long run
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(event, min_size=1, max_size=24), jobs=st.lists(job, max_size=24))
def test_the_job_run_once_or_in_between_gives_the_same_fines(db, events, jobs):
    once = replay(events, [])
    many = replay(events, jobs)
    assert many == once
    assert once["violations"] == spec_violations(events)
    # One charge per violation, of its fine, stamped at its due; no coupon (the buyer gets nothing).
    charged = sorted((r["shop"], r["message"], r["at"], r["amount"], r["kind"], r["coupon"]) for r in once["charges"])
    assert charged == sorted(
        (shop, starter, timezone.localtime(due).isoformat(), f"{fine:.2f}", "late_reply", None)
        for shop, starter, due, _year, _rank, fine, _cover in once["violations"]
    )
