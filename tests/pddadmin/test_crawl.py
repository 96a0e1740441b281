"""A bounded crawl of the Chinese UI (#18): for each role of a small world, every page reachable by
following links from the site's root (the navigation, the changelists, their change pages), up to
PAGES_PER_ROLE pages, answers without a server error and shows no text that is one of our English
msgids left untranslated."""

import datetime as dt
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import polib
import pytest
from django.utils import timezone

from aftersales.models import State
from compensation.services.payouts import payouts_issue
from tests import factories
from tests.aftersales.clicks import live_case_in
from tests.compensation.conftest import report, upheld, warranty_orders
from tests.logins import signed_in
from tests.pddadmin.test_translations import SAME_IN_CHINESE, catalogues
from tests.review.factories import EscalatedCaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogues")]

PAGES_PER_ROLE = 150
# English that is not ours to translate, each with its reason.
NOT_OURS: set[str] = set()
# Links a crawl does not follow: they act (log out, switch language), download, or leave the product.
SKIP = re.compile(r"^/(static|media|i18n|api)/|/logout/|[?&]export=|/delete/$|^/admin/jsi18n/|/password/")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.texts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code", "textarea", "select"):
            self.hidden += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "textarea", "select") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def english_msgids() -> set[str]:
    """Our msgids whose Chinese differs: seen as a whole text on a Chinese page, one was not translated."""
    found = set()
    for path in catalogues():
        for e in polib.pofile(str(path)):
            translated = e.msgid and e.msgstr and e.msgstr != e.msgid and e.msgid not in SAME_IN_CHINESE
            if translated and "%(" not in e.msgid and "{" not in e.msgid and re.search("[A-Za-z]{3,}", e.msgid):
                found.add(e.msgid.lower())
    return found


def crawl(user, english: set[str]) -> tuple[dict[str, int], list[str]]:
    client = signed_in(user, language="zh-hans")
    seen, statuses, untranslated = {"/"}, {}, []
    queue = deque(["/"])
    while queue and len(statuses) < PAGES_PER_ROLE:
        url = queue.popleft()
        response = client.get(url, follow=True)
        statuses[url] = response.status_code
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = _Page()
        page.feed(response.content.decode())
        for text in page.texts:
            if text.rstrip(":：").lower() in english - NOT_OURS:
                untranslated.append(f"{url}: {text!r}")
        for href in page.links:
            href, _fragment = urldefrag(href)
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not href.startswith("/"):
                continue  # another site, a mailto:, or a relative link the product does not use
            if href not in seen and not SKIP.search(href):
                seen.add(href)
                queue.append(href)
    return statuses, untranslated


@pytest.fixture
def world(shop, other_shop):
    now = timezone.now()
    live_case_in(State.PENDING_MERCHANT, shop=shop)
    live_case_in(State.MERCHANT_REFUSED, shop=shop)
    EscalatedCaseFactory(order=factories.OrderFactory(goods=factories.GoodsFactory(shop=shop)))
    orders = warranty_orders(shop, 2, placed_at=now - dt.timedelta(days=3))
    upheld(orders[:1], platform_id="V-CRAWL-1", at=now - dt.timedelta(days=2), ruled_at=now - dt.timedelta(days=1))
    report(orders[1:], platform_id="V-CRAWL-2", at=now - dt.timedelta(hours=2))
    payouts_issue(now=now - dt.timedelta(hours=1))
    return shop


@pytest.mark.parametrize("role", ["owner", "agent", "viewer", "reviewer", "superuser"])
def test_every_reachable_page_answers_and_reads_in_chinese(world, role, reviewer, admin_user):
    user = {"reviewer": reviewer, "superuser": admin_user}.get(role) or factories.member(world, role)
    statuses, untranslated = crawl(user, english_msgids())
    assert len(statuses) >= 5, statuses  # the crawl got somewhere
    assert {url: code for url, code in statuses.items() if code >= 500} == {}
    assert untranslated == [], "\n".join(untranslated)
