import datetime as dt
import json

import pytest
from django_q.conf import Conf

from pddadmin.feed.importer import import_events

TZ = dt.timezone(dt.timedelta(hours=8))


def feed(*events: tuple[str, str, dt.datetime, dict]) -> None:
    lines = [json.dumps({"id": i, "type": t, "at": at.isoformat(), **f}, ensure_ascii=False) for i, t, at, f in events]
    report = import_events(lines=lines)
    assert report.rejections == []


@pytest.fixture
def world(db):
    """A shop whose case is past its merchant deadline and whose upheld warranty violation is unpaid,
    with an order grouped two days ago (so yesterday's snapshot counts it)."""
    t = dt.datetime.now(TZ).replace(microsecond=0) - dt.timedelta(days=10)
    recent = dt.datetime.now(TZ).replace(microsecond=0) - dt.timedelta(days=2)
    feed(
        ("j1", "shop.opened", t, {"shop": "J1", "name": "Jobs shop", "deposit": "500.00", "hotline": "13800138000"}),
        (
            "j2",
            "goods.listed",
            t,
            {"shop": "J1", "goods": "JG1", "name": "Kettle", "category": "home", "warranty": True},
        ),
        *[
            (
                f"j-o{n}",
                "order.placed",
                at,
                {
                    "order": f"JO{n}",
                    "shop": "J1",
                    "goods": "JG1",
                    "buyer": f"B{n}",
                    "amount": "80.00",
                    "promised_ship_by": (at + dt.timedelta(hours=48)).isoformat(),
                },
            )
            for n, at in ((1, t), (2, t), (3, recent))
        ],
        ("j-g3", "order.grouped", recent + dt.timedelta(minutes=5), {"order": "JO3"}),
        (
            "j-c1",
            "case.opened",
            t + dt.timedelta(hours=1),
            {
                "case": "JC1",
                "order": "JO1",
                "kind": "refund_only",
                "reason": "changed_mind",
                "amount": "80.00",
            },
        ),
        (
            "j-w1",
            "warranty.reported",
            t + dt.timedelta(days=1),
            {
                "violation": "JW1",
                "orders": ["JO2"],
                "reason": "refused_service",
            },
        ),
        ("j-w2", "warranty.ruled", t + dt.timedelta(days=2), {"violation": "JW1", "breach": True, "note": "upheld"}),
    )


@pytest.fixture
def sync_cluster(settings, monkeypatch):
    """django-q2 in sync mode: a queued task runs at once, in this process and transaction."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    # django-q2 copies Q_CLUSTER into Conf once, at import: the settings override alone is not seen.
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


