"""Hardening of the platform layer, one test per review finding it closes: one CSP per
response (U1), no-store on everything but static files (S9), request and case size limits
(S2), FHIR servers matched by parsed address (S3), SQL parameters kept out of errors (S8) and
pages, not JSON, for browsers at unknown addresses (U10)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rplcare.web.fhir_servers import allowed_servers, may_read, on_server
from rplcare.web.settings import Settings
from tests.web.conftest import login

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HTML = {"accept": "text/html"}


def example(name: str = "aps-three-losses") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


# --- U1: one Content-Security-Policy per response ----------------------------------------


def test_public_leaflet_has_exactly_its_own_csp(client: TestClient) -> None:
    """U1: the app-wide CSP (`style-src 'self'`) was sent beside the leaflet's own, so the
    browser blocked the leaflet's inline styles and its charts became black boxes."""
    r = client.get("/leaflet", params={"lang": "nl"})
    assert r.status_code == 200
    policies = r.headers.get_list("content-security-policy")
    assert len(policies) == 1, policies
    assert "style-src 'unsafe-inline'" in policies[0]
    assert len(r.headers.get_list("x-frame-options")) == 1


def test_patient_leaflet_has_exactly_its_own_csp(client: TestClient) -> None:
    """U1, for the personal leaflet opened from the patient page."""
    csrf = login(client, "clin")
    r = client.post("/api/v1/patients", json=example(), headers={"x-csrf-token": csrf})
    assert r.status_code == 201, r.text
    leaflet = client.get(f"/patients/{r.json()['id']}/leaflet", params={"lang": "en"})
    assert leaflet.status_code == 200
    assert leaflet.headers.get_list("content-security-policy") == [
        leaflet.headers["content-security-policy"]
    ]
    assert "default-src 'none'" in leaflet.headers["content-security-policy"]


def test_pages_keep_the_strict_app_csp(client: TestClient) -> None:
    policies = client.get("/risk").headers.get_list("content-security-policy")
    assert len(policies) == 1 and "style-src 'self'" in policies[0]


# --- S9: nothing about a patient stays in a browser cache ---------------------------------


def test_patient_pages_and_api_are_not_cached(client: TestClient) -> None:
    """S9: /patients/{id} and /api/v1/patients/* carried no Cache-Control."""
    csrf = login(client, "clin")
    created = client.post("/api/v1/patients", json=example(), headers={"x-csrf-token": csrf})
    couple = created.json()["id"]
    for path in ("/patients", f"/patients/{couple}", f"/api/v1/patients/{couple}"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers.get_list("cache-control") == ["no-store"], path
    assert created.headers["cache-control"] == "no-store"


def test_static_files_stay_cacheable(client: TestClient) -> None:
    r = client.get("/static/site.css")
    assert r.status_code == 200
    assert "no-store" not in r.headers.get("cache-control", "")


# --- S2: size limits ------------------------------------------------------------------------


def test_an_oversized_body_is_413_before_it_is_read(client: TestClient) -> None:
    """S2: no request size limit: a 702 KB case was parsed and assessed for 14 s."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    body = b"x" * (settings.max_request_bytes + 1)
    started = time.perf_counter()
    r = client.post("/api/v1/assess", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert time.perf_counter() - started < 2
    page = client.post("/api/v1/assess", content=body, headers=HTML)
    assert page.status_code == 413 and "Too large" in page.text


def test_a_streamed_body_is_cut_off_at_the_limit(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    chunk = b" " * 65536

    def stream() -> Any:
        for _ in range(settings.max_request_bytes // len(chunk) + 2):
            yield chunk

    r = client.post(
        "/api/v1/assess", content=stream(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


@pytest.mark.parametrize("pregnancies", [61, 9000])
def test_an_implausibly_long_history_is_refused_quickly(
    client: TestClient, pregnancies: int
) -> None:
    """S2: 9,000 miscarriages (702 KB) were accepted anonymously and cost 14 s of CPU; a case
    is now capped at 60 pregnancies and refused within 2 s."""
    case = example()
    loss = {"outcome": "miscarriage", "end_date": "2024-01-01", "gestational_weeks": 8}
    case["pregnancies"] = [loss] * pregnancies
    started = time.perf_counter()
    r = client.post("/api/v1/assess", json=case)
    assert r.status_code in (413, 422), r.text[:200]
    assert time.perf_counter() - started < 2
    if r.status_code == 422:
        assert r.json()["detail"][0]["loc"][-1] == "pregnancies"


def test_long_free_text_is_refused(client: TestClient) -> None:
    """S2: a 20 MB pregnancy note was stored through the API."""
    case = example()
    case["pregnancies"][0]["notes"] = "n" * 2001
    r = client.post("/api/v1/assess", json=case)
    assert r.status_code == 422
    case["pregnancies"][0]["notes"] = "n" * 2000
    assert client.post("/api/v1/assess", json=case).status_code == 200


# --- S3: FHIR servers by parsed address ---------------------------------------------------

ALLOWED = "https://fhir.hospital.example"


@pytest.mark.parametrize(
    "url",
    [
        "https://fhir.hospital.example.attacker.net/",  # the review's two bypasses
        "https://fhir.hospital.example@attacker.net/",
        "http://fhir.hospital.example",  # other scheme
        "https://fhir.hospital.example:8443/",  # other port
        "https://user:pw@fhir.hospital.example/",
        "ftp://fhir.hospital.example/",
        "https:///nohost",
        "https://fhir.hospital.example:99999/",
    ],
)
def test_lookalike_fhir_servers_are_refused(url: str) -> None:
    """S3: the production allow-list was a string-prefix match."""
    assert may_read(url, allowed_servers(ALLOWED), "production") is not None


@pytest.mark.parametrize(
    "url",
    ["https://fhir.hospital.example", "https://FHIR.hospital.example:443/r4", ALLOWED + "/"],
)
def test_configured_fhir_servers_are_read(url: str) -> None:
    assert may_read(url, allowed_servers(ALLOWED), "production") is None


def test_a_path_allow_list_ends_at_a_segment() -> None:
    allowed = allowed_servers("https://ehr.example/fhir")
    assert may_read("https://ehr.example/fhir/r4", allowed, "production") is None
    assert may_read("https://ehr.example/fhirx", allowed, "production") is not None


def test_without_a_list_development_reads_only_this_machine() -> None:
    """S3: in development the CDS fallback fetched any URL (an SSRF for anyone who could
    reach the service)."""
    assert may_read("http://127.0.0.1:8199/internal", [], "development") is None
    assert may_read("http://localhost/fhir", [], "test") is None
    assert may_read("http://10.0.0.5/fhir", [], "development") is not None
    assert may_read("https://fhir.example.org", [], "development") is not None
    assert may_read("http://127.0.0.1/fhir", [], "production") is not None


def test_next_links_stay_on_the_clients_server() -> None:
    server = "http://127.0.0.1:9000/fhir"
    assert on_server("http://127.0.0.1:9000/fhir/Observation?_page=2", server)
    assert not on_server("http://127.0.0.1:9000.evil/fhir?_page=2", server)
    assert not on_server("http://127.0.0.1:9001/fhir?_page=2", server)


def test_a_malformed_allow_list_stops_the_start() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Settings(cds_fhir_servers="fhir.example.org", secret_key="k" * 40)


def test_the_cds_fallback_refuses_a_remote_server_in_development(
    client: TestClient,
) -> None:
    request = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "http://10.1.2.3/fhir",
        "fhirAuthorization": {
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds",
        },
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
    }
    r = client.post("/cds-services/rplcare-patient-view", json=request)
    assert r.status_code == 412, r.text
    assert "not on this machine" in r.json()["detail"]


# --- S8: no SQL parameters in errors --------------------------------------------------------


def test_database_errors_carry_no_parameters(client: TestClient) -> None:
    """S8: tracebacks in the server log showed `[parameters: (…)]` with stored values."""
    engine: sa.Engine = client.app.state.engine  # type: ignore[attr-defined]
    secret = "clinical-value-4711"
    with pytest.raises(sa.exc.DBAPIError) as info, engine.connect() as conn:
        conn.execute(sa.text("INSERT INTO no_such_table VALUES (:v)"), {"v": secret})
    assert secret not in str(info.value)


# --- U10: pages for browsers ----------------------------------------------------------------


def test_unknown_addresses_give_browsers_a_page(client: TestClient) -> None:
    """U10: unknown URLs answered browsers with raw JSON."""
    page = client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = client.get("/no/such/page")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_an_over_long_sign_in_field_is_not_called_page_not_found(client: TestClient) -> None:
    """U10: a password over 256 characters on the sign-in form gave "Page not found"."""
    r = client.post("/login", data={"username": "x", "password": "p" * 300}, headers=HTML)
    assert r.status_code == 422
    assert "could not be accepted" in r.text
