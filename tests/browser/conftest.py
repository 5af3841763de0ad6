"""Browser tests: Debian's Chromium driven by Playwright, at phone size, against the app
served on loopback by a real HTTP server (werkzeug, threaded) on a real SQLite file.

They run on SQLite only: the same pages are tested on both databases by the rest of the
suite, and a browser is slow. Without Chromium the tests fail and say how to install it.
"""

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from pb import create_app
from tests.conftest import CHEAP_PASSWORD_HASH

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PB_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = ROOT / "artefacts" / "screenshots"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
PASSWORD = "correct horse battery"

# Playwright's assertions wait for the page (the one after a click that navigates, or the
# text a script changes) as long as the contexts' actions do (phone below), not 5 s.
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def database_url(tmp_path, sqlite_template):
    path = tmp_path / "pb.sqlite"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "browser-test-secret",
            "DATABASE_URL": database_url,
            "PASSWORD_HASH_METHOD": CHEAP_PASSWORD_HASH,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            # Plain HTTP on loopback: cookies cannot require HTTPS here.
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
        }
    )
    yield app
    app.extensions["pb_engine"].dispose()


@pytest.fixture
def live_server(app):
    """The app on a free loopback port, served by a real HTTP server in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium was not found at {CHROMIUM}. The browser tests need it: on Debian or Ubuntu run "
            "`apt-get install chromium` (or set PB_CHROMIUM to a Chromium binary). They do not download a browser.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser):
    """Opens pages in fresh phone-sized browser contexts (each its own cookies)."""
    contexts = []

    def open_page(*, javascript: bool = True, **options):
        context = browser.new_context(**{**PHONE, **options}, java_script_enabled=javascript)
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    """Keep a picture of a key page as a test artefact (artefacts/screenshots, not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"), full_page=True)


def sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # The click returns before the next page has come: wait until the browser has left the
    # sign-in page (the form comes back to /sign-in if signing in failed), then for its load.
    try:
        expect(page).not_to_have_url(re.compile(r"/sign-in"))
    except AssertionError as error:
        raise AssertionError(page.content()) from error
    page.wait_for_load_state()


_AXE = None


def assert_accessible(page, where: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    global _AXE
    if _AXE is None:
        import axe_playwright_python

        _AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    page.evaluate(_AXE)  # evaluated through the DevTools protocol: the page's CSP is not loosened
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{where}: " + "; ".join(bad)
