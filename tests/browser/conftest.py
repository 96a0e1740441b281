"""Real-browser tests: Playwright drives Debian's headless chromium against the live server.

One browser per module (starting chromium is the slow part), a fresh context (cookies) per test.
Screenshots of every page visited go to var/screenshots/.
"""

import datetime as dt
import json

import pytest

from pddadmin.demo.users import ensure_demo_users
from pddadmin.feed.importer import import_events
from tests.browsers import SCREENSHOTS, TZ, log_in, shot  # noqa: F401 - the browser tests import them from here


class Feed:
    """Build a small world through the platform feed (SPEC §8), the way the demo does."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(TZ).replace(microsecond=0)
        self.n = 0

    def __call__(self, event_type: str, at: dt.datetime, **fields) -> None:
        self.n += 1
        line = json.dumps({"id": f"b{self.n}", "type": event_type, "at": at.isoformat(), **fields}, ensure_ascii=False)
        report = import_events(lines=[line])
        assert report.rejections == [], report.rejections

    def shop(self, shop: str = "S1001") -> None:
        """The first demo shop, with its default return address and one goods."""
        t = self.now - dt.timedelta(days=20)
        self("shop.opened", t, shop=shop, name="优选数码旗舰店", deposit="300.00", hotline="0571-88886666")
        self("address.added", t, shop=shop, address=f"{shop}-A1", receiver="售后组", phone="0571-88886666",
             region="浙江省/杭州市/西湖区", detail="文三路 90 号", default=True)  # fmt: skip
        self("goods.listed", t, shop=shop, goods=f"{shop}-G1", name="蓝牙耳机", category="数码", warranty=True)
        ensure_demo_users()

    def shipped_order(self, order: str, *, days_ago: float = 5, shop: str = "S1001") -> dt.datetime:
        placed = self.now - dt.timedelta(days=days_ago)
        self("order.placed", placed, order=order, shop=shop, goods=f"{shop}-G1", buyer=f"U{order}", amount="129.00",
             promised_ship_by=(placed + dt.timedelta(hours=48)).isoformat())  # fmt: skip
        self("order.grouped", placed + dt.timedelta(minutes=10), order=order)
        self("order.shipped", placed + dt.timedelta(hours=20), order=order, tracking=f"YT{order}")
        return placed + dt.timedelta(hours=20)

    def case(self, case: str, order: str, *, hours_ago: float, reason: str = "quality_issue") -> None:
        self("case.opened", self.now - dt.timedelta(hours=hours_ago), case=case, order=order, kind="refund_only",
             reason=reason, amount="129.00")  # fmt: skip


@pytest.fixture
def feed(transactional_db):
    return Feed()
