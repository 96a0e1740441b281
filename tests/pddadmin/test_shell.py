"""One shell for every page (#13.7): the admin's header, breadcrumbs and one navigation that shows
each role its pages; the admin index links to them; 403, 404 and 500 pages in Chinese and English."""

import html as entities
import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import path, reverse

from pddadmin.navigation import SECTIONS
from pddadmin.urls import urlpatterns as project_urlpatterns
from tests.expected_navigation import MERCHANT_PAGES, OWNER_PAGES, PLATFORM_PAGES
from tests.logins import sign_in

ALL_PAGES = [entry.key for section in SECTIONS for entry in section.entries]
NAV_OF = {
    "owner": OWNER_PAGES,
    "agent": MERCHANT_PAGES,
    "viewer": MERCHANT_PAGES,
    "reviewer": PLATFORM_PAGES,
    "admin_user": ALL_PAGES,  # pytest-django's superuser: the platform administrator
}
PLATFORM_ONLY = ["/review/", "/review/warranty/", "/metrics/platform/", "/jobs/"]

NAV = re.compile(r'<nav id="pdd-nav".*?</nav>', re.S)
NAV_LINK = re.compile(r'<a href="([^"]+)" data-nav="(\w+)"( class="current" aria-current="page")?>')
CSRF = re.compile(r'<form id="logout-form" method="post" action="([^"]+)">\s*'
                  r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">')  # fmt: skip


pytestmark = pytest.mark.usefixtures("compiled_catalogues")


def signed_in(user, language: str = "en") -> Client:
    """Signed in, in a browser that checks CSRF tokens as a real one does: the header's forms post theirs."""
    return sign_in(Client(enforce_csrf_checks=True), user, language=language)


def nav_links(html: str) -> list[tuple[str, str, bool]]:
    """(url, key, current) of each link of the page's one navigation."""
    (nav,) = NAV.findall(html)
    return [(url, key, bool(current)) for url, key, current in NAV_LINK.findall(nav)]


def crumbs(html: str) -> str:
    trail = re.search(r'<div class="breadcrumbs" id="pdd-breadcrumbs">(.*?)</div>', html, re.S).group(1)
    return re.sub(r"\s+", " ", entities.unescape(re.sub(r"<[^>]+>", "", trail))).strip()


def assert_header(html: str, user) -> None:
    assert f'<strong id="pdd-user">{user.get_username()}</strong>' in html
    assert f'href="{reverse("admin:password_change")}"' in html
    assert CSRF.search(html), "no log-out form posting to the admin's logout"
    assert 'id="pdd-language"' in html and 'value="zh-hans"' in html and 'value="en"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("role", NAV_OF)
def test_every_page_of_a_role_has_the_header_and_exactly_its_navigation(request, shop, role):
    user = request.getfixturevalue(role)
    client = signed_in(user)
    home = client.get(reverse("admin:index")).content.decode()
    assert_header(home, user)
    links = nav_links(home)
    assert [key for _url, key, _current in links] == NAV_OF[role]
    for url, key, _current in links:
        # Each link the navigation offers answers, and on its page the navigation is the same,
        # with that page marked current.
        response = client.get(url)
        assert response.status_code == 200, (role, key, url, response.status_code)
        html = response.content.decode()
        assert_header(html, user)
        assert nav_links(html) == [(u, k, k == key) for u, k, _c in links], (role, key)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "agent", "viewer"])
def test_platform_pages_are_neither_offered_to_merchants_nor_open_to_them(request, role):
    client = signed_in(request.getfixturevalue(role))
    for url in PLATFORM_ONLY:
        assert client.get(url).status_code == 403, url


@pytest.mark.django_db
def test_jobs_is_the_platform_admins_only(reviewer):
    assert signed_in(reviewer).get("/jobs/").status_code == 403


@pytest.mark.django_db
def test_the_log_out_form_logs_out(owner):
    client = signed_in(owner)
    html = client.get(reverse("metrics:dashboard")).content.decode()
    action, token = CSRF.search(html).groups()
    response = client.post(action, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert client.get(reverse("metrics:dashboard"))["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_the_language_switch_changes_the_language_of_the_page(owner):
    client = signed_in(owner, language="zh-hans")
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]
    html = client.get(reverse("compensation:payouts")).content.decode()
    assert "售后工作台" in html and "赔付记录" in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(reverse("set_language"), {
        "language": "en", "next": reverse("compensation:payouts"), "csrfmiddlewaretoken": token,
    })  # fmt: skip
    assert response["Location"] == reverse("compensation:payouts")
    html = client.get(reverse("compensation:payouts")).content.decode()
    assert "After-sales cases" in html and "Payouts" in html


@pytest.mark.django_db
def test_breadcrumbs_name_home_section_page_and_sub_page(owner, shop):
    client = signed_in(owner)
    html = client.get(reverse("metrics:dashboard")).content.decode()
    assert crumbs(html) == "Home › Service quality › Dashboard"
    html = client.get(reverse("metrics:orders"), {"shop": shop.pk, "figure": "quality_refund"}).content.decode()
    assert f'<a href="{reverse("metrics:dashboard")}">Dashboard</a>' in html
    assert crumbs(html) == "Home › Service quality › Dashboard › quality refund orders"
    assert ("/metrics/", "dashboard", True) in nav_links(html)  # the sub page stays under its entry


@pytest.mark.django_db
@pytest.mark.parametrize("role", NAV_OF)
def test_the_admin_index_links_to_the_product_pages_of_the_role(request, role):
    html = signed_in(request.getfixturevalue(role)).get(reverse("admin:index")).content.decode()
    assert re.findall(r'data-page="(\w+)"', html) == NAV_OF[role]


@pytest.mark.django_db
def test_an_anonymous_visitor_sees_no_navigation_and_no_user_tools(client):
    html = client.get(reverse("admin:login")).content.decode()
    assert 'id="pdd-nav"' not in html and 'id="logout-form"' not in html
    assert 'id="pdd-language"' in html


# --- error pages ---------------------------------------------------------------------------


def boom(request):
    raise RuntimeError("something broke")


urlpatterns = [*project_urlpatterns, path("boom/", boom)]
CHINESE, ENGLISH = {"accept-language": "zh-hans"}, {"accept-language": "en"}


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "texts"), [
    (CHINESE, ["页面不存在", "返回首页", "它属于您不是员工的店铺"]),
    (ENGLISH, ["Page not found", "Back to the home page", "belongs to a shop you are not staff of"]),
])  # fmt: skip
def test_404_says_what_happened_and_where_to_go(client, owner, headers, texts):
    for visitor in ("anonymous", "owner"):
        if visitor == "owner":
            client.force_login(owner)
        response = client.get("/no-such-page/", headers=headers)
        assert response.status_code == 404
        html = response.content.decode()
        assert all(text in html for text in texts), (visitor, texts)
        assert f'href="{reverse("admin:index")}"' in html
    assert_header(html, owner)
    assert 'id="pdd-nav"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "texts"), [
    (CHINESE, ["您无权打开此页面", "请联系店铺负责人分配角色", "平台管理员", "返回首页"]),
    (ENGLISH, ["You may not open this page", "ask their shop's owner for a role", "platform administrator",
               "Back to the home page"]),
])  # fmt: skip
def test_403_says_what_happened_and_whom_to_ask(client, owner, headers, texts):
    client.force_login(owner)
    response = client.get("/jobs/", headers=headers)
    assert response.status_code == 403
    html = response.content.decode()
    assert all(text in html for text in texts), texts
    assert_header(html, owner)
    assert [key for _url, key, _current in nav_links(html)] == NAV_OF["owner"]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(("headers", "texts"), [
    (CHINESE, ["系统出错了", "错误 500", "平台管理员", "返回首页"]),
    (ENGLISH, ["Something went wrong on our side", "error 500", "platform administrator", "Back to the home page"]),
])  # fmt: skip
def test_500_renders_without_the_database_or_the_request(client, headers, texts):
    """No `db` fixture: any database query while rendering fails the test; the page is rendered
    by Django's server_error with a plain context, so no context processor runs either."""
    assert settings.DEBUG is False
    client.raise_request_exception = False
    response = client.get("/boom/", headers=headers)
    assert response.status_code == 500
    html = response.content.decode()
    assert all(text in html for text in texts), texts
    assert f'href="{reverse("admin:index")}"' in html
    assert "something broke" not in html and 'id="pdd-nav"' not in html
