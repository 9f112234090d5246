"""Sign-in throttling (review finding S5), passwords and the account life-cycle (S6), and the
access model: administrators are not clinical users (S4)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from rplcare import cli
from rplcare.web.app import create_app
from rplcare.web.db import make_engine
from rplcare.web.passwords import password_problems
from rplcare.web.settings import Settings
from tests.web.conftest import USERS, csrf_from, login


@pytest.fixture()
def app(database_url: str) -> Iterator[FastAPI]:
    application = create_app(
        Settings(database_url=database_url, environment="test", secret_key="k" * 40)
    )
    yield application
    application.state.engine.dispose()


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def form_login(client: TestClient, username: str, password: str) -> Any:
    csrf = csrf_from(client.get("/login").text)
    data = {"username": username, "password": password, "csrf": csrf}
    return client.post("/login", data=data, follow_redirects=False)


def audit_rows(database_url: str, action: str) -> list[tuple[Any, ...]]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT username, entity_id, detail, client FROM audit_log "
                "WHERE action = :a ORDER BY id"
            ),
            {"a": action},
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


# --- S5: throttling ---------------------------------------------------------------------------


def test_a_username_is_capped_whatever_the_client_address(app: FastAPI) -> None:
    """S5: rotating the client address (as X-Forwarded-For did) does not reset the cap: after
    10 failures from 5 addresses even the right password from a new address gets 429."""
    for n in range(5):
        client = TestClient(app, client=(f"10.9.9.{n}", 5000))
        codes = [form_login(client, "clin", "wrong").status_code for _ in range(2)]
        assert codes == [401, 401]
    fresh = TestClient(app, client=("10.9.9.99", 5000))
    assert form_login(fresh, "clin", USERS["clin"][0]).status_code == 429
    assert fresh.get("/api/v1/patients", headers=basic("clin", USERS["clin"][0])).status_code == 429
    # Another account is not affected.
    assert form_login(fresh, "admin", USERS["admin"][0]).status_code == 303


def test_forwarded_headers_do_not_change_the_throttle_key(app: FastAPI) -> None:
    """S5: the app itself never reads X-Forwarded-For."""
    client = TestClient(app)
    for n in range(5):
        client.headers["X-Forwarded-For"] = f"10.9.9.{n}"
        assert form_login(client, "clin", "wrong").status_code == 401
    client.headers["X-Forwarded-For"] = "10.9.9.50"
    assert form_login(client, "clin", USERS["clin"][0]).status_code == 429


def _serve_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, **env: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    monkeypatch.setenv("RPLCARE_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(cli, "warm_and_freeze", lambda: None)
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    return seen


def test_serve_trusts_no_proxy_unless_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """S5: uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; `rplcare serve` does not,
    unless RPLCARE_FORWARDED_ALLOW_IPS names the proxy."""
    monkeypatch.delenv("RPLCARE_FORWARDED_ALLOW_IPS", raising=False)
    options = _serve_options(monkeypatch, tmp_path)
    assert options["proxy_headers"] is False
    config = uvicorn.Config(lambda: None, **options)
    config.load()
    assert not isinstance(config.loaded_app, ProxyHeadersMiddleware)

    options = _serve_options(monkeypatch, tmp_path, RPLCARE_FORWARDED_ALLOW_IPS="10.0.0.5")
    assert options == {**options, "proxy_headers": True, "forwarded_allow_ips": "10.0.0.5"}


def test_every_failed_and_throttled_sign_in_is_audited(app: FastAPI, database_url: str) -> None:
    """S5/S7: form and HTTP Basic failures and throttles are audited with the client address;
    a name that is no account is stored as "(unknown user)", never as typed."""
    client = TestClient(app, client=("192.0.2.7", 5000))
    assert form_login(client, "demo-clinician-pw", "x").status_code == 401
    assert form_login(client, "clin", "wrong").status_code == 401
    assert client.get("/api/v1/patients", headers=basic("clin", "wrong")).status_code == 401
    for _ in range(3):
        form_login(client, "clin", "wrong")
    assert form_login(client, "clin", "wrong").status_code == 429
    assert client.get("/api/v1/patients", headers=basic("clin", "wrong")).status_code == 429

    clin_id = str(_user_id(database_url, "clin"))
    failed = audit_rows(database_url, "login_failed")
    assert failed[:3] == [
        ("(unknown user)", None, "form", "192.0.2.7"),
        ("clin", clin_id, "form", "192.0.2.7"),
        ("clin", clin_id, "basic", "192.0.2.7"),
    ]
    throttled = audit_rows(database_url, "login_throttled")
    assert throttled == [
        ("clin", clin_id, "form", "192.0.2.7"),
        ("clin", clin_id, "basic", "192.0.2.7"),
    ]
    assert not any("demo-clinician-pw" in str(r) for r in failed)


def _user_id(database_url: str, username: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        uid = conn.execute(
            sa.text("SELECT id FROM users WHERE username = :u"), {"u": username}
        ).scalar_one()
    engine.dispose()
    return int(uid)


# --- S6: passwords and the account life-cycle -------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-pw", "at least 12"),
        ("aaaaaaaaaaaa", "too common or easy to guess"),
        ("password1234", "too common or easy to guess"),
        ("clinician2clinician2", "must not contain the username"),
        ("xx-CLINICIAN2-xx-yy", "must not contain the username"),
    ],
)
def test_password_policy_refuses(password: str, why: str) -> None:
    """S6: the passwords the review saw accepted are refused, each with its reason."""
    assert why in " ".join(password_problems(password, "clinician2"))


def test_password_policy_accepts_a_passphrase() -> None:
    assert password_problems("violet tractor harbour lamp", "clinician2") == []
    # zxcvbn reads at most 72 characters: a long password is judged by its start.
    assert password_problems("q" * 72 + " violet tractor harbour lamp", "clinician2") != []


def test_admin_cannot_create_a_user_with_a_common_password(app: FastAPI) -> None:
    """S6: the policy applies to the admin's create form."""
    client = TestClient(app)
    csrf = login(client, "admin")
    data = {"username": "clinician2", "password": "password1234", "role": "clinician", "csrf": csrf}
    r = client.post("/admin/users", data=data, follow_redirects=False)
    assert r.status_code == 422 and "too common" in r.text
    data["password"] = "clinician2clinician2"
    r = client.post("/admin/users", data=data, follow_redirects=False)
    assert r.status_code == 422 and "must not contain the username" in r.text


def change_password(client: TestClient, csrf: str, current: str, new: str) -> Any:
    data = {"current": current, "new": new, "confirm": new, "csrf": csrf}
    return client.post("/account/password", data=data, follow_redirects=False)


def test_users_change_their_own_password_which_ends_their_other_sessions(app: FastAPI) -> None:
    """S6/S1: a password change keeps this session and ends every other one."""
    here, other = TestClient(app), TestClient(app)
    csrf = login(here, "clin")
    login(other, "clin")
    old, new = USERS["clin"][0], "violet tractor harbour lamp"
    r = change_password(here, csrf, "not my password", new)
    assert r.status_code == 422 and "not your current password" in r.text
    r = change_password(here, csrf, old, "password1234")
    assert r.status_code == 422 and "too common" in r.text
    assert other.get("/patients", follow_redirects=False).status_code == 200

    r = change_password(here, csrf, old, new)
    assert r.status_code == 303
    assert here.get("/patients", follow_redirects=False).status_code == 200
    assert other.get("/patients", follow_redirects=False).status_code == 303
    fresh = TestClient(app)
    assert form_login(fresh, "clin", old).status_code == 401
    assert form_login(fresh, "clin", new).status_code == 303


def test_admin_reset_forces_a_change_at_next_sign_in(app: FastAPI) -> None:
    """S6: a reset ends the user's sessions; the temporary password leads only to the
    change form (and is refused on the API) until a new password is chosen."""
    user = TestClient(app)
    login(user, "clin")
    admin = TestClient(app)
    csrf = login(admin, "admin")
    uid = _id_on_users_page(admin, "clin")
    temporary = "harbour violet lamp tractor"
    r = admin.post(
        f"/admin/users/{uid}/password",
        data={"password": "password1234", "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 422
    r = admin.post(
        f"/admin/users/{uid}/password",
        data={"password": temporary, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert user.get("/patients", follow_redirects=False).status_code == 303  # session ended

    assert form_login(user, "clin", temporary).status_code == 303
    r = user.get("/patients", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    assert user.get("/api/v1/patients", headers=basic("clin", temporary)).status_code == 403
    page = user.get("/account/password")
    assert "An administrator has reset your password" in page.text
    r = change_password(user, csrf_from(page.text), temporary, "lamp tractor violet harbour")
    assert r.status_code == 303
    assert user.get("/patients", follow_redirects=False).status_code == 200


def test_deactivation_ends_sessions_and_reactivation_restores_sign_in(app: FastAPI) -> None:
    """S6/S1: a deactivated account is signed out at once and cannot sign in."""
    user = TestClient(app)
    login(user, "clin")
    admin = TestClient(app)
    csrf = login(admin, "admin")
    uid = _id_on_users_page(admin, "clin")
    r = admin.post(
        f"/admin/users/{uid}/active", data={"active": "no", "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert user.get("/patients", follow_redirects=False).status_code == 303
    assert form_login(TestClient(app), "clin", USERS["clin"][0]).status_code == 401
    r = admin.post(
        f"/admin/users/{uid}/active", data={"active": "yes", "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert form_login(TestClient(app), "clin", USERS["clin"][0]).status_code == 303
    own = _id_on_users_page(admin, "admin")
    r = admin.post(f"/admin/users/{own}/active", data={"active": "no", "csrf": csrf})
    assert r.status_code == 422 and "own account" in r.text


def _id_on_users_page(admin: TestClient, username: str) -> int:
    html = admin.get("/admin/users").text
    row = next(r for r in html.split("<tr>") if f'<th scope="row">{username}</th>' in r)
    return int(row.split('action="/admin/users/')[1].split("/")[0])


# --- S4: administrators are not clinical users --------------------------------------------------


def test_admins_do_not_open_couples(app: FastAPI, database_url: str) -> None:
    """S4: the admin lands on /admin/users, is sent there from patient pages (audited), and
    gets 403 from the patient API; clinicians get the patient pages and API."""
    admin = TestClient(app)
    r = form_login(admin, "admin", USERS["admin"][0])
    assert r.headers["location"] == "/admin/users"
    r = admin.get("/patients", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/users"
    api_admin = basic("admin", USERS["admin"][0])
    assert TestClient(app).get("/api/v1/patients", headers=api_admin).status_code == 403
    forbidden = [(r[0], r[2]) for r in audit_rows(database_url, "forbidden")]
    assert forbidden == [("admin", "/patients"), ("admin", "/api/v1/patients")]
    assert "Patients" not in admin.get("/admin/users").text.split("</nav>")[0]

    clin = basic("clin", USERS["clin"][0])
    assert TestClient(app).get("/api/v1/patients", headers=clin).status_code == 200
    assert TestClient(app).get("/admin/users", headers=clin).status_code == 403
