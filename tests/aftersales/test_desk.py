"""The after-sales desk (issue #18): counters that are filters, the list by time left, row and bulk
actions with a per-case report, read-only viewers, shop isolation and a query bound."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales import desk as desk_view
from aftersales.models import AfterSalesCase, Kind, Refund, State
from aftersales.services import cases as svc
from pddadmin.shops.models import ShopMembership
from tests import factories
from tests.aftersales.clicks import shown
from tests.aftersales.helpers import DAY, HOUR, make_order, open_case, with_address
from tests.conftest import at
from tests.logins import signed_in

pytestmark = pytest.mark.django_db

NOW = at("2026-03-10 15:00")  # a Shanghai afternoon: "today" began 15 hours ago
DESK = "/desk/"


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def opened(shop, *, hours_ago: float, kind=Kind.REFUND_ONLY, statement="broken on arrival", address=True):
    """A case opened `hours_ago` before NOW: its merchant deadline is 48 h after that."""
    start = NOW - dt.timedelta(hours=hours_ago)
    order = make_order(shop=shop, placed_at=start - dt.timedelta(days=1), promised_ship_by=NOW + dt.timedelta(days=9))
    if kind != Kind.REFUND_ONLY and address:
        with_address(shop)
    case = open_case(order, kind=kind, at=start)
    if statement != "broken on arrival":
        AfterSalesCase.objects.filter(pk=case.pk).update(buyer_statement=statement)
    return case


def desk_rows(client, **query) -> tuple[list[int], str]:
    response = client.get(DESK, query)
    assert response.status_code == 200
    text = response.content.decode()
    return [int(pk) for pk in re.findall(r'<tr data-case="(\d+)"', text)], text


def counter(text: str, key: str) -> int:
    match = re.search(rf'data-filter="{key}"[^>]*>\s*<span class="desk-count">(\d+)</span>', text)
    assert match, key
    return int(match.group(1))


@pytest.fixture
def world(shop, other_shop):
    """One case or more behind every counter, a case past its deadline, and another shop's cases."""
    w = {}
    w["pending_late"] = opened(shop, hours_ago=44)  # 4 h left: 即将超时 too
    w["pending"] = opened(shop, hours_ago=10)  # 38 h left
    w["pending_new"] = opened(shop, hours_ago=1)  # 47 h left
    w["overdue"] = opened(shop, hours_ago=49)  # deadline passed an hour ago: nothing to do
    w["awaiting"] = opened(shop, hours_ago=30, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=w["awaiting"], at=NOW - 20 * HOUR)  # yesterday, Shanghai
    w["shipped"] = opened(shop, hours_ago=200, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=w["shipped"], at=NOW - 190 * HOUR)
    svc.case_ship_return(case=w["shipped"], at=NOW - 166 * HOUR, tracking="YT1")  # 2 h left of 7 days
    w["shipped_later"] = opened(shop, hours_ago=30, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=w["shipped_later"], at=NOW - 29 * HOUR)
    svc.case_ship_return(case=w["shipped_later"], at=NOW - 28 * HOUR, tracking="YT2")
    w["intervened"] = opened(shop, hours_ago=30)
    svc.case_merchant_refuse(case=w["intervened"], reason="used", at=NOW - 29 * HOUR)
    svc.case_escalate(case=w["intervened"], at=NOW - 28 * HOUR)
    w["agreed_today"] = opened(shop, hours_ago=20)
    svc.case_merchant_agree(case=w["agreed_today"], at=NOW - 2 * HOUR)  # refunded today
    w["refused_today"] = opened(shop, hours_ago=20)
    svc.case_merchant_refuse(case=w["refused_today"], reason="used", at=NOW - 14 * HOUR)  # 01:00 today
    w["cancelled_today"] = opened(shop, hours_ago=5)
    svc.case_cancel(case=w["cancelled_today"], at=NOW - HOUR)  # the buyer's, not the shop's
    w["foreign"] = opened(other_shop, hours_ago=44)
    w["foreign_today"] = opened(other_shop, hours_ago=20)
    svc.case_merchant_agree(case=w["foreign_today"], at=NOW - HOUR)
    return w


EXPECTED = {  # filter → the world's cases it lists, least time left first
    "pending": ["pending_late", "pending", "pending_new"],
    "urgent": ["shipped", "pending_late"],
    "awaiting_return": ["awaiting"],
    "return_shipped": ["shipped", "shipped_later"],
    "intervention": ["intervened"],
    "today": ["refused_today", "agreed_today"],
}


@pytest.mark.parametrize("key", EXPECTED)
def test_each_counter_counts_exactly_its_list_sorted_by_time_left(world, agent, key):
    client = signed_in(agent)
    rows, text = desk_rows(client, filter=key)
    assert rows == [world[name].pk for name in EXPECTED[key]]
    assert counter(text, key) == len(rows)
    # Every counter on the page, whichever filter is shown, says what its own list holds.
    for other, names in EXPECTED.items():
        assert counter(text, other) == len(names)


def test_the_default_filter_is_to_handle(world, agent):
    rows, text = desk_rows(signed_in(agent))
    assert rows == [world[name].pk for name in EXPECTED["pending"]]
    assert 'data-filter="pending" aria-current="true"' in text


def test_time_left_is_red_under_6_hours_only(world, agent):
    _, text = desk_rows(signed_in(agent), filter="pending")
    urgent = re.findall(r'<tr data-case="(\d+)"[^>]*class="desk-urgent"', text)
    assert urgent == [str(world["pending_late"].pk)]
    row = text.split(f'data-case="{world["pending_late"].pk}"')[1].split("</tr>")[0]
    assert "4h 00m" in row


def test_a_row_shows_kind_reason_amount_goods_and_the_buyers_statement(shop, agent):
    case = opened(shop, hours_ago=3, statement="屏幕碎了，要求退款")
    _, text = desk_rows(signed_in(agent))
    row = text.split(f'data-case="{case.pk}"')[1].split("</tr>")[0]
    for part in ["refund only", "quality issue", "¥59.90", case.order.goods.name, "屏幕碎了，要求退款", "45h 00m"]:
        assert part in row, part
    assert reverse("admin:aftersales_aftersalescase_change", args=[case.pk]) in row


def test_the_shop_column_only_for_users_of_several_shops(shop, other_shop, agent):
    opened(shop, hours_ago=3)
    _, text = desk_rows(signed_in(agent))
    assert "desk-shop" not in text
    ShopMembership.objects.create(shop=other_shop, user=agent, role="agent")
    _, text = desk_rows(signed_in(agent))
    assert f'class="desk-text desk-shop" title="{shop.name}"' in text


# --- actions from a row ------------------------------------------------------------------------


def act_url(case) -> str:
    return reverse("aftersales_desk:act", args=[case.pk])


def row_form(text: str, case, name: str) -> dict:
    """The fields of the row's one-click form for transition `name`, as the desk drew them."""
    forms = text.split(f'action="{act_url(case)}"')[1:]
    (form,) = [f.split("</form>")[0] for f in forms if f'name="action" value="{name}"' in f.split("</form>")[0]]
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))


def test_agree_from_the_row_and_a_stale_row_is_told_to_reload(shop, agent):
    case = opened(shop, hours_ago=3)
    client = signed_in(agent)
    _, text = desk_rows(client)
    data = row_form(text, case, "merchant_agree")
    url = act_url(case)

    first = client.post(url, data, follow=True)
    assert f"{case.platform_id}: Agree done." in shown(first)
    assert AfterSalesCase.objects.get(pk=case.pk).state == State.REFUNDED
    second = client.post(url, data, follow=True)  # the same row, now stale
    assert "changed (now refunded), please reload" in shown(second)
    assert Refund.objects.filter(case=case).count() == 1


def test_rows_link_to_the_case_page_where_a_form_is_needed(shop, agent):
    refund = opened(shop, hours_ago=3)
    no_address = opened(shop, hours_ago=2, kind=Kind.RETURN_REFUND, address=False)
    _, text = desk_rows(signed_in(agent))
    refund_row = text.split(f'data-case="{refund.pk}"')[1].split("</tr>")[0]
    return_row = text.split(f'data-case="{no_address.pk}"')[1].split("</tr>")[0]
    assert 'data-action="merchant_agree"' in refund_row and "<button" in refund_row
    assert 'class="desk-form-link" data-action="merchant_refuse"' in refund_row
    # A return needs an address and the shop has none yet: agreeing is done on the case page.
    assert 'class="desk-form-link" data-action="merchant_agree"' in return_row
    assert "<button" not in return_row
    # A form-needing transition cannot be posted from a row at all.
    seen = {"expected_state": refund.state, "expected_changed_at": refund.changed_at.isoformat()}
    for name in ("merchant_refuse", "refuse_return", "reship", "no_such_thing", ""):
        response = signed_in(agent).post(act_url(refund), {**seen, "action": name})
        assert response.status_code == 404, name
    assert AfterSalesCase.objects.get(pk=refund.pk).state == State.PENDING_MERCHANT


def test_a_return_is_agreed_from_the_row_with_the_default_address(shop, agent):
    case = opened(shop, hours_ago=3, kind=Kind.RETURN_REFUND)
    client = signed_in(agent)
    _, text = desk_rows(client)
    client.post(act_url(case), row_form(text, case, "merchant_agree"))
    case.refresh_from_db()
    assert case.state == State.AWAITING_RETURN and case.return_receiver == shop.return_addresses.get().receiver


# --- bulk actions ----------------------------------------------------------------------------


def bulk(client, action: str, cases, reason: str = ""):
    return client.post(
        reverse("aftersales_desk:bulk"),
        {"action": action, "case": [c.pk for c in cases], "reason": reason, "filter": "pending"},
        follow=True,
    )


def report_lines(response) -> dict[str, str]:
    text = shown(response)
    section = text.split('id="desk-report"')[1].split("</section>")[0]
    return {
        case: re.sub(r"\s+", " ", line).strip()
        for case, line in re.findall(r"<li [^>]*><strong>([^<]+)</strong> · (.*?)</li>", section, re.S)
    }


def test_bulk_agree_reports_each_case_with_the_reason_it_was_skipped(world, shop, agent):
    no_address_shop = factories.ShopFactory()
    ShopMembership.objects.create(shop=no_address_shop, user=agent, role="agent")
    no_address = opened(no_address_shop, hours_ago=3, kind=Kind.RETURN_REFUND, address=False)
    picked = [world["pending"], world["shipped"], world["overdue"], no_address, world["foreign"]]

    response = bulk(signed_in(agent), "merchant_agree", picked)

    lines = report_lines(response)
    assert lines == {
        world["pending"].platform_id: "Agree: now refunded",
        world["shipped"].platform_id: "skipped: not awaiting merchant (now return shipped)",
        world["overdue"].platform_id: "skipped: the deadline had passed: the system acted first (now refunded)",
        no_address.platform_id: (
            f"skipped: shop {no_address_shop.platform_id} has no return address: add one before agreeing a return"
        ),
    }
    text = shown(response)
    assert "Agree: 1 done, 3 skipped" in text
    assert "1 ticked case was not found among the cases you handle." in text
    assert world["foreign"].platform_id not in text
    assert AfterSalesCase.objects.get(pk=world["foreign"].pk).state == State.PENDING_MERCHANT
    assert AfterSalesCase.objects.get(pk=world["shipped"].pk).state == State.RETURN_SHIPPED


def test_bulk_refuse_with_one_reason(world, agent):
    response = bulk(signed_in(agent), "merchant_refuse", [world["pending"], world["pending_new"]], "已使用，不支持退款")
    for name in ("pending", "pending_new"):
        case = AfterSalesCase.objects.get(pk=world[name].pk)
        assert (case.state, case.merchant_statement) == (State.MERCHANT_REFUSED, "已使用，不支持退款")
        assert report_lines(response)[case.platform_id] == "Refuse: now refused by merchant"


def test_bulk_refuse_without_a_reason_changes_nothing(world, agent):
    response = bulk(signed_in(agent), "merchant_refuse", [world["pending"]])
    assert "A refusal needs a reason." in shown(response)
    assert AfterSalesCase.objects.get(pk=world["pending"].pk).state == State.PENDING_MERCHANT


def test_bulk_confirm_refund(world, agent):
    response = bulk(signed_in(agent), "confirm_refund", [world["shipped"], world["pending"]])
    assert report_lines(response) == {
        world["shipped"].platform_id: "Confirm refund: now refunded",
        world["pending"].platform_id: "skipped: not return shipped (now awaiting merchant)",
    }
    assert Refund.objects.filter(case=world["shipped"]).count() == 1


def test_the_changelist_bulk_agree_reports_the_same_way(world, agent):
    response = signed_in(agent).post(
        reverse("admin:aftersales_aftersalescase_changelist"),
        {"action": "agree_selected", "_selected_action": [world["pending"].pk, world["shipped"].pk]},
        follow=True,
    )
    text = shown(response)
    assert "Agreed 1 cases." in text
    assert f"{world['shipped'].platform_id}: not awaiting merchant (now return shipped)" in text


# --- read-only viewers, isolation --------------------------------------------------------------


def test_viewers_read_the_desk_without_buttons_and_their_posts_are_refused(world, viewer):
    client = signed_in(viewer)
    rows, text = desk_rows(client)
    assert rows == [world[name].pk for name in EXPECTED["pending"]]
    assert "data-action=" not in text and 'name="case"' not in text and 'id="desk-bulk"' not in text
    refused = client.post(reverse("aftersales_desk:bulk"), {"action": "merchant_agree", "case": [world["pending"].pk]})
    assert refused.status_code == 403
    seen = {"expected_state": State.PENDING_MERCHANT, "expected_changed_at": world["pending"].changed_at.isoformat()}
    assert client.post(act_url(world["pending"]), {**seen, "action": "merchant_agree"}).status_code == 403
    assert AfterSalesCase.objects.get(pk=world["pending"].pk).state == State.PENDING_MERCHANT


def test_another_shops_case_never_appears_and_cannot_be_acted_on(world, agent):
    client = signed_in(agent)
    for key in EXPECTED:
        rows, text = desk_rows(client, filter=key)
        assert world["foreign"].pk not in rows and world["foreign_today"].pk not in rows
        assert world["foreign"].platform_id not in text
    foreign = world["foreign"]
    seen = {
        "expected_state": foreign.state,
        "expected_changed_at": foreign.changed_at.isoformat(),
        "action": "merchant_agree",
    }
    response = client.post(act_url(foreign), seen)
    assert response.status_code == 404
    assert AfterSalesCase.objects.get(pk=foreign.pk).state == State.PENDING_MERCHANT


def test_people_without_a_shop_get_403_and_visitors_the_login(client):
    assert client.get(DESK)["Location"].startswith(reverse("admin:login"))
    assert signed_in(factories.UserFactory()).get(DESK).status_code == 403


# --- queries and pages -------------------------------------------------------------------------


def queries_for(client, **query) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(DESK, query).status_code == 200
    return len(captured)


def one_behind_each_counter(shop) -> None:
    opened(shop, hours_ago=44)  # to handle, due soon
    returned = opened(shop, hours_ago=30, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=returned, at=NOW - HOUR)  # awaiting the return, handled today
    shipped = opened(shop, hours_ago=30, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=shipped, at=NOW - 20 * HOUR)
    svc.case_ship_return(case=shipped, at=NOW - 19 * HOUR, tracking="YT1")
    escalated = opened(shop, hours_ago=30)
    svc.case_merchant_refuse(case=escalated, reason="used", at=NOW - 20 * HOUR)
    svc.case_escalate(case=escalated, at=NOW - 19 * HOUR)


@pytest.mark.parametrize("key", EXPECTED)
def test_the_desk_takes_the_same_queries_for_one_case_a_counter_as_for_eight(shop, agent, key):
    client = signed_in(agent)
    one_behind_each_counter(shop)
    few = queries_for(client, filter=key)
    for _ in range(7):
        one_behind_each_counter(shop)
    assert queries_for(client, filter=key) == few
    # session, user, memberships, the two counter groups, the page's rows and its bounded count
    assert few <= 8, few


def test_pages_of_the_list(shop, agent, monkeypatch):
    monkeypatch.setattr(desk_view, "PER_PAGE", 4)
    cases = [opened(shop, hours_ago=10 - i) for i in range(10)]  # the first opened has least time left
    client = signed_in(agent)
    first, text = desk_rows(client)
    assert first == [c.pk for c in cases[:4]] and "page 1 of 3" in text
    third, _ = desk_rows(client, page=3)
    assert third == [c.pk for c in cases[8:]]
    assert counter(text, "pending") == 10


# --- home ------------------------------------------------------------------------------------


def test_merchant_staff_land_on_the_desk_after_login(client, agent):
    response = client.post(
        reverse("admin:login"), {"username": agent.username, "password": factories.TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == DESK
    assert 'data-nav="desk"' in response.content.decode()


def test_platform_staff_still_land_on_the_admin_index(client):
    admin_user = factories.UserFactory(is_superuser=True)
    response = client.post(
        reverse("admin:login"), {"username": admin_user.username, "password": factories.TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("admin:index")


def test_the_desk_is_first_in_the_merchants_navigation(agent):
    text = signed_in(agent).get(reverse("admin:index")).content.decode()
    assert text.index('data-nav="desk"') < text.index('data-nav="cases"')


def test_a_row_offers_only_what_the_fsm_allows_the_case(shop, agent):
    """Reship is an exchange's only: a returned refund's row offers confirm and refuse, an exchange's reship too."""
    returned = opened(shop, hours_ago=30, kind=Kind.RETURN_REFUND)
    svc.case_merchant_agree(case=returned, at=NOW - 29 * HOUR)
    svc.case_ship_return(case=returned, at=NOW - 28 * HOUR, tracking="YT1")
    received = make_order(shop=shop, placed_at=NOW - 5 * DAY, received=NOW - 2 * DAY)
    exchange = open_case(received, kind=Kind.EXCHANGE, reason="defective", at=NOW - 30 * HOUR)
    svc.case_merchant_agree(case=exchange, at=NOW - 29 * HOUR)
    svc.case_ship_return(case=exchange, at=NOW - 28 * HOUR, tracking="YT2")
    _, text = desk_rows(signed_in(agent), filter="return_shipped")

    def offered(case) -> list[str]:
        return re.findall(r'data-action="(\w+)"', text.split(f'data-case="{case.pk}"')[1].split("</tr>")[0])

    assert offered(returned) == ["confirm_refund", "refuse_return"]
    assert sorted(offered(exchange)) == ["confirm_refund", "refuse_return", "reship"]


def test_a_rows_page_state_is_written_as_the_seen_form_renders_it(shop):
    # The desk writes SeenForm's hidden fields itself (no form per row): the same inputs, in order.
    case = opened(shop, hours_ago=3)
    form = desk_view.SeenForm.for_case(case)
    assert desk_view._seen_inputs(case) == "".join(str(field) for field in form.hidden_fields())


# The row as desk.html wrote it before the desk wrote its rows in Python (aftersales.desk._row_html).
TEMPLATE_ROW = (
    "{% load money %}{% with case=row.case %}"
    "\n"
    '    <tr data-case="{{ case.pk }}" data-url="{{ row.url }}" data-due="{{ case.due_at|date:\'c\' }}"{% if row.urgent %} class="desk-urgent"{% endif %}>\n'  # noqa: E501
    '      {% if can_act %}<td class="desk-tick">{% if row.editable %}<input type="checkbox" name="case" value="{{ case.pk }}" form="desk-bulk" aria-label="{{ case.platform_id }}">{% endif %}</td>{% endif %}\n'  # noqa: E501
    '      <td><a href="{{ row.url }}" class="desk-open">{{ case.platform_id }}</a><div class="desk-state">{{ row.state }}</div></td>\n'  # noqa: E501
    '      {% if several_shops %}<td class="desk-text desk-shop" title="{{ case.shop.name }}">{{ case.shop.name }}</td>{% endif %}\n'  # noqa: E501
    '      <td class="desk-num desk-left">{{ row.time_left }}</td>\n'
    '      <td class="desk-text">{{ row.kind }}<div class="desk-state" title="{{ row.reason }}">{{ row.reason }}</div></td>\n'  # noqa: E501
    '      <td class="desk-num">{{ case.amount|yuan }}</td>\n'
    '      <td class="desk-text" title="{{ case.order.goods.name }}">{{ case.order.goods.name }}</td>\n'
    '      <td class="desk-text desk-statement" title="{{ case.buyer_statement }}">{{ case.buyer_statement|default:"—" }}</td>\n'  # noqa: E501
    '      {% if can_act %}<td class="desk-actions">{% for action in row.actions %}{% if action.click %}<form method="post" action="{% url \'aftersales_desk:act\' case.pk %}">{% csrf_token %}<input type="hidden" name="action" value="{{ action.name }}">{{ row.seen }}<input type="hidden" name="filter" value="{{ filter }}"><input type="hidden" name="page" value="{{ page.number }}"><button type="submit" class="button" data-action="{{ action.name }}">{{ action.label }}</button></form>{% else %}<a href="{{ row.url }}#case-actions" class="desk-form-link" data-action="{{ action.name }}">{{ action.label }}…</a>{% endif %}{% endfor %}</td>{% endif %}\n'  # noqa: E501
    "    </tr>\n"
    "  "
    "{% endwith %}"
)


@pytest.mark.parametrize("who", ["agent", "viewer", "reviewer"])
def test_each_row_is_written_as_the_template_wrote_it(world, shop, other_shop, who, request):
    from django.template import engines

    user = request.getfixturevalue(who)
    if who == "viewer":
        ShopMembership.objects.create(shop=other_shop, user=user, role="agent")  # two shops, one read-only
    template = engines["django"].from_string(TEMPLATE_ROW)
    cases = [
        case
        for key in ("pending", "return_shipped", "intervention", "today")
        for case in desk_view.selectors.desk_cases(user=user, key=key, now=NOW)
    ]
    assert cases
    can_act, several = desk_view._can_act(user), desk_view.selectors.several_shops(user=user)
    for row in desk_view._rows(cases, user=user, now=NOW):
        for key, page in (("pending", 1), ("return_shipped", 3)):
            expected = template.render(
                {
                    "row": row,
                    "can_act": can_act,
                    "several_shops": several,
                    "filter": key,
                    "page": {"number": page},
                    "csrf_token": "TOKEN",
                }
            )
            html = desk_view._row_html(row, can_act=can_act, several_shops=several, key=key, page=page, csrf="TOKEN")
            assert html == expected
