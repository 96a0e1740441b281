"""Exchanges in the SPEC §5 figures: an exchange that ends `exchanged` refunds nothing and counts
in no refund figure; an exchange that was intervened counts in the intervention rate whatever its
end; an exchange that ends in a refund counts like any refund, by the reason in force then.

The cases are built through the platform feed, so the services leave the rows they leave in
production; the snapshot, the live figures and the listed orders are read and must agree."""

import datetime as dt

import pytest

from metrics.models import ShopDaySnapshot
from metrics.selectors import numerator_orders, shop_figures
from metrics.services import metrics_compute
from pddadmin.shops.models import Shop
from tests.conftest import at
from tests.feed.helpers import feed_line, run_import

pytestmark = pytest.mark.django_db
D = dt.date(2026, 3, 31)
FIGURES = ("quality_refund", "dispute_refund", "intervention", "logistics_anomaly")


def t(text: str) -> str:
    return at(text).isoformat()


class Feed:
    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, event_type: str, when: str, **fields) -> None:
        self.lines.append(feed_line(f"e{len(self.lines)}", event_type, t(when), **fields))

    def received_order(self, order: str) -> None:
        self(
            "order.placed",
            "2026-03-10 10:00",
            order=order,
            shop="S1",
            goods="G1",
            buyer=f"B{order}",
            amount="59.90",
            promised_ship_by=t("2026-03-12 10:00"),
        )
        self("order.grouped", "2026-03-10 10:05", order=order)
        self("order.shipped", "2026-03-11 10:00", order=order, tracking=f"SF{order}")
        self("order.received", "2026-03-12 10:00", order=order)

    def exchange(self, case: str, order: str, reason: str = "quality_issue") -> None:
        self("case.opened", "2026-03-13 10:00", case=case, order=order, kind="exchange", reason=reason, amount="59.90")

    def returned(self, case: str) -> None:
        self("case.merchant_agreed", "2026-03-13 12:00", case=case)
        self("case.return_shipped", "2026-03-14 12:00", case=case, tracking=f"YT{case}")

    def escalated(self, case: str) -> None:
        self("case.merchant_refused", "2026-03-13 12:00", case=case, reason="no fault")
        self("case.escalated", "2026-03-15 10:00", case=case)


@pytest.fixture
def shop(tmp_path):
    feed = Feed()
    feed("shop.opened", "2026-03-01 10:00", shop="S1", name="店铺", hotline="400-820-8820")
    feed(
        "address.added",
        "2026-03-01 10:00",
        shop="S1",
        address="A1",
        receiver="王",
        phone="13800138000",
        region="浙江省/杭州市/西湖区",
        detail="文三路1号",
        default=True,
    )
    feed("goods.listed", "2026-03-01 10:00", shop="S1", goods="G1", name="杯子", category="home")
    for order in ("O1", "O2", "O3", "O4", "O5", "O6"):
        feed.received_order(order)
    # O1: the replacement was sent: exchanged, no refund.
    feed.exchange("C1", "O1")
    feed.returned("C1")
    feed("case.merchant_reshipped", "2026-03-16 10:00", case="C1", tracking="SF-NEW")
    # O2: intervened, ruled for the merchant: closed, no refund.
    feed.exchange("C2", "O2", reason="defective")
    feed.escalated("C2")
    feed("case.ruled", "2026-03-16 10:00", case="C2", liable="buyer", note="no fault found")
    # O3: intervened, ruled against the merchant: refunded (SPEC §2.3), a dispute and quality refund.
    feed.exchange("C3", "O3")
    feed.escalated("C3")
    feed("case.ruled", "2026-03-16 10:00", case="C3", liable="merchant", note="faulty")
    # O4: out of stock after the return: refunded for the reason in force, a logistics one.
    feed.exchange("C4", "O4", reason="damaged_in_transit")
    feed.returned("C4")
    feed("case.merchant_refunded", "2026-03-16 10:00", case="C4")
    # O5: intervened and still under intervention.
    feed.exchange("C5", "O5")
    feed.escalated("C5")
    # O6: no case.
    code, _, rejected, err = run_import(tmp_path / "feed.jsonl", *feed.lines)
    assert (code, rejected) == (0, []), err
    return Shop.objects.get(platform_id="S1")


def counted(shop, figure: str) -> set[str]:
    return set(numerator_orders(shop=shop, day=D, figure=figure).values_list("platform_id", flat=True))


def test_exchanges_in_the_figures_snapshot_live_and_listed_alike(shop):
    metrics_compute(day=D)
    snapshot = ShopDaySnapshot.objects.get(shop=shop, date=D)
    live = shop_figures(shop=shop, day=D)
    listed = {figure: counted(shop, figure) for figure in FIGURES}
    assert listed == {
        "quality_refund": {"O3"},  # C1 (exchanged) and C2 (closed) refunded nothing
        "dispute_refund": {"O3"},
        "intervention": {"O2", "O3", "O5"},  # every intervened exchange, however it ended
        "logistics_anomaly": {"O4"},
    }
    for figure in FIGURES:
        assert getattr(snapshot, f"{figure}_orders") == getattr(live, f"{figure}_orders") == len(listed[figure])
    assert snapshot.grouped_orders == 6


def test_an_exchanged_case_counts_in_no_refund_figure_on_its_own(shop):
    metrics_compute(day=D)
    for figure in ("quality_refund", "dispute_refund", "logistics_anomaly"):
        assert "O1" not in counted(shop, figure)
    assert "O1" not in counted(shop, "intervention")  # it was never intervened
