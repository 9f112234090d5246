"""The clinician workspace: server-rendered pages over the repository verbs.

An adapter only: every clinical judgement comes from the engine through `repository`. Forms
post with a CSRF field and redirect after success (POST/redirect/GET); invalid input is
re-rendered with HTTP 422 and each problem next to the field its path names. `date.today()`
is read here, at the boundary, and nowhere in the core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from rplcare.domain.case import Outcome
from rplcare.engine.assess import assess
from rplcare.engine.assessment import DISCLAIMER, Assessment
from rplcare.errors import CaseValidationError
from rplcare.io import parse_text
from rplcare.knowledge.loader import load_knowledge
from rplcare.web import charts
from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep, current_user
from rplcare.web.models import AuditEvent, Couple, User
from rplcare.web.routes.auth import csrf_token
from rplcare.web.security import ROLES, csrf_matches

router = APIRouter(tags=["pages"], include_in_schema=False)

MAX_UPLOAD_BYTES = 1_000_000
MIN_PASSWORD = 12
AUDIT_PAGE = 200
LABEL_MAX = 120  # the couples.label column
OUTCOMES = tuple(o.value for o in Outcome)
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def _(text: str) -> str:
    """Marks a user-visible string for translation (identity until catalogues exist)."""
    return text


FLAG_CHOICES = (("", _("not recorded")), ("yes", _("yes")), ("no", _("no")))


# --- request plumbing -----------------------------------------------------------------------


def page_user(user: Annotated[User | None, Depends(current_user)]) -> User:
    """The signed-in user; anyone else is sent to the login page."""
    if user is None:
        raise HTTPException(303, "login required", headers={"Location": "/login"})
    return user


PageUser = Annotated[User, Depends(page_user)]
CsrfField = Annotated[str, Form()]


def _render(
    request: Request,
    user: User,
    template: str,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "_": _,
        "user": user,
        "csrf": csrf_token(request),
        "disclaimer": DISCLAIMER,
        "pct": charts.pct,
        "gestation": charts.gestation,
        "yn": _yes_no,
        **(context or {}),
    }
    response = request.app.state.templates.TemplateResponse(
        request, template, ctx, status_code=status
    )
    assert isinstance(response, HTMLResponse)
    return response


def _error_page(request: Request, user: User, status: int, message: str) -> HTMLResponse:
    titles = {
        400: _("The form could not be accepted"),
        403: _("Not allowed"),
        404: _("Not found"),
        422: _("The request could not be used"),
    }
    return _render(
        request,
        user,
        "patients/error.html",
        {"status": status, "heading": titles.get(status, _("Error")), "message": message},
        status,
    )


def _yes_no(flag: bool | None) -> str:
    """A recorded flag as the value of a yes/no/not-recorded select."""
    return "" if flag is None else "yes" if flag else "no"


def _bad_csrf(request: Request, user: User, given: str) -> HTMLResponse | None:
    if csrf_matches(request.session.get("csrf"), given):
        return None
    return _error_page(
        request,
        user,
        400,
        _("The form expired or did not come from this site. Go back, reload, and try again."),
    )


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _couple_or_none(session: SessionDep, couple_id: int, user: User) -> Couple | None:
    return repo.get_couple(session, couple_id, user.username)


def _no_couple(request: Request, user: User) -> HTMLResponse:
    return _error_page(request, user, 404, _("There is no couple with this number."))


# --- form parsing: typed where possible, else the raw text so that validation names it -----


def _text(raw: str) -> str | None:
    return raw.strip() or None


def _int(raw: str) -> int | str | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


def _float(raw: str) -> float | str | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw


def _flag(raw: str) -> bool | str | None:
    raw = raw.strip().lower()
    if not raw:
        return None
    return {"yes": True, "no": False}.get(raw, raw)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


@dataclass
class FormErrors:
    """Problems of one submitted form: by input id, and those that name no input."""

    form: str = ""
    anchor: str = ""  # the id of the form's element, for a link from the error summary
    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, input_id: str | None, problem: str) -> None:
        if input_id is None:
            self.general.append(problem)
        else:
            self.fields.setdefault(input_id, []).append(problem)


def _slug(text: str) -> str:
    """An element id as the templates make it from an item id (dots become dashes)."""
    return text.replace(".", "-")


def _path_of(problem: str) -> str:
    return problem.split(":", 1)[0].strip()


def assign_problems(
    problems: Sequence[str],
    inputs: Mapping[str, str],
    form: str,
    values: Mapping[str, str],
    anchor: str = "",
) -> FormErrors:
    """Attach each validation problem to the input whose case path it names. `inputs` maps a
    case path (``patient.age``) to an input id; a problem on a parent path (``patient``) goes
    to its first input; the rest are shown above the form."""
    errors = FormErrors(form=form, anchor=anchor, values=dict(values))
    for problem in problems:
        path = _path_of(problem)
        target = inputs.get(path)
        if target is None:
            target = next((i for p, i in inputs.items() if p.startswith(path + ".")), None)
        errors.add(target, problem)
    return errors


# --- view helpers ---------------------------------------------------------------------------


def _vocabulary_tests() -> dict[str, Any]:
    return {
        code: spec
        for code, spec in load_knowledge().vocabulary.tests.items()
        if spec.in_case_vocabulary
    }


def _guideline_name(key: str) -> str:
    g = load_knowledge().guidelines.get(key)
    return g.name if g else key


def _chart(render: Any, *args: Any) -> Markup | None:
    try:
        return Markup(render(*args))  # charts escape every text they draw
    except (ValueError, TypeError, KeyError):
        return None


def _timeline(couple: Couple) -> list[dict[str, Any]]:
    tests = _vocabulary_tests()
    events: list[dict[str, Any]] = []
    numbers = {p.id: i + 1 for i, p in enumerate(couple.pregnancies)}
    for i, p in enumerate(couple.pregnancies):
        events.append(
            {
                "date": p.end_date,
                "kind": "pregnancy",
                "number": i + 1,
                "outcome": p.outcome.replace("_", " "),
                "weeks": p.gestational_weeks,
                "heartbeat": p.heartbeat_seen,
            }
        )
    for t in couple.tests:
        spec = tests.get(t.code)
        result = " ".join(
            str(x)
            for x in (t.result, f"{t.value:g}" if t.value is not None else None, t.unit)
            if x is not None
        )
        events.append(
            {
                "date": t.date,
                "kind": "test",
                "label": spec.label if spec else t.code,
                "result": result,
                "pregnancy": numbers.get(t.pregnancy_id) if t.pregnancy_id else None,
            }
        )
    events.sort(key=lambda e: (e["date"], e["kind"] != "pregnancy"))
    return events


def _grouped_workup(a: Assessment) -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = {}
    for item in a.workup:
        groups.setdefault(item.guideline, []).append(item)
    return [{"key": k, "name": _guideline_name(k), "items": items} for k, items in groups.items()]


def _patient_context(
    session: SessionDep, couple: Couple, user: User, *, save: bool
) -> dict[str, Any]:
    today = date.today()
    assessment: Assessment | None = None
    problems: list[str] = []
    try:
        if save:
            assessment = repo.assess_couple(session, couple, today, user.username)
        else:
            assessment = assess(repo.validate(repo.couple_to_case(couple, today)))
    except CaseValidationError as exc:
        problems = exc.problems
    ctx: dict[str, Any] = {
        "couple": couple,
        "today": today,
        "assessment": assessment,
        "assessment_problems": problems,
        "timeline": _timeline(couple),
        "tests_vocab": _vocabulary_tests(),
        "outcomes": OUTCOMES,
        "flag_choices": FLAG_CHOICES,
        "care_statuses": repo.CARE_STATUSES,
        "care_state": {c.item_id: c for c in couple.care_statuses},
        "errors": FormErrors(),
        "current_days": (
            couple.current_gestational_age_days + (today - couple.current_recorded_on).days
            if couple.current_gestational_age_days is not None and couple.current_recorded_on
            else None
        ),
    }
    if assessment is not None:
        prog = assessment.prognosis
        nxt = prog.next_pregnancy
        cur = prog.current_pregnancy
        ctx["workup_groups"] = _grouped_workup(assessment)
        ctx["definition_names"] = {k: _guideline_name(k) for k in assessment.definitions}
        ctx["risk_chart"] = _chart(
            charts.risk_bar_svg,
            nxt.miscarriage_risk.estimate,
            nxt.miscarriage_risk.interval,
            _("Miscarriage in the next pregnancy"),
        )
        ctx["live_birth_chart"] = _chart(
            charts.risk_bar_svg,
            nxt.live_birth_chance.estimate,
            nxt.live_birth_chance.interval,
            _("Live birth in the next pregnancy"),
        )
        ctx["curve_chart"] = (
            _chart(
                charts.curve_svg,
                [p.model_dump() for p in cur.curve_to_20_weeks],
                cur.gestational_age_days,
            )
            if cur is not None and cur.curve_to_20_weeks
            else None
        )
    return ctx


def _patient_page(
    request: Request,
    session: SessionDep,
    couple: Couple,
    user: User,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = _patient_context(session, couple, user, save=errors is None)
    if errors is not None:
        ctx["errors"] = errors
    return _render(request, user, "patients/detail.html", ctx, status)


def _save_case(
    session: SessionDep, couple: Couple, case: dict[str, Any], user: User, what: str
) -> None:
    """Validate (raises CaseValidationError) and store a modified case."""
    repo.apply_case(couple, repo.validate(case, f"couple {couple.id}"))
    repo.audit(session, user.username, "update", "couple", couple.id, what)


# --- list and search ------------------------------------------------------------------------


@router.get("/patients", response_class=HTMLResponse)
def patient_list(
    request: Request,
    session: SessionDep,
    user: PageUser,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    couples = repo.list_couples(session, user.username, q.strip())
    return _render(request, user, "patients/list.html", {"couples": couples, "q": q})


# --- new couple -----------------------------------------------------------------------------

NEW_INPUTS = {
    "id": "label",
    "patient.age": "patient_age",
    "patient.birth_date": "patient_birth_date",
    "patient.pcos": "pcos",
    "partner.age": "partner_age",
    "lifestyle.smoker": "smoker",
    "lifestyle.bmi": "bmi",
    "lifestyle.alcohol_units_per_week": "alcohol",
    "lifestyle.caffeine_mg_per_day": "caffeine",
}


@router.get("/patients/new", response_class=HTMLResponse)
def new_patient_form(request: Request, user: PageUser) -> HTMLResponse:
    return _render(
        request,
        user,
        "patients/new.html",
        {"errors": FormErrors(form="new"), "flag_choices": FLAG_CHOICES},
    )


def _new_case(values: Mapping[str, str], today: date) -> dict[str, Any]:
    patient: dict[str, Any] = {}
    _put(patient, "age", _int(values["patient_age"]))
    _put(patient, "birth_date", _text(values["patient_birth_date"]))
    _put(patient, "pcos", _flag(values["pcos"]))
    case: dict[str, Any] = {
        "schema": "rplcare.case/1",
        "id": values["label"].strip(),
        "as_of": today.isoformat(),
        "patient": patient,
        "pregnancies": [],
        "tests": [],
    }
    partner_age = _int(values["partner_age"])
    if partner_age is not None:
        case["partner"] = {"age": partner_age}
    lifestyle: dict[str, Any] = {}
    _put(lifestyle, "smoker", _flag(values["smoker"]))
    _put(lifestyle, "bmi", _float(values["bmi"]))
    _put(lifestyle, "alcohol_units_per_week", _float(values["alcohol"]))
    _put(lifestyle, "caffeine_mg_per_day", _float(values["caffeine"]))
    if lifestyle:
        case["lifestyle"] = lifestyle
    return case


@router.post("/patients/new", response_model=None)
def new_patient(
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    label: Annotated[str, Form()] = "",
    patient_age: Annotated[str, Form()] = "",
    patient_birth_date: Annotated[str, Form()] = "",
    pcos: Annotated[str, Form()] = "",
    partner_age: Annotated[str, Form()] = "",
    smoker: Annotated[str, Form()] = "",
    bmi: Annotated[str, Form()] = "",
    alcohol: Annotated[str, Form()] = "",
    caffeine: Annotated[str, Form()] = "",
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    values = {
        "label": label,
        "patient_age": patient_age,
        "patient_birth_date": patient_birth_date,
        "pcos": pcos,
        "partner_age": partner_age,
        "smoker": smoker,
        "bmi": bmi,
        "alcohol": alcohol,
        "caffeine": caffeine,
    }
    problems: list[str] = []
    if not label.strip():
        problems.append(_("id: a label is required (a clinic reference, not a name)"))
    elif len(label.strip()) > LABEL_MAX:
        problems.append(_("id: at most {n} characters").format(n=LABEL_MAX))
    try:
        case = repo.validate(_new_case(values, date.today()), "new couple")
    except CaseValidationError as exc:
        problems += exc.problems
    if problems:
        return _render(
            request,
            user,
            "patients/new.html",
            {
                "errors": assign_problems(problems, NEW_INPUTS, "new", values),
                "flag_choices": FLAG_CHOICES,
            },
            422,
        )
    couple = repo.create_couple(session, case, user.username)
    return _see_other(f"/patients/{couple.id}")


# --- import ---------------------------------------------------------------------------------


@router.get("/patients/import", response_class=HTMLResponse)
def import_form(request: Request, user: PageUser) -> HTMLResponse:
    return _render(request, user, "patients/import.html", {"problems": []})


async def _read_upload(file: UploadFile | None) -> tuple[str, str]:
    """The upload's name and text; raises CaseValidationError on anything unusable."""
    if file is None or not file.filename:
        raise CaseValidationError([_("file: choose a case file to import")])
    name = file.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise CaseValidationError([_("file: larger than 1 MB; a case file is much smaller")], name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaseValidationError([_("file: not UTF-8 text")], name) from None
    if not text.strip():
        raise CaseValidationError([_("file: the file is empty")], name)
    return name, text


@router.post("/patients/import", response_model=None)
async def import_case(
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    try:
        name, text = await _read_upload(file)
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        case = repo.validate(parse_text(text, name, suffix), name)
        problems = []
        if case.as_of > date.today():
            problems.append(f"as_of: after today ({date.today()})")
        if case.id is not None and len(case.id) > LABEL_MAX:
            problems.append(f"id: at most {LABEL_MAX} characters (it becomes the label)")
        if problems:
            raise CaseValidationError(problems, name)
    except CaseValidationError as exc:
        return _render(
            request,
            user,
            "patients/import.html",
            {"problems": exc.problems, "source": exc.source},
            422,
        )
    couple = repo.create_couple(session, case, user.username)
    repo.audit(session, user.username, "import", "couple", couple.id)
    return _see_other(f"/patients/{couple.id}")


# --- the patient page -----------------------------------------------------------------------


@router.get("/patients/{couple_id}", response_class=HTMLResponse)
def patient_page(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    return _patient_page(request, session, couple, user)


@router.get("/patients/{couple_id}/export", response_model=None)
def export_case(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    case = repo.couple_to_case(couple, date.today())
    repo.audit(session, user.username, "export", "couple", couple.id)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", couple.label).strip("._") or f"couple-{couple.id}"
    return Response(
        json.dumps(case, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="{filename[:100]}.json"',
            "cache-control": "no-store",
        },
    )


# Test results ------------------------------------------------------------------------------

TEST_FIELDS = ("code", "date", "result", "value", "unit")


@router.post("/patients/{couple_id}/tests", response_model=None)
def add_test(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    form: Annotated[str, Form(max_length=200)] = "test-any",
    code: Annotated[str, Form()] = "",
    date_: Annotated[str, Form(alias="date")] = "",
    result: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    unit: Annotated[str, Form()] = "",
    pregnancy: Annotated[str, Form()] = "",
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    case = repo.couple_to_case(couple, date.today())
    n = len(case["tests"])
    test: dict[str, Any] = {"code": code.strip(), "date": date_.strip()}
    _put(test, "result", _text(result))
    _put(test, "value", _float(value))
    _put(test, "unit", _text(unit))
    index = _int(pregnancy)
    if isinstance(index, int):
        index -= 1  # the form numbers pregnancies from 1
    _put(test, "pregnancy", index)
    case["tests"].append(test)
    try:
        _save_case(session, couple, case, user, f"test {code.strip()[:40]}")
    except CaseValidationError as exc:
        inputs = {f"tests[{n}].{f}": f for f in (*TEST_FIELDS, "pregnancy")}
        inputs[f"tests[{n}]"] = "result"
        values = {
            "code": code,
            "date": date_,
            "result": result,
            "value": value,
            "unit": unit,
            "pregnancy": pregnancy,
        }
        anchor = "add-test" if form == "test-any" else "w-" + form.removeprefix("test-")
        errors = assign_problems(exc.problems, inputs, form, values, _slug(anchor))
        return _patient_page(request, session, couple, user, errors, 422)
    return _see_other(f"/patients/{couple.id}#history")


# Pregnancies -------------------------------------------------------------------------------


@router.post("/patients/{couple_id}/pregnancies", response_model=None)
def add_pregnancy(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    outcome: Annotated[str, Form()] = "",
    end_date: Annotated[str, Form()] = "",
    gestational_weeks: Annotated[str, Form()] = "",
    heartbeat_seen: Annotated[str, Form()] = "",
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    case = repo.couple_to_case(couple, date.today())
    n = len(case["pregnancies"])
    preg: dict[str, Any] = {
        "outcome": outcome.strip(),
        "end_date": end_date.strip(),
        "gestational_weeks": _float(gestational_weeks),
    }
    _put(preg, "heartbeat_seen", _flag(heartbeat_seen))
    case["pregnancies"].append(preg)
    try:
        _save_case(session, couple, case, user, "pregnancy added")
    except CaseValidationError as exc:
        fields = ("outcome", "end_date", "gestational_weeks", "heartbeat_seen")
        inputs = {f"pregnancies[{n}].{f}": f"preg_{f}" for f in fields}
        values = {
            "preg_outcome": outcome,
            "preg_end_date": end_date,
            "preg_gestational_weeks": gestational_weeks,
            "preg_heartbeat_seen": heartbeat_seen,
        }
        errors = assign_problems(exc.problems, inputs, "pregnancy", values, "add-pregnancy")
        return _patient_page(request, session, couple, user, errors, 422)
    return _see_other(f"/patients/{couple.id}#history")


# Current pregnancy -------------------------------------------------------------------------


@router.post("/patients/{couple_id}/current", response_model=None)
def set_current(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    action: Annotated[str, Form()] = "set",
    gestational_age_days: Annotated[str, Form()] = "",
    heartbeat_seen: Annotated[str, Form()] = "",
    bleeding: Annotated[str, Form()] = "",
    intrauterine_confirmed: Annotated[str, Form()] = "",
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    case = repo.couple_to_case(couple, date.today())
    if action == "clear":
        case.pop("current_pregnancy", None)
        what = "current pregnancy cleared"
    else:
        current: dict[str, Any] = {"gestational_age_days": _int(gestational_age_days)}
        _put(current, "heartbeat_seen", _flag(heartbeat_seen))
        _put(current, "bleeding", _flag(bleeding))
        _put(current, "intrauterine_confirmed", _flag(intrauterine_confirmed))
        case["current_pregnancy"] = current
        what = "current pregnancy set"
    try:
        _save_case(session, couple, case, user, what)
    except CaseValidationError as exc:
        fields = ("gestational_age_days", "heartbeat_seen", "bleeding", "intrauterine_confirmed")
        inputs = {f"current_pregnancy.{f}": f"cur_{f}" for f in fields}
        values = {
            "cur_gestational_age_days": gestational_age_days,
            "cur_heartbeat_seen": heartbeat_seen,
            "cur_bleeding": bleeding,
            "cur_intrauterine_confirmed": intrauterine_confirmed,
        }
        errors = assign_problems(exc.problems, inputs, "current", values, "current")
        return _patient_page(request, session, couple, user, errors, 422)
    return _see_other(f"/patients/{couple.id}#current")


# Care plan ---------------------------------------------------------------------------------


@router.post("/patients/{couple_id}/care/{item_id}", response_model=None)
def set_care(
    couple_id: int,
    item_id: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    status: Annotated[str, Form()] = "",
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    try:
        plan = assess(repo.validate(repo.couple_to_case(couple, date.today()))).care_plan
    except CaseValidationError:
        plan = []
    if item_id not in {c.id for c in plan}:
        return _error_page(
            request, user, 404, _("This item is not in the couple's current care plan.")
        )
    if status not in repo.CARE_STATUSES:
        errors = FormErrors(
            form=f"care-{item_id}", anchor=_slug(f"c-{item_id}-status"), values={"status": status}
        )
        errors.add(
            "status",
            _("status: choose one of {choices}").format(choices=", ".join(repo.CARE_STATUSES)),
        )
        return _patient_page(request, session, couple, user, errors, 422)
    repo.set_care_status(session, couple, item_id, status, user.username)
    return _see_other(f"/patients/{couple.id}#care")


# Delete ------------------------------------------------------------------------------------


@router.get("/patients/{couple_id}/delete", response_class=HTMLResponse)
def delete_form(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    return _render(request, user, "patients/delete.html", {"couple": couple, "error": None})


@router.post("/patients/{couple_id}/delete", response_model=None)
def delete_patient(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if bad := _bad_csrf(request, user, csrf):
        return bad
    couple = _couple_or_none(session, couple_id, user)
    if couple is None:
        return _no_couple(request, user)
    if confirm != "yes":
        error = _("confirm: tick the box to confirm that this couple should be deleted")
        return _render(
            request, user, "patients/delete.html", {"couple": couple, "error": error}, 422
        )
    repo.delete_couple(session, couple, user.username)
    return _see_other("/patients")


# --- administration -------------------------------------------------------------------------


def _not_admin(request: Request, user: User) -> HTMLResponse | None:
    if user.role == "admin":
        return None
    return _error_page(request, user, 403, _("This page is for administrators only."))


def _users_page(
    request: Request,
    session: SessionDep,
    user: User,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    users = list(session.scalars(select(User).order_by(User.username)))
    return _render(
        request,
        user,
        "admin/users.html",
        {
            "users": users,
            "roles": ROLES,
            "min_password": MIN_PASSWORD,
            "errors": errors or FormErrors(form="user"),
        },
        status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, session: SessionDep, user: PageUser) -> Response:
    if denied := _not_admin(request, user):
        return denied
    return _users_page(request, session, user)


@router.post("/admin/users", response_model=None)
def admin_create_user(
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    if denied := _not_admin(request, user):
        return denied
    if bad := _bad_csrf(request, user, csrf):
        return bad
    errors = FormErrors(form="user", values={"username": username, "role": role})
    name = username.strip()
    if not _USERNAME.fullmatch(name):
        errors.add(
            "new_username",
            _("username: 1 to 64 letters, digits or . _ @ - (no spaces)"),
        )
    elif repo.user_by_name(session, name) is not None:
        errors.add("new_username", _("username: this user already exists"))
    if len(password) < MIN_PASSWORD:
        errors.add("new_password", _("password: at least {n} characters").format(n=MIN_PASSWORD))
    elif len(password) > 256:
        errors.add("new_password", _("password: at most 256 characters"))
    if role not in ROLES:
        errors.add("new_role", _("role: choose one of {r}").format(r=", ".join(ROLES)))
    if errors:
        return _users_page(request, session, user, errors, 422)
    created = repo.create_user(session, username=name, password=password, role=role)
    repo.audit(session, user.username, "create", "user", created.id, f"role={role}")
    return _see_other("/admin/users")


@router.get("/admin/audit", response_class=HTMLResponse)
def admin_audit(request: Request, session: SessionDep, user: PageUser) -> Response:
    if denied := _not_admin(request, user):
        return denied
    events = list(
        session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE))
    )
    return _render(request, user, "admin/audit.html", {"events": events, "limit": AUDIT_PAGE})
