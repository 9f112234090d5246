"""Audit completeness and the audit viewer (review finding S7), and couple ids that cannot be
guessed or reused (S4)."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.models import AuditEvent
from rplcare.web.settings import Settings
from tests.web.conftest import login
from tests.web.test_api import basic, example


@pytest.fixture()
def app(database_url: str) -> Iterator[FastAPI]:
    application = create_app(
        Settings(database_url=database_url, environment="test", secret_key="k" * 40)
    )
    yield application
    application.state.engine.dispose()


def events(database_url: str, **where: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT * FROM audit_log WHERE {clause} ORDER BY id"), where
        ).mappings()
        found = [dict(r) for r in rows]
    engine.dispose()
    return found


def test_logout_refusals_and_admin_reading_are_audited_with_the_client(
    app: FastAPI, database_url: str
) -> None:
    """S7: logout, a 403 on an admin page, and admins viewing the user list and the audit
    log are all events, each with the client address."""
    clin = TestClient(app, client=("198.51.100.4", 4000))
    csrf = login(clin, "clin")
    assert clin.get("/admin/audit").status_code == 403
    clin.post("/logout", data={"csrf": csrf})
    admin = TestClient(app, client=("198.51.100.9", 4000))
    login(admin, "admin")
    admin.get("/admin/users")
    admin.get("/admin/audit?user=clin")

    def seen(**where: str) -> list[tuple[Any, ...]]:
        return [(e["username"], e["entity"], e["client"]) for e in events(database_url, **where)]

    assert seen(action="forbidden") == [("clin", "page", "198.51.100.4")]
    assert seen(action="logout") == [("clin", "user", "198.51.100.4")]
    assert ("admin", "user_list", "198.51.100.9") in seen(action="read")
    assert ("admin", "audit_log", "198.51.100.9") in seen(action="read")
    assert events(database_url, action="read", entity="audit_log")[0]["detail"] == (
        "user=clin page=1"
    )
    logins = events(database_url, action="login")
    assert [e["client"] for e in logins] == ["198.51.100.4", "198.51.100.9"]


def _seed_events(database_url: str) -> None:
    """150 reads of couple 42 by ann (ten days ago), and 3 by bob (today)."""
    engine = make_engine(database_url)
    with transaction(session_factory(engine)) as db:
        old = datetime.now(UTC) - timedelta(days=10)
        for _ in range(150):
            db.add(
                AuditEvent(
                    at=old,
                    username="ann",
                    action="read",
                    entity="couple",
                    entity_id="42",
                    client="192.0.2.1",
                )
            )
        for _ in range(3):
            db.add(
                AuditEvent(
                    at=datetime.now(UTC),
                    username="bob",
                    action="update",
                    entity="couple",
                    entity_id="43",
                    detail="=HYPERLINK(1)",
                )
            )
    engine.dispose()


def _rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
        ]
        for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_audit_viewer_filters_and_pages(app: FastAPI, database_url: str) -> None:
    """S7: filters by user, action, entity id and date range, with pages of 100."""
    _seed_events(database_url)
    admin = TestClient(app)
    login(admin, "admin")
    first = admin.get("/admin/audit?user=ann&action=read&entity_id=42")
    assert len(_rows(first.text)) == 100
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = admin.get("/admin/audit?user=ann&action=read&entity_id=42&page=2")
    assert len(_rows(second.text)) == 50 and 'rel="next"' not in second.text
    assert 'href="/admin/audit?user=ann&amp;action=read&amp;entity_id=42&amp;page=1"' in (
        second.text
    )
    assert {r[1] for r in _rows(second.text)} == {"ann"}

    today = datetime.now(UTC).date()
    recent = admin.get(f"/admin/audit?entity_id=43&from={today - timedelta(days=1)}&to={today}")
    assert [r[1:5] for r in _rows(recent.text)] == [["bob", "update", "couple", "43"]] * 3
    older = admin.get(f"/admin/audit?to={today - timedelta(days=5)}")
    assert {r[1] for r in _rows(older.text)} == {"ann"}
    bad = admin.get("/admin/audit?from=04-12-2026")
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    # No link opens a couple from the audit log (admins do not open patient records).
    assert 'href="/patients/' not in first.text


def test_audit_csv_export(app: FastAPI, database_url: str) -> None:
    """S7: CSV of every matching event (not only one page), formula-like cells defused, and
    the export itself audited."""
    _seed_events(database_url)
    admin = TestClient(app)
    login(admin, "admin")
    r = admin.get("/admin/audit.csv?user=ann")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 150 and {row["entity_id"] for row in rows} == {"42"}
    assert rows[0]["client"] == "192.0.2.1"
    bob = list(csv.DictReader(io.StringIO(admin.get("/admin/audit.csv?user=bob").text)))
    assert [row["detail"] for row in bob] == ["'=HYPERLINK(1)"] * 3
    assert events(database_url, action="export", entity="audit_log")[0]["detail"] == "user=ann"
    clin = TestClient(app)
    login(clin, "clin")
    assert clin.get("/admin/audit.csv").status_code == 403


# --- S4: couple ids ----------------------------------------------------------------------------


def test_couple_ids_are_random_and_64_bit(client: TestClient) -> None:
    """S4: ids are not sequential (not enumerable); at least one of five is above 2^32."""
    ids = [
        client.post(
            "/api/v1/patients", json=example("two-losses-young"), headers=basic("clin")
        ).json()["id"]
        for _ in range(5)
    ]
    assert len(set(ids)) == 5
    assert all(1 <= i < 2**63 for i in ids)
    assert any(i > 2**32 for i in ids)
    assert all(b - a != 1 for a, b in zip(sorted(ids), sorted(ids)[1:], strict=False))
    for i in ids:
        r = client.get(f"/api/v1/patients/{i}", headers=basic("clin"))
        assert r.status_code == 200


def test_a_deleted_couples_id_is_never_given_again(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S4: the id generator skips ids that the audit log has seen, so a new couple never
    inherits a deleted one's history; the delete event keeps the label."""
    draws = iter([2**62 - 1, 2**62 - 1, 2**40])  # randbelow(n) + 1 is the id
    monkeypatch.setattr(secrets, "randbelow", lambda n: next(draws))
    first = client.post("/api/v1/patients", json=example("two-losses-young"), headers=basic("clin"))
    gone = first.json()["id"]
    assert gone == 2**62
    assert client.delete(f"/api/v1/patients/{gone}", headers=basic("clin")).status_code == 204
    again = client.post("/api/v1/patients", json=example("two-losses-young"), headers=basic("clin"))
    assert again.json()["id"] == 2**40 + 1
    deleted = events(database_url, action="delete", entity="couple")
    label = example("two-losses-young")["id"]
    assert [(e["entity_id"], e["detail"]) for e in deleted] == [(str(gone), f"label={label}")]
