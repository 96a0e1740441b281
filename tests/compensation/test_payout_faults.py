"""Real processes against the test database: two workers at once, and a worker killed half-way."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from compensation.models import Account, Charge, ViolationOrder
from compensation.services import ledger, violations
from compensation.services.charges import split
from compensation.services.ledger import ledger_differences
from pddadmin.shops.models import Order, Shop
from tests import factories

from .conftest import T0, open_shop

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOPS, VIOLATIONS_PER_SHOP, ORDERS_PER_VIOLATION = 20, 10, 10  # 2,000 upheld (violation, order) pairs
NOW = "2026-02-01T12:00:00+08:00"
# A payout run that dies hard (no cleanup, no rollback of the transaction in flight, as a killed
# worker) right after its N-th payout: the test's own hook, passed in where the job takes one.
CRASHING_RUN = """
import datetime as dt, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
django.setup()
from compensation.services.payouts import payouts_issue
now, limit, paid = dt.datetime.fromisoformat(sys.argv[1]), int(sys.argv[2]), [0]

def crash_after_limit(n):
    paid[0] += n
    if paid[0] >= limit:
        os._exit(75)

payouts_issue(now=now, on_progress=crash_after_limit)
"""


def build_upheld() -> int:
    """20 shops with different money, 10 violations each over 10 orders; rulings interleave shops."""
    batches = []
    for s in range(SHOPS):
        shop = open_shop(deposit=f"{s * 150}.00", balance=f"{(s % 4) * 85}.50")
        goods = factories.GoodsFactory(shop=shop, warranty=True)
        orders = Order.objects.bulk_create(
            factories.OrderFactory.build(goods=goods, shop=shop, buyer=f"B{s}-{n}", platform_id=f"O{s}-{n}")
            for n in range(VIOLATIONS_PER_SHOP * ORDERS_PER_VIOLATION)
        )
        batches.append(orders)
    for v in range(VIOLATIONS_PER_SHOP):
        for s, orders in enumerate(batches):
            chunk = orders[v * ORDERS_PER_VIOLATION:(v + 1) * ORDERS_PER_VIOLATION][::-1]  # listed out of id order
            violation = violations.violation_report(
                platform_id=f"V{s}-{v}", orders=chunk, reason="refused_service", at=T0 + dt.timedelta(days=1)
            )
            # Later shops' violations are ruled first, so ruling order differs from id order.
            ruled_at = T0 + dt.timedelta(days=2, minutes=v * 100 + (SHOPS - s))
            violations.violation_rule(violation=violation, breach=True, note="breach", at=ruled_at)
    return SHOPS * VIOLATIONS_PER_SHOP * ORDERS_PER_VIOLATION


def expected_splits() -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """What a single careful worker would pay, line by line, in SPEC order."""
    ledger.books_open(shops=Shop.objects.all())  # the opening balances, as the accounts page shows them
    money = {a.shop_id: {} for a in Account.objects.filter(shop__isnull=False)}
    for a in Account.objects.filter(shop__isnull=False):
        money[a.shop_id][a.kind] = a.balance
    # Balances now are after any payouts already made; rebuild the opening figures from them.
    for p in Charge.objects.all():
        money[p.shop_id]["deposit"] += p.from_deposit
        money[p.shop_id]["balance"] += p.from_balance
    result = {}
    lines = ViolationOrder.objects.select_related("violation").order_by("violation__ruled_at", "violation_id",
                                                                         "position")
    for line in lines:
        m = money[line.violation.shop_id]
        parts = split(amount=Decimal("100.00"), deposit=m["deposit"], balance=m["balance"])
        m["deposit"] -= parts[0]
        m["balance"] -= parts[1]
        result[line.pk] = parts
    return result


def command(*args: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]


def child_env() -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url}


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        args, env=child_env(), cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def start_issue() -> subprocess.Popen:
    return start(command("issue_payouts", "--now", NOW))


def assert_paid_exactly_once(total: int, expected: dict) -> None:
    assert Charge.objects.count() == total
    assert not Charge.objects.values("violation", "order").annotate(n=Count("id")).filter(n__gt=1).exists()
    paid = {p.line_id: (p.from_deposit, p.from_balance, p.arrears) for p in Charge.objects.all()}
    assert paid == expected  # every split is what strict SPEC order gives, whoever paid it
    assert ledger_differences() == []
    liability = Account.objects.get(shop=None, kind="coupon_liability").balance
    assert liability == Decimal("100.00") * total


def test_two_workers_at_once_pay_each_pair_once(postgres_only):
    total = build_upheld()
    expected = expected_splits()
    workers = [start_issue(), start_issue()]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    counts = [int(out.split("issue_payouts: ")[1].split(" payouts")[0]) for out, _err in outputs]
    assert sum(counts) == total, outputs
    assert min(counts) > 0, f"one worker did all the work: {counts}"
    assert_paid_exactly_once(total, expected)


def test_worker_crashing_half_way_then_killed_then_rerun(postgres_only):
    total = build_upheld()
    expected = expected_splits()

    # 1. A run that exits hard right after its 600th payout.
    crashed = start([sys.executable, "-c", CRASHING_RUN, NOW, "600"])
    _out, err = crashed.communicate(timeout=300)
    assert crashed.returncode == 75, err
    assert Charge.objects.count() == 600
    assert ledger_differences() == []

    # 2. kill -9 at an arbitrary moment, most likely inside a payout's transaction.
    victim = start_issue()
    deadline = time.monotonic() + 120
    while Charge.objects.count() < 900 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    _out, err = victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, err
    paid_before = Charge.objects.count()
    assert 900 <= paid_before < total
    assert ledger_differences() == []

    # 3. A plain re-run finishes the work, paying nothing twice.
    rerun = start_issue()
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"issue_payouts: {total - paid_before} payouts" in out
    assert_paid_exactly_once(total, expected)
