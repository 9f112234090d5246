"""Browser tests: the real app served by uvicorn on a free local port, driven by Debian's
Chromium through Playwright (no browser download; `scripts/install-system-packages`
installs it in CI).

One server (a fresh SQLite database with the demo data) and one browser per test session;
every test gets fresh browser contexts. The `clinician` and `admin` pages reuse the cookies of
one sign-in through the form per user. Without /usr/bin/chromium the tests are skipped.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    StorageState,
    ViewportSize,
    expect,
    sync_playwright,
)

from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.migrate import upgrade
from rplcare.web.seed import DEMO_USERS, seed_demo
from rplcare.web.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
# The committed screenshots are refreshed with `make screenshots`; ordinary test runs write to a
# temporary folder so that `make test` leaves the work tree clean (the pages carry timestamps).
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("RPLCARE_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="rplcare-screenshots-"))
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH = 1280
VIEWPORT: ViewportSize = {"width": WIDTH, "height": 800}
TIMEOUT_MS = 10_000  # per action or expectation; everything local answers far sooner
STARTUP_S = 20.0
ContextMaker = Callable[..., BrowserContext]
PASSWORDS = {name: password for name, password, _role in DEMO_USERS}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: browser tests (Playwright with /usr/bin/chromium against a live server)"
    )


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium "
            "(run scripts/install-system-packages; CI does)"
        )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the real app over a migrated SQLite database with the demo data."""
    _require_chromium()  # no point starting a server that no browser will visit
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        assert seed_demo(session, EXAMPLES)
    engine.dispose()

    app = create_app(Settings(database_url=url, environment="test", secret_key="e" * 40))
    # Bind the socket here (port 0: the OS picks a free port) and hand it to uvicorn, so no
    # other process can take the port between choosing it and serving on it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the app server did not start")
            thread.join(timeout=0.02)  # wait on the server thread, not a blind sleep
        with urllib.request.urlopen(f"{base}/healthz", timeout=STARTUP_S) as response:
            assert response.status == 200
            assert response.read() == b"ok"
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_S)
        sock.close()
        app.state.engine.dispose()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    _require_chromium()
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


def make_context(
    browser: Browser, base_url: str, state: StorageState | None = None
) -> BrowserContext:
    context = browser.new_context(
        base_url=base_url,
        viewport=VIEWPORT,
        locale="en-GB",
        reduced_motion="reduce",
        storage_state=state,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


#: Where each role lands after sign-in: administrators do not open patient records.
HOME = {"clinician": ("/patients", "Patients"), "admin": ("/admin/users", "Users")}
ROLES = {name: role for name, _password, role in DEMO_USERS}


def sign_in(page: Page, username: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    path, heading = HOME[ROLES[username]]
    page.wait_for_url(f"**{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)


@pytest.fixture(scope="session")
def signed_in(browser: Browser, live_server: str) -> Callable[[str], StorageState]:
    """The cookies of a session signed in through the form, once per user and test run (a
    password check costs about a second; the sign-in test itself always uses the form)."""
    states: dict[str, StorageState] = {}

    def state(username: str) -> StorageState:
        if username not in states:
            context = make_context(browser, live_server)
            try:
                sign_in(context.new_page(), username)
                states[username] = context.storage_state()
            finally:
                context.close()
        return states[username]

    return state


@pytest.fixture()
def new_context(browser: Browser, live_server: str) -> Iterator[ContextMaker]:
    """Makes fresh browser contexts (own cookies, or a signed-in user's) at 1280 px; closes
    them after the test."""
    made: list[BrowserContext] = []

    def make(state: StorageState | None = None) -> BrowserContext:
        made.append(make_context(browser, live_server, state))
        return made[-1]

    yield make
    for context in made:
        context.close()


@pytest.fixture()
def page(new_context: ContextMaker) -> Page:
    """A page in a fresh context, signed in as nobody."""
    return new_context().new_page()


def _signed_in_page(new_context: ContextMaker, state: StorageState, role: str) -> Page:
    page = new_context(state).new_page()
    path, heading = HOME[role]
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    return page


@pytest.fixture()
def clinician(new_context: ContextMaker, signed_in: Callable[[str], StorageState]) -> Page:
    """A page signed in as the demo clinician, on the patient list."""
    return _signed_in_page(new_context, signed_in("clinician"), "clinician")


@pytest.fixture()
def admin(new_context: ContextMaker, signed_in: Callable[[str], StorageState]) -> Page:
    """A page signed in as the demo administrator, on the user list."""
    return _signed_in_page(new_context, signed_in("admin"), "admin")


def screenshot(page: Page, name: str, top: float = 0, max_height: float = 3000) -> Path:
    """A full-page PNG in docs/screenshots/ (overwritten each run), from `top` down to the
    end of the page, cut at max_height pixels so that very long pages stay small."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    height = float(page.evaluate("document.documentElement.scrollHeight"))
    page.screenshot(
        path=path,
        full_page=True,
        type="png",
        animations="disabled",
        clip={"x": 0, "y": top, "width": WIDTH, "height": min(height - top, max_height)},
    )
    return path
