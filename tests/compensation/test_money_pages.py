"""The money pages (issue #14.2, .4, .5): charges, accounts and statements with their causes, the
platform staff's settlements and deposit payments, the merchant's out-of-stock declaration.

The world comes in through the platform feed and the engine's jobs, as real data does; the pages
are then read with the test client as each role. Expected figures are read from the ledger the
engine wrote (Charge, Credit, Account rows), never typed in.
"""

import csv
import datetime as dt
import io
import itertools
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from compensation.models import Account, Charge, ChargeKind, Credit, CreditKind
from compensation.selectors import ACCOUNT_COLUMNS, CHARGE_COLUMNS, STATEMENT_COLUMNS
from compensation.services import charges, ledger, payouts
from pddadmin.feed.importer import import_events
from pddadmin.shops.models import Order, Shop, ShopMembership
from tests import factories
from tests.compensation.conftest import headed, keyed
from tests.concurrency import run_in_threads
from tests.logins import sign_in as _sign_in
from tests.logins import signed_in

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def feed(*events: tuple[str, dt.datetime, dict]) -> None:
    """Import `(type, at, fields)` events through the platform feed; none may be rejected."""
    lines = [
        json.dumps({"id": f"mp{next(_ids)}", "type": kind, "at": at.isoformat(), **fields}, ensure_ascii=False)
        for kind, at, fields in events
    ]
    report = import_events(lines=lines)
    assert report.rejections == [], report.rejections


def place(order: str, shop: str, placed: dt.datetime, *, amount: str = "129.00", goods: str = "G1", grouped=True):
    events = [
        ("order.placed", placed, {"order": order, "shop": shop, "goods": f"{shop}-{goods}", "buyer": f"B-{order}",
                                  "amount": amount, "promised_ship_by": (placed + 48 * H).isoformat()}),
    ]  # fmt: skip
    if grouped:
        events.append(("order.grouped", placed + 10 * dt.timedelta(minutes=1), {"order": order}))
    return events


class World:
    """Shop MS1 (deposit 20, goods balance 0) with a warranty payout that runs into arrears, a late
    shipment, a settlement paying part of the arrears, a late-reply fine, an order waiting to ship
    and one shipped; shop MS2 with a late shipment of its own."""

    def __init__(self) -> None:
        self.now = now = timezone.now().replace(microsecond=0)
        opened = now - 30 * D
        feed(
            ("shop.opened", opened, {"shop": "MS1", "name": "钱包测试店", "deposit": "20.00", "balance": "0.00"}),
            ("shop.opened", opened, {"shop": "MS2", "name": "隔壁店", "deposit": "300.00"}),
            ("goods.listed", opened, {"shop": "MS1", "goods": "MS1-G1", "name": "蓝牙耳机", "category": "数码",
                                      "warranty": True}),
            ("goods.listed", opened, {"shop": "MS2", "goods": "MS2-G1", "name": "保温杯", "category": "家居"}),
            *place("O-W", "MS1", now - 10 * D),
            ("order.shipped", now - 10 * D + 5 * H, {"order": "O-W", "tracking": "YT1"}),
            ("warranty.reported", now - 6 * D, {"violation": "V-MP1", "orders": ["O-W"], "reason": "refused_service"}),
            ("warranty.ruled", now - 5 * D, {"violation": "V-MP1", "breach": True, "note": "拒绝保修属实"}),
            *place("O-LATE", "MS1", now - 5 * D),
            ("order.shipped", now - 2 * D, {"order": "O-LATE", "tracking": "YT2"}),
            *place("O-OTHER", "MS2", now - 5 * D),
            *place("O-SHIPPED", "MS1", now - 4 * D),
            ("order.shipped", now - 4 * D + 5 * H, {"order": "O-SHIPPED", "tracking": "YT3"}),
        )  # fmt: skip
        payouts.payouts_issue(now=now - 4 * D)  # ¥100 against a deposit of 20: into arrears
        feed(("shop.settled", now - D, {"shop": "MS1", "amount": "30.00"}))  # pays part of the arrears
        self.shop = Shop.objects.get(platform_id="MS1")
        self.other_shop = Shop.objects.get(platform_id="MS2")
        with transaction.atomic():  # a late-reply fine, through the engine's one way to charge
            books = ledger.lock_books(shop_id=self.shop.pk)
            charges.charge_issue(
                books,
                charges.DueCharge(
                    kind=ChargeKind.LATE_REPLY, shop_id=self.shop.pk, at=now - 20 * H, key="M-MP1",
                    cause="late_reply:M-MP1", buyer="B-M", amount=Decimal("100.00"), message="M-MP1",
                    memo=charges.memo_for(ChargeKind.LATE_REPLY, message="M-MP1"),
                ),
            )  # fmt: skip
        feed(*place("O-WAIT", "MS1", now - 2 * H, amount="259.00"))
        charges.apply_due(now=now)  # process_deadlines: MS2's late shipment
        self.order = lambda platform_id: Order.objects.get(platform_id=platform_id)


@pytest.fixture
def world(db) -> World:
    return World()


@pytest.fixture
def shop(world):
    """The shop of the conftest's owner, agent, viewer (and the outsider's other shop)."""
    return world.shop


@pytest.fixture
def other_shop(world):
    return world.other_shop


def sign_in(client, user, *, language: str = "en"):
    """Signed in, in English (the assertions quote the source messages); Chinese is tested below."""
    return _sign_in(client, user, language=language)


def get(client, user, url: str, **params) -> str:
    response = sign_in(client, user).get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def table(html: str, table_id: str) -> str:
    return re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)


def rows(html: str, table_id: str) -> list[str]:
    return re.findall(r"<tr[ >].*?</tr>", table(html, table_id).split("<tbody>")[1], re.S)


def amount_of(value: Decimal) -> str:
    return f'data-amount="{value:.2f}"'


# --- the charges page -------------------------------------------------------------------------


def test_charges_list_every_kind_of_the_shop_newest_first_with_the_cause_linked(client, owner, world):
    html = get(client, owner, reverse("compensation:charges"))
    charges_of_shop = list(Charge.objects.filter(shop=world.shop).order_by("-at", "-id"))
    assert {c.kind for c in charges_of_shop} == {ChargeKind.WARRANTY, ChargeKind.LATE_SHIPMENT, ChargeKind.LATE_REPLY}
    listed = rows(html, "charges")
    assert [re.search(r'data-kind="(\w+)"', row).group(1) for row in listed] == [c.kind for c in charges_of_shop]
    for row, charge in zip(listed, charges_of_shop, strict=True):
        assert amount_of(charge.amount) in row
        if charge.kind == ChargeKind.WARRANTY:
            assert reverse("compensation:violation", args=[charge.violation_id]) in hrefs(row)
            assert reverse("compensation:order", args=[charge.order_id]) in hrefs(row)
        elif charge.kind == ChargeKind.LATE_SHIPMENT:
            assert hrefs(row) == [reverse("compensation:order", args=[charge.order_id])]
        else:  # a message id is text for now: the conversation pages come with customer service
            assert hrefs(row) == [] and "M-MP1" in row
    # MS2's late shipment is not MS1's business; one shop: no shop column, no shop filter
    assert "O-OTHER" not in html and 'name="shop"' not in html


def test_charges_filter_by_kind(client, owner, world):
    html = get(client, owner, reverse("compensation:charges"), kind="late_shipment")
    assert re.findall(r'data-kind="(\w+)"', table(html, "charges")) == ["late_shipment"]
    html = get(client, owner, reverse("compensation:charges"), kind="no-such-kind")  # ignored, not an error
    assert len(rows(html, "charges")) == Charge.objects.filter(shop=world.shop).count()


def test_a_user_of_several_shops_filters_by_shop(client, owner, world):
    ShopMembership.objects.create(shop=world.other_shop, user=owner, role="agent")
    html = get(client, owner, reverse("compensation:charges"))
    assert 'name="shop"' in html and "O-OTHER" in html and "O-LATE" in html
    html = get(client, owner, reverse("compensation:charges"), shop=world.other_shop.pk)
    assert "O-OTHER" in html and "O-LATE" not in html


def test_platform_staff_see_every_shop_and_filter_by_shop(client, reviewer, world):
    html = get(client, reviewer, reverse("compensation:charges"))
    assert "O-OTHER" in html and "O-LATE" in html
    html = get(client, reviewer, reverse("compensation:charges"), shop=world.shop.pk, kind="late_shipment")
    assert "O-LATE" in html and "O-OTHER" not in html


def test_a_merchant_cannot_filter_their_way_into_another_shop(client, owner, world):
    html = get(client, owner, reverse("compensation:charges"), shop=world.other_shop.pk)
    assert "O-OTHER" not in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_charges_download_is_scoped_and_filtered(client, owner, world, fmt):
    response = sign_in(client, owner, language="en").get(
        reverse("compensation:charges"), {"export": fmt, "kind": "late_shipment"}
    )
    assert response.status_code == 200 and f"charges.{fmt}" in response["Content-Disposition"]
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        lines = [list(r) for r in openpyxl.load_workbook(io.BytesIO(response.content)).active.values]
    assert tuple(lines[0]) == headed(CHARGE_COLUMNS)
    late = Charge.objects.get(shop=world.shop, kind=ChargeKind.LATE_SHIPMENT)
    assert [dict(zip(CHARGE_COLUMNS, line, strict=True))["order"] for line in lines[1:]] == [late.order.platform_id]


def test_charges_page_queries_do_not_grow_with_the_rows(client, reviewer, world):
    sign_in(client, reviewer)
    url = reverse("compensation:charges")
    client.get(url)  # warm: session, sessions' user, language
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    more = [place(f"O-N{n}", "MS2", world.now - 5 * D) for n in range(6)]
    feed(*(event for events in more for event in events))
    charges.apply_due(now=world.now)
    assert Charge.objects.count() >= 10
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many]


# --- accounts and statements ------------------------------------------------------------------


def test_accounts_page_shows_deposit_balance_and_what_is_owed_each_linking_to_its_statement(client, owner, world):
    html = get(client, owner, reverse("compensation:accounts"))
    (row,) = rows(html, "accounts")
    accounts = {a.kind: a for a in Account.objects.filter(shop=world.shop)}
    assert accounts["arrears"].balance < 0  # the world runs MS1 into arrears
    assert amount_of(accounts["deposit"].balance) in row and amount_of(accounts["balance"].balance) in row
    assert amount_of(-accounts["arrears"].balance) in row and "pdd-owed" in row
    assert [reverse("compensation:statement", args=[accounts[k].pk]) for k in ("deposit", "balance", "arrears")] == [
        h for h in hrefs(row)
    ]
    assert "MS2" not in table(html, "accounts")
    assert "credit" not in " ".join(hrefs(html))  # merchants do not record credits


def test_accounts_download(client, owner, world):
    response = sign_in(client, owner).get(reverse("compensation:accounts"), {"export": "csv"})
    lines = keyed(list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))), ACCOUNT_COLUMNS)
    arrears = Account.objects.get(shop=world.shop, kind="arrears").balance
    assert [line["shop"] for line in lines] == ["MS1"] and tuple(lines[0]) == ACCOUNT_COLUMNS
    assert Decimal(lines[0]["arrears"]) == -arrears


def test_statement_shows_every_row_with_its_running_balance_and_cause(client, owner, world):
    arrears = Account.objects.get(shop=world.shop, kind="arrears")
    html = get(client, owner, reverse("compensation:statement", args=[arrears.pk]))
    entries = list(arrears.entries.order_by("at", "id").select_related("transaction"))
    listed = rows(html, "statement")
    assert len(listed) == len(entries) >= 3
    running = Decimal("0.00")
    for row, entry in zip(listed, entries, strict=True):
        running += entry.amount
        assert f'data-transaction="{entry.transaction_id}"' in row and amount_of(running) in row
        charge = Charge.objects.filter(transaction=entry.transaction).first()
        credit = Credit.objects.filter(transaction=entry.transaction).first()
        if charge is not None and charge.order_id:
            assert reverse("compensation:order", args=[charge.order_id]) in hrefs(row)
        if charge is not None and charge.violation_id:
            assert reverse("compensation:violation", args=[charge.violation_id]) in hrefs(row)
        if credit is not None:
            assert 'data-cause="credit"' in row and credit.reference in row
    assert running == arrears.balance
    assert f'id="balance" {amount_of(arrears.balance)}' in html


def test_statement_download_has_the_cause(client, owner, world):
    arrears = Account.objects.get(shop=world.shop, kind="arrears")
    response = sign_in(client, owner, language="en").get(
        reverse("compensation:statement", args=[arrears.pk]), {"export": "csv"}
    )
    lines = keyed(list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))), STATEMENT_COLUMNS)
    assert tuple(lines[0]) == STATEMENT_COLUMNS
    by_txn = {int(line["transaction"]): line for line in lines}
    payout = Charge.objects.get(shop=world.shop, kind=ChargeKind.WARRANTY)
    settlement = Credit.objects.get(shop=world.shop)
    assert "V-MP1" in by_txn[payout.transaction_id]["cause"] and "O-W" in by_txn[payout.transaction_id]["cause"]
    assert settlement.reference in by_txn[settlement.transaction_id]["cause"]
    assert Decimal(lines[-1]["running_balance"]) == arrears.balance


def test_statement_queries_do_not_grow_with_the_rows(client, owner, world):
    deposit = Account.objects.get(shop=world.other_shop, kind="deposit")
    other_owner = factories.member(world.other_shop, "owner")
    sign_in(client, other_owner)
    url = reverse("compensation:statement", args=[deposit.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    feed(*(event for n in range(6) for event in place(f"O-S{n}", "MS2", world.now - 5 * D)))
    charges.apply_due(now=world.now)
    feed(("shop.settled", world.now, {"shop": "MS2", "amount": "10.00"}))
    assert deposit.entries.count() >= 8
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many]


def test_another_shops_statement_is_a_404(client, outsider, world):
    deposit = Account.objects.get(shop=world.shop, kind="deposit")
    assert sign_in(client, outsider).get(reverse("compensation:statement", args=[deposit.pk])).status_code == 404


# --- settlements and deposit payments by platform staff ---------------------------------------


def credit_form(client, user, shop) -> tuple[str, str]:
    """(url, token) of the credit form as `user` sees it."""
    url = reverse("compensation:credit", args=[shop.pk])
    html = get(client, user, url)
    return url, re.search(r'name="token" value="(\w+)"', html).group(1)


def test_platform_staff_record_a_deposit_payment_that_pays_off_the_arrears_first(client, reviewer, world):
    owed = -Account.objects.get(shop=world.shop, kind="arrears").balance
    deposit_before = Account.objects.get(shop=world.shop, kind="deposit").balance
    url, token = credit_form(client, reviewer, world.shop)
    paid = owed + Decimal("50.00")
    response = client.post(url, {"kind": "deposit_payment", "amount": str(paid), "note": "银行转账", "token": token},
                           follow=True)  # fmt: skip
    credit = Credit.objects.get(shop=world.shop, kind=CreditKind.DEPOSIT_PAYMENT)
    assert (credit.source, credit.recorded_by, credit.note, credit.amount) == ("admin", reviewer, "银行转账", paid)
    assert (credit.to_arrears, credit.credited) == (owed, paid - owed)
    assert timezone.now() - credit.at < dt.timedelta(minutes=1)  # time left empty: now
    assert Account.objects.get(shop=world.shop, kind="arrears").balance == 0
    assert Account.objects.get(shop=world.shop, kind="deposit").balance == deposit_before + paid - owed
    html = response.content.decode()
    assert f"¥{owed:.2f} paid off arrears, ¥{paid - owed:.2f} credited to the deposit" in html
    assert response.redirect_chain[-1][0].startswith(reverse("compensation:accounts"))


def test_a_settlement_smaller_than_the_arrears_pays_part_of_them(client, reviewer, world):
    owed = -Account.objects.get(shop=world.shop, kind="arrears").balance
    url, token = credit_form(client, reviewer, world.shop)
    client.post(url, {"kind": "settlement", "amount": "10.00", "token": token})
    credit = Credit.objects.filter(shop=world.shop, source="admin").get()
    assert (credit.kind, credit.to_arrears, credit.credited) == ("settlement", Decimal("10.00"), Decimal("0.00"))
    assert -Account.objects.get(shop=world.shop, kind="arrears").balance == owed - Decimal("10.00")


def test_the_same_form_posted_twice_records_one_credit(client, reviewer, world):
    url, token = credit_form(client, reviewer, world.shop)
    data = {"kind": "settlement", "amount": "10.00", "token": token}
    client.post(url, data)
    client.post(url, data)
    assert Credit.objects.filter(shop=world.shop, source="admin").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_form_posted_twice_at_once_records_one_credit(postgres_only, reviewer):
    world = World()
    url, token = credit_form(Client(), reviewer, world.shop)
    data = {"kind": "settlement", "amount": "10.00", "token": token}
    statuses = run_in_threads(4, lambda i: signed_in(reviewer).post(url, data).status_code)
    assert statuses == [302] * 4  # each click answered with the one credit
    assert Credit.objects.filter(shop=world.shop, source="admin").count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"amount": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"amount": "-5"}, "Ensure this value is greater than or equal to 0.01."),
        ({"amount": "1.005"}, "Ensure that there are no more than 2 decimal places."),
        ({"amount": ""}, "This field is required."),
        ({"at": "2000-01-01T10:00"}, "is older than the last movement of shop MS1"),
        ({"future": True}, "The time is in the future."),
    ],
)
def test_a_refused_credit_says_why_and_records_nothing(client, reviewer, world, data, error):
    url, token = credit_form(client, reviewer, world.shop)
    post = {"kind": "settlement", "amount": "10.00", "token": token, **data}
    if post.pop("future", False):
        post["at"] = timezone.localtime(world.now + 2 * H).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, post)
    assert response.status_code == 200 and error in response.content.decode()
    assert not Credit.objects.filter(source="admin").exists()


@pytest.mark.parametrize("role", ["owner", "agent", "viewer", "outsider"])
def test_merchants_cannot_record_settlements(request, client, world, role):
    user = request.getfixturevalue(role)
    url = reverse("compensation:credit", args=[world.shop.pk])
    sign_in(client, user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"kind": "settlement", "amount": "10.00", "token": "x"}).status_code == 403
    assert not Credit.objects.filter(source="admin").exists()


def test_the_accounts_page_offers_platform_staff_the_credit_form(client, reviewer, world):
    html = get(client, reviewer, reverse("compensation:accounts"))
    assert reverse("compensation:credit", args=[world.shop.pk]) in hrefs(html)
    assert reverse("compensation:credit", args=[world.other_shop.pk]) in hrefs(html)


# --- the merchant's out-of-stock declaration --------------------------------------------------


def test_an_agent_marks_an_order_out_of_stock_and_sees_the_compensation(client, agent, world):
    order = world.order("O-WAIT")
    page = get(client, agent, reverse("compensation:order", args=[order.pk]))
    confirm_url = reverse("compensation:out_of_stock", args=[order.pk])
    assert confirm_url in hrefs(page)
    expected = charges.shipping_compensation(ChargeKind.OUT_OF_STOCK, order.amount)  # what the page promises
    confirm = get(client, agent, confirm_url)
    assert f"¥{expected:.2f}" in confirm and 'id="confirm-out-of-stock"' in confirm
    deposit = Account.objects.get(shop=world.shop, kind="deposit").balance
    response = client.post(confirm_url, follow=True)
    charge = Charge.objects.get(order=order)
    assert (charge.kind, charge.amount) == (ChargeKind.OUT_OF_STOCK, expected)
    assert charge.from_deposit == min(deposit, expected) and charge.coupon.face_value == expected
    assert Order.objects.get(pk=order.pk).out_of_stock_at is not None
    html = response.content.decode()
    assert response.redirect_chain == [(reverse("compensation:order", args=[order.pk]), 302)]
    assert f"Its buyer receives a ¥{expected:.2f} coupon" in html
    assert f"¥{charge.arrears:.2f} added to arrears" in html
    assert 'data-kind="out_of_stock"' in table(html, "order-charges")
    assert confirm_url not in hrefs(html)  # declared: nothing more to offer
    charges_page = get(client, agent, reverse("compensation:charges"), kind="out_of_stock")
    assert reverse("compensation:order", args=[order.pk]) in hrefs(table(charges_page, "charges"))


def test_a_second_declaration_is_refused_with_the_reason(client, agent, world):
    order = world.order("O-WAIT")
    url = reverse("compensation:out_of_stock", args=[order.pk])
    sign_in(client, agent).post(url)
    response = client.post(url, follow=True)
    assert "was already declared out of stock" in response.content.decode()
    assert Charge.objects.filter(order=order).count() == 1


def test_a_shipped_order_offers_no_declaration_and_a_post_is_refused(client, owner, world):
    order = world.order("O-SHIPPED")
    url = reverse("compensation:out_of_stock", args=[order.pk])
    assert url not in hrefs(get(client, owner, reverse("compensation:order", args=[order.pk])))
    response = client.post(url, follow=True)
    assert "order O-SHIPPED is already shipped" in response.content.decode()
    assert not Charge.objects.filter(order=order).exists()
    # the confirmation page of a stale link sends the user back with a word, not a dead end
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("compensation:order", args=[order.pk])
    assert "cannot be marked out of stock now" in response.content.decode()


def test_a_late_order_says_its_buyer_has_the_late_shipment_compensation(client, agent, world):
    order = world.order("O-WAIT")
    feed(("order.placed", world.now - 3 * D, {"order": "O-LATE2", "shop": "MS1", "goods": "MS1-G1", "buyer": "B9",
          "amount": "129.00", "promised_ship_by": (world.now - D).isoformat()}),
         ("order.grouped", world.now - 3 * D, {"order": "O-LATE2"}))  # fmt: skip
    late = world.order("O-LATE2")  # late since yesterday; the job has not run yet
    page = get(client, agent, reverse("compensation:out_of_stock", args=[late.pk]))
    assert "past its promised ship time" in page
    client.post(reverse("compensation:out_of_stock", args=[late.pk]))
    (charge,) = Charge.objects.filter(order=late)
    assert charge.kind == ChargeKind.LATE_SHIPMENT  # applied first, at its due time; nothing more
    assert not Charge.objects.filter(order=order).exists()


def test_a_viewer_sees_the_order_but_cannot_mark_it(client, viewer, world):
    order = world.order("O-WAIT")
    url = reverse("compensation:out_of_stock", args=[order.pk])
    page = get(client, viewer, reverse("compensation:order", args=[order.pk]))
    assert "O-WAIT" in page and url not in hrefs(page)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert Order.objects.get(pk=order.pk).out_of_stock_at is None and not Charge.objects.filter(order=order).exists()


def test_platform_staff_see_the_order_but_do_not_declare_for_the_merchant(client, reviewer, world):
    order = world.order("O-WAIT")
    url = reverse("compensation:out_of_stock", args=[order.pk])
    assert url not in hrefs(get(client, reviewer, reverse("compensation:order", args=[order.pk])))
    assert client.post(url).status_code == 403
    assert not Charge.objects.filter(order=order).exists()


def test_another_shops_order_is_a_404(client, outsider, world):
    order = world.order("O-WAIT")
    sign_in(client, outsider)
    for name in ("compensation:order", "compensation:out_of_stock"):
        assert client.get(reverse(name, args=[order.pk])).status_code == 404
    assert client.post(reverse("compensation:out_of_stock", args=[order.pk])).status_code == 404
    assert Order.objects.get(pk=order.pk).out_of_stock_at is None


def test_orders_to_ship_lists_the_orders_that_may_still_ship_late(client, agent, world):
    html = get(client, agent, reverse("compensation:orders"))
    assert [re.search(r'data-order="([^"]+)"', row).group(1) for row in rows(html, "orders")] == ["O-WAIT"]
    assert reverse("compensation:order", args=[world.order("O-WAIT").pk]) in hrefs(html)
    sign_in(client, agent).post(reverse("compensation:out_of_stock", args=[world.order("O-WAIT").pk]))
    assert "O-WAIT" not in table(get(client, agent, reverse("compensation:orders")), "orders")


def test_an_order_id_typed_in_opens_its_page_within_the_users_shops(client, agent, world):
    sign_in(client, agent)
    response = client.get(reverse("compensation:orders"), {"order": "O-SHIPPED"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "compensation:order", args=[world.order("O-SHIPPED").pk]
    )
    response = client.get(reverse("compensation:orders"), {"order": "O-OTHER"})  # MS2's
    assert response.status_code == 200 and "No order O-OTHER among your shops" in response.content.decode()


def test_the_case_page_links_to_the_orders_money(client, agent, world):
    feed(("case.opened", world.now - H, {"case": "C-MP1", "order": "O-WAIT", "kind": "refund_only",
                                         "reason": "changed_mind", "amount": "259.00"}))  # fmt: skip
    from aftersales.models import AfterSalesCase

    case = AfterSalesCase.objects.get(platform_id="C-MP1")
    html = get(client, agent, reverse("admin:aftersales_aftersalescase_change", args=[case.pk]))
    order_url = reverse("compensation:order", args=[world.order("O-WAIT").pk])
    assert order_url in hrefs(html)
    assert reverse("admin:aftersales_aftersalescase_change", args=[case.pk]) in hrefs(get(client, agent, order_url))


# --- navigation and language ------------------------------------------------------------------


def nav_keys(html: str) -> list[str]:
    return re.findall(r'data-nav="(\w+)"', re.search(r'<nav id="pdd-nav".*?</nav>', html, re.S).group(0))


@pytest.mark.parametrize(
    ("role", "money"),
    [("owner", ["charges", "accounts", "orders"]), ("agent", ["charges", "accounts", "orders"]),
     ("viewer", ["charges", "accounts", "orders"]), ("reviewer", ["charges", "accounts"])],
)  # fmt: skip
def test_the_navigation_offers_the_money_pages(request, client, world, role, money):
    user = request.getfixturevalue(role)
    html = get(client, user, reverse("compensation:charges"))
    keys = nav_keys(html)
    assert [k for k in keys if k in ("charges", "accounts", "orders")] == money
    assert 'data-nav="charges" class="current"' in html


@pytest.mark.usefixtures("compiled_catalogues")
def test_the_money_pages_speak_chinese(client, agent, world):
    sign_in(client, agent, language="zh-hans")
    order = world.order("O-WAIT")
    pages = {
        reverse("compensation:charges"): ["扣款记录", "延迟发货赔付", "全国联保赔付", "回复超时罚款", "计入欠款"],
        reverse("compensation:accounts"): ["账户", "保证金", "货款余额", "欠款"],
        reverse("compensation:orders"): ["待发货订单", "承诺发货时间"],
        reverse("compensation:order", args=[order.pk]): ["无法发货？", "标记缺货"],
        reverse("compensation:out_of_stock", args=[order.pk]): ["缺货赔付", "确认标记缺货"],
    }
    for url, words in pages.items():
        html = client.get(url).content.decode()
        assert all(word in html for word in words), (url, [w for w in words if w not in html])
    html = client.post(reverse("compensation:out_of_stock", args=[order.pk]), follow=True).content.decode()
    assert "已标记缺货" in html
