import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings

from compensation.models import ViolationLog, ViolationState
from compensation.services import violations
from compensation.services.payouts import payouts_issue
from pddadmin.shops.services import goods_set_warranty
from tests import factories

from .conftest import T0, open_shop, report, warranty_orders

pytestmark = pytest.mark.django_db
LATER = T0 + dt.timedelta(days=1)


def test_report_lists_orders_in_given_order_and_sets_48h_deadline():
    shop = open_shop()
    orders = warranty_orders(shop, 3)
    violation = report([orders[1], orders[2], orders[0]], at=LATER)
    assert violation.shop == shop and violation.state == ViolationState.REPORTED
    assert [line.order for line in violation.lines.order_by("position")] == [orders[1], orders[2], orders[0]]
    assert violation.explanation_due_at == LATER + dt.timedelta(hours=48)
    assert list(ViolationLog.objects.values_list("action", "to_state")) == [("report", "reported")]


@override_settings(WARRANTY_EXPLANATION_HOURS=24)
def test_explanation_window_is_a_setting():
    violation = report(warranty_orders(open_shop()), at=LATER)
    assert violation.explanation_due_at == LATER + dt.timedelta(hours=24)


def test_orders_of_two_shops_are_rejected():
    a, b = warranty_orders(open_shop()), warranty_orders(open_shop())
    with pytest.raises(ValidationError, match="must belong to one shop"):
        report(a + b)


def test_order_without_warranty_is_rejected():
    shop = open_shop()
    with pytest.raises(ValidationError, match="placed without national warranty"):
        report(warranty_orders(shop) + warranty_orders(shop, warranty=False))


def test_same_order_twice_is_rejected():
    (order,) = warranty_orders(open_shop())
    with pytest.raises(ValidationError, match="same order twice"):
        report([order, order])


def test_report_before_order_placed_is_rejected():
    (order,) = warranty_orders(open_shop())
    with pytest.raises(ValidationError, match="before order"):
        report([order], at=T0 - dt.timedelta(minutes=1))


def test_duplicate_order_and_reason_among_open_or_upheld_is_rejected():
    orders = warranty_orders(open_shop(), 2)
    first = report(orders[:1])
    with pytest.raises(ValidationError, match="already in violation"):
        report(orders, reason="refused_service")
    report(orders, reason="extra_fee")  # another reason is another complaint
    violations.violation_rule(violation=first, breach=True, note="breach", at=LATER)
    with pytest.raises(ValidationError, match="already in violation"):
        report(orders[:1], reason="refused_service")


def test_dismissed_report_releases_the_order_for_a_new_report():
    (order,) = warranty_orders(open_shop())
    first = report([order])
    violations.violation_rule(violation=first, breach=False, note="no evidence", at=LATER)
    again = report([order])
    assert again.lines.get().order == order


def test_warranty_switched_off_after_an_order_still_covers_that_order():
    shop = open_shop(deposit="500.00")
    goods = factories.GoodsFactory(shop=shop, warranty=True)
    earlier = factories.OrderFactory(goods=goods, placed_at=T0)
    goods_set_warranty(goods=goods, warranty=False, at=T0 + dt.timedelta(hours=1))
    later = factories.OrderFactory(goods=goods, placed_at=T0 + dt.timedelta(hours=2), warranty=goods.warranty)
    earlier.refresh_from_db()
    assert earlier.warranty is True and later.warranty is False

    violation = report([earlier], at=LATER)
    violations.violation_rule(violation=violation, breach=True, note="refused", at=LATER)
    assert payouts_issue(now=LATER).paid == 1
    with pytest.raises(ValidationError, match="placed without national warranty"):
        report([later], at=LATER)


def test_mandatory_warranty_cannot_be_switched_off():
    goods = factories.GoodsFactory(shop=open_shop(), warranty=True, warranty_mandatory=True)
    with pytest.raises(ValidationError, match="mandatory"):
        goods_set_warranty(goods=goods, warranty=False, at=LATER)
    goods.refresh_from_db()
    assert goods.warranty is True


# --- explanation ---------------------------------------------------------------------------


@pytest.fixture
def violation(shop):
    # `shop` from tests/conftest.py is a factory shop: the ledger takes it over on first use.
    return report(warranty_orders(shop, 2), at=LATER)


@pytest.mark.parametrize("role", ["owner", "agent"])
def test_owner_and_agent_explain_before_deadline_with_evidence(violation, shop, role):
    user = factories.member(shop, role)
    at = LATER + dt.timedelta(hours=47)
    violations.violation_explain(
        violation=violation,
        actor=user,
        text="We offered repair",
        at=at,
        url="https://img.example/1.png",
        evidence_note="chat log",
    )
    violation.refresh_from_db()
    assert (violation.explanation, violation.explained_at) == ("We offered repair", at)
    assert violation.state == ViolationState.REPORTED
    assert violation.evidence.get().note == "chat log"
    assert violation.log.last().action == "explain"


def test_explanation_after_deadline_is_rejected(violation, owner):
    with pytest.raises(ValidationError, match="deadline"):
        violations.violation_explain(
            violation=violation, actor=owner, text="late", at=LATER + dt.timedelta(hours=48, seconds=1)
        )


def test_explanation_needs_text(violation, owner):
    with pytest.raises(ValidationError, match="required"):
        violations.violation_explain(violation=violation, actor=owner, text="  ", at=LATER)


@pytest.mark.parametrize("who", ["viewer", "outsider", "reviewer"])
def test_viewer_outsider_and_reviewer_cannot_explain(violation, request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        violations.violation_explain(violation=violation, actor=user, text="x", at=LATER)


def test_explanation_after_ruling_is_rejected(violation, owner, reviewer):
    violations.violation_rule(violation=violation, breach=False, note="fine", at=LATER, actor=reviewer)
    with pytest.raises(ValidationError, match="already ruled"):
        violations.violation_explain(violation=violation, actor=owner, text="x", at=LATER)


# --- ruling --------------------------------------------------------------------------------


@pytest.mark.parametrize(("breach", "state"), [(True, "upheld"), (False, "dismissed")])
def test_reviewer_rules_any_time_with_a_note(violation, reviewer, breach, state):
    at = LATER + dt.timedelta(minutes=5)  # before the merchant's deadline: allowed
    violations.violation_rule(violation=violation, breach=breach, note="checked", at=at, actor=reviewer)
    violation.refresh_from_db()
    assert (violation.state, violation.ruled_at, violation.ruled_by, violation.ruling_note) == (
        state,
        at,
        reviewer,
        "checked",
    )
    assert violation.lines.filter(active=True).count() == (2 if breach else 0)
    assert list(violation.log.values_list("action", "from_state", "to_state")) == [
        ("report", "", "reported"),
        ("rule", "reported", state),
    ]


def test_ruling_twice_is_rejected(violation, reviewer):
    violations.violation_rule(violation=violation, breach=True, note="breach", at=LATER, actor=reviewer)
    with pytest.raises(ValidationError, match="already ruled"):
        violations.violation_rule(violation=violation, breach=False, note="again", at=LATER, actor=reviewer)


def test_ruling_needs_a_note(violation, reviewer):
    with pytest.raises(ValidationError, match="note"):
        violations.violation_rule(violation=violation, breach=True, note=" ", at=LATER, actor=reviewer)


@pytest.mark.parametrize("who", ["owner", "agent", "outsider"])
def test_merchant_staff_cannot_rule_or_report(violation, request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        violations.violation_rule(violation=violation, breach=False, note="mine", at=LATER, actor=user)
    with pytest.raises(PermissionDenied):
        violations.violation_report(
            platform_id="X1", orders=list(violation.shop.orders.all()[:1]), reason="extra_fee", at=LATER, actor=user
        )


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        ("2026-12-02T23:59:59+00:00", "20261203"),  # 07:59 in Shanghai: already the 3rd
        ("2026-12-02T15:59:59+00:00", "20261202"),  # 23:59:59 in Shanghai
        ("2026-12-02T16:00:00+00:00", "20261203"),  # midnight in Shanghai
    ],
)
def test_a_reviewers_report_is_dated_by_the_shanghai_calendar(moment, day):
    # #18.8: the id took its date from UTC, so a report made before 08:00 carried yesterday's date.
    platform_id = violations.new_violation_id(dt.datetime.fromisoformat(moment))
    assert platform_id.startswith(f"WV-{day}-")
    assert violations.new_violation_id(dt.datetime.fromisoformat(moment)) != platform_id  # the random tail
