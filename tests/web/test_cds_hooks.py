"""CDS Hooks 2.0: discovery, patient-view, order-select, feedback and client authentication,
against the request and response shapes of the specification's own examples.

The examples marked SPEC are from the HL7 CDS Hooks implementation guide
(github.com/HL7/cds-hooks, input/pagecontent/index.md; CC BY 4.0) and the cds-hooks/docs hook
pages for patient-view and order-select (Apache-2.0).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from rplcare.cds.models import Card, CardsResponse, Discovery, Feedback, HookRequest
from rplcare.cds.services import ORDER_SELECT, PATIENT_VIEW
from rplcare.web.app import create_app
from rplcare.web.db import make_engine
from rplcare.web.migrate import upgrade
from rplcare.web.settings import Settings
from tests.fhir.r4 import assert_valid_r4
from tests.web.cds_requests import FhirServer, order_select, patient_view, service_request

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

# SPEC: discovery response example.
SPEC_DISCOVERY = {
    "services": [
        {
            "hook": "patient-view",
            "title": "Static CDS Service Example",
            "description": "An example of a CDS Service that returns a static set of cards",
            "id": "static-patient-greeter",
            "prefetch": {"patientToGreet": "Patient/{{context.patientId}}"},
        },
        {
            "hook": "order-select",
            "title": "Order Echo CDS Service",
            "description": (
                "An example of a CDS Service that simply echoes the order(s) being placed"
            ),
            "id": "order-echo",
            "prefetch": {
                "patient": "Patient/{{context.patientId}}",
                "medications": "MedicationRequest?patient={{context.patientId}}",
            },
        },
    ]
}
# SPEC: the example service call (patient-view, with fhirServer, fhirAuthorization, prefetch).
SPEC_REQUEST = {
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "http://hooks.smarthealthit.org:9080",
    "hook": "patient-view",
    "fhirAuthorization": {
        "access_token": "some-opaque-fhir-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/Observation.read",
        "subject": "cds-service4",
    },
    "context": {"userId": "Practitioner/example", "patientId": "1288992", "encounterId": "89284"},
    "prefetch": {
        "patientToGreet": {
            "resourceType": "Patient",
            "gender": "male",
            "birthDate": "1925-12-23",
            "id": "1288992",
            "active": True,
        }
    },
}
# SPEC: the example response (cards with links, override reasons).
SPEC_RESPONSE = {
    "cards": [
        {
            "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
            "summary": "Example Card",
            "indicator": "info",
            "detail": "This is an example card.",
            "source": {
                "label": "Static CDS Service Example",
                "url": "https://example.com",
                "icon": "https://example.com/img/icon-100px.png",
            },
            "links": [
                {"label": "Google", "url": "https://google.com", "type": "absolute"},
                {
                    "label": "SMART Example App",
                    "url": "https://smart.example.com/launch",
                    "type": "smart",
                    "appContext": '{"session":3456356,"settings":{"module":4235}}',
                },
            ],
        },
        {
            "summary": "Another card",
            "indicator": "warning",
            "source": {"label": "Static CDS Service Example"},
            "overrideReasons": [
                {
                    "code": "reason-code-provided-by-service",
                    "system": "http://example.org/cds-services/fhir/CodeSystem/override-reasons",
                    "display": "Patient refused",
                }
            ],
        },
    ]
}
# SPEC: feedback example (suggestion accepted).
SPEC_FEEDBACK = {
    "feedback": [
        {
            "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
            "outcomeTimestamp": "2021-12-11T10:05:31Z",
        }
    ]
}
# SPEC: the R4 order-select example's selections (a diet and a medication: no RPL test).
SPEC_ORDER_SELECT_CONTEXT = {
    "userId": "PractitionerRole/123",
    "patientId": "1288992",
    "encounterId": "89284",
    "selections": ["NutritionOrder/pureeddiet-simple",
                   "MedicationRequest/smart-MedicationRequest-103"],
    "draftOrders": {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "NutritionOrder", "id": "pureeddiet-simple",
                          "status": "draft", "patient": {"reference": "Patient/1288992"}}},
            {"resource": {"resourceType": "MedicationRequest", "id": "smart-MedicationRequest-103",
                          "status": "draft", "intent": "order",
                          "subject": {"reference": "Patient/1288992"}}},
        ],
    },
}  # fmt: skip


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return Settings(database_url=url, environment="test", secret_key="k" * 40, **kw)


@pytest.fixture()
def cds(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path))
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def cards_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    CardsResponse.model_validate(body)  # the response follows the specification's shape
    return list(body["cards"])


def check_card_rules(card: dict[str, Any]) -> None:
    """Rules of the specification our models cannot express alone."""
    assert len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"]
    for key, value in card.items():
        assert value not in (None, "", [], {}), f"{key} is empty (forbidden for optional fields)"
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for s in card["suggestions"]:
            assert s["label"] and s["actions"]
            for action in s["actions"]:
                assert action["type"] in ("create", "update", "delete") and action["description"]
                if action["type"] == "create":
                    assert_valid_r4(action["resource"])
                    # created alone: it must not point at resources the client does not hold
                    assert "urn:uuid:" not in json.dumps(action["resource"])
                if action["type"] == "delete":
                    assert "/" in action["resourceId"]


# --- the models accept the specification's own examples -----------------------------------


def test_models_read_the_spec_examples() -> None:
    Discovery.model_validate(SPEC_DISCOVERY)
    call = HookRequest.model_validate(SPEC_REQUEST)
    assert call.context_str("patientId") == "1288992"
    assert call.fhirAuthorization is not None and call.fhirAuthorization.subject == "cds-service4"
    cards = CardsResponse.model_validate(SPEC_RESPONSE).cards
    assert [c.indicator for c in cards] == ["info", "warning"]
    assert Feedback.model_validate(SPEC_FEEDBACK).feedback[0].outcome == "accepted"


def test_card_model_enforces_the_rules() -> None:
    src = {"label": "x"}
    with pytest.raises(ValueError, match="at most 139 characters"):
        Card.model_validate({"summary": "x" * 140, "indicator": "info", "source": src})
    with pytest.raises(ValueError, match="selectionBehavior"):
        Card.model_validate(
            {"summary": "s", "indicator": "info", "source": src,
             "suggestions": [{"label": "do", "actions": []}]}
        )  # fmt: skip
    with pytest.raises(ValueError):
        Card.model_validate({"summary": "s", "indicator": "hard-stop", "source": src})


# --- discovery -----------------------------------------------------------------------------


def test_discovery_lists_both_services(cds: TestClient) -> None:
    r = cds.get("/cds-services")
    assert r.status_code == 200
    services = Discovery.model_validate(r.json()).services
    assert {(s.hook, s.id) for s in services} == {
        ("patient-view", PATIENT_VIEW),
        ("order-select", ORDER_SELECT),
    }
    for s in services:
        assert s.description and s.title and s.prefetch
        assert s.prefetch["patient"] == "Patient/{{context.patientId}}"
        assert all("{{context.patientId}}" in q for q in s.prefetch.values())


def test_cors_only_on_cds_paths(cds: TestClient) -> None:
    preflight = {"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST"}
    r = cds.options(f"/cds-services/{PATIENT_VIEW}", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    r = cds.get("/api/v1/patients", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


# --- patient-view --------------------------------------------------------------------------


def test_patient_view_with_prefetch_gives_three_cited_cards(cds: TestClient) -> None:
    cards = cards_of(
        cds.post(f"/cds-services/{PATIENT_VIEW}", json=patient_view("virginia_mercado"))
    )
    assert len(cards) == 3
    for card in cards:
        check_card_rules(card)
        assert "supports, and does not replace" in card.get(
            "detail", "supports, and does not replace"
        )
    status, workup, risk = cards
    verdicts = "ESHRE yes · RCOG no · ASRM yes · NVOG yes · NGF yes"
    assert status["summary"] == f"Recurrent pregnancy loss (2 losses): {verdicts}"
    assert "| eshre-2022" in status["detail"] and "| rcog-2023" in status["detail"]
    assert workup["selectionBehavior"] == "any"
    ordered = {
        c["code"]
        for s in workup["suggestions"]
        for c in s["actions"][0]["resource"]["code"]["coding"]
        if c["system"].endswith("/test")
    }
    assert {"lupus_anticoagulant", "tsh", "uterine_imaging"} <= ordered
    assert "†" in workup["detail"] and "UNVERIFIED" in workup["detail"]
    # born 1969: past the model's data, so no number (the prognosis module's own reason)
    assert risk["summary"] == "Next-pregnancy risk not estimated: the model's data cover ages 16-49"
    assert len({c["uuid"] for c in cards}) == 3


def test_patient_view_risk_with_interval_for_a_younger_woman(cds: TestClient) -> None:
    cards = cards_of(
        cds.post(f"/cds-services/{PATIENT_VIEW}", json=patient_view("samira_parisian"))
    )
    risk = cards[-1]
    assert risk["summary"].startswith("Next pregnancy: miscarriage risk ")
    assert "(interval " in risk["summary"] and "live birth" in risk["summary"]
    assert risk["links"][0]["type"] == "absolute"
    assert "/risk?age=" in risk["links"][0]["url"] and "losses=2" in risk["links"][0]["url"]


@pytest.mark.parametrize("name", ["vera_spinka", "shasta_towne", "robbin_gutmann"])
def test_no_cards_when_no_definition_applies(cds: TestClient, name: str) -> None:
    assert cards_of(cds.post(f"/cds-services/{PATIENT_VIEW}", json=patient_view(name))) == []


def test_null_prefetch_means_no_data_not_a_412(cds: TestClient) -> None:
    request = patient_view("virginia_mercado", with_prefetch=False)
    request["prefetch"] = {"patient": None, "conditions": None, "procedures": None,
                           "observations": None}  # fmt: skip
    assert cards_of(cds.post(f"/cds-services/{PATIENT_VIEW}", json=request)) == []


def test_missing_prefetch_without_fhir_server_is_412(cds: TestClient) -> None:
    request = patient_view("virginia_mercado", with_prefetch=False)
    r = cds.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert r.status_code == 412
    assert "no fhirServer" in r.json()["detail"]


def test_spec_example_call_without_our_prefetch_and_unreachable_server_is_412(
    cds: TestClient,
) -> None:
    request = json.loads(json.dumps(SPEC_REQUEST))
    request["fhirServer"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    r = cds.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert r.status_code == 412 and "could not read" in r.json()["detail"]


def test_fhir_server_fallback_reads_what_was_not_prefetched(cds: TestClient) -> None:
    with FhirServer("virginia_mercado", page_size=4) as server:
        request = patient_view("virginia_mercado", with_prefetch=False)
        request["fhirServer"] = server.url
        request["fhirAuthorization"] = SPEC_REQUEST["fhirAuthorization"]
        fetched = cards_of(cds.post(f"/cds-services/{PATIENT_VIEW}", json=request))
        assert server.seen_auth and set(server.seen_auth) == {
            "Bearer some-opaque-fhir-access-token"
        }
        assert any("_page=1" in q for q in server.seen_queries)  # followed the next links
    prefetched = cards_of(
        cds.post(f"/cds-services/{PATIENT_VIEW}", json=patient_view("virginia_mercado"))
    )
    strip = [{k: v for k, v in c.items() if k != "uuid"} for c in fetched]
    assert [c["summary"] for c in strip] == [c["summary"] for c in prefetched]


def test_partial_prefetch_fetches_only_the_rest(cds: TestClient) -> None:
    with FhirServer("virginia_mercado", page_size=100) as server:
        request = patient_view("virginia_mercado")
        del request["prefetch"]["observations"]
        request["fhirServer"] = server.url
        cards = cards_of(cds.post(f"/cds-services/{PATIENT_VIEW}", json=request))
        assert len(server.seen_queries) == 1 and "/Observation?" in server.seen_queries[0]
    assert len(cards) == 3


def test_failing_fhir_server_is_412(cds: TestClient) -> None:
    with FhirServer("virginia_mercado", fail=True) as server:
        request = patient_view("virginia_mercado", with_prefetch=False, fhirServer=server.url)
        r = cds.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert r.status_code == 412


def test_fhir_servers_allow_list(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, cds_fhir_servers="https://ehr.example/fhir"))
    with TestClient(app) as c:
        request = patient_view("virginia_mercado", with_prefetch=False)
        request["fhirServer"] = "https://attacker.example/fhir"
        r = c.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    app.state.engine.dispose()
    assert r.status_code == 412 and "not on the allowed list" in r.json()["detail"]


# --- order-select --------------------------------------------------------------------------


def test_spec_order_select_example_needs_no_history(cds: TestClient) -> None:
    """No RPL test among the selections: empty cards at once, without data (no 412)."""
    request = {"hook": "order-select", "hookInstance": str(uuid.uuid4()),
               "context": SPEC_ORDER_SELECT_CONTEXT}  # fmt: skip
    assert cards_of(cds.post(f"/cds-services/{ORDER_SELECT}", json=request)) == []


def test_nk_cell_order_gets_a_warning_with_a_remove_suggestion(cds: TestClient) -> None:
    order = service_request("nk-1", "Peripheral blood NK cell assay")
    request = order_select("virginia_mercado", [order])
    [card] = cards_of(cds.post(f"/cds-services/{ORDER_SELECT}", json=request))
    check_card_rules(card)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("NK-cell testing (blood or endometrium): not recommended")
    assert "eshre-2022" in card["detail"] and "rcog-2023" in card["detail"]
    [suggestion] = card["suggestions"]
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Remove the draft order Peripheral blood NK cell assay",
            "resourceId": "ServiceRequest/nk-1",
        }
    ]
    assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])


def test_thrombophilia_screen_is_read_as_the_hereditary_tests(cds: TestClient) -> None:
    order = service_request("th-1", "Thrombophilia screen")
    [card] = cards_of(
        cds.post(f"/cds-services/{ORDER_SELECT}", json=order_select("virginia_mercado", [order]))
    )
    for label in ("Factor V Leiden", "Prothrombin G20210A", "Protein C", "Antithrombin"):
        assert f"**{label}**" in card["detail"]


def test_a_recommended_test_gets_no_warning(cds: TestClient) -> None:
    tsh = service_request("tsh-1", "TSH", [{"system": LOINC, "code": "3016-3"}])
    request = order_select("virginia_mercado", [tsh])
    assert cards_of(cds.post(f"/cds-services/{ORDER_SELECT}", json=request)) == []


def test_order_select_for_an_rpl_test_without_data_is_412(cds: TestClient) -> None:
    order = service_request("nk-1", "NK cells")
    request = order_select("virginia_mercado", [order], with_prefetch=False)
    assert cds.post(f"/cds-services/{ORDER_SELECT}", json=request).status_code == 412


# --- bad calls -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (f"/cds-services/{PATIENT_VIEW}", {"hook": "patient-view"}, 422),
        (f"/cds-services/{PATIENT_VIEW}", {**SPEC_REQUEST, "hook": "order-select"}, 400),
        (f"/cds-services/{ORDER_SELECT}", SPEC_REQUEST, 400),
        ("/cds-services/no-such-service", SPEC_REQUEST, 404),
        (f"/cds-services/{PATIENT_VIEW}", {**SPEC_REQUEST, "context": {"userId": "x"}}, 400),
        (f"/cds-services/{PATIENT_VIEW}", {**SPEC_REQUEST, "fhirServer": "ftp://x"}, 422),
    ],
)
def test_bad_calls_are_clear_4xx(cds: TestClient, path: str, body: Any, status: int) -> None:
    r = cds.post(path, json=body)
    assert r.status_code == status and r.json()["detail"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["hook", "hookInstance", "context", "prefetch", "fhirServer",
                         "patientId", "selections", "draftOrders", "x"]),
        inner, max_size=5),
    max_leaves=12,
))  # fmt: skip
def test_no_body_gives_a_server_error(cds: TestClient, body: Any) -> None:
    for service in (PATIENT_VIEW, ORDER_SELECT):
        r = cds.post(f"/cds-services/{service}", json=body)
        assert r.status_code < 500, r.text


# --- feedback (stored in the audit log, on SQLite and PostgreSQL) ---------------------------


def test_feedback_is_recorded(client: TestClient) -> None:
    r = client.post(f"/cds-services/{PATIENT_VIEW}/feedback", json=SPEC_FEEDBACK)
    assert r.status_code == 200
    import sqlalchemy as sa

    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            sa.text("SELECT action, entity_id, detail FROM audit_log WHERE action='cds-feedback'")
        ).all()
    assert [(a, e) for a, e, _ in rows] == [
        ("cds-feedback", "4e0a3a1e-3283-4575-ab82-028d55fe2719")
    ]
    assert json.loads(rows[0][2])["accepted"] == ["e56e1945-20b3-4393-8503-a1a20fd73152"]
    assert client.post(f"/cds-services/{PATIENT_VIEW}/feedback", json={}).status_code == 422


# --- client authentication (JWT) -----------------------------------------------------------


@pytest.fixture()
def signed(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "ehr-key-1", "alg": "ES384", "use": "sig"}
    jwks_file = tmp_path / "clients.json"
    jwks_file.write_text(json.dumps({"https://ehr.example": {"keys": [jwk]}}))
    app = create_app(_settings(tmp_path, cds_jwks_file=jwks_file))

    def token(aud: str, **over: Any) -> str:
        now = int(time.time())
        claims = {"iss": "https://ehr.example", "aud": aud, "iat": now, "exp": now + 300,
                  "jti": str(uuid.uuid4())} | over  # fmt: skip
        headers = {"kid": over.pop("kid", "ehr-key-1"), "typ": "JWT"}
        claims = {k: v for k, v in claims.items() if v is not None and k != "kid"}
        return jwt.encode(claims, key, algorithm="ES384", headers=headers)

    with TestClient(app) as c:
        yield c, token
    app.state.engine.dispose()


def test_jwt_is_required_and_checked(signed: tuple[TestClient, Any]) -> None:
    c, token = signed
    url = "http://testserver/cds-services"
    assert c.get("/cds-services").status_code == 401
    good = token(url)
    assert c.get("/cds-services", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    # the same token again (jti replay), another audience, an unknown issuer or key
    for bad in (
        good,
        token("http://testserver/cds-services/other"),
        token(url, iss="https://stranger.example"),
        token(url, kid="other-key"),
        token(url, jti=None),
        token(url, exp=int(time.time()) - 3600),
    ):
        r = c.get("/cds-services", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
    hmac = jwt.encode({"iss": "https://ehr.example", "aud": url}, "s" * 40, algorithm="HS256",
                      headers={"kid": "ehr-key-1"})  # fmt: skip
    assert c.get("/cds-services", headers={"Authorization": f"Bearer {hmac}"}).status_code == 401


def test_jwt_audience_is_the_service_url(signed: tuple[TestClient, Any]) -> None:
    c, token = signed
    url = f"http://testserver/cds-services/{PATIENT_VIEW}"
    r = c.post(
        f"/cds-services/{PATIENT_VIEW}",
        json=patient_view("virginia_mercado"),
        headers={"Authorization": f"Bearer {token(url)}"},
    )
    assert r.status_code == 200 and len(r.json()["cards"]) == 3


def test_production_without_trusted_clients_refuses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    prod = Settings(database_url=url, environment="production", secret_key="k" * 40,
                    secure_cookies=True)  # fmt: skip
    app = create_app(prod)
    with TestClient(app) as c:
        assert c.get("/cds-services").status_code == 503
    app.state.engine.dispose()


# --- the README's curl examples -------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cds"


def test_example_calls_are_current_and_answer_as_documented(cds: TestClient) -> None:
    from tests.web.cds_requests import example_calls

    for name, call in example_calls().items():
        stored = json.loads((EXAMPLES / name).read_text("utf-8"))
        assert stored == call, f"{name} is stale: run scripts/cds_examples.py"
    view = json.loads((EXAMPLES / "patient-view.json").read_text("utf-8"))
    assert len(cards_of(cds.post(f"/cds-services/{PATIENT_VIEW}", json=view))) == 3
    bare = json.loads((EXAMPLES / "patient-view-no-prefetch.json").read_text("utf-8"))
    assert cds.post(f"/cds-services/{PATIENT_VIEW}", json=bare).status_code == 412
    nk = json.loads((EXAMPLES / "order-select-nk-cells.json").read_text("utf-8"))
    [card] = cards_of(cds.post(f"/cds-services/{ORDER_SELECT}", json=nk))
    assert card["indicator"] == "warning"
