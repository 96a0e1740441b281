"""Shops opened and messages written the way the feed and the back-office write them."""

import datetime as dt
import itertools
import json
from decimal import Decimal

import pytest

from compensation.models import Account, AccountKind, Charge, ChargeKind
from compensation.services import charges
from customerservice.services import messages
from pddadmin.shops.services import shop_open
from tests.feed.helpers import run_command

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 1, 1, 10, 0, tzinfo=TZ)
H48 = dt.timedelta(hours=48)
SECOND = dt.timedelta(seconds=1)
_ids = itertools.count(1)


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, e.g. at("2026-01-02 10:00")."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def open_shop(deposit: str = "1000.00", balance: str = "0.00", **fields):
    n = next(_ids)
    return shop_open(
        platform_id=fields.pop("platform_id", f"CS{n:04d}"),
        name=f"Customer-service shop {n}",
        at=fields.pop("at", T0 - dt.timedelta(days=400)),
        deposit=Decimal(deposit),
        balance=Decimal(balance),
        hotline="13800138000",
    )


def receive(shop, buyer: str, when: dt.datetime, text: str = "你好，请问什么时候发货？", **fields):
    return messages.message_receive(
        platform_id=fields.pop("platform_id", f"M{next(_ids):05d}"),
        shop=shop,
        buyer=buyer,
        text=text,
        at=when,
        **fields,
    )


def reply(shop, buyer: str, when: dt.datetime, text: str = "您好，今天发货，单号 SF1234567890123", **fields):
    return messages.message_reply(
        platform_id=fields.pop("platform_id", f"R{next(_ids):05d}"),
        shop=shop,
        buyer=buyer,
        text=text,
        at=when,
        **fields,
    )


def run_job(now: dt.datetime) -> charges.ChargeReport:
    return charges.apply_due(now=now)


def fines(shop=None) -> list[tuple[str, Decimal, dt.datetime]]:
    """(starting message, amount, due) of the late-reply charges, in the order they were applied."""
    qs = Charge.objects.filter(kind=ChargeKind.LATE_REPLY).order_by("at", "id")
    if shop is not None:
        qs = qs.filter(shop=shop)
    return [(c.message, c.amount, c.at) for c in qs]


def fines_received() -> Decimal:
    account = Account.objects.filter(shop=None, kind=AccountKind.FINES).first()
    return account.balance if account else Decimal("0.00")


def exported_charges() -> list[dict]:
    code, out, err = run_command("export_charges", "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def english():
    """Assertions match the English source messages (`pytestmark` of each module here)."""
    from django.utils import translation

    with translation.override("en"):
        yield
