"""JSON API, auth, audit and start-up checks against a real (SQLite) database."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from rplcare.errors import InputError
from rplcare.web.app import create_app
from rplcare.web.db import make_engine
from rplcare.web.migrate import DatabaseNotMigrated
from rplcare.web.settings import Settings
from tests.web.conftest import USERS, login

EXAMPLES = Path(__file__).parent.parent.parent / "examples"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{USERS[username][0]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_assess_returns_the_contract(client: TestClient) -> None:
    r = client.post("/api/v1/assess", json=example("aps-three-losses"))
    assert r.status_code == 200
    body = r.json()
    assert body["schema"] == "rplcare.assessment/1"
    assert body["definitions"]["eshre-2022"]["meets"] is True
    assert "miscarriage_risk" in body["prognosis"]["next_pregnancy"]


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda c: c.update(as_of="2020-01-01"), "pregnancies[0].end_date"),
        (
            lambda c: c["pregnancies"][0].update(gestational_weeks=60),
            "pregnancies[0].gestational_weeks",
        ),
        (lambda c: c.pop("patient"), "patient"),
        (
            lambda c: c["tests"].append({"code": "nope", "result": "x", "date": "2025-01-01"}),
            "tests[6].code",
        ),
    ],
)
def test_assess_invalid_is_422_with_field_path(client: TestClient, mutate: Any, loc: str) -> None:
    case = example("aps-three-losses")
    mutate(case)
    r = client.post("/api/v1/assess", json=case)
    assert r.status_code == 422
    assert loc in {p["path"] for p in r.json()["detail"]}


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "{", "null"])
def test_assess_non_object_is_422(client: TestClient, body: str) -> None:
    r = client.post("/api/v1/assess", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_risk(client: TestClient) -> None:
    r = client.post(
        "/api/v1/risk", json={"age": 34, "losses": 3, "gestational_days": 56, "heartbeat": True}
    )
    assert r.status_code == 200
    assert r.json()["current_pregnancy"]["loss_risk_to_20_weeks"]["estimate"] > 0
    bad = client.post("/api/v1/risk", json={"age": 5, "losses": 1})
    assert bad.status_code == 422


def test_patients_need_auth(client: TestClient) -> None:
    assert client.get("/api/v1/patients").status_code == 401
    assert client.post("/api/v1/patients", json=example("two-losses-young")).status_code == 401


def test_patient_crud_with_basic_auth(client: TestClient) -> None:
    created = client.post(
        "/api/v1/patients", json=example("two-losses-young"), headers=basic("clin")
    )
    assert created.status_code == 201
    pid = created.json()["id"]
    listed = client.get("/api/v1/patients?q=young", headers=basic("clin")).json()
    assert [p["id"] for p in listed] == [pid]
    exported = client.get(f"/api/v1/patients/{pid}", headers=basic("clin")).json()
    assert exported["schema"] == "rplcare.case/1"
    assert len(exported["pregnancies"]) == 2
    exported["pregnancies"].append(
        {"outcome": "biochemical", "end_date": "2025-12-01", "gestational_weeks": 5}
    )
    assert (
        client.put(f"/api/v1/patients/{pid}", json=exported, headers=basic("clin")).status_code
        == 200
    )
    assessed = client.post(f"/api/v1/patients/{pid}/assessments", headers=basic("clin")).json()
    assert assessed["history"]["losses_total"] == 3
    assert client.delete(f"/api/v1/patients/{pid}", headers=basic("clin")).status_code == 204
    assert client.get(f"/api/v1/patients/{pid}", headers=basic("clin")).status_code == 404


def test_wrong_password_and_rate_limit(client: TestClient) -> None:
    bad = {"Authorization": "Basic " + base64.b64encode(b"clin:wrong").decode()}
    codes = [client.get("/api/v1/patients", headers=bad).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429


def test_cookie_session_needs_csrf_header(client: TestClient) -> None:
    token = login(client, "clin")
    case = example("two-losses-young")
    assert client.post("/api/v1/patients", json=case).status_code == 403
    ok = client.post("/api/v1/patients", json=case, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


def test_login_failures_are_rate_limited(client: TestClient) -> None:
    from tests.web.conftest import csrf_from

    statuses = []
    for _ in range(6):
        token = csrf_from(client.get("/login").text)
        r = client.post("/login", data={"username": "clin", "password": "x", "csrf": token})
        statuses.append(r.status_code)
    assert statuses == [401] * 5 + [429]


def test_every_read_and_write_is_audited_and_the_log_is_append_only(
    client: TestClient, database_url: str
) -> None:
    pid = client.post(
        "/api/v1/patients", json=example("two-losses-young"), headers=basic("clin")
    ).json()["id"]
    client.get(f"/api/v1/patients/{pid}", headers=basic("clin"))
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT username, action, entity FROM audit_log")).all()
    assert ("clin", "create", "couple") in rows
    assert ("clin", "read", "couple") in rows
    with engine.begin() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("UPDATE audit_log SET username = 'x'"))
    with engine.begin() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("DELETE FROM audit_log"))
    engine.dispose()


def test_security_headers(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_openapi_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/assess" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(DatabaseNotMigrated, match="rplcare db upgrade"):
        create_app(Settings(database_url=url, environment="test", secret_key="k" * 40))


def test_production_settings_refuse_unsafe_defaults() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key="short", secure_cookies=True)
    with pytest.raises(ValidationError, match="SECURE_COOKIES"):
        Settings(environment="production", secret_key="s" * 40, secure_cookies=False)


def test_clinic_profile_from_the_environment_shapes_every_assessment(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RPLCARE_PROFILE: the API and the stored-couple assessments show the clinic's guidelines
    in its order; an unknown profile stops the app at start with a clear message."""
    monkeypatch.setenv("RPLCARE_PROFILE", "norway-ngf")
    settings = Settings(database_url=database_url, environment="test", secret_key="k" * 40)
    app = create_app(settings)
    with TestClient(app) as c:
        r = c.post("/api/v1/assess", json=example("two-losses-young"))
        assert r.status_code == 200
        body = r.json()
        assert list(body["definitions"]) == ["ngf-2024", "eshre-2022"]
        assert body["profile"]["primary"] == "ngf-2024"
        assert {w["guideline"] for w in body["workup"]} <= set(body["profile"]["guidelines"])
    app.state.engine.dispose()
    monkeypatch.setenv("RPLCARE_PROFILE", "atlantis")
    with pytest.raises(InputError, match="no such profile"):
        create_app(Settings(database_url=database_url, environment="test", secret_key="k" * 40))


def test_a_case_dated_after_today_is_refused(client: TestClient) -> None:
    """S10: POST and PUT refuse `as_of` after today with a 422 naming as_of, as import does."""
    from datetime import date, timedelta

    case = example("two-losses-young")
    created = client.post("/api/v1/patients", json=case, headers=basic("clin"))
    pid = created.json()["id"]
    future = {**case, "as_of": (date.today() + timedelta(days=200)).isoformat()}
    for r in (
        client.post("/api/v1/patients", json=future, headers=basic("clin")),
        client.put(f"/api/v1/patients/{pid}", json=future, headers=basic("clin")),
    ):
        assert r.status_code == 422
        (problem,) = r.json()["detail"]
        assert problem["path"] == "as_of" and problem["msg"].startswith("after today")
    assert len(client.get("/api/v1/patients", headers=basic("clin")).json()) == 1


def test_put_updates_in_place_and_keeps_care_statuses(client: TestClient) -> None:
    """U2: PUT updates the couple in place; care-plan statuses, which the case format does not
    hold, survive, and unchanged entries keep their rows."""
    from rplcare.web.models import CareItemStatus, Couple, Pregnancy

    created = client.post(
        "/api/v1/patients", json=example("two-losses-young"), headers=basic("clin")
    )
    pid = created.json()["id"]
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    with factory() as session, session.begin():
        couple = session.get(Couple, pid)
        assert couple is not None
        couple.care_statuses.append(
            CareItemStatus(
                item_id="x.y", status="planned", updated_at=couple.updated_at, updated_by="clin"
            )
        )
        before = sorted(p.id for p in couple.pregnancies)
    exported = client.get(f"/api/v1/patients/{pid}", headers=basic("clin")).json()
    exported["lifestyle"] = {"bmi": 31.0}
    r = client.put(f"/api/v1/patients/{pid}", json=exported, headers=basic("clin"))
    assert r.status_code == 200
    with factory() as session:
        couple = session.get(Couple, pid)
        assert couple is not None
        assert [(c.item_id, c.status) for c in couple.care_statuses] == [("x.y", "planned")]
        assert couple.bmi == 31.0
        assert sorted(session.scalars(sa.select(Pregnancy.id))) == before
