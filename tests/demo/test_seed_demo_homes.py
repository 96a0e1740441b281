"""seed_demo prints each login's home page next to it (#18.9), and each is the page where that
role's work is, which the login opens."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from pddadmin.demo.users import merchant_home
from tests.logins import signed_in

END = "2026-03-01T12:00:00+08:00"
BASE = "http://demo.example:8000"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def printed_homes(out: str) -> dict[str, str]:
    """username → the home page column of seed_demo's login table."""
    return dict(re.findall(r"^  (\S+) +\S+ +(\S+) ", out, flags=re.MULTILINE))


@pytest.mark.django_db
def test_each_printed_login_has_its_roles_home_page_and_can_open_it(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", "--orders", "40", "--days", "10", "--seed", "9", "--end", END, "--base-url", BASE + "/",
                 stdout=out)  # fmt: skip
    homes = printed_homes(out.getvalue())
    assert set(homes) == {
        *(f"{r}{n}" for r in ("owner", "agent") for n in range(1, 5)),
        "reviewer1",
        "reviewer2",
        "admin",
    }
    expected = {"owner": merchant_home(), "agent": merchant_home(), "reviewer": reverse("review:queue"),
                "admin": reverse("admin:index")}  # fmt: skip
    for username, url in homes.items():
        role = username.rstrip("0123456789")
        assert url == BASE + expected[role], (username, url)
        user = get_user_model().objects.get(username=username)
        response = signed_in(user).get(url.removeprefix(BASE), follow=True)
        assert response.status_code == 200, (username, url)
        assert response.redirect_chain == [], (username, url)  # the page itself, not a detour
        # The site's root opens the same page: a reviewer who types the address lands on the queue.
        assert signed_in(user).get("/").url == url.removeprefix(BASE), (username, url)
    # merchants do not land on the admin index, reviewers not on a merchant page
    assert homes["owner1"] != BASE + reverse("admin:index") and homes["reviewer1"] != homes["owner1"]


@pytest.mark.django_db
@pytest.mark.parametrize("next_", ["//evil.example/", "https://evil.example/desk/", ""])
def test_a_login_whose_next_is_refused_or_missing_lands_on_the_roles_home(client, next_):
    from pddadmin.demo.users import ensure_demo_users

    ensure_demo_users(password="pw-for-the-test")
    response = client.post(
        reverse("admin:login") + (f"?next={next_}" if next_ else ""),
        {"username": "reviewer1", "password": "pw-for-the-test", "next": next_},
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("review:queue"), response.redirect_chain
