"""The one headless browser of the tests: Debian's chromium through Playwright, against the live
server. One browser per module (starting chromium is the slow part), a fresh context (cookies)
per test; screenshots go to var/screenshots/. Loaded for every test folder by tests/conftest.py.
"""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
TZ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests need Debian's chromium at /usr/bin/chromium: `apt-get install -y chromium` "
            "(make test and .ci/run install it when they can)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    # Playwright's event loop runs in this thread beside the live server's ORM calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def tab(chromium):
    """A page in a fresh browser context. (Not named `page`: pytest-playwright owns that name.)"""
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, live_server, username: str, next_url: str, password: str | None = None) -> None:
    """Through the login form, with the demo password `make run` prints unless told another."""
    from pddadmin.demo.users import DEMO_PASSWORD

    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password or DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{next_url}")
