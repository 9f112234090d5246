"""Acknowledged writes are durable (review finding C1): a write is answered "saved" only after
its transaction committed, a failed commit is a 503 that says nothing was saved, a reader
holding the SQLite file no longer blocks writers (WAL), and after `kill -9` of a running
server every acknowledged write is in the database."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from rplcare.web import repository as repo
from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.migrate import upgrade
from rplcare.web.settings import Settings
from tests.web.conftest import USERS, csrf_from, login

REPO = Path(__file__).resolve().parents[2]
CASE: dict[str, Any] = {
    "schema": "rplcare.case/1",
    "as_of": "2026-01-10",
    "id": "DURABLE-1",
    "patient": {"age": 33},
    "pregnancies": [
        {"outcome": "miscarriage", "end_date": "2025-03-01", "gestational_weeks": 8},
        {"outcome": "miscarriage", "end_date": "2025-09-01", "gestational_weeks": 7},
    ],
}


def basic(username: str, password: str) -> dict[str, str]:
    return {
        "Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    }


@pytest.fixture()
def sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "durable.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        for name, (password, role) in USERS.items():
            repo.create_user(session, username=name, password=password, role=role)
    engine.dispose()
    return path


@pytest.fixture()
def app_client(sqlite_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{sqlite_path}",
        environment="test",
        secret_key="k" * 40,
        sqlite_busy_timeout_s=0.2,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.engine.dispose()


def couple_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM couples").fetchone()[0])


def test_sqlite_runs_in_wal_mode_with_full_sync(sqlite_path: Path) -> None:
    engine = make_engine(f"sqlite:///{sqlite_path}", busy_timeout_s=1.5)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_held_read_transaction_does_not_lose_a_write(
    app_client: TestClient, sqlite_path: Path
) -> None:
    """C1: with a reader holding the file (a backup, a report), the review saw 201 and 200
    answered and nothing stored. Now the write goes through and is there afterwards."""
    reader = sqlite3.connect(sqlite_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM couples").fetchone()
    try:
        r = app_client.post("/api/v1/patients", json=CASE, headers=basic("clin", USERS["clin"][0]))
        assert r.status_code == 201, r.text
        couple_id = r.json()["id"]
        updated = {**CASE, "patient": {"age": 34}}
        r = app_client.put(
            f"/api/v1/patients/{couple_id}", json=updated, headers=basic("clin", USERS["clin"][0])
        )
        assert r.status_code == 200, r.text
    finally:
        reader.execute("COMMIT")
        reader.close()
    with sqlite3.connect(sqlite_path) as conn:
        age = conn.execute("SELECT patient_age FROM couples WHERE id = ?", (couple_id,)).fetchone()
    assert age == (34,)


def test_a_held_write_lock_is_503_not_saved(app_client: TestClient, sqlite_path: Path) -> None:
    """C1: when the database cannot take the write within the busy timeout, the API answers
    503 and the form a 503 page, never 201/303, and nothing is stored."""
    csrf = login(app_client, "clin")
    writer = sqlite3.connect(sqlite_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        r = app_client.post("/api/v1/patients", json=CASE, headers={"x-csrf-token": csrf})
        assert r.status_code == 503, r.text
        assert "nothing was saved" in r.json()["detail"]
        assert r.headers["retry-after"]
        form = {"csrf": csrf, "label": "LOCKED-1", "patient_age": "33"}
        r = app_client.post(
            "/patients/new", data=form, headers={"accept": "text/html"}, follow_redirects=False
        )
        assert r.status_code == 503, r.text
        assert "Not saved" in r.text
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert couple_count(sqlite_path) == 0


def test_a_failed_commit_is_never_acknowledged(app_client: TestClient, sqlite_path: Path) -> None:
    """C1: the commit itself fails (as a deferred constraint, a lost connection or a locked
    file can make it): the client hears 503, not the 201 the review saw before the commit."""
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    fail = {"on": True}

    def refuse_commit(conn: Any) -> None:
        if fail["on"]:
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    event.listen(engine, "commit", refuse_commit)
    try:
        r = app_client.post("/api/v1/patients", json=CASE, headers=basic("clin", USERS["clin"][0]))
        assert r.status_code == 503, r.text
    finally:
        event.remove(engine, "commit", refuse_commit)
    assert couple_count(sqlite_path) == 0
    r = app_client.post("/api/v1/patients", json=CASE, headers=basic("clin", USERS["clin"][0]))
    assert r.status_code == 201
    assert couple_count(sqlite_path) == 1


# --- kill -9 of a running server ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "RPLCARE_ENVIRONMENT": "development",
        "RPLCARE_SECRET_KEY": "s" * 40,
    }
    rplcare = Path(sys.executable).parent / "rplcare"
    return subprocess.Popen(
        [str(rplcare), "serve", "--demo", "--port", str(port)],
        cwd=REPO,  # --demo reads examples/
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, killed as a whole
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server stopped during start-up"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start within 90 s")


def api_writer(base: str, stop: threading.Event, acked: list[int], n: int) -> None:
    """Creates couples through the API; records an id only once 201 has been received."""
    auth = basic("clinician", "demo-clinician-pw")
    with httpx.Client(base_url=base, headers=auth, timeout=10) as client:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = client.post("/api/v1/patients", json={**CASE, "id": f"KILL-{n}-{i}"})
            except httpx.HTTPError:
                return  # the server is gone
            if r.status_code == 201:
                acked.append(int(r.json()["id"]))


def form_writer(base: str, stop: threading.Event, acked: list[str], couple: list[int]) -> None:
    """Adds pregnancies through the clinician form; records one only after its 303."""
    with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as client:
        token = csrf_from(client.get("/login").text)
        r = client.post(
            "/login",
            data={"username": "clinician", "password": "demo-clinician-pw", "csrf": token},
        )
        assert r.status_code == 303, r.text
        page = client.get("/patients").text
        couple_id = int(re.findall(r'href="/patients/(\d+)"', page)[0])
        couple.append(couple_id)
        csrf = csrf_from(client.get(f"/patients/{couple_id}").text)
        day = 0
        while not stop.is_set():
            day += 1
            end = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400 * (400 + day)))
            data = {
                "csrf": csrf,
                "outcome": "miscarriage",
                "end_date": end,
                "gestational_weeks": "6",
            }
            try:
                r = client.post(f"/patients/{couple_id}/pregnancies", data=data)
            except httpx.HTTPError:
                return
            if r.status_code == 303:
                acked.append(end)


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    """C1: the review's crash trial lost one of 97 writes answered "saved". Here writers run
    against a real server until `kill -9` hits its process group; after a restart every
    acknowledged couple and pregnancy is in the database."""
    db = tmp_path / "crash.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db, port)
    try:
        wait_until_up(base, server)
        stop = threading.Event()
        api_acked: list[list[int]] = [[], []]
        form_acked: list[str] = []
        couple: list[int] = []
        threads = [
            threading.Thread(target=api_writer, args=(base, stop, api_acked[k], k)) for k in (0, 1)
        ]
        threads.append(threading.Thread(target=form_writer, args=(base, stop, form_acked, couple)))
        for t in threads:
            t.start()
        time.sleep(4)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

    ids = api_acked[0] + api_acked[1]
    assert len(ids) + len(form_acked) >= 5, "too few writes to test anything"
    # Restart: the server recovers the file (and its WAL) and serves what was stored.
    server = start_server(db, port)
    try:
        wait_until_up(base, server)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT id FROM couples")).scalars())
        assert set(ids) <= stored, f"lost acknowledged couples: {set(ids) - stored}"
        if couple:
            dates = {
                str(d)
                for d in conn.execute(
                    sa.text("SELECT end_date FROM pregnancies WHERE couple_id = :c"),
                    {"c": couple[0]},
                ).scalars()
            }
            assert set(form_acked) <= dates, f"lost pregnancies: {set(form_acked) - dates}"
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
    print(  # noqa: T201 (shown with -s: the figures of the trial)
        f"kill -9: {len(ids)} couples and {len(form_acked)} pregnancies acknowledged, all present"
    )
    json.dumps(ids)  # the ids are plain integers (no driver objects leaked into the test)
