"""seed_demo: a deterministic demo feed, imported with no rejected line, jobs run, logins made."""

import collections
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import identify_hasher
from django.core.management import call_command

from aftersales.models import AfterSalesCase
from compensation.models import Charge, ChargeKind, Credit, CreditKind
from compensation.selectors import account_rows, payouts
from metrics.models import ShopDaySnapshot
from pddadmin.demo.users import DEMO_PASSWORD
from pddadmin.demo.world import SHANGHAI, demo_feed
from pddadmin.feed.models import ImportedEvent
from pddadmin.jobs.models import JobRun, Outcome
from pddadmin.settings import VAR_DIR
from pddadmin.shops.models import Order, Role, Shop, ShopMembership

END = "2026-03-01T12:00:00+08:00"
END_AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI)


def seed(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_same_seed_same_feed_other_seed_other_feed():
    first = list(demo_feed(orders=300, days=30, seed=7, end=END_AT))
    assert first == list(demo_feed(orders=300, days=30, seed=7, end=END_AT))
    assert first != list(demo_feed(orders=300, days=30, seed=8, end=END_AT))
    assert len({json.loads(line)["id"] for line in first}) == len(first)


def test_the_feed_walks_every_path():
    """Every case and warranty event type of SPEC §8, both rulings, goods of every kind."""
    events = [json.loads(line) for line in demo_feed(orders=4000, days=60, seed=1, end=END_AT)]
    types = collections.Counter(e["type"] for e in events)
    assert set(types) >= {
        "shop.opened", "address.added", "goods.listed", "order.placed", "order.grouped", "order.shipped",
        "order.received", "order.out_of_stock", "shop.settled", "shop.deposit_paid", "case.opened",
        "case.resubmitted", "case.cancelled", "case.escalated",
        "case.return_shipped", "case.merchant_agreed", "case.merchant_refused", "case.merchant_return_refused",
        "case.merchant_refunded", "case.merchant_reshipped", "case.ruled", "warranty.reported", "warranty.ruled",
    }  # fmt: skip
    assert {e["liable"] for e in events if e["type"] == "case.ruled"} == {"merchant", "buyer"}
    assert {e["breach"] for e in events if e["type"] == "warranty.ruled"} == {True, False}
    goods = [e for e in events if e["type"] == "goods.listed"]
    assert any(g["special"] for g in goods) and any(g["warranty"] for g in goods)
    assert any(g["warranty_mandatory"] for g in goods)
    assert {e["kind"] for e in events if e["type"] == "case.opened"} == {"refund_only", "return_refund", "exchange"}
    # Exchanges along each path (issue #16.5): replaced, refunded when the replacement is out of
    # stock, refused and escalated.
    exchanges = {e["case"] for e in events if e["type"] == "case.opened" and e["kind"] == "exchange"}
    on_exchanges = collections.Counter(e["type"] for e in events if e.get("case") in exchanges)
    assert on_exchanges["case.merchant_reshipped"] and on_exchanges["case.merchant_refunded"]
    assert on_exchanges["case.merchant_refused"] and on_exchanges["case.escalated"]
    times = [dt.datetime.fromisoformat(e["at"]) for e in events]
    assert max(times) <= END_AT


@pytest.mark.django_db
def test_seed_demo_imports_everything_and_runs_the_jobs():
    out, err = seed("--orders", "600", "--days", "30", "--seed", "2", "--end", END)
    assert err == ""
    assert " 0 rejected " in out
    feed = (VAR_DIR / "demo" / "feed-2.jsonl").read_text(encoding="utf-8").splitlines()
    assert feed == list(demo_feed(orders=600, days=30, seed=2, end=END_AT))  # same bytes from the command
    assert ImportedEvent.objects.count() == len(feed)

    states = set(AfterSalesCase.objects.values_list("state", flat=True))
    assert {"refunded", "closed", "under_intervention", "pending_merchant"} <= states
    # Deadlines were applied as of the end: nothing is left overdue.
    assert not AfterSalesCase.objects.filter(due_at__lte=END_AT, state__in=["pending_merchant", "awaiting_return"])
    assert payouts().exists()
    # The money pages show every kind (issue #14.6): every kind of charge (the late-reply fines from
    # the demo's conversations), weekly settlements and a deposit payment, and a shop left owing
    # (the new shop, S1004).
    assert set(Charge.objects.values_list("kind", flat=True)) == set(ChargeKind.values)
    assert set(Credit.objects.values_list("kind", flat=True)) == {CreditKind.SETTLEMENT, CreditKind.DEPOSIT_PAYMENT}
    assert Credit.objects.filter(kind=CreditKind.SETTLEMENT).values("shop").distinct().count() == 3
    assert Credit.objects.filter(to_arrears__gt=0).exists()  # a credit that paid off arrears first
    owed = {row["shop"]: row["arrears"] for row in account_rows(Shop.objects.all())}
    assert Decimal(owed["S1004"]) > 0
    assert Charge.objects.filter(kind=ChargeKind.OUT_OF_STOCK, order__platform_id="DEMOX0001").exists()
    # an order left to ship at the end, for an agent to try the out-of-stock button on
    assert Order.objects.filter(platform_id="DEMOX0005", shipped_at=None, out_of_stock_at=None).exists()
    # A snapshot for every day of the period (the dashboard's trend), the last one yesterday.
    dates = set(ShopDaySnapshot.objects.values_list("date", flat=True))
    assert dates == {dt.date(2026, 1, 30) + dt.timedelta(days=n) for n in range(30)}
    assert {run.job for run in JobRun.objects.filter(outcome=Outcome.OK)} == {
        "process_deadlines", "issue_payouts", "compute_metrics",
    }  # fmt: skip


def printed_logins(out: str) -> dict[str, str]:
    """username → the password column of seed_demo's login table."""
    return dict(re.findall(r"^  (\S+) +(\S+) ", out, flags=re.MULTILINE))


DEMO_USERNAMES = {*(f"{role}{n}" for role in (Role.OWNER, Role.AGENT) for n in range(1, 5)), "reviewer1", "reviewer2",
                  "admin"}  # fmt: skip


@pytest.mark.django_db
def test_demo_users_and_a_second_run(settings):
    settings.DEBUG = True  # `make run`: the documented shared password
    out, _ = seed("--orders", "40", "--days", "10", "--seed", "9", "--end", END)
    assert printed_logins(out) == dict.fromkeys(DEMO_USERNAMES, DEMO_PASSWORD)
    for n in range(1, 5):
        for role in (Role.OWNER, Role.AGENT):
            user = authenticate(username=f"{role}{n}", password=DEMO_PASSWORD)
            assert user is not None and user.is_staff and not user.is_superuser
            assert ShopMembership.objects.get(user=user).shop.platform_id == f"S100{n}"
    for name in ("reviewer1", "reviewer2"):
        assert list(authenticate(username=name, password=DEMO_PASSWORD).groups.values_list("name", flat=True)) == [
            "reviewers"
        ]
    assert authenticate(username="admin", password=DEMO_PASSWORD).is_superuser

    owner = get_user_model().objects.get(username="owner1")
    owner.set_password("changed-by-the-owner")
    owner.save()
    imported = ImportedEvent.objects.count()
    out, err = seed("--orders", "40", "--days", "10", "--seed", "9")
    assert "the demo world is already imported" in out and err == ""
    assert ImportedEvent.objects.count() == imported
    assert JobRun.objects.filter(job="process_deadlines").count() == 2
    # Running again resets no password, and has none to show.
    assert printed_logins(out) == dict.fromkeys(DEMO_USERNAMES, "(unchanged)")
    assert authenticate(username="owner1", password="changed-by-the-owner") is not None
    assert authenticate(username="owner1", password=DEMO_PASSWORD) is None


@pytest.mark.django_db
def test_with_debug_off_each_login_gets_a_random_password_shown_once(settings):
    settings.DEBUG = False  # production mode (also what the test runner sets)
    out, _ = seed("--orders", "40", "--days", "10", "--seed", "11", "--end", END)
    passwords = printed_logins(out)
    assert set(passwords) == DEMO_USERNAMES
    assert len(set(passwords.values())) == len(passwords)  # one password each, none shared
    users = get_user_model().objects.filter(username__in=DEMO_USERNAMES)
    for user in users:
        assert authenticate(username=user.username, password=DEMO_PASSWORD) is None
        assert authenticate(username=user.username, password=passwords[user.username]) == user
        assert identify_hasher(user.password) and passwords[user.username] not in user.password  # a hash only
    assert authenticate(username="admin", password=passwords["admin"]).is_superuser

    out, _ = seed("--orders", "40", "--days", "10", "--seed", "11")
    assert printed_logins(out) == dict.fromkeys(DEMO_USERNAMES, "(unchanged)")
    assert not any(password in out for password in passwords.values())  # printed once, never again
    assert authenticate(username="admin", password=passwords["admin"]) is not None


@pytest.mark.django_db(transaction=True)
def test_with_debug_off_two_fresh_worlds_get_different_passwords(settings):
    """Same seed, same feed, same end: the passwords still come from `secrets`, not from the seed."""
    settings.DEBUG = False
    first = printed_logins(seed("--orders", "40", "--days", "10", "--seed", "12", "--end", END)[0])
    call_command("flush", interactive=False, verbosity=0)
    second = printed_logins(seed("--orders", "40", "--days", "10", "--seed", "12", "--end", END)[0])
    assert set(first) == set(second) == DEMO_USERNAMES
    assert all(first[name] != second[name] for name in DEMO_USERNAMES)
    assert authenticate(username="admin", password=second["admin"]) is not None
    assert authenticate(username="admin", password=first["admin"]) is None
