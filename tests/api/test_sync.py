"""An ERP syncing with updated_since and the cursor misses no case and sees none twice, while
cases change under it (SPEC §10)."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from aftersales.models import AfterSalesCase, State
from aftersales.services import cases as case_services
from aftersales.services.deadlines import process_deadlines
from tests.aftersales.clicks import live_case_in

pytestmark = pytest.mark.django_db


def sync(api, cursor=None, page_size=3, **params):
    """One pass: pages until has_more is false; returns the (id, updated_at) rows seen and the
    cursor to keep."""
    seen = []
    while True:
        query = {"page_size": page_size, **params, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/cases/", query).json()
        seen += [(row["id"], row["updated_at"], row["state"]) for row in body["results"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return seen, cursor


def test_sync_while_cases_change_under_it(shop, agent_api, owner):
    rng = random.Random(19)
    cases = [live_case_in(State.PENDING_MERCHANT, shop=shop) for _ in range(12)]
    seen: list = []
    body = agent_api.get("/api/v1/cases/", {"page_size": 3}).json()
    seen += [(r["id"], r["updated_at"], r["state"]) for r in body["results"]]
    cursor = body["next_cursor"]
    while body["has_more"]:
        # Between pages: cases already seen and cases still ahead change, new ones arrive.
        for case in rng.sample(cases, 3):
            current = AfterSalesCase.objects.get(pk=case.pk)
            if current.state == State.PENDING_MERCHANT:
                case_services.case_merchant_refuse(case=current, actor=owner, reason="checked")
        cases.append(live_case_in(State.PENDING_MERCHANT, shop=shop))
        if len(cases) > 30:
            break
        body = agent_api.get("/api/v1/cases/", {"page_size": 3, "cursor": cursor}).json()
        seen += [(r["id"], r["updated_at"], r["state"]) for r in body["results"]]
        cursor = body["next_cursor"]
    more, cursor = sync(agent_api, cursor)
    seen += more

    # No row version seen twice; a case comes again only with a later write.
    assert len(seen) == len(set(seen))
    by_case = {}
    for case_id, updated_at, _state in seen:
        assert updated_at > by_case.get(case_id, ""), case_id
        by_case[case_id] = updated_at
    # Every case is seen, and the last version seen is the case as it is now.
    now = {c.platform_id: c for c in AfterSalesCase.objects.filter(shop=shop)}
    assert set(by_case) == set(now)
    last_state = {case_id: state for case_id, _u, state in seen}
    assert all(last_state[i] == c.state for i, c in now.items())
    # Nothing changed since: the kept cursor gives an empty page and keeps its place.
    body = agent_api.get("/api/v1/cases/", {"cursor": cursor}).json()
    assert (body["results"], body["next_cursor"], body["has_more"]) == ([], cursor, False)


def test_an_automatic_transition_applied_late_comes_in_the_next_sync(shop, agent_api):
    """changed_at of an automatic transition is its (past) deadline; the sync goes by when the
    row was written, so a late deadline job is not missed."""
    case = live_case_in(State.PENDING_MERCHANT, shop=shop)
    _seen, cursor = sync(agent_api)
    AfterSalesCase.objects.filter(pk=case.pk).update(due_at=timezone.now() - dt.timedelta(days=3))
    process_deadlines(now=timezone.now())
    seen, _cursor = sync(agent_api, cursor)
    assert [(i, s) for i, _u, s in seen] == [(case.platform_id, State.REFUNDED)]


def test_updated_since_starts_a_sync_and_the_settle_time_holds_back_fresh_writes(shop, agent_api, settings):
    old = live_case_in(State.PENDING_MERCHANT, shop=shop)
    mark = timezone.now()
    new = live_case_in(State.PENDING_MERCHANT, shop=shop)
    seen, _cursor = sync(agent_api, updated_since=mark.isoformat())
    assert [i for i, _u, _s in seen] == [new.platform_id]
    settings.API_SYNC_SETTLE_SECONDS = 3600
    assert sync(agent_api)[0] == []  # everything was written within the settle time
    AfterSalesCase.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(hours=2))
    assert [i for i, _u, _s in sync(agent_api)[0]] == [old.platform_id]


def test_a_cursor_not_given_by_the_api_is_not_found(agent_api):
    for cursor in ("not-a-cursor", "0"):
        answer = agent_api.get("/api/v1/cases/", {"cursor": cursor})
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
        assert answer.json()["detail"] == "Not a cursor this API gave."
    # Outside the alphabet of the cursors the API gives (the description's pattern): not a cursor at all.
    answer = agent_api.get("/api/v1/cases/", {"cursor": "not-a-cursor!"})
    assert (answer.status_code, answer.json()["errors"]) == (400, {"cursor": ["Not a cursor this API gave."]})
