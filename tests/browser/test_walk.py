"""Every role walks its pages in a real browser (#13.7): log in through the form, reach each page
of the role by clicking the navigation (never typing a URL), check its heading, and log out by
clicking. One screenshot per page: var/screenshots/walk-<role>-<page>.png.
"""

import pytest
from django.contrib.auth import get_user_model

from pddadmin.demo.users import DEMO_PASSWORD
from pddadmin.shops.models import Role, Shop
from pddadmin.shops.services import membership_set
from tests.browsers import log_in, shot
from tests.expected_navigation import MERCHANT_PAGES, OWNER_PAGES, PLATFORM_PAGES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The heading (h1) each page shows, in Chinese: the browser asks for zh-CN.
HEADINGS = {
    "desk": "售后工作台",
    "cases": "售后单",
    "addresses": "退货地址",
    "hotline": "店铺",
    "staff": "店铺成员",
    "service": "客服工作台",
    "dashboard": "售后服务质量",
    "platform": "售后服务质量：全部店铺",
    "violations": "全国联保违规",
    "payouts": "联保赔付",
    "queue": "平台介入队列",
    "warranty": "联保投诉",
    "charges": "扣款记录",
    "accounts": "账户",
    "orders": "待发货订单",
    "jobs": "定时任务",
}
WALKS = {
    "owner1": OWNER_PAGES,
    "agent1": MERCHANT_PAGES,
    "viewer1": MERCHANT_PAGES,
    "reviewer1": PLATFORM_PAGES,
    "admin": list(HEADINGS),
}


@pytest.fixture
def world(feed):
    """The first demo shop with an order and a case, its demo logins, and a viewer."""
    feed.shop()
    feed.shipped_order("WO1")
    feed.case("WC1", "WO1", hours_ago=3)
    viewer = get_user_model().objects.create_user("viewer1", password=DEMO_PASSWORD, is_staff=True)
    membership_set(shop=Shop.objects.get(platform_id="S1001"), user=viewer, role=Role.VIEWER)


@pytest.mark.parametrize("username", WALKS)
def test_each_role_reaches_each_of_its_pages_by_clicking(live_server, tab, world, username):
    log_in(tab, live_server, username, "/admin/")
    nav = tab.locator("#pdd-nav")
    assert nav.locator("a").evaluate_all("links => links.map(a => a.dataset.nav)") == WALKS[username]
    role = username.rstrip("0123456789")
    assert tab.locator("#pdd-user").text_content() == username
    shot(tab, f"walk-{role}-home")
    for page in WALKS[username]:
        nav.locator(f"a[data-nav={page}]").click()
        tab.wait_for_load_state()
        assert nav.locator("a[aria-current=page]").get_attribute("data-nav") == page
        heading = tab.locator("#content h1").first.inner_text()
        assert HEADINGS[page] in heading, (username, page, heading)
        assert tab.locator("#pdd-user").text_content() == username
        shot(tab, f"walk-{role}-{page}")
    tab.locator("#logout-form button").click()
    tab.wait_for_url(f"{live_server.url}/admin/logout/")
    assert tab.locator("#logout-form").count() == 0 and tab.locator("#pdd-nav").count() == 0
    shot(tab, f"walk-{role}-logged-out")
