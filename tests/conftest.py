import datetime as dt
import gettext as gettext_module

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from tests import factories
from tests.logins import sign_in

# The browser fixtures (chromium, tab) serve every test folder.
pytest_plugins = ["tests.browsers"]

TZ = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, e.g. at("2026-01-02 10:00")."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The production hasher costs ~0.3 s a user on this machine; tests only need a hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def compiled_catalogues():
    """The Chinese catalogues compiled from the .po files as they are now (a fresh checkout has no
    .mo files), and the ones Django cached before dropped."""
    call_command("compile_locale", verbosity=0)
    translation.trans_real._translations = {}
    # Python's gettext caches each .mo it read by path: without this, a catalogue compiled anew
    # here is served as it was when the process first read it (Django's autoreloader does the same).
    gettext_module._translations.clear()


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks and SKIP LOCKED are what this test proves")


@pytest.fixture
def login(client):
    """`login(user)` signs the test's client in as `user` and returns the client."""
    return lambda user: sign_in(client, user)


@pytest.fixture
def shop(db):
    return factories.ShopFactory()


@pytest.fixture
def other_shop(db):
    return factories.ShopFactory()


@pytest.fixture
def owner(shop):
    return factories.member(shop, "owner")


@pytest.fixture
def agent(shop):
    return factories.member(shop, "agent")


@pytest.fixture
def viewer(shop):
    return factories.member(shop, "viewer")


@pytest.fixture
def outsider(other_shop):
    """Staff of another shop: must never see or touch `shop`."""
    return factories.member(other_shop, "owner")


@pytest.fixture
def intervened(shop):
    """A case of `shop` brought under intervention by the real services, no deadline passed."""
    from aftersales.models import State
    from tests.aftersales.clicks import live_case_in

    return live_case_in(State.UNDER_INTERVENTION, shop=shop)


@pytest.fixture
def reviewer(db):
    user = factories.UserFactory(is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    return user


@pytest.fixture
def other_reviewer(reviewer):
    """A second reviewer, for claims held by someone else."""
    user = factories.UserFactory(is_staff=True)
    user.groups.add(*reviewer.groups.all())
    return user


@pytest.fixture(scope="session", autouse=True)
def _end_stray_sessions(django_db_setup, django_db_blocker):
    """Threads of the concurrency and live-server tests may leave a PostgreSQL session open,
    which makes dropping the test database fail at the end of the run; end them first."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
