"""Schemathesis against the live description (/api/v1/schema/, loaded from the app through its
WSGI integration) with every check it has, for an agent key and a viewer key: no 500, every
response matches the description, no undocumented status code, auth not ignored, unsupported
methods answered 405, positive data accepted and negative data rejected.

API_FUZZ_EXAMPLES bounds the examples per operation and key (default 25: a few minutes in all on
a 2-core machine); raise it for a deeper run.
"""

import datetime as dt
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

from aftersales.models import Kind, State
from customerservice.services.messages import message_receive
from pddadmin.wsgi import application
from tests import factories
from tests.aftersales.clicks import live_case_in

from .conftest import make_key

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))


# Loaded when the module is collected (the description needs no database). Not through
# schemathesis.pytest.from_fixture: its lazy loader sets a private attribute pytest 9 no longer has.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
# A rule of the platform refusing a well-formed request (rule_broken, 422: a reply whose random text
# happens to hold a link, an order already declared out of stock) is an answer about the data's
# meaning, as case_changed (409) is, not a rejection of its form.
_accepted = schema.config.checks.positive_data_acceptance
_accepted.expected_statuses = [*_accepted.expected_statuses, "422"]


@pytest.fixture(autouse=True)
def requests_on_the_tests_connection(db, api_settings):
    """As Django's test client does: the requests run inside the test's transaction, on its
    connection, which the WSGI handler would otherwise close at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def fuzz_key(role: str) -> str:
    """A shop with return addresses, cases in the states the transitions leave, buyers waiting for
    a reply and grouped orders, and a key of it with `role`."""
    shop = factories.ShopFactory()
    owner = factories.member(shop, "owner")
    factories.ReturnAddressFactory(shop=shop, is_default=True)
    factories.ReturnAddressFactory(shop=shop)
    now = timezone.now()
    for n in range(3):
        message_receive(platform_id=f"{shop.platform_id}-M{n}", shop=shop, buyer=f"B{n}", text="在吗", at=now)
        factories.OrderFactory(goods__shop=shop, placed_at=now - HOUR, grouped_at=now, promised_ship_by=now + DAY)
    for state, kind in [
        (State.PENDING_MERCHANT, Kind.REFUND_ONLY),
        (State.PENDING_MERCHANT, Kind.RETURN_REFUND),
        (State.RETURN_SHIPPED, Kind.EXCHANGE),
        (State.RETURN_SHIPPED, Kind.RETURN_REFUND),
    ]:
        live_case_in(state, shop=shop, kind=kind)
    return make_key(shop, role, owner)[1]


@pytest.fixture
def agent_secret(db):
    return fuzz_key("agent")


@pytest.fixture
def viewer_secret(db):
    return fuzz_key("viewer")


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)


def call_with_key(case, secret: str) -> None:
    """The case sent with the key, and its answer checked. A case whose headers are what is wrong
    with it (the Authorization header left out or spoilt) goes as generated: the key added over it
    would make it a valid request, which the API rightly answers 200, and schemathesis, which
    knows nothing of the key, would report a negative case accepted."""
    headers_negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    case.call_and_validate(headers=None if headers_negative else {"Authorization": f"Api-Key {secret}"})


@schema.parametrize()
@FUZZ
def test_the_api_keeps_its_description_for_an_agent_key(case, agent_secret):
    call_with_key(case, agent_secret)


@schema.parametrize()
@FUZZ
def test_the_api_keeps_its_description_for_a_viewer_key(case, viewer_secret):
    call_with_key(case, viewer_secret)
