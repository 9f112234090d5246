"""Correctable records (issue 15, item 3): edit and remove entries, couple details, audit."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.models import AuditEvent
from tests.web import test_pages
from tests.web.test_pages import (
    add_miscarriage,
    days_ago,
    field_error,
    login,
    new_couple,
    post,
    text_of,
)

# The page tests' fixtures: a migrated SQLite database with users, and a client on it.
db_url = test_pages.db_url
app_client = test_pages.app_client


def audit_details(db_url: str, action: str = "update") -> list[dict[str, Any]]:
    """The JSON details of the couple events with `action`, oldest first."""
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        rows = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        out = [json.loads(d) for d in rows if d and d.startswith("{")]
    engine.dispose()
    return out


def timeline(html: str) -> str:
    return text_of(html.split('class="data-table timeline"', 1)[1].split("</table>", 1)[0])


def links(html: str, kind: str) -> list[str]:
    return re.findall(rf'href="(/patients/\d+/{kind}/\d+)/edit"', html)


def test_a_pregnancy_is_edited_in_place_and_audited_before_after(
    app_client: TestClient, db_url: str
) -> None:
    """U2: each timeline row links to an edit page; the save keeps the row, shows "Saved",
    and writes one audit event with only the changed fields before and after."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    add_miscarriage(app_client, url, csrf, days_ago(90), weeks="8")
    (base,) = links(app_client.get(url).text, "pregnancies")
    page = app_client.get(f"{base}/edit")
    assert page.status_code == 200
    assert re.search(r'id="gestational_weeks"[^>]*value="8"', page.text)

    data = {
        "outcome": "miscarriage",
        "end_date": days_ago(90),
        "gestational_weeks": "9+2",
        "heartbeat_seen": "no",
        "notes": "Scan at 7 weeks showed no growth",
    }
    r = post(app_client, f"{base}/edit", data, csrf)
    assert r.status_code == 303
    assert r.headers["location"] == f"{url}?saved=pregnancy-edited#history"
    html = app_client.get(r.headers["location"]).text
    assert "Saved: Pregnancy saved." in text_of(html)
    # U2: notes are shown in the timeline; the row kept its id.
    assert "Scan at 7 weeks showed no growth" in timeline(html)
    assert links(html, "pregnancies") == [base]
    (pregnancy,) = app_client.get(f"{url}/export").json()["pregnancies"]
    assert pregnancy["gestational_weeks"] == round(9 + 2 / 7, 4)
    last = audit_details(db_url)[-1]
    assert last["change"] == "pregnancy edited"
    assert last["before"] == {"gestational_weeks": 8.0}
    assert last["after"] == {
        "gestational_weeks": round(9 + 2 / 7, 4),
        "notes": "Scan at 7 weeks showed no growth",
    }


def test_an_invalid_pregnancy_edit_lists_every_problem_by_label(app_client: TestClient) -> None:
    """U6: all problems at once, named by field labels, with 422 on the form's own page."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    add_miscarriage(app_client, url, csrf, days_ago(90))
    (base,) = links(app_client.get(url).text, "pregnancies")
    data = {"outcome": "miscarriage", "end_date": days_ago(-5), "gestational_weeks": "30"}
    r = post(app_client, f"{base}/edit", data, csrf)
    assert r.status_code == 422
    summary = text_of(r.text.split('id="form-errors"', 1)[1].split("</div>", 1)[0])
    assert "End date: after today" in summary
    assert "Gestation at the end (weeks+days, or weeks): a miscarriage at 30 weeks" in summary
    assert "as_of" not in r.text and "pregnancies[0]" not in r.text
    assert "after today" in field_error(r.text, "end_date")
    assert app_client.get(f"{url}/export").json()["pregnancies"][0]["gestational_weeks"] == 8


def test_removing_a_pregnancy_keeps_its_tissue_result_unlinked(
    app_client: TestClient, db_url: str
) -> None:
    """U2: removal asks for confirmation (a page with a CSRF form), then is audited."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    add_miscarriage(app_client, url, csrf, days_ago(200))
    add_miscarriage(app_client, url, csrf, days_ago(90))
    data = {"choice": "poc_karyotype:aneuploid", "date": days_ago(80), "pregnancy": "2"}
    assert post(app_client, f"{url}/tests", data, csrf).status_code == 303
    _first, second = links(app_client.get(url).text, "pregnancies")
    page = text_of(app_client.get(f"{second}/remove").text)
    assert "Test results of this pregnancy's tissue are kept" in page
    assert 'name="csrf"' in app_client.get(f"{second}/remove").text
    assert post(app_client, f"{second}/remove", {}, "wrong").status_code == 400
    r = post(app_client, f"{second}/remove", {}, csrf)
    assert r.headers["location"] == f"{url}?saved=pregnancy-removed#history"
    case = app_client.get(f"{url}/export").json()
    assert len(case["pregnancies"]) == 1
    assert case["tests"] == [{"code": "poc_karyotype", "date": days_ago(80), "result": "aneuploid"}]
    last = audit_details(db_url)[-1]
    assert last["change"] == "pregnancy removed" and last["after"] is None
    assert last["before"]["end_date"] == days_ago(90)
    assert app_client.get(f"{second}/edit").status_code == 404


def test_a_test_result_is_edited_and_removed(app_client: TestClient, db_url: str) -> None:
    """U2: method and detail are shown in the timeline; a result is corrected and removed."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    data = {
        "choice": "tsh:",
        "date": days_ago(20),
        "value": "3.1",
        "unit": "mIU/L",
        "method": "ECLIA",
        "detail": "fasting sample",
    }
    assert post(app_client, f"{url}/tests", data, csrf).status_code == 303
    html = app_client.get(url).text
    assert "method: ECLIA" in timeline(html) and "fasting sample" in timeline(html)
    (base,) = links(html, "tests")
    form = app_client.get(f"{base}/edit").text
    assert '<option value="tsh:" selected>' in form
    r = post(app_client, f"{base}/edit", {**data, "value": "5.2"}, csrf)
    assert r.status_code == 303
    assert app_client.get(f"{url}/export").json()["tests"][0]["value"] == 5.2
    last = audit_details(db_url)[-1]
    assert (last["change"], last["before"], last["after"]) == (
        "test result edited",
        {"value": 3.1},
        {"value": 5.2},
    )
    assert post(app_client, f"{base}/remove", {}, csrf).status_code == 303
    assert app_client.get(f"{url}/export").json()["tests"] == []
    assert audit_details(db_url)[-1]["change"] == "test result removed"


def test_a_flag_and_its_value_are_both_kept_and_shown(app_client: TestClient) -> None:
    """U2: TSH "high" with 1.0 mIU/L is not refused (the cited 4.0 limit applies only without a
    laboratory range, and the laboratory's flag wins), but both are stored and shown."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    data = {"choice": "tsh:high", "date": days_ago(20), "value": "1.0", "unit": "mIU/L"}
    assert post(app_client, f"{url}/tests", data, csrf).status_code == 303
    (stored,) = app_client.get(f"{url}/export").json()["tests"]
    assert (stored["result"], stored["value"], stored["unit"]) == ("high", 1.0, "mIU/L")


def test_result_choice_offers_each_tests_own_results(app_client: TestClient) -> None:
    """U6: the result is chosen per test (an optgroup per test), not typed as free text."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    html = app_client.get(url).text
    assert 'id="t-result"' not in html
    group = re.search(r'<optgroup label="TSH">(.*?)</optgroup>', html, re.S)
    assert group
    assert re.findall(r'value="([^"]+)"', group.group(1)) == [
        "tsh:low",
        "tsh:normal",
        "tsh:high",
        "tsh:",
    ]


def test_couple_details_are_edited_and_audited(app_client: TestClient, db_url: str) -> None:
    """U2: age, partner, BMI, smoking and label can be corrected after "Create couple"."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    page = app_client.get(f"{url}/details").text
    assert re.search(r'id="patient_age"[^>]*value="33"', page)
    data = {"label": "RPL-0001b", "patient_age": "34", "partner_age": "35", "bmi": "27.5"}
    r = post(app_client, f"{url}/details", {**data, "smoker": "yes"}, csrf)
    assert r.headers["location"] == f"{url}?saved=details"
    case = app_client.get(f"{url}/export").json()
    assert case["id"] == "RPL-0001b" and case["patient"] == {"age": 34}
    assert case["lifestyle"] == {"bmi": 27.5, "smoker": True}
    assert "Saved: Couple details saved." in text_of(app_client.get(r.headers["location"]).text)
    last = audit_details(db_url)[-1]
    assert last["before"] == {
        "id": "RPL-0001",
        "lifestyle.bmi": 24.5,
        "patient.age": 33,
    }
    assert last["after"] == {
        "id": "RPL-0001b",
        "lifestyle.bmi": 27.5,
        "lifestyle.smoker": True,
        "patient.age": 34,
    }


def test_new_couple_reports_every_problem_in_one_pass(app_client: TestClient) -> None:
    """U6: a BMI of 8 is reported together with the age-and-birth-date conflict."""
    csrf = login(app_client, "doc")
    data = {"label": "x", "patient_age": "30", "patient_birth_date": "1990-01-01", "bmi": "8"}
    r = post(app_client, "/patients/new", data, csrf)
    assert r.status_code == 422
    assert "not both" in field_error(r.text, "patient_age")
    assert "8 is outside the plausible" in field_error(r.text, "bmi")
    summary = text_of(r.text.split('id="form-errors"', 1)[1].split("</div>", 1)[0])
    assert "Body mass index (kg/m²): 8 is outside the plausible" in summary


def _upload(client: TestClient, csrf: str, case: dict[str, object]) -> Any:
    files = {"file": ("case.json", json.dumps(case), "application/json")}
    return client.post("/patients/import", data={"csrf": csrf}, files=files, follow_redirects=False)


def test_importing_a_case_with_a_known_id_updates_that_couple_after_confirmation(
    app_client: TestClient, db_url: str
) -> None:
    """U2: export, correct, import: the couple whose label is the case's id is updated in place
    (after a page listing the changes), not duplicated, and its care statuses survive."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    add_miscarriage(app_client, url, csrf, days_ago(300))
    add_miscarriage(app_client, url, csrf, days_ago(100))
    html = app_client.get(url).text
    keys = re.findall(r'name="intervention" value="([^"]+)"', html)
    assert keys
    statuses = ["planned"] + [""] * (len(keys) - 1)  # the first row of the care plan
    r = app_client.post(
        f"{url}/care",
        data={"intervention": keys, "status": statuses, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    case = app_client.get(f"{url}/export").json()
    case["patient"] = {"age": 34}
    case["pregnancies"][0]["gestational_weeks"] = 9.0
    case["tests"].append({"code": "tsh", "date": days_ago(10), "result": "normal"})

    r = _upload(app_client, csrf, case)
    assert r.status_code == 200
    page = text_of(r.text)
    assert "Confirm the import" in page
    assert "Age (years) 33 34" in page
    assert "Pregnancies added miscarriage" in page and "Pregnancies removed miscarriage" in page
    assert "Test results added TSH" in page
    assert len(app_client.get("/api/v1/patients", headers={"X-CSRF-Token": csrf}).json()) == 1

    document = re.search(r'name="case" value="([^"]+)"', r.text)
    assert document
    couple_id = url.rsplit("/", 1)[1]
    form = {"case": unescape(document.group(1)), "target": couple_id}
    r = post(app_client, "/patients/import/confirm", form, csrf)
    assert r.headers["location"] == f"{url}?saved=import-updated"
    listed = app_client.get("/patients").text
    assert listed.count(f'href="{url}"') == 1  # updated, not duplicated
    exported = app_client.get(f"{url}/export").json()
    assert exported["patient"] == {"age": 34} and len(exported["tests"]) == 1
    assert '<option value="planned" selected>' in app_client.get(url).text
    (event,) = audit_details(db_url, "import")
    assert event["change"] == "case replaced (import)"
    assert (event["before"], event["after"]) == ({"patient.age": 33}, {"patient.age": 34})
    assert [t["code"] for t in event["tests"]["added"]] == ["tsh"]


def test_a_case_without_a_matching_label_is_imported_as_a_new_couple(
    app_client: TestClient,
) -> None:
    """U2: no couple with the case's id: the import creates one, with a "Saved" notice."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    case = app_client.get(f"{url}/export").json()
    case["id"] = "RPL-other"
    r = _upload(app_client, csrf, case)
    assert r.status_code == 303
    assert r.headers["location"].endswith("?saved=imported")
    assert r.headers["location"] != f"{url}?saved=imported"
