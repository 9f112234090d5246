"""A migrated database (SQLite, and PostgreSQL when RPLCARE_TEST_POSTGRES_URL is set, as
.ci/run does), two users and a TestClient per test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rplcare.web import repository as repo
from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.migrate import upgrade
from rplcare.web.settings import Settings

USERS = {"admin": ("admin-password-123", "admin"), "clin": ("clinician-password-1", "clinician")}


POSTGRES_URL = os.environ.get("RPLCARE_TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="set RPLCARE_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)"
        ),
    ),
]


def _fresh_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        assert POSTGRES_URL
        url = POSTGRES_URL
        _fresh_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'test.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        for name, (password, role) in USERS.items():
            repo.create_user(session, username=name, password=password, role=role)
    engine.dispose()
    return url


@pytest.fixture()
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, environment="test", secret_key="k" * 40)
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no csrf field in the page"
    return match.group(1)


def login(client: TestClient, username: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": USERS[username][0], "csrf": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    # A new token is issued at login; read it from any form page.
    page = client.get("/login")
    return csrf_from(page.text)
