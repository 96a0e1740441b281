"""The warranty violation's state machine (SPEC §6.2): each transition declared on the model with
who may take it and when; the services take it only as declared, and the page offers exactly
what the machine allows each role."""

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from compensation.models import Violation, ViolationState
from compensation.selectors import violation_actions
from compensation.services import violations
from tests import factories

from .conftest import report, warranty_orders

pytestmark = pytest.mark.django_db

ROLES = ("owner", "agent", "viewer", "outsider", "reviewer", "superuser")


@pytest.fixture
def superuser(db):
    return factories.UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def reported(shop, now):
    """A report made an hour ago: the merchant has 47 hours left to explain."""
    return report(warranty_orders(shop, 2, placed_at=now - dt.timedelta(days=3)), at=now - dt.timedelta(hours=1))


@pytest.fixture
def overdue(shop, now):
    """A report whose explanation deadline passed a minute ago."""
    at = now - dt.timedelta(hours=48, minutes=1)
    return report(warranty_orders(shop, 1, placed_at=at - dt.timedelta(days=1)), at=at)


def user_of(request, role):
    return request.getfixturevalue(role)


# --- what the machine allows, role by role -----------------------------------------------------

EXPECTED = {
    # (situation, role): the transitions offered
    **{("reported", r): {"explain"} for r in ("owner", "agent")},
    **{("reported", r): set() for r in ("viewer", "outsider")},
    **{("reported", r): {"rule"} for r in ("reviewer", "superuser")},
    **{("overdue", r): set() for r in ("owner", "agent", "viewer", "outsider")},
    **{("overdue", r): {"rule"} for r in ("reviewer", "superuser")},
    **{("upheld", r): set() for r in ROLES},
    **{("dismissed", r): set() for r in ROLES},
}


def situation(request, name: str, now) -> Violation:
    if name in ("reported", "overdue"):
        return request.getfixturevalue(name)
    violation = request.getfixturevalue("reported")
    return violations.violation_rule(violation=violation, breach=name == "upheld", note="checked", at=now)


@pytest.mark.parametrize(("name", "role"), sorted(EXPECTED))
def test_actions_are_what_the_machine_declares(request, now, name, role):
    violation = situation(request, name, now)
    assert set(violation_actions(violation=violation, user=user_of(request, role))) == EXPECTED[name, role]


def _offered(html: str) -> set[str]:
    return set(re.findall(r'name="action" value="(\w+)"', html))


@pytest.mark.parametrize(("name", "role"), sorted(k for k in EXPECTED if k[1] != "outsider"))
def test_page_shows_exactly_the_allowed_buttons(client, request, now, name, role):
    violation = situation(request, name, now)
    user = user_of(request, role)
    client.force_login(user)
    response = client.get(reverse("compensation:violation", args=[violation.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert _offered(html) == EXPECTED[name, role]
    for action, label in violation_actions(violation=violation, user=user).items():
        assert f'value="{label}"' in html, action  # the button says what the machine calls it


def test_outsider_does_not_see_the_page(client, outsider, reported):
    client.force_login(outsider)
    assert client.get(reverse("compensation:violation", args=[reported.pk])).status_code == 404


# --- every allowed transition ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "agent"])
def test_shop_handlers_explain_before_the_deadline(request, reported, now, role):
    violation = violations.violation_explain(
        violation=reported, actor=user_of(request, role), text=" repaired for free ", at=now
    )
    assert (violation.state, violation.explanation, violation.explained_at) == ("reported", "repaired for free", now)
    assert list(violation.log.values_list("action", "from_state", "to_state", "note"))[-1] == (
        "explain", "reported", "reported", "repaired for free"
    )


@pytest.mark.parametrize("role", ["reviewer", "superuser", None])
@pytest.mark.parametrize(("breach", "state"), [(True, ViolationState.UPHELD), (False, ViolationState.DISMISSED)])
def test_platform_staff_and_the_feed_rule(request, reported, now, role, breach, state):
    actor = user_of(request, role) if role else None
    violation = violations.violation_rule(
        violation=reported, breach=breach, note="checked", at=now, actor=actor, source="review" if role else "feed"
    )
    violation.refresh_from_db()
    assert (violation.state, violation.ruled_by, violation.ruled_at, violation.ruling_note) == (
        state, actor, now, "checked"
    )
    entry = violation.log.get(action="rule")
    assert (entry.from_state, entry.to_state, entry.pk) == ("reported", state, violation.ruled_seq)
    assert violation.lines.filter(active=True).count() == (2 if breach else 0)


def test_reviewer_may_rule_after_the_explanation_deadline(overdue, reviewer, now):
    assert violations.violation_rule(violation=overdue, breach=True, note="late", at=now, actor=reviewer).state == (
        ViolationState.UPHELD
    )


# --- every rejected transition -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "outsider", "reviewer", "superuser"])
def test_explain_is_refused_to_anyone_but_the_shops_handlers(request, reported, now, role):
    with pytest.raises(PermissionDenied):
        violations.violation_explain(violation=reported, actor=user_of(request, role), text="x", at=now)
    assert Violation.objects.get(pk=reported.pk).explanation == ""


@pytest.mark.parametrize("role", ["owner", "agent", "viewer", "outsider"])
def test_rule_is_refused_to_merchant_staff(request, reported, now, role):
    with pytest.raises(PermissionDenied, match="only platform reviewers"):
        violations.violation_rule(violation=reported, breach=True, note="x", at=now, actor=user_of(request, role))
    assert Violation.objects.get(pk=reported.pk).state == ViolationState.REPORTED


def test_explain_after_the_deadline_is_refused(overdue, owner, now):
    with pytest.raises(ValidationError, match="deadline for an explanation passed"):
        violations.violation_explain(violation=overdue, actor=owner, text="late", at=now)


def test_explain_needs_text_and_rule_needs_a_note(reported, owner, reviewer, now):
    with pytest.raises(ValidationError, match="explanation is required"):
        violations.violation_explain(violation=reported, actor=owner, text=" ", at=now)
    with pytest.raises(ValidationError, match="needs a note"):
        violations.violation_rule(violation=reported, breach=True, note=" ", at=now, actor=reviewer)
    assert list(reported.log.values_list("action", flat=True)) == ["report"]


def test_rule_older_than_the_last_change_is_refused(reported, reviewer, now):
    with pytest.raises(ValidationError, match="before the last change"):
        violations.violation_rule(
            violation=reported, breach=True, note="x", at=reported.changed_at - dt.timedelta(seconds=1), actor=reviewer
        )


@pytest.mark.parametrize("breach", [True, False])
def test_a_ruled_violation_takes_no_transition(reported, owner, reviewer, now, breach):
    violations.violation_rule(violation=reported, breach=breach, note="first", at=now, actor=reviewer)
    with pytest.raises(ValidationError, match="already ruled"):
        violations.violation_rule(violation=reported, breach=not breach, note="again", at=now, actor=reviewer)
    with pytest.raises(ValidationError, match="already ruled"):
        violations.violation_explain(violation=reported, actor=owner, text="x", at=now)
    assert list(reported.log.values_list("action", flat=True)) == ["report", "rule"]


def test_the_state_field_is_changed_by_transitions_only(reported):
    with pytest.raises(AttributeError):
        reported.state = ViolationState.UPHELD
