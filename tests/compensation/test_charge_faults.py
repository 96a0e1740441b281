"""Automatic charges under real processes on PostgreSQL (SPEC §6.1: a re-run, a crash half-way or
two workers at once never charge twice): two `process_deadlines` and an `import_events` with
settlements over the same shops at once, and a `process_deadlines` killed with SIGKILL half-way."""

import datetime as dt
import signal
import time
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Sum

from compensation.models import Account, AccountKind, Charge, Coupon, Credit
from compensation.services.charges import BATCH, split
from pddadmin.shops.models import Order, Shop
from tests.conftest import at
from tests.feed.helpers import Feed, ledger_clean, money, run_command, run_import

from .test_payout_faults import command, start

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

T0 = at("2026-03-01 09:00")
NOW = at("2026-03-04 12:00")  # the jobs' --now: every promised time of the world is before it
END = at("2026-03-20 12:00")


def late_world(tmp_path, *, shops: int, orders: int, after_now: int = 0) -> Feed:
    """`shops` shops with small, different purses, each with `orders` orders grouped in time and
    never shipped, promised at one of 40 minutes before NOW (ties included), plus `after_now` per
    shop promised after NOW; and every fifth order shipped in time (never late). Imported."""
    feed = Feed("w")
    for s in range(shops):
        feed.shop(T0, f"S{s}", deposit=f"{s % 7 * 9}.00", balance=f"{s % 5 * 4}.50")
    for s in range(shops):
        for n in range(orders + after_now):
            promised = (
                NOW - dt.timedelta(minutes=1 + (n * 7 + s) % 40)
                if n < orders
                else NOW + dt.timedelta(hours=1 + n - orders)
            )
            order = f"O{s}-{n}"
            feed.order(
                T0,
                order,
                f"S{s}",
                amount=f"{59 + n % 13}.90",
                promised_ship_by=promised,
                grouped=T0 + dt.timedelta(hours=1),
            )
            if n % 5 == 4:
                feed.add(T0 + dt.timedelta(hours=2), "order.shipped", order=order, tracking=f"SF{s}{n}")
    code, _out, rejected, err = run_import(tmp_path / "world.jsonl", *feed.lines(feed.in_time_order()))
    assert (code, rejected) == (0, []), err
    return feed


def settlements(shops: int, *, per_shop: int) -> list[str]:
    """Settlements and deposit payments of every shop after NOW, interleaved across the shops:
    each meets the shop's late shipments (and those falling due after NOW, up to its time)."""
    feed = Feed("pay")
    for k in range(per_shop):
        for s in range(shops):
            kind = "shop.settled" if (s + k) % 2 else "shop.deposit_paid"
            feed.add(NOW + dt.timedelta(hours=1 + 2 * k, minutes=s), kind, shop=f"S{s}", amount=f"{3 + s % 9}.25")
    return feed.lines()


def late_orders() -> int:
    return Order.objects.filter(late_shipment_due_at__isnull=False).count()


def test_two_jobs_and_an_importer_of_settlements_at_once_charge_each_order_once(tmp_path, postgres_only):
    shops, orders = 60, 60  # more shops than one worker claims at a time (50)
    late_world(tmp_path, shops=shops, orders=orders, after_now=3)
    pay = tmp_path / "pay.jsonl"
    pay.write_text("\n".join(settlements(shops, per_shop=3)) + "\n", encoding="utf-8")

    # The serial run: the job, then the settlements, then the job again at the end.
    code, out, err = run_command("process_deadlines", "--now", NOW.isoformat())
    assert code == 0, (out, err)
    code, _out, rejected, err = run_import(pay, batch_size=50)
    assert (code, rejected) == (0, []), err
    run_command("process_deadlines", "--now", END.isoformat())
    serial = money()
    ledger_clean()
    assert len(serial["charges"]) == shops * (orders - orders // 5 + 3)
    assert any(row["arrears"] != "0.00" for row in serial["accounts"])

    call_command("flush", "--noinput", verbosity=0)
    late_world(tmp_path, shops=shops, orders=orders, after_now=3)
    # The importer first, each of its chunks of 50 lines holding the shops it credited and the
    # platform's accounts until it commits; the jobs while it is inside one.
    importer = start(command("import_events", str(pay), "--batch-size", "50"))
    deadline = time.monotonic() + 60
    while not open_transaction_of_another_session() and time.monotonic() < deadline:
        time.sleep(0.01)
    jobs = [start(command("process_deadlines", "--now", NOW.isoformat())) for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in [importer, *jobs]]
    assert [worker.returncode for worker in [importer, *jobs]] == [0, 0, 0], outputs
    assert f"{len(settlements(shops, per_shop=3))} applied" in outputs[0][0] and outputs[0][1] == "", outputs[0]
    run_command("process_deadlines", "--now", END.isoformat())

    assert money() == serial  # the same charges, splits and purses as one worker at a time
    assert not Charge.objects.values("order").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Credit.objects.count() == shops * 3
    ledger_clean()


def expected_splits() -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Each late order's split as one careful worker would make it: shop by shop, in the order of
    promised time and then order id as a plain string, from the opening purses (SPEC §6.1)."""
    # The opening purses: today's figures plus whatever has been taken already.
    purse = {shop.pk: [shop.deposit, shop.balance] for shop in Shop.objects.all()}
    for charge in Charge.objects.all():
        purse[charge.shop_id][0] += charge.from_deposit
        purse[charge.shop_id][1] += charge.from_balance
    late = Order.objects.filter(shipped_at__isnull=True).values_list(
        "shop_id", "promised_ship_by", "platform_id", "amount"
    )
    result = {}
    for shop_id, _promised, order, paid in sorted(late, key=lambda row: (row[0], row[1], row[2])):
        amount = (paid * Decimal("0.05")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        amount = min(max(amount, Decimal("3.00")), Decimal("100.00"))
        parts = split(amount=amount, deposit=purse[shop_id][0], balance=purse[shop_id][1])
        purse[shop_id][0] -= parts[0]
        purse[shop_id][1] -= parts[1]
        result[order] = parts
    return result


def open_transaction_of_another_session() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND xact_start IS NOT NULL"
        )
        return cursor.fetchone()[0] > 0


def other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def test_a_job_killed_half_way_then_rerun_charges_the_rest_once(tmp_path, postgres_only):
    # Late orders (four in five) for more than two batches of BATCH, so one is committed and the
    # next is open when the job is killed.
    shops = 50
    orders = 2 * BATCH // shops * 5 // 4 + 5
    late_world(tmp_path, shops=shops, orders=orders)
    total = late_orders()  # the orders shipped in time are not watched
    assert total == shops * (orders - orders // 5) > 2 * BATCH
    expected = expected_splits()

    victim = start(command("process_deadlines", "--now", NOW.isoformat()))
    deadline = time.monotonic() + 120
    # Past the first batch's commit, with the next batch's transaction open: kill it there.
    while time.monotonic() < deadline and not (
        Charge.objects.count() >= BATCH and open_transaction_of_another_session()
    ):
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    _out, err = victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, err
    while other_sessions():  # the server rolls the killed worker's transaction back
        time.sleep(0.05)
    charged = Charge.objects.count()
    assert BATCH <= charged < total, charged
    ledger_clean()

    rerun = start(command("process_deadlines", "--now", NOW.isoformat()))
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"{total - charged} automatic charges ({total - charged} late_shipment)" in out, out

    assert Charge.objects.count() == Coupon.objects.count() == total
    assert not Charge.objects.values("order").annotate(n=Count("id")).filter(n__gt=1).exists()
    made = {
        c.order.platform_id: (c.from_deposit, c.from_balance, c.arrears) for c in Charge.objects.select_related("order")
    }
    assert made == expected
    liability = Account.objects.get(shop=None, kind=AccountKind.COUPON_LIABILITY).balance
    assert liability == Charge.objects.aggregate(total=Sum("amount"))["total"]
    assert late_orders() == 0  # every watch settled: a third run reads nothing
    ledger_clean()
