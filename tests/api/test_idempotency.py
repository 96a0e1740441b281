"""Writes are safe to retry (SPEC §10): the same Idempotency-Key and body get the first answer and
change nothing; another body under the key is refused; copies sent at once apply once."""

import datetime as dt

import pytest
from django.utils import timezone

from aftersales.models import CaseTransition, Kind, Refund, State
from api.models import IdempotentRequest
from tests.aftersales.clicks import live_case_in
from tests.concurrency import errors_of, run_in_threads

from .conftest import Api

pytestmark = pytest.mark.django_db


def agree_url(case):
    return f"/api/v1/cases/{case.platform_id}/agree/"


def test_a_retry_gets_the_first_answer_and_changes_nothing(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    first = agent_api.post(agree_url(case), {}, idempotency_key="erp-agree-1")
    logged = CaseTransition.objects.filter(case=case).count()
    again = agent_api.post(agree_url(case), {}, idempotency_key="erp-agree-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert CaseTransition.objects.filter(case=case).count() == logged
    assert Refund.objects.filter(case=case).count() == 1
    # Without the key, the same call is a new one, and meets a case that moved on.
    fresh = agent_api.post(agree_url(case), {})
    assert (fresh.status_code, fresh.json()["code"]) == (409, "case_changed")


def test_a_refusal_is_the_first_answer_too(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.RETURN_REFUND, address=False)
    first = agent_api.post(agree_url(case), {}, idempotency_key="k")
    from tests import factories

    factories.ReturnAddressFactory(shop=shop, is_default=True)  # the rule would pass now
    again = agent_api.post(agree_url(case), {}, idempotency_key="k")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again["Content-Type"] == "application/problem+json"
    case.refresh_from_db()
    assert case.state == State.PENDING_MERCHANT


def test_another_body_or_path_under_the_same_key_is_refused(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    other = live_case_in(State.PENDING_MERCHANT, shop=shop)
    agent_api.post(f"/api/v1/cases/{case.platform_id}/refuse/", {"reason": "used"}, idempotency_key="k2")
    for path, body in [
        (f"/api/v1/cases/{case.platform_id}/refuse/", {"reason": "worn"}),
        (f"/api/v1/cases/{other.platform_id}/refuse/", {"reason": "used"}),
    ]:
        answer = agent_api.post(path, body, idempotency_key="k2")
        assert answer.status_code == 409
        assert answer.json()["code"] == "idempotency_key_reused"
    other.refresh_from_db()
    assert other.state == State.PENDING_MERCHANT
    # The same body with its keys in another order is the same request.
    answer = agent_api.post(f"/api/v1/cases/{case.platform_id}/refuse/", {"reason": "used"}, idempotency_key="k2")
    assert answer.status_code == 200


def test_keys_are_per_api_key(shop, agent_api, owner):
    from .conftest import make_key

    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    other = live_case_in(State.PENDING_MERCHANT, shop=shop)
    second = Api(make_key(shop, "agent", owner, name="second ERP")[1])
    assert agent_api.post(agree_url(case), {}, idempotency_key="same").status_code == 200
    assert second.post(agree_url(other), {}, idempotency_key="same").status_code == 200


def test_a_write_needs_a_usable_idempotency_key(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    for key in (None, "", "has space", "x" * 256):
        answer = agent_api.post(agree_url(case), {}, idempotency_key=key)
        assert answer.status_code == 400, key
        assert list(answer.json()["errors"]) == ["Idempotency-Key"]
    case.refresh_from_db()
    assert case.state == State.PENDING_MERCHANT


def test_keys_expire_after_the_ttl(shop, agent_api, settings):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    agent_api.post(f"/api/v1/cases/{case.platform_id}/refuse/", {"reason": "used"}, idempotency_key="old")
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(seconds=settings.API_IDEMPOTENCY_TTL + 1)
    )
    other = live_case_in(State.PENDING_MERCHANT, shop=shop)
    answer = agent_api.post(agree_url(other), {}, idempotency_key="old")
    assert answer.status_code == 200  # a new request: the old row was purged on this write
    assert IdempotentRequest.objects.filter(key="old").count() == 1


@pytest.mark.postgres
def test_copies_sent_at_once_apply_once(postgres_only, shop, agent_key, transactional_db):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    secret = agent_key[1]

    def send(_i):
        answer = Api(secret).post(agree_url(case), {}, idempotency_key="burst-1")
        return answer.status_code, answer.json()

    outcomes = run_in_threads(6, send)
    assert errors_of(outcomes) == []
    assert {status for status, _body in outcomes} == {200}
    bodies = [body for _status, body in outcomes]
    assert all(body == bodies[0] for body in bodies), [b for b in bodies if b != bodies[0]][:1] + bodies[:1]
    assert CaseTransition.objects.filter(case=case, transition="merchant_agree").count() == 1
    assert Refund.objects.filter(case=case).count() == 1
    assert IdempotentRequest.objects.filter(key="burst-1").count() == 1
