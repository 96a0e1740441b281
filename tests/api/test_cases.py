"""The case endpoints (SPEC §10): list, one case with its log, every merchant transition, for agent
and viewer keys, a revoked key, no key and an owner's session; the isolation matrix; the problems."""

import pytest

from aftersales.models import AfterSalesCase, CaseTransition, Kind, Refund, State
from api.models import ApiCall
from api.services import api_key_revoke
from tests.aftersales.clicks import live_case_in

from .conftest import Api

pytestmark = pytest.mark.django_db

# transition path, the state it leaves, the kind of case, its body, the state it reaches
TRANSITIONS = [
    ("agree", State.PENDING_MERCHANT, Kind.REFUND_ONLY, {}, State.REFUNDED),
    ("agree", State.PENDING_MERCHANT, Kind.RETURN_REFUND, {}, State.AWAITING_RETURN),
    ("refuse", State.PENDING_MERCHANT, Kind.REFUND_ONLY, {"reason": "used, not faulty"}, State.MERCHANT_REFUSED),
    ("confirm_refund", State.RETURN_SHIPPED, Kind.RETURN_REFUND, {}, State.REFUNDED),
    ("refuse_return", State.RETURN_SHIPPED, Kind.RETURN_REFUND, {"reason": "parcel empty"}, State.RETURN_REFUSED),
    ("reship", State.RETURN_SHIPPED, Kind.EXCHANGE, {"tracking": "SF900"}, State.EXCHANGED),
]
IDS = [f"{t[0]}-{t[2]}" for t in TRANSITIONS]


def url(case=None, transition=None):
    if case is None:
        return "/api/v1/cases/"
    case_id = case if isinstance(case, str) else case.platform_id
    return f"/api/v1/cases/{case_id}/" + (f"{transition}/" if transition else "")


def test_list_shows_the_shops_cases_only(shop, other_shop, agent_api):
    mine = [live_case_in(State.PENDING_MERCHANT, shop=shop) for _ in range(3)]
    live_case_in(State.PENDING_MERCHANT, shop=other_shop)
    answer = agent_api.get(url())
    assert answer.status_code == 200
    assert [c["id"] for c in answer.json()["results"]] == [c.platform_id for c in mine]
    assert answer.json()["has_more"] is False


def test_list_filters(shop, agent_api):
    pending = live_case_in(State.PENDING_MERCHANT, shop=shop)
    refused = live_case_in(State.MERCHANT_REFUSED, shop=shop)
    exchange = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.EXCHANGE)

    def ids(**params):
        return {c["id"] for c in agent_api.get(url(), params).json()["results"]}

    assert ids(state="pending_merchant") == {pending.platform_id, exchange.platform_id}
    assert ids(state="merchant_refused") == {refused.platform_id}
    assert ids(kind="exchange") == {exchange.platform_id}
    assert ids(reason="changed_mind") == set()
    assert ids(reason=pending.reason) == {pending.platform_id, refused.platform_id, exchange.platform_id}
    since = AfterSalesCase.objects.get(pk=refused.pk).updated_at
    assert ids(updated_since=since.isoformat()) == {refused.platform_id, exchange.platform_id}


def test_list_refuses_a_bad_filter_as_a_validation_problem(agent_api):
    answer = agent_api.get(url(), {"state": "lost", "updated_since": "yesterday"})
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "validation_error"
    assert set(body["errors"]) == {"state", "updated_since"}
    assert body["instance"] == "/api/v1/cases/"
    for params in ({"updated_since": ""}, {"updated_since": "2026-01-02T10:00:00"}, {"kind": ""}):
        answer = agent_api.get(url(), params)
        assert (answer.status_code, list(answer.json()["errors"])) == (400, list(params)), params


def test_list_refuses_a_parameter_it_does_not_have(shop, agent_api):
    # A misspelt filter must not answer every case as if it had filtered.
    live_case_in(State.PENDING_MERCHANT, shop=shop)
    answer = agent_api.get(url(), {"stat": "pending_merchant", "kind": "exchange"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["errors"] == {"stat": ["Unknown query parameter."]}
    chinese = agent_api.get(url(), {"stat": "x"}, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert chinese.json()["errors"] == {"stat": ["未知的查询参数。"]}


def test_one_case_with_its_log(shop, viewer_api):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop)
    body = viewer_api.get(url(case)).json()
    assert body["id"] == case.platform_id
    assert body["state"] == "return_shipped"
    assert body["order"] == case.order.platform_id
    assert body["return_address"]["receiver"] == case.return_receiver
    log = list(CaseTransition.objects.filter(case=case).order_by("at", "id"))
    assert [(row["transition"], row["to_state"]) for row in body["log"]] == [(r.transition, r.to_state) for r in log]
    assert [row["transition"] for row in body["log"]] == ["open", "merchant_agree", "ship_return"]


@pytest.mark.parametrize(("transition", "state", "kind", "body", "target"), TRANSITIONS, ids=IDS)
def test_agent_key_takes_each_transition(shop, agent_api, owner, transition, state, kind, body, target):
    case = live_case_in(state, shop=shop, kind=kind)
    answer = agent_api.post(url(case, transition), body)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == target
    case.refresh_from_db()
    assert case.state == target
    last = CaseTransition.objects.filter(case=case).latest("id")
    # The same service as the case page: its log row names the key's owner as the merchant actor.
    assert (last.actor_kind, last.actor_id) == ("merchant", owner.pk)
    assert answer.json()["log"][-1]["transition"] == last.transition
    assert Refund.objects.filter(case=case).exists() == (target == State.REFUNDED)


@pytest.mark.parametrize(("transition", "state", "kind", "body", "target"), TRANSITIONS, ids=IDS)
def test_viewer_key_reads_only(shop, viewer_api, transition, state, kind, body, target):
    case = live_case_in(state, shop=shop, kind=kind)
    answer = viewer_api.post(url(case, transition), body)
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"
    case.refresh_from_db()
    assert case.state == state
    assert viewer_api.get(url(case)).status_code == 200


def test_revoked_key_no_key_and_an_owners_session_are_unauthenticated(shop, owner, agent_key, client):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    key, secret = agent_key
    api_key_revoke(key=key, revoked_by=owner)
    for api in (Api(secret), Api(None), Api("nonsense.key")):
        for answer in (api.get(url()), api.get(url(case)), api.post(url(case, "agree"))):
            assert answer.status_code == 401
            assert answer.json()["code"] == "unauthenticated"
            assert answer["WWW-Authenticate"] == "Api-Key"
    client.force_login(owner)
    assert client.get(url()).status_code == 401  # the API takes keys, never the back-office's session
    case.refresh_from_db()
    assert case.state == State.PENDING_MERCHANT


def test_isolation_matrix_another_shops_case_is_not_found_everywhere(shop, other_api, agent_api):
    """A key of shop B gets not_found for each case of shop A on every case endpoint, exactly as
    for a case that does not exist; A's case is left as it was."""
    for transition, state, kind, body, _target in TRANSITIONS:
        case = live_case_in(state, shop=shop, kind=kind)
        answers = [other_api.get(url(case)), other_api.post(url(case, transition), body)]
        answers += [other_api.post(url(case, name), {"reason": "x", "tracking": "x"}) for name, *_ in TRANSITIONS]
        missing = agent_api.get(url("NO-SUCH-CASE")).json()
        for answer in answers:
            assert answer.status_code == 404
            body_ = answer.json()
            assert (body_["code"], body_["title"], body_["detail"]) == (
                missing["code"],
                missing["title"],
                missing["detail"],
            )
        assert case.platform_id not in {c["id"] for c in other_api.get(url()).json()["results"]}
        case.refresh_from_db()
        assert case.state == state


def test_a_case_that_moved_on_is_case_changed(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    assert agent_api.post(url(case, "refuse"), {"reason": "no"}).status_code == 200
    answer = agent_api.post(url(case, "agree"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "case_changed"
    assert answer.json()["state"] == "merchant_refused"


def test_expected_state_catches_a_change_the_transition_allows(shop, agent_api):
    case = live_case_in(State.RETURN_SHIPPED, shop=shop)
    answer = agent_api.post(url(case, "confirm_refund"), {"expected_state": "pending_merchant"})
    assert (answer.status_code, answer.json()["code"]) == (409, "case_changed")
    case.refresh_from_db()
    assert case.state == State.RETURN_SHIPPED


def test_a_rule_refusing_is_rule_broken_with_the_rule(shop, agent_api):
    # SPEC §3: no return address, no agreeing a return.
    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.RETURN_REFUND, address=False)
    answer = agent_api.post(url(case, "agree"))
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "rule_broken"
    assert body["rule"].startswith("SPEC §3")
    assert "return address" in body["detail"]
    # SPEC §2.3: only an exchange is settled by a replacement.
    shipped = live_case_in(State.RETURN_SHIPPED, shop=shop)
    answer = agent_api.post(url(shipped, "reship"), {"tracking": "SF1"})
    assert (answer.status_code, answer.json()["code"]) == (422, "rule_broken")
    assert "exchange" in answer.json()["rule"]


def test_agree_with_an_address_of_another_shop_is_a_validation_problem(shop, other_shop, agent_api):
    from tests import factories

    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.RETURN_REFUND)
    foreign = factories.ReturnAddressFactory(shop=other_shop, is_default=True)
    answer = agent_api.post(url(case, "agree"), {"address": foreign.pk})
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["address"]
    own = factories.ReturnAddressFactory(shop=shop, is_default=False, receiver="Warehouse 2")
    answer = agent_api.post(url(case, "agree"), {"address": own.pk})
    assert answer.status_code == 200
    assert answer.json()["return_address"]["receiver"] == "Warehouse 2"


def test_a_refusal_needs_its_reason(shop, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    for body in ({}, {"reason": "   "}):
        answer = agent_api.post(url(case, "refuse"), body)
        assert answer.status_code == 400
        assert list(answer.json()["errors"]) == ["reason"]


def test_problems_speak_the_callers_language(shop, agent_key):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop, kind=Kind.RETURN_REFUND, address=False)
    english = Api(agent_key[1], language="en").post(url(case, "agree")).json()
    chinese = Api(agent_key[1], language="zh-Hans").post(url(case, "agree")).json()
    assert english["code"] == chinese["code"] == "rule_broken"
    assert english["title"] == "A rule of the platform refuses this"
    assert chinese["title"] == "平台规则不允许此操作"
    assert english["detail"] != chinese["detail"]
    assert "退货地址" in chinese["detail"]
    assert Api(agent_key[1], language="zh-Hans").get(url("nope")).json()["title"] == "未找到"


def test_every_call_is_logged_with_its_key(shop, agent_key, agent_api):
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    agent_api.get(url())
    agent_api.post(url(case, "agree"), idempotency_key="k-1")
    agent_api.get(url("missing"))
    calls = list(ApiCall.objects.filter(key=agent_key[0]).order_by("id"))
    assert [(c.method, c.path, c.status, c.idempotency_key) for c in calls] == [
        ("GET", "/api/v1/cases/", 200, ""),
        ("POST", f"/api/v1/cases/{case.platform_id}/agree/", 200, "k-1"),
        ("GET", "/api/v1/cases/missing/", 404, ""),
    ]
    assert all(c.duration_ms >= 0 for c in calls)


def test_a_path_that_names_nothing_is_a_not_found_problem(agent_api):
    for path in ("/api/v1/cases/bad%21id/", "/api/v1/cases/a/b/c/", "/api/v1/nothing/"):
        for answer in (agent_api.get(path), agent_api.post(path)):
            assert answer.status_code == 404, path
            assert answer["Content-Type"] == "application/problem+json"
            assert answer.json()["code"] == "not_found"


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_the_case_representation_is_drfs_own(shop, zone):
    """CaseSerializer builds its fields directly for speed (bench/api.py); it must give what DRF's
    generic Serializer.to_representation gives for the same declared fields, in any time zone
    (UTC: the "Z" form), for cases in every state (with and without dates, an address copy)."""
    from django.utils import timezone
    from rest_framework import serializers

    from api.serializers.cases import CaseDetailSerializer, CaseSerializer

    cases = [live_case_in(state, shop=shop, kind=kind) for _t, state, kind, _b, _target in TRANSITIONS]
    cases += [live_case_in(State.MERCHANT_REFUSED, shop=shop), live_case_in(State.CLOSED, shop=shop)]
    with timezone.override(zone):
        for case in AfterSalesCase.objects.filter(shop=shop).select_related("order"):
            for serializer in (CaseSerializer, CaseDetailSerializer):
                fast = serializer(case).data
                generic = serializers.Serializer.to_representation(serializer(), case)
                assert fast == generic, (case.state, serializer.__name__)
                assert list(fast) == list(generic)
    assert any(c.return_receiver for c in cases) and any(c.resolved_at is None for c in cases)
