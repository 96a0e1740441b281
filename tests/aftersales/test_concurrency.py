"""Races on PostgreSQL with real threads and processes: exactly one winner, nothing twice."""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from aftersales.errors import CaseChanged
from aftersales.models import AfterSalesCase, CaseTransition, Kind, Reason, Refund, State
from aftersales.services import cases as svc
from pddadmin.shops.models import Order, ShopMembership
from tests import factories
from tests.aftersales.helpers import HOUR, OPENED, open_case
from tests.concurrency import run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
User = get_user_model()
ROOT = Path(__file__).resolve().parents[2]


def test_twenty_merchants_agreeing_at_once_refund_once(postgres_only, shop):
    # Twenty staff of the shop (created without password hashing: it is not what is tested).
    agents = User.objects.bulk_create(User(username=f"agent{i}", is_staff=True) for i in range(20))
    ShopMembership.objects.bulk_create(ShopMembership(shop=shop, user=u, role="agent") for u in agents)
    case = open_case(factories.OrderFactory(goods=factories.GoodsFactory(shop=shop)))

    outcomes = run_in_threads(
        20,
        lambda i: svc.case_merchant_agree(
            case=case, actor=agents[i], at=OPENED + HOUR, expected_state=State.PENDING_MERCHANT
        ),
    )
    winners = [o for o in outcomes if isinstance(o, AfterSalesCase)]
    losers = [o for o in outcomes if isinstance(o, CaseChanged)]
    assert len(winners) == 1 and len(losers) == 19, outcomes
    assert all("please reload" in str(o.messages[0]) for o in losers)
    assert Refund.objects.filter(case=case).count() == 1
    assert CaseTransition.objects.filter(case=case, transition="merchant_agree").count() == 1


def test_twenty_different_actions_at_once_one_transition(postgres_only, shop, agent, reviewer):
    case = open_case(factories.OrderFactory(goods=factories.GoodsFactory(shop=shop)))
    actions = [
        lambda: svc.case_merchant_agree(
            case=case, actor=agent, at=OPENED + HOUR, expected_state=State.PENDING_MERCHANT
        ),
        lambda: svc.case_merchant_refuse(
            case=case, actor=agent, reason="no", at=OPENED + HOUR, expected_state=State.PENDING_MERCHANT
        ),
        lambda: svc.case_shorten_deadline(case=case, actor=reviewer, due_at=OPENED + 25 * HOUR, at=OPENED + HOUR),
    ]
    outcomes = run_in_threads(20, lambda i: actions[i % len(actions)]())
    # The log says what happened: one state change, at most one deadline shortening before it.
    changes = CaseTransition.objects.filter(case=case).exclude(transition__in=["open", "shorten_deadline"])
    assert changes.count() == 1
    assert sum(isinstance(o, AfterSalesCase) and o.state != State.PENDING_MERCHANT for o in outcomes) == 1
    assert Refund.objects.filter(case=case).count() <= 1


def make_due_cases(n: int, due: dt.datetime) -> None:
    """n orders, each with a refund-only case pending since OPENED and due at `due`, written by
    two INSERT … SELECT generate_series statements (ORM objects would take most of the test)."""
    goods = factories.GoodsFactory()
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {Order._meta.db_table} (platform_id, shop_id, goods_id, buyer, amount, placed_at, "
            "promised_ship_by, tracking, ship_to, warranty, changed_at) "
            "SELECT 'BULK' || i, %s, %s, 'B' || i, 10.00, %s, %s, '', '', false, %s FROM generate_series(1, %s) i",
            [goods.shop_id, goods.pk, OPENED - HOUR, OPENED + HOUR, OPENED - HOUR, n],
        )
        cur.execute(
            f"INSERT INTO {AfterSalesCase._meta.db_table} (platform_id, order_id, shop_id, kind, reason, amount, "
            "state, opened_at, submitted_at, due_at, return_tracking, close_reason, liable, buyer_statement, "
            "merchant_statement, ruling_note, return_receiver, return_phone, return_region, return_detail, "
            "changed_at) "
            "SELECT 'BC' || o.platform_id, o.id, o.shop_id, %s, %s, 10.00, %s, %s, %s, %s, "
            "'', '', '', '', '', '', '', '', '', '', %s "
            f"FROM {Order._meta.db_table} o WHERE o.platform_id LIKE 'BULK%%'",
            [Kind.REFUND_ONLY, Reason.DEFECTIVE, State.PENDING_MERCHANT, OPENED, OPENED, due, OPENED],
        )


def test_two_process_deadlines_processes_handle_each_case_once(postgres_only):
    n = 20_000
    due = OPENED + 48 * HOUR
    make_due_cases(n, due)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    command = [
        sys.executable,
        "manage.py",
        "process_deadlines",
        "--now",
        (due + HOUR).isoformat(),
        "--batch-size",
        "250",
    ]
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    moved = [int(re.search(r"process_deadlines: (\d+) cases moved", out).group(1)) for out, _ in outputs]
    assert sum(moved) == n, outputs
    assert min(moved) > 0, moved  # both really ran at once: SKIP LOCKED shared the work
    assert Refund.objects.count() == n
    assert CaseTransition.objects.filter(transition="auto_agree").count() == n
    assert CaseTransition.objects.filter(transition="auto_agree").values("case").distinct().count() == n
    assert not AfterSalesCase.objects.filter(state=State.PENDING_MERCHANT).exists()
    assert set(Refund.objects.values_list("refunded_at", flat=True)) == {due}
