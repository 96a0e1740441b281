"""Clicking case-page buttons the way a browser does: load the page, keep its forms, post one later.

Shared by the stale and raced click tests of the admin's case page and of the review pages.
"""

import datetime as dt
import html
from html.parser import HTMLParser

from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from aftersales.models import AfterSalesCase, Kind
from tests import factories
from tests.aftersales.helpers import EXCHANGE_PATHS, HOUR, PATHS, STEPS, make_order, open_case, with_address


def live_case_in(state: str, *, shop, kind: str | None = None, address: bool = True) -> AfterSalesCase:
    """A case brought to `state` by the real services, one hour a step, ending an hour ago: no
    deadline has passed on the real clock, which the pages and the services without `at` use."""
    path_kind, steps = PATHS[state]
    kind = kind or path_kind
    if kind == Kind.EXCHANGE:
        steps = EXCHANGE_PATHS[state]
    now = timezone.now()
    start = now - HOUR * (len(steps) + 1)
    received = start - HOUR if kind == Kind.EXCHANGE else None  # an exchange needs a received order
    order = make_order(
        shop=shop,
        placed_at=start - dt.timedelta(days=1),
        promised_ship_by=now + dt.timedelta(days=9),
        received=received,
    )
    if kind != Kind.REFUND_ONLY and address:
        with_address(shop)
    case = open_case(order, kind=kind, at=start)
    for i, step in enumerate(steps, start=1):
        case = STEPS[step](case, start + HOUR * i)
    assert case.state == state, (case.state, state)
    return case


def reviewers(n: int) -> list:
    group = Group.objects.get_or_create(name="reviewers")[0]
    users = [factories.UserFactory(is_staff=True) for _ in range(n)]
    for user in users:
        user.groups.add(group)
    return users


class _Forms(HTMLParser):
    """Every form of a page by its action: the hidden fields it would post."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method") == "post":
            self._current = self.forms.setdefault(attrs["action"], {})
        elif tag == "input" and self._current is not None and attrs.get("type") == "hidden" and attrs.get("name"):
            self._current[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def page_form(client: Client, page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`, as `page` shows it now."""
    response = client.get(page)
    assert response.status_code == 200
    parser = _Forms()
    parser.feed(response.content.decode())
    assert action in parser.forms, (action, list(parser.forms))
    return dict(parser.forms[action])


def shown(response) -> str:
    """The page's text as the user reads it (entities decoded)."""
    return html.unescape(response.content.decode())


def reload_text(case: AfterSalesCase) -> str:
    """The reload message about `case` as it is now."""
    case = AfterSalesCase.objects.get(pk=case.pk)
    return f"case {case.platform_id} changed (now {case.get_state_display()}), please reload"


def says(text: str, message: str) -> bool:
    # The admin capitalises the first letter of a message ("Case C1 changed …").
    return message.casefold() in text.casefold()
