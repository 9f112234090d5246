"""The clinician workspace (server-rendered pages) against a real, migrated SQLite database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rplcare.web import repository as repo
from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.migrate import upgrade
from rplcare.web.models import Couple
from rplcare.web.settings import Settings

PASSWORDS = {"boss": "admin-password-12", "doc": "clinician-password-1"}
ROLES = {"boss": "admin", "doc": "clinician"}
TODAY = date.today()


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    """A migrated temporary SQLite database with an admin and a clinician."""
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(session_factory(engine)) as session:
        for name, password in PASSWORDS.items():
            repo.create_user(session, username=name, password=password, role=ROLES[name])
    engine.dispose()
    return url


@pytest.fixture()
def app_client(db_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=db_url, environment="test", secret_key="x" * 40)
    with TestClient(create_app(settings)) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(client: TestClient, username: str) -> str:
    """Sign in through the form; returns the session's (new) CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORDS[username], "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = "/admin/users" if ROLES.get(username) == "admin" else "/patients"
    assert r.headers["location"] == home
    return csrf_of(client.get(home).text)


def post(client: TestClient, url: str, data: dict[str, str], csrf: str) -> Any:
    return client.post(url, data={**data, "csrf": csrf}, follow_redirects=False)


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped and whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def new_couple(client: TestClient, csrf: str, label: str = "RPL-0001", **extra: str) -> str:
    data = {"label": label, "patient_age": "33", "partner_age": "35", "bmi": "24.5", **extra}
    r = post(client, "/patients/new", data, csrf)
    assert r.status_code == 303, r.text
    location = str(r.headers["location"])
    assert re.fullmatch(r"/patients/\d+", location)
    return location


def add_miscarriage(client: TestClient, url: str, csrf: str, end: str, weeks: str = "8") -> None:
    data = {
        "outcome": "miscarriage",
        "end_date": end,
        "gestational_weeks": weeks,
        "heartbeat_seen": "no",
    }
    r = post(client, f"{url}/pregnancies", data, csrf)
    assert r.status_code == 303, r.text


def definition_cells(html: str, row: str) -> list[str]:
    """The cells of a row of the side-by-side definitions table, as text."""
    table = html.split('class="data-table definitions"', 1)[1].split("</table>", 1)[0]
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        if row in tr:
            return [text_of(td).strip() for td in re.findall(r"<td>(.*?)</td>", tr, re.S)]
    raise AssertionError(f"no row {row!r}")


def care_form_of(html: str, url: str) -> str:
    """The one care-plan form of the patient page (U4)."""
    return html.split(f'action="{url}/care"', 1)[1].split("</form>", 1)[0]


def care_form_rows(html: str, url: str) -> list[str]:
    """The interventions of the care-plan form, in row order."""
    return re.findall(r'name="intervention" value="([^"]+)"', care_form_of(html, url))


def post_care(
    client: TestClient, url: str, csrf: str, statuses: dict[str, str], keys: list[str]
) -> Any:
    """Submit the care-plan form as a browser does: every row, empty where unchanged."""
    data = {"intervention": keys, "status": [statuses.get(k, "") for k in keys], "csrf": csrf}
    return client.post(f"{url}/care", data=data, follow_redirects=False)


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/patients",
        "/patients/new",
        "/patients/import",
        "/patients/1",
        "/patients/1/export",
        "/patients/1/leaflet",
        "/admin/users",
        "/admin/audit",
    ],
)
def test_pages_redirect_to_login_when_signed_out(app_client: TestClient, path: str) -> None:
    r = app_client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next={path}"


def test_posts_redirect_to_login_when_signed_out(app_client: TestClient) -> None:
    r = app_client.post("/patients/new", data={"label": "x"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login"


# --- the whole pathway --------------------------------------------------------------------


def test_the_whole_pathway(app_client: TestClient) -> None:
    client = app_client
    csrf = login(client, "doc")

    url = new_couple(client, csrf, pcos="no", smoker="no")
    page = client.get(url)
    assert page.status_code == 200
    assert "RPL-0001" in page.text
    # ESHRE, RCOG, ASRM, NVOG and NGF 2024, side by side
    assert definition_cells(page.text, "Meets the definition") == ["does not meet"] * 5

    add_miscarriage(client, url, csrf, days_ago(400))
    add_miscarriage(client, url, csrf, days_ago(200), weeks="7")
    page = client.get(url)
    assert page.status_code == 200
    html = page.text
    # ESHRE (2 losses) meets; RCOG (3) does not; the headers name the guidelines in order.
    meets = definition_cells(html, "Meets the definition")
    assert meets[0] == "meets", meets
    assert meets[1] == "does not meet"
    assert definition_cells(html, "Losses counted")[:2] == ["2", "2"]
    assert "eshre-2022" in html and "rcog-2023" in html and "asrm-2012" in html
    # Risk with both intervals and an inline chart; work-up; causes; disclaimer; UNVERIFIED.
    assert "95% prediction interval" in html and "confidence interval (95%)" in html
    assert "<svg" in html
    assert "Work-up checklist" in html and "Lupus anticoagulant" in html
    assert "Not assessed" in html
    assert "supports, and does not replace" in html
    assert "UNVERIFIED" in html
    # The timeline lists both losses, oldest first.
    timeline = html.split('class="data-table timeline"', 1)[1].split("</table>", 1)[0]
    assert timeline.index(days_ago(400)) < timeline.index(days_ago(200))
    assert "miscarriage" in timeline
    assert "consecutive losses: 2." in html  # the history counts (patients/_history.html)

    # Enter a lupus anticoagulant result from its work-up row.
    form_key = re.search(r'name="form" value="(test-[^"]*lupus-anticoagulant)"', html)
    assert form_key, "no result form for lupus anticoagulant"
    data = {
        "form": form_key.group(1),
        "code": "lupus_anticoagulant",
        "date": days_ago(10),
        "result": "negative",
    }
    r = post(client, f"{url}/tests", data, csrf)
    assert r.status_code == 303, r.text
    html = client.get(url).text
    timeline = html.split('class="data-table timeline"', 1)[1].split("</table>", 1)[0]
    assert "Lupus anticoagulant" in timeline and "negative" in timeline

    # Set the status of the first care-plan row, with the one form of the whole plan (U4).
    keys = care_form_rows(html, url)
    assert keys, "no care-plan status form"
    r = post_care(client, url, csrf, {keys[0]: "started"}, keys)
    assert r.status_code == 303, r.text
    html = client.get(url).text
    first_row = care_form_of(html, url).split('name="intervention"', 2)[1]
    assert re.search(r'<option value="started" selected>', first_row)

    # Record, then clear, a current pregnancy: the curve appears and goes.
    data = {"gestational_age_days": "49", "heartbeat_seen": "yes", "bleeding": "no"}
    r = post(client, f"{url}/current", data, csrf)
    assert r.status_code == 303, r.text
    html = client.get(url).text
    assert "Loss before 12 weeks" in html and "7 weeks 0 days" in html
    r = post(client, f"{url}/current", {"action": "clear"}, csrf)
    assert r.status_code == 303
    assert "Loss before 12 weeks" not in client.get(url).text

    # Export, then import the same case: its id is this couple's label, so a confirmation asks
    # whether to update it (tests/web/test_records.py) or import it as a new couple.
    exported = client.get(f"{url}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    assert exported.headers["content-disposition"] == 'attachment; filename="RPL-0001.json"'
    case = exported.json()
    assert case["schema"] == "rplcare.case/1" and len(case["pregnancies"]) == 2
    assert case["tests"][0]["code"] == "lupus_anticoagulant"

    token = csrf_of(client.get("/patients/import").text)
    r = client.post(
        "/patients/import",
        data={"csrf": token},
        files={"file": ("RPL-0001.json", exported.content, "application/json")},
        follow_redirects=False,
    )
    assert r.status_code == 200 and "Confirm the import" in r.text
    document = re.search(r'name="case" value="([^"]+)"', r.text)
    assert document
    form = {"case": unescape(document.group(1)), "target": "new"}
    r = post(client, "/patients/import/confirm", form, token)
    assert r.status_code == 303, r.text
    new_url = r.headers["location"].split("?", 1)[0]
    assert new_url != url
    imported = client.get(new_url)
    assert imported.status_code == 200
    assert definition_cells(imported.text, "Meets the definition")[0] == "meets"
    assert client.get(f"{new_url}/export").json()["pregnancies"] == (case["pregnancies"])

    listing = client.get("/patients")
    assert listing.text.count(">RPL-0001</a>") == 2
    assert client.get("/patients", params={"q": "nobody"}).text.count(">RPL-0001</a>") == 0

    # Delete needs the confirmation box.
    r = post(client, f"{url}/delete", {}, csrf)
    assert r.status_code == 422
    assert 'role="alert"' in r.text
    r = post(client, f"{url}/delete", {"confirm": "yes"}, csrf)
    assert r.status_code == 303 and r.headers["location"] == "/patients"
    assert client.get(url).status_code == 404
    assert client.get("/patients").text.count(">RPL-0001</a>") == 1


def test_import_accepts_yaml(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    text = (
        "schema: rplcare.case/1\n"
        "id: from-yaml\n"
        f"as_of: {days_ago(1)}\n"
        "patient: {age: 30}\n"
        "pregnancies:\n"
        f"  - {{outcome: miscarriage, end_date: {days_ago(90)}, gestational_weeks: 9}}\n"
    )
    r = app_client.post(
        "/patients/import",
        data={"csrf": csrf},
        files={"file": ("case.yaml", text.encode(), "application/yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "from-yaml" in app_client.get(r.headers["location"]).text


# --- validation ---------------------------------------------------------------------------


def field_error(html: str, input_id: str) -> str:
    """The error text linked to an input by aria-describedby, checking the link exists."""
    tag = re.search(rf'<(?:input|select)[^>]*\bid="{re.escape(input_id)}"[^>]*>', html)
    assert tag, f"no input {input_id}"
    assert f"{input_id}-error" in tag.group(0), tag.group(0)
    assert 'aria-invalid="true"' in tag.group(0)
    block = re.search(rf'id="{re.escape(input_id)}-error" role="alert">(.*?)</ul>', html, re.S)
    assert block, f"no error block for {input_id}"
    return text_of(block.group(1)).strip()


def test_new_couple_errors_are_inline_with_422(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    data = {"label": "", "patient_age": "abc", "partner_age": "35", "bmi": "-3", "pcos": "yes"}
    r = post(app_client, "/patients/new", data, csrf)
    assert r.status_code == 422
    assert "a label is required" in field_error(r.text, "label")
    # Next to its field a problem is shown without its case path.
    assert field_error(r.text, "patient_age") == "Error: Input should be a valid integer"
    assert field_error(r.text, "bmi").startswith("Error: Input should be greater than 0")
    # The entered values are kept.
    assert re.search(r'id="patient_age"[^>]*value="abc"', r.text)
    assert re.search(r'id="partner_age"[^>]*value="35"', r.text)
    assert re.search(r'<option value="yes" selected>', r.text)

    r = post(app_client, "/patients/new", {"label": "x", "patient_age": "", "bmi": ""}, csrf)
    assert r.status_code == 422
    # U6: vocabulary a clinician uses, not the case format's field names.
    assert field_error(r.text, "patient_age") == "Error: give the age or the birth date"

    data = {"label": "x", "patient_age": "30", "patient_birth_date": "1990-01-01"}
    r = post(app_client, "/patients/new", data, csrf)
    assert r.status_code == 422
    assert "not both" in field_error(r.text, "patient_age")


@pytest.mark.parametrize(
    ("field", "value", "input_id", "expected"),
    [
        ("end_date", days_ago(-30), "preg_end_date", "Error: after today"),
        ("gestational_weeks", "60", "preg_gestational_weeks", "above the plausible 45"),
        ("gestational_weeks", "ten", "preg_gestational_weeks", "Error: Input should be a valid"),
        ("end_date", "31/12/2024", "preg_end_date", "expected a date as YYYY-MM-DD"),
        ("outcome", "lost", "preg_outcome", "Error: Input should be 'live birth'"),
    ],
)
def test_pregnancy_errors_are_inline_with_422(
    app_client: TestClient, field: str, value: str, input_id: str, expected: str
) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    data = {"outcome": "miscarriage", "end_date": days_ago(30), "gestational_weeks": "8"}
    data[field] = value
    r = post(app_client, f"{url}/pregnancies", data, csrf)
    assert r.status_code == 422
    assert expected in field_error(r.text, input_id)
    assert 'href="#add-pregnancy"' in r.text  # the error summary links to the form
    assert re.search(rf'id="{input_id}"[^>]*value="{re.escape(value)}"', r.text) or (
        input_id == "preg_outcome"
    )
    # Nothing was stored.
    assert app_client.get(f"{url}/export").json()["pregnancies"] == []


def test_test_result_errors_are_inline_with_422(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    data = {"form": "test-any", "choice": "tsh:", "date": days_ago(3), "value": "2.5"}
    r = post(app_client, f"{url}/tests", data, csrf)
    assert r.status_code == 422
    assert "a value needs a unit" in field_error(r.text, "t-choice")

    data = {"form": "test-any", "choice": "lupus_anticoagulant:maybe", "date": days_ago(3)}
    r = post(app_client, f"{url}/tests", data, csrf)
    assert r.status_code == 422
    # U6: the test by its label, not its code.
    assert "Error: 'maybe' is not a result of Lupus anticoagulant" in field_error(
        r.text, "t-choice"
    )

    r = post(app_client, f"{url}/tests", {**data, "choice": "nope:x"}, csrf)
    assert r.status_code == 422
    assert "unknown test 'nope'" in field_error(r.text, "t-choice")

    data = {"form": "test-any", "code": "tsh", "date": days_ago(3), "value": "2.5", "unit": "mIU/L"}
    assert post(app_client, f"{url}/tests", data, csrf).status_code == 303
    assert app_client.get(f"{url}/export").json()["tests"] == [
        {"code": "tsh", "date": days_ago(3), "value": 2.5, "unit": "mIU/L"}
    ]

    # Tissue from a pregnancy: the form numbers pregnancies from 1, the case from 0.
    add_miscarriage(app_client, url, csrf, days_ago(60))
    data = {"code": "poc_karyotype", "date": days_ago(50), "result": "aneuploid", "pregnancy": "2"}
    r = post(app_client, f"{url}/tests", data, csrf)
    assert r.status_code == 422
    assert "pregnancy 2 but the couple has 1 pregnancies" in field_error(r.text, "t-pregnancy")
    assert post(app_client, f"{url}/tests", {**data, "pregnancy": "1"}, csrf).status_code == 303
    tests = app_client.get(f"{url}/export").json()["tests"]
    assert {
        "code": "poc_karyotype",
        "date": days_ago(50),
        "result": "aneuploid",
        "pregnancy": 0,
    } in (tests)
    timeline = app_client.get(url).text.split('class="data-table timeline"', 1)[1]
    assert "aneuploid; pregnancy 1" in text_of(timeline.split("</table>", 1)[0])


def test_current_pregnancy_and_care_status_errors(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    r = post(app_client, f"{url}/current", {"gestational_age_days": "400"}, csrf)
    assert r.status_code == 422
    assert "above the plausible" in field_error(r.text, "cur_gestational_age_days")

    add_miscarriage(app_client, url, csrf, days_ago(300))
    add_miscarriage(app_client, url, csrf, days_ago(100))
    # The per-item route stays for API users and old links; the page now posts to /care (U4).
    item = first_care_item(app_client, url)
    r = post(app_client, f"{url}/care/{item}", {"status": "finished"}, csrf)
    assert r.status_code == 422
    assert 'role="alert"' in r.text
    r = post(app_client, f"{url}/care/not-an-item", {"status": "done"}, csrf)
    assert r.status_code == 404
    r = post(app_client, f"{url}/care/{item}", {"status": "started"}, csrf)
    assert r.status_code == 303


def first_care_item(client: TestClient, url: str) -> str:
    """The id of the couple's first care-plan item, from the engine (the page shows merged
    rows per intervention, not item ids)."""
    from rplcare.engine.assess import assess

    case = client.get(f"{url}/export").json()
    case["as_of"] = TODAY.isoformat()
    return assess(repo.validate(case)).care_plan[0].id


def test_import_errors_are_shown_with_422(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    bad_cases: list[tuple[str, bytes, str]] = [
        ("broken.json", b"{not json", "not valid JSON"),
        ("empty.json", b"   ", "the file is empty"),
        ("latin1.json", '{"id": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
        (
            "future.json",
            json.dumps(
                {
                    "schema": "rplcare.case/1",
                    "as_of": days_ago(1),
                    "patient": {"age": 30},
                    "pregnancies": [
                        {"outcome": "miscarriage", "end_date": days_ago(0), "gestational_weeks": 60}
                    ],
                }
            ).encode(),
            "pregnancies[0].end_date: after as_of",
        ),
    ]
    for name, content, expected in bad_cases:
        r = app_client.post(
            "/patients/import",
            data={"csrf": csrf},
            files={"file": (name, content, "application/octet-stream")},
            follow_redirects=False,
        )
        assert r.status_code == 422, name
        assert expected in text_of(r.text), name
        assert 'id="file-error" role="alert"' in r.text
    r = app_client.post("/patients/import", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 422
    assert "choose a case file" in r.text


# --- CSRF, roles, audit -------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "forged"])
def test_forms_without_the_session_csrf_token_are_rejected(
    app_client: TestClient, token: str
) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("/patients/new", {"label": "x", "patient_age": "30"}),
        (f"{url}/pregnancies", {"outcome": "miscarriage", "end_date": days_ago(5)}),
        (f"{url}/tests", {"code": "tsh", "date": days_ago(5), "result": "normal"}),
        (f"{url}/current", {"gestational_age_days": "40"}),
        (f"{url}/care/x", {"status": "done"}),
        (f"{url}/delete", {"confirm": "yes"}),
        ("/patients/import", {}),
        ("/admin/users", {"username": "mallory", "password": "p" * 20, "role": "admin"}),
    ]
    for path, data in attempts:
        r = app_client.post(path, data={**data, "csrf": token}, follow_redirects=False)
        expected = 403 if path == "/admin/users" else 400  # the clinician is not an admin
        assert r.status_code == expected, path
        assert 'role="alert"' in r.text
    assert app_client.get(f"{url}/export").json()["pregnancies"] == []
    assert app_client.get(url).status_code == 200


def test_admin_csrf_is_checked(app_client: TestClient) -> None:
    login(app_client, "boss")
    data = {"username": "mallory", "password": "p" * 20, "role": "admin", "csrf": "forged"}
    r = app_client.post("/admin/users", data=data, follow_redirects=False)
    assert r.status_code == 400
    assert "mallory" not in app_client.get("/admin/users").text


def test_clinician_gets_403_on_admin_pages(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    for path in ("/admin/users", "/admin/audit"):
        r = app_client.get(path)
        assert r.status_code == 403
        assert "for administrators only" in r.text
    r = post(app_client, "/admin/users", {"username": "x", "password": "y" * 12}, csrf)
    assert r.status_code == 403
    assert 'href="/admin/users"' not in app_client.get("/patients").text


def test_admin_creates_users_and_sees_the_audit_log(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    assert app_client.get(url).status_code == 200
    couple_id = url.rsplit("/", 1)[1]
    app_client.cookies.clear()

    csrf = login(app_client, "boss")
    page = app_client.get("/admin/audit")
    assert page.status_code == 200
    rows = re.findall(r"<tr>(.*?)</tr>", page.text, re.S)
    events = [
        [text_of(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in rows[1:]
    ]
    assert ["doc", "read", "couple", couple_id] in [e[1:5] for e in events]
    assert ["doc", "create", "assessment", couple_id] in [e[1:5] for e in events]
    assert ["boss", "login", "user"] in [e[1:4] for e in events]

    # Create a user: validation first, then success, then the new user can sign in.
    data = {"username": "new doc", "password": "short", "role": "king"}
    r = post(app_client, "/admin/users", data, csrf)
    assert r.status_code == 422
    assert "username:" in field_error(r.text, "new_username")
    assert "at least 12" in field_error(r.text, "new_password")
    assert "role:" in field_error(r.text, "new_role")
    r = post(
        app_client, "/admin/users", {"username": "doc", "password": "p" * 12, "role": "admin"}, csrf
    )
    assert r.status_code == 422
    assert "already exists" in field_error(r.text, "new_username")

    data = {"username": "newdoc", "password": "a-long-password", "role": "clinician"}
    r = post(app_client, "/admin/users", data, csrf)
    assert r.status_code == 303 and r.headers["location"] == "/admin/users"
    users = app_client.get("/admin/users").text
    assert "newdoc" in users
    assert "a-long-password" not in users
    app_client.cookies.clear()
    PASSWORDS["newdoc"] = "a-long-password"
    try:
        login(app_client, "newdoc")
    finally:
        del PASSWORDS["newdoc"]


# --- robustness ---------------------------------------------------------------------------


def test_unknown_couple_is_404_not_500(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    assert app_client.get("/patients/999").status_code == 404
    assert app_client.get("/patients/999/export").status_code == 404
    assert app_client.get("/patients/999/delete").status_code == 404
    r = post(app_client, "/patients/999/pregnancies", {"outcome": "miscarriage"}, csrf)
    assert r.status_code == 404


def test_pages_are_accessible_and_free_of_inline_script_and_style(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    add_miscarriage(app_client, url, csrf, days_ago(300))
    add_miscarriage(app_client, url, csrf, days_ago(100))
    post(app_client, f"{url}/current", {"gestational_age_days": "45"}, csrf)
    for path in ("/patients", "/patients/new", "/patients/import", url, f"{url}/delete"):
        r = app_client.get(path)
        assert r.status_code == 200, path
        html = r.text
        assert "<script" not in html, path
        assert " style=" not in html and "<style" not in html, path
        # Every visible input, select and textarea has a label.
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag or 'type="submit"' in tag:
                continue
            input_id = re.search(r'\bid="([^"]+)"', tag)
            assert input_id, f"{path}: input without id: {tag}"
            assert f'for="{input_id.group(1)}"' in html, f"{path}: no label for {tag}"
        # Ids are unique; headings do not skip levels.
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), f"{path}: duplicate ids"
        levels = [int(h) for h in re.findall(r"<h([1-6])\b", html)]
        assert levels[0] == 1, path
        assert all(b - a <= 1 for a, b in pairwise(levels)), (path, levels)
        # Tables label their headers.
        assert all("scope=" in th for th in re.findall(r"<th\b[^>]*>", html)), path


def _age_current_pregnancy(db_url: str, url: str, days: int) -> None:
    """Move the day the current pregnancy was entered `days` into the past."""
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        couple = session.get(Couple, int(url.rsplit("/", 1)[1]))
        assert couple is not None
        couple.current_recorded_on = TODAY - timedelta(days=days)
    engine.dispose()


def test_an_overdue_current_pregnancy_leaves_the_history_assessable(
    app_client: TestClient, db_url: str
) -> None:
    """U8: a current pregnancy entered at 60 days and never closed is at 425 days a year later.
    The page still assesses the history, flags only the current pregnancy and asks for its
    outcome; the personal leaflet does not 422; recording the outcome clears it."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    add_miscarriage(app_client, url, csrf, days_ago(700))
    add_miscarriage(app_client, url, csrf, days_ago(500))
    assert (
        post(app_client, f"{url}/current", {"gestational_age_days": "60"}, csrf).status_code == 303
    )
    _age_current_pregnancy(db_url, url, 365)
    r = app_client.get(url)
    assert r.status_code == 200
    assert "This record cannot be assessed" not in r.text
    assert 'class="data-table definitions"' in r.text  # the history is assessed
    assert "This pregnancy must have ended" in r.text
    assert "Record the outcome of this pregnancy" in r.text
    assert app_client.get(f"{url}/leaflet", params={"lang": "en"}).status_code == 200

    data = {"outcome": "live_birth", "end_date": days_ago(100), "gestational_weeks": "39+2"}
    r = post(app_client, f"{url}/current/outcome", data, csrf)
    assert r.status_code == 303
    assert r.headers["location"] == f"{url}?saved=outcome#history"
    case = app_client.get(f"{url}/export").json()
    assert "current_pregnancy" not in case
    assert {
        "outcome": "live_birth",
        "end_date": days_ago(100),
        "gestational_weeks": round(39 + 2 / 7, 4),
    } in case["pregnancies"]
    page = app_client.get(r.headers["location"]).text
    assert "Outcome recorded" in page and "must have ended" not in page


def test_current_pregnancy_figures_follow_the_gestation(
    app_client: TestClient, db_url: str
) -> None:
    """U8: figures "before 12 weeks" are hidden once 12 weeks have passed, and past the
    current-pregnancy model's range (its domain, 28 weeks) the page asks for the outcome
    instead of showing figures."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    # Weeks+days as clinicians write them (U10): 6+3 is 45 days.
    assert (
        post(app_client, f"{url}/current", {"gestational_age_days": "6+3"}, csrf).status_code == 303
    )
    assert app_client.get(f"{url}/export").json()["current_pregnancy"]["gestational_age_days"] == 45
    html = app_client.get(url).text
    assert "Loss before 12 weeks" in html and "Loss before 20 weeks" in html
    assert "Record the outcome of this pregnancy</h3>" not in html

    _age_current_pregnancy(db_url, url, 100)  # 145 days: 20+5
    html = app_client.get(url).text
    assert "Loss before 12 weeks" not in html and "Loss before 20 weeks" not in html

    _age_current_pregnancy(db_url, url, 160)  # 205 days: past the model's 196
    html = app_client.get(url).text
    assert "Record the outcome of this pregnancy</h3>" in html
    assert "must have ended" not in html  # still plausible, so still assessed with the case


ODD_VALUES = ["", " ", "-1", "1e400", "nan", "9" * 5000, "2026-02-30", "<b>x</b>", "\u202e€", "yes"]


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_odd_form_values_never_cause_a_server_error(app_client: TestClient, odd: str) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    forms: list[tuple[str, list[str]]] = [
        (
            "/patients/new",
            [
                "label",
                "patient_age",
                "patient_birth_date",
                "pcos",
                "partner_age",
                "smoker",
                "bmi",
                "alcohol",
                "caffeine",
            ],
        ),
        (f"{url}/pregnancies", ["outcome", "end_date", "gestational_weeks", "heartbeat_seen"]),
        (f"{url}/tests", ["form", "code", "date", "result", "value", "unit", "pregnancy"]),
        (
            f"{url}/current",
            [
                "action",
                "gestational_age_days",
                "heartbeat_seen",
                "bleeding",
                "intrauterine_confirmed",
            ],
        ),
        (f"{url}/care/{odd or 'x'}", ["status"]),
        (f"{url}/delete", ["confirm"]),
    ]
    for path, fields in forms:
        r = post(app_client, path, dict.fromkeys(fields, odd), csrf)
        assert r.status_code in (303, 400, 404, 422), (path, r.status_code)
        assert "<b>x</b>" not in r.text  # escaped
    assert app_client.get(url).status_code in (200, 404)
    assert app_client.get("/patients", params={"q": odd[:100]}).status_code == 200


def test_patient_leaflet_in_each_format_and_language(app_client: TestClient) -> None:
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf, label="RPL-LEAF")
    add_miscarriage(app_client, url, csrf, days_ago(400))
    add_miscarriage(app_client, url, csrf, days_ago(200))
    page = app_client.get(url).text
    assert f'action="{url}/leaflet"' in page
    html = app_client.get(f"{url}/leaflet", params={"lang": "sv"})
    assert html.status_code == 200
    assert html.headers["cache-control"] == "no-store"
    assert '<html lang="sv">' in html.text
    from rplcare.leaflet.i18n import localizer

    swedish = localizer("sv").gettext("Your situation")
    assert swedish != "Your situation"
    assert swedish in html.text
    pdf = app_client.get(f"{url}/leaflet", params={"lang": "zh", "format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"].endswith('-zh.pdf"')
    bad = app_client.get(f"{url}/leaflet", params={"lang": "fr"})
    assert bad.status_code == 400
    assert "Unknown language" in bad.text
    missing = app_client.get("/patients/999999/leaflet")
    assert missing.status_code == 404


def test_patient_leaflet_is_short_by_default_and_the_booklet_on_request(
    app_client: TestClient,
) -> None:
    """Issue 16: the form offers the short leaflet or the full booklet; the short one links to
    the public general information at the app's address, never to a personal page."""
    from rplcare.leaflet.i18n import localizer

    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf, label="RPL-BOOKLET")
    add_miscarriage(app_client, url, csrf, days_ago(400))
    add_miscarriage(app_client, url, csrf, days_ago(200))
    assert 'name="booklet"' in app_client.get(url).text
    loc = localizer("nl")
    short = app_client.get(f"{url}/leaflet", params={"lang": "nl"}).text
    booklet = app_client.get(f"{url}/leaflet", params={"lang": "nl", "booklet": "true"}).text
    general_title = loc.gettext("What is recurrent pregnancy loss?")
    assert general_title in booklet and general_title not in short
    assert loc.gettext("Your recurrent pregnancy loss: the full booklet") in booklet
    assert 'href="http://testserver/leaflet?lang=nl"' in short.replace("&amp;", "&")
    assert "/patients/" not in short.split('class="online"')[1]
    assert "<svg" in short.split('class="online"')[1]  # the QR code
    pdf = app_client.get(f"{url}/leaflet", params={"format": "pdf", "booklet": "true"})
    assert pdf.headers["content-disposition"].endswith('-booklet-en.pdf"')


def test_patient_page_says_what_a_newer_knowledge_version_changed(
    app_client: TestClient, db_url: str
) -> None:
    """A snapshot made with an older knowledge version keeps its version; the page lists what
    the current version changes in the advice."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf)
    assert "knowledge base has changed" not in app_client.get(url).text
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        couple = session.get(Couple, int(url.rsplit("/", 1)[1]))
        assert couple is not None
        record = couple.assessments[-1]
        payload = dict(record.payload)
        payload["knowledge_version"] = "2026.11.1"
        payload["care_plan"] = [
            *payload["care_plan"],
            {
                "id": "nice-ng126.tx.progesterone-bleeding-await-scan",
                "recommendation": "recommended",
            },
        ]
        record.payload = payload
        record.knowledge_version = "2026.11.1"
    engine.dispose()
    html = unescape(app_client.get(url).text)
    assert "knowledge base has changed since an earlier assessment" in html
    assert "knowledge version 2026.11.1" in html
    assert "No longer shown: nice-ng126.tx.progesterone-bleeding-await-scan: recommended" in html
    with transaction(session_factory(make_engine(db_url))) as session:
        couple = session.get(Couple, int(url.rsplit("/", 1)[1]))
        assert couple is not None
        assert {r.knowledge_version for r in couple.assessments} >= {"2026.11.1"}


def test_patient_page_shows_the_clinic_profile(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RPLCARE_PROFILE", "sweden-regional")
    app = create_app(Settings(database_url=db_url, environment="test", secret_key="k" * 40))
    with TestClient(app) as client:
        csrf = login(client, "doc")
        url = new_couple(client, csrf)
        html = unescape(client.get(url).text)
        assert "Clinic profile: Sweden: ESHRE with regional eligibility" in html
        assert "Publicly funded work-up" in html
        assert html.index("eshre-2022") < html.index("ngf-2024")
    app.state.engine.dispose()


def test_patient_page_offers_live_birth_over_time_and_what_if(app_client: TestClient) -> None:
    """Issue 14: live birth within 1, 2 and 5 years on the patient page, and a what-if form
    (GET, no scripts) whose scenarios carry their citations."""
    csrf = login(app_client, "doc")
    url = new_couple(app_client, csrf, smoker="yes", bmi="33")
    add_miscarriage(app_client, url, csrf, days_ago(400))
    add_miscarriage(app_client, url, csrf, days_ago(200))
    html = unescape(app_client.get(url).text)
    assert "Live birth over time" in html and "Within 5 years" in html
    scenario = unescape(app_client.get(url, params={"if_stop_smoking": "1", "if_bmi": "24"}).text)
    assert "If smoker=false: miscarriage" in scenario
    assert "If bmi=24: miscarriage" in scenario
    assert "Pineles" in scenario
    bad = app_client.get(url, params={"if_bmi": "abc"})
    assert bad.status_code == 200
    assert 'class="field-error" role="alert"' in bad.text
