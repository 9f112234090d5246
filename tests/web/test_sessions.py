"""Server-side sessions (review finding S1) and the sign-in page's `next` (U9)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rplcare.web.app import create_app
from rplcare.web.db import make_engine
from rplcare.web.routes.auth import safe_next
from rplcare.web.settings import Settings
from tests.web.conftest import USERS, csrf_from, login


@pytest.fixture()
def app(database_url: str) -> Iterator[FastAPI]:
    application = create_app(
        Settings(database_url=database_url, environment="test", secret_key="k" * 40)
    )
    yield application
    application.state.engine.dispose()


def signed_in(app: FastAPI, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    return client, login(client, username)


def with_cookie(app: FastAPI, cookie: str) -> TestClient:
    """Another browser holding a copy of a session cookie."""
    other = TestClient(app)
    other.cookies.set("rplcare_session", cookie)
    return other


def logout(client: TestClient, csrf: str) -> None:
    r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_a_copied_cookie_stops_working_after_sign_out(app: FastAPI) -> None:
    """S1: the saved cookie of a signed-out session gets the login page and 401."""
    client, csrf = signed_in(app, "clin")
    copied = client.cookies["rplcare_session"]
    assert with_cookie(app, copied).get("/patients", follow_redirects=False).status_code == 200
    assert with_cookie(app, copied).get("/api/v1/patients").status_code == 200
    logout(client, csrf)
    r = with_cookie(app, copied).get("/patients", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert with_cookie(app, copied).get("/api/v1/patients").status_code == 401


def test_the_cookie_carries_a_session_id_not_the_user(app: FastAPI) -> None:
    """S1: the signed cookie holds a random session token and the CSRF token only."""
    client, _ = signed_in(app, "clin")
    payload = client.cookies["rplcare_session"].split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"sid", "csrf"}
    assert "clin" not in json.dumps(data)


def test_a_logout_with_a_bad_csrf_field_shows_a_working_sign_out_button(app: FastAPI) -> None:
    """S1: no silent redirect; the page's own form signs out."""
    client, _ = signed_in(app, "clin")
    for forged in ("", "forged"):
        r = client.post("/logout", data={"csrf": forged}, follow_redirects=False)
        assert r.status_code == 400
        assert "still signed in" in r.text
        assert 'action="/logout"' in r.text
        assert client.get("/patients", follow_redirects=False).status_code == 200
    logout(client, csrf_from(r.text))
    assert client.get("/patients", follow_redirects=False).status_code == 303


def test_get_logout_offers_the_button(app: FastAPI) -> None:
    client, _ = signed_in(app, "clin")
    page = client.get("/logout")
    assert page.status_code == 200 and 'action="/logout"' in page.text
    logout(client, csrf_from(page.text))
    assert client.get("/logout", follow_redirects=False).headers["location"] == "/login"


def _age_sessions(database_url: str, column: str, by: timedelta) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE user_sessions SET {column} = :t"), {"t": datetime.now(UTC) - by}
        )
    engine.dispose()


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=8, minutes=1))],
    ids=["idle", "absolute"],
)
def test_sessions_expire_when_idle_and_after_their_lifetime(
    app: FastAPI, database_url: str, column: str, age: timedelta
) -> None:
    """S1: the idle timeout (30 min) and the absolute lifetime (8 h) are checked on the
    server, whatever the cookie says."""
    client, _ = signed_in(app, "clin")
    _age_sessions(database_url, column, age - timedelta(minutes=2))
    assert client.get("/patients", follow_redirects=False).status_code == 200
    _age_sessions(database_url, column, age)
    r = client.get("/patients", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_use_keeps_a_session_alive(app: FastAPI, database_url: str) -> None:
    """S1: the idle timeout counts from the last request, not from sign-in."""
    client, _ = signed_in(app, "clin")
    _age_sessions(database_url, "last_seen_at", timedelta(minutes=29))
    assert client.get("/patients", follow_redirects=False).status_code == 200  # touches it
    engine = make_engine(database_url)
    with engine.connect() as conn:
        seen = conn.execute(sa.text("SELECT last_seen_at FROM user_sessions")).scalar_one()
    engine.dispose()
    seen = seen if isinstance(seen, datetime) else datetime.fromisoformat(seen)
    assert datetime.now(UTC) - seen.replace(tzinfo=UTC) < timedelta(minutes=1)


# --- U9: the sign-in page -------------------------------------------------------------------


def test_sign_in_page_fields_are_styled_inputs(app: FastAPI) -> None:
    """U9: the username input has type="text" and both inputs sit in .field wrappers."""
    html = TestClient(app).get("/login").text
    assert '<input id="username" name="username" type="text"' in html
    assert html.count('<div class="field">') == 2


def test_sign_in_returns_to_the_page_asked_for(app: FastAPI) -> None:
    """U9: /patients/X -> /login -> back to /patients/X."""
    client = TestClient(app)
    r = client.get("/patients/12345?tab=history", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/patients/12345%3Ftab%3Dhistory"
    page = client.get(r.headers["location"])
    assert 'name="next" value="/patients/12345?tab=history"' in page.text
    data = {
        "username": "clin",
        "password": USERS["clin"][0],
        "csrf": csrf_from(page.text),
        "next": "/patients/12345?tab=history",
    }
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/patients/12345?tab=history"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/login",
        "/admin/users",
    ],
)
def test_sign_in_never_goes_off_site(app: FastAPI, target: str) -> None:
    """U9: `next` is a path on this site only; otherwise (or outside the role) home."""
    client = TestClient(app)
    data = {"username": "clin", "password": USERS["clin"][0], "next": target}
    data["csrf"] = csrf_from(client.get("/login").text)
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/patients"


def test_safe_next() -> None:
    assert safe_next("/patients/1") == "/patients/1"
    assert safe_next("/patients?q=a%2Fb") == "/patients?q=a%2Fb"
    for bad in ("", "//x", "/\\x", "http://x/", "x", "/logout", "/a\nb", "/" + "a" * 2000):
        assert safe_next(bad) is None, bad
