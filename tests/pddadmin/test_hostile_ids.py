"""Pages never break on a stored platform id, whatever it holds (issue 12, point 4).

SPEC §8 keeps platform ids to a URL-safe alphabet, but rows stored before the feed checked it, or
written by hand, may hold anything. Every page that shows a shop, goods, order, case, address, violation or
event id is requested here, for each role that sees it, with such ids stored through the services
and the ORM: it answers 200, shows the id escaped, and the link next to the id opens that object.
The rule that makes this hold: a URL names an object by its database pk, never by a platform id.
"""

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.template.defaultfilters import linebreaksbr
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter
from django.utils import timezone
from django.utils.html import escape

from aftersales.models import AfterSalesCase
from aftersales.services.addresses import address_add
from api.converters import PlatformIdConverter
from compensation.services import violations
from compensation.services.payouts import payouts_issue
from metrics.services import metrics_compute
from metrics.windows import local_zone
from pddadmin.feed.models import ImportedEvent
from pddadmin.shops.selectors import REVIEWERS_GROUP
from pddadmin.shops.services import shop_open
from tests import factories
from tests.review.factories import EscalatedCaseFactory, with_history

pytestmark = pytest.mark.django_db

HOSTILE_IDS = {  # test name: stored id
    "slash": "V/1",
    "query-fragment": "a?b#c",
    "percent": "50%",
    "encoded-slashes": "%2F..%2F",
    "space-unicode": "空 格",
    "dot-dot": "../x",
    "dot-slash": "./",
    "script": "<script>alert(1)</script>",
    "quotes-amp": "a\"b'c&d",
    "looks-like-a-pk": "42",
    "newline": "line\nbreak",
    "64-chinese": "长" * 64,
    "blank": " ",
    "empty": "",
}
ROLES = ["owner", "agent", "reviewer", "admin"]
MERCHANTS = {"owner", "agent"}


class World:
    """One object of every kind with the id `pid` (ids are unique per kind), next to decoys with
    plain ids, so that following a link proves it opens the hostile object and not a neighbour."""

    def __init__(self, pid: str) -> None:
        now = timezone.now().replace(microsecond=0)
        placed = now - dt.timedelta(days=3)
        self.pid = pid
        second = f"{pid[:62]}#2"  # ids are at most 64 characters
        self.shop = shop_open(platform_id=pid, name="店铺", at=placed - dt.timedelta(days=1),
                              deposit=Decimal("1000.00"), hotline="13800138000")
        self.goods = factories.GoodsFactory(shop=self.shop, platform_id=pid, warranty=True)
        self.order, self.paid_order, decoy_order = (
            factories.OrderFactory(goods=self.goods, platform_id=order_id, placed_at=placed,
                                   grouped_at=placed + dt.timedelta(minutes=5))
            for order_id in (pid, second, "DECOY-O")
        )  # fmt: skip
        self.address = address_add(shop=self.shop, platform_id=pid, receiver="售后组", phone="13800138000",
                                   province="浙江省", city="杭州市", district="西湖区", detail="文三路 90 号")
        # Under intervention, so the reviewers' queue, the admin and the merchants all show it.
        self.case = with_history(EscalatedCaseFactory(platform_id=pid, order=self.order))
        self.decoy_case = EscalatedCaseFactory(platform_id="DECOY-C", order=decoy_order)
        # One violation awaiting a ruling (review tab), one upheld and paid (payouts).
        self.violation = violations.violation_report(
            platform_id=pid, orders=[self.order], reason="refused_service", at=now - dt.timedelta(hours=2)
        )
        self.paid = violations.violation_rule(
            violation=violations.violation_report(
                platform_id=second, orders=[self.paid_order], reason="refused_service", at=now - dt.timedelta(days=2)
            ),
            breach=True, note="属实", at=now - dt.timedelta(days=1),
        )  # fmt: skip
        self.decoy = violations.violation_report(
            platform_id="DECOY-V", orders=[decoy_order], reason="refused_service", at=now - dt.timedelta(hours=1)
        )
        payouts_issue(now=now - dt.timedelta(hours=1))
        self.event = ImportedEvent.objects.create(event_id=pid, type="shop.opened", at=now)
        self.day = placed.astimezone(local_zone()).date()
        metrics_compute(day=self.day)
        self.users = {
            "owner": factories.member(self.shop, "owner"),
            "agent": factories.member(self.shop, "agent"),
            "reviewer": factories.UserFactory(is_staff=True),
            "admin": factories.UserFactory(is_staff=True, is_superuser=True),
        }
        self.users["reviewer"].groups.add(Group.objects.get_or_create(name=REVIEWERS_GROUP)[0])


@pytest.fixture(params=list(HOSTILE_IDS.values()), ids=list(HOSTILE_IDS))
def world(request):
    return World(request.param)


def sign_in(client, world: World, role: str):
    # The stored row: the factory hashes the password on the instance after saving it.
    client.force_login(get_user_model().objects.get(pk=world.users[role].pk))


def label(pid: str, *, admin: bool = False) -> str:
    """How a link writes the id: escaped, and a blank one as a placeholder (the admin's is "-")."""
    if not pid.strip():
        return "-" if admin else "—"
    return escape(pid)


def links(body: str, text: str) -> list[str]:
    """The targets of the links whose whole text is `text` (already escaped as the page writes it)."""
    return [html.unescape(href) for href in re.findall(rf'<a href="([^"]*)"[^>]*>{re.escape(text)}</a>', body)]


def get_ok(client, url: str, data=None) -> str:
    response = client.get(url, data)
    assert response.status_code == 200, (url, response.status_code)
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body  # every id went through escaping
    return body


def follow(client, body: str, text: str):
    """Open the one link labelled `text` and return the response."""
    (target,) = links(body, text)
    response = client.get(target)
    assert response.status_code == 200, (target, response.status_code)
    assert "<script>alert(1)</script>" not in response.content.decode()
    return response


def assert_download(response) -> None:
    """An export named after a stored id: the header stays one valid line, whatever the id holds."""
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename") and "\n" not in disposition


@pytest.mark.parametrize("role", ROLES)
def test_warranty_pages(client, world, role):
    """Violations, payouts, the reviewers' tab, accounts: each id shown escaped, each link to the right page."""
    sign_in(client, world, role)
    body = get_ok(client, reverse("compensation:violations"))
    for violation in (world.violation, world.paid):
        assert follow(client, body, label(violation.platform_id)).context["violation"] == violation
    detail = get_ok(client, reverse("compensation:violation", args=[world.violation.pk]))
    assert f"({escape(world.pid)})" in detail and f"<td>{escape(world.pid)}</td>" in detail  # shop, order

    body = get_ok(client, reverse("compensation:payouts"))
    assert f"<td>{escape(world.paid_order.platform_id)}</td>" in body
    assert follow(client, body, label(world.paid.platform_id)).context["violation"] == world.paid

    if role not in MERCHANTS:
        body = get_ok(client, reverse("review:warranty"))
        assert follow(client, body, label(world.pid)).context["violation"] == world.violation

    assert f"({escape(world.pid)})" in get_ok(client, reverse("compensation:accounts"))
    deposit = world.shop.accounts.get(kind="deposit")
    get_ok(client, reverse("compensation:statement", args=[deposit.pk]))
    assert_download(client.get(reverse("compensation:statement", args=[deposit.pk]), {"export": "csv"}))


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_intervention_queue(client, world, role):
    sign_in(client, world, role)
    body = get_ok(client, reverse("review:queue"))
    assert follow(client, body, label(world.pid)).context["case"] == world.case
    assert escape(world.pid) in get_ok(client, reverse("review:case", args=[world.case.pk]))
    if world.pid.strip():  # nobody types a blank id into the search box
        found = client.get(reverse("review:find"), {"case": world.pid})
        assert found.status_code == 302 and found["Location"] == reverse("review:case", args=[world.case.pk])


ADMIN_LISTS = [  # model admin, the object its first column links to
    ("shops_shop", "shop"),
    ("shops_goods", "goods"),
    ("shops_order", "order"),
    ("aftersales_aftersalescase", "case"),
    ("compensation_violation", "violation"),
]


@pytest.mark.parametrize("role", ROLES)
def test_admin_pages(client, world, role):
    sign_in(client, world, role)
    lists = ADMIN_LISTS if role in MERCHANTS else [*ADMIN_LISTS, ("feed_importedevent", "event")]
    for model, attr in lists:
        body = get_ok(client, reverse(f"admin:{model}_changelist"))
        response = follow(client, body, label(world.pid, admin=True))
        opened = response.context.get("original") or response.context["case"]  # the case page is its own
        assert opened.pk == getattr(world, attr).pk, model
    # The violation list's "open" column leads to the violation's own page.
    body = get_ok(client, reverse("admin:compensation_violation_changelist"))
    assert reverse("compensation:violation", args=[world.violation.pk]) in body
    get_ok(client, reverse("admin:compensation_charge_changelist"))
    get_ok(client, reverse("admin:aftersales_returnaddress_changelist"))
    address = get_ok(client, reverse("admin:aftersales_returnaddress_change", args=[world.address.pk]))
    if world.pid:  # the service stores a blank address id as none
        assert linebreaksbr(world.pid) in address  # a read-only value, as the admin shows one


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_and_the_orders_behind_a_figure(client, world, role):
    sign_in(client, world, role)
    # Merchants pick from their shops (by pk); platform staff type the id.
    picked = {"shop": world.shop.pk} if role in MERCHANTS else {"shop_id": world.pid}
    response = client.get(reverse("metrics:dashboard"), {**picked, "date": world.day.isoformat()})
    assert response.status_code == 200 and response.context["shop"] == world.shop
    body = response.content.decode()
    assert f"({escape(world.pid)})" in body  # the title
    if world.pid.strip():  # a table shows a blank cell as "—"
        # the goods table: the goods' name, its id under it
        assert f'<span class="pdd-muted">{escape(world.pid)}</span></td>' in body
    orders_link = html.unescape(re.search(r'class="denominator" href="([^"]*)"', body)[1])
    orders = get_ok(client, orders_link)
    if world.pid.strip():
        assert f">{escape(world.pid)}</td>" in orders
    assert_download(client.get(reverse("metrics:dashboard"),
                               {"shop": world.shop.pk, "date": world.day.isoformat(), "_export": "csv"}))


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_platform_ranking_links_to_the_shop(client, world, role):
    sign_in(client, world, role)
    body = get_ok(client, reverse("metrics:platform"), {"date": world.day.isoformat()})
    assert follow(client, body, label(world.pid)).context["shop"] == world.shop


def test_a_platform_id_that_is_another_shops_pk(client, reviewer):
    """`?shop=` is a pk, `?shop_id=` a platform id: a shop whose id is another shop's pk opens itself."""
    first = shop_open(platform_id="S1", name="first", at=timezone.now())
    second = shop_open(platform_id=str(first.pk), name="second", at=timezone.now())
    client.force_login(reviewer)
    dashboard = reverse("metrics:dashboard")
    assert client.get(dashboard, {"shop_id": second.platform_id}).context["shop"] == second
    assert client.get(dashboard, {"shop": first.pk}).context["shop"] == first
    assert client.get(dashboard, {"shop": "²"}).status_code == 404  # a digit, but no pk


# --- the rule itself ----------------------------------------------------------------------------

def _patterns(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, entry.namespace or namespace)
        elif isinstance(entry, URLPattern):
            yield namespace, entry


def test_no_url_of_ours_takes_a_platform_id():
    """Our URLs capture only integers (database pks). The admin captures `<path:object_id>` but
    quotes every pk it puts there itself."""
    captured = [
        (namespace, entry.name, name, converter)
        for namespace, entry in _patterns(get_resolver())
        if namespace != "admin"
        for name, converter in getattr(entry.pattern, "converters", {}).items()
    ]
    assert captured, "the compensation and review pages capture pks"
    # The open API names cases by platform id (SPEC §10), through a converter of the feed's id syntax.
    assert [c for c in captured if not isinstance(c[3], (IntConverter, PlatformIdConverter))] == []


def test_every_kind_of_id_is_stored_as_given(world):
    """The fixture really stores the hostile ids (a service that normalised them would hide a bug)."""
    assert AfterSalesCase.objects.get(pk=world.case.pk).platform_id == world.pid
    assert world.violation.platform_id == world.shop.platform_id == world.order.platform_id == world.pid
