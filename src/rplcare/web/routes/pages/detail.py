"""The patient page and the forms on it that edit the couple's case.

Every edit has one shape (`edit_case`): check the CSRF field, load the couple, change its case
as a dict, validate and store it; on invalid input re-render the page with HTTP 422 and each
problem next to its input, else redirect back to the page's section (POST/redirect/GET).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from rplcare.engine.assess import assess
from rplcare.errors import CaseValidationError
from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep
from rplcare.web.models import Couple, User
from rplcare.web.routes.pages.common import (
    CsrfField,
    PageUser,
    couple_or_404,
    error_page,
    posted_couple,
    see_other,
)
from rplcare.web.routes.pages.forms import (
    FormErrors,
    FormSpec,
    _,
    as_flag,
    as_float,
    as_int,
    as_text,
    put,
    slug,
)
from rplcare.web.routes.pages.view import patient_page_response

router = APIRouter(tags=["pages"], include_in_schema=False)


class Edit(NamedTuple):
    """What a form changed in a case: the audit detail, and the case path of the part."""

    what: str
    at: str


def _append(case: dict[str, Any], key: str, item: dict[str, Any]) -> str:
    """Append `item` to the case's list `key`; the new item's case path."""
    case[key].append(item)
    return f"{key}[{len(case[key]) - 1}]"


def _save_case(
    session: Session, couple: Couple, case: dict[str, Any], user: User, what: str
) -> None:
    """Validate (raises CaseValidationError) and store a modified case."""
    repo.apply_case(couple, repo.validate(case, f"couple {couple.id}"))
    repo.audit(session, user.username, "update", "couple", couple.id, what)


def edit_case(
    request: Request,
    session: Session,
    user: User,
    couple_id: int,
    csrf: str,
    change: Callable[[dict[str, Any]], Edit],
    form: FormSpec,
    section: str,
) -> Response:
    """Apply `change` to the couple's case and store it; then redirect to `#section` of the
    patient page, or re-render the page with the problems shown on `form` (HTTP 422)."""
    couple = posted_couple(request, session, user, couple_id, csrf)
    if not isinstance(couple, Couple):
        return couple
    case = repo.couple_to_case(couple, date.today())
    edit = change(case)
    try:
        _save_case(session, couple, case, user, edit.what)
    except CaseValidationError as exc:
        errors = form.errors(exc.problems, edit.at)
        return patient_page_response(request, session, couple, user, errors, 422)
    return see_other(f"/patients/{couple.id}#{section}")


@router.get("/patients/{couple_id}", response_class=HTMLResponse)
def patient_page(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = couple_or_404(request, session, couple_id, user)
    if not isinstance(couple, Couple):
        return couple
    return patient_page_response(request, session, couple, user)


# Test results ------------------------------------------------------------------------------


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
    def change(case: dict[str, Any]) -> Edit:
        test: dict[str, Any] = {"code": code.strip(), "date": date_.strip()}
        put(test, "result", as_text(result))
        put(test, "value", as_float(value))
        put(test, "unit", as_text(unit))
        index = as_int(pregnancy)
        if isinstance(index, int):
            index -= 1  # the form numbers pregnancies from 1
        put(test, "pregnancy", index)
        return Edit(f"test {code.strip()[:40]}", _append(case, "tests", test))

    # One test form per work-up item ("test-<item id>") and a general one ("test-any").
    anchor = "add-test" if form == "test-any" else "w-" + form.removeprefix("test-")
    submitted = {"code": code, "date": date_, "result": result, "value": value, "unit": unit}
    spec = FormSpec(form, slug(anchor), {**submitted, "pregnancy": pregnancy}, whole="result")
    return edit_case(request, session, user, couple_id, csrf, change, spec, "history")


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
    def change(case: dict[str, Any]) -> Edit:
        preg: dict[str, Any] = {
            "outcome": outcome.strip(),
            "end_date": end_date.strip(),
            "gestational_weeks": as_float(gestational_weeks),
        }
        put(preg, "heartbeat_seen", as_flag(heartbeat_seen))
        return Edit("pregnancy added", _append(case, "pregnancies", preg))

    submitted = {
        "outcome": outcome,
        "end_date": end_date,
        "gestational_weeks": gestational_weeks,
        "heartbeat_seen": heartbeat_seen,
    }
    spec = FormSpec("pregnancy", "add-pregnancy", submitted, prefix="preg_")
    return edit_case(request, session, user, couple_id, csrf, change, spec, "history")


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
    def change(case: dict[str, Any]) -> Edit:
        if action == "clear":
            case.pop("current_pregnancy", None)
            return Edit("current pregnancy cleared", "current_pregnancy")
        current: dict[str, Any] = {"gestational_age_days": as_int(gestational_age_days)}
        put(current, "heartbeat_seen", as_flag(heartbeat_seen))
        put(current, "bleeding", as_flag(bleeding))
        put(current, "intrauterine_confirmed", as_flag(intrauterine_confirmed))
        case["current_pregnancy"] = current
        return Edit("current pregnancy set", "current_pregnancy")

    submitted = {
        "gestational_age_days": gestational_age_days,
        "heartbeat_seen": heartbeat_seen,
        "bleeding": bleeding,
        "intrauterine_confirmed": intrauterine_confirmed,
    }
    spec = FormSpec("current", "current", submitted, prefix="cur_")
    return edit_case(request, session, user, couple_id, csrf, change, spec, "current")


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
    couple = posted_couple(request, session, user, couple_id, csrf)
    if not isinstance(couple, Couple):
        return couple
    try:
        case = repo.validate(repo.couple_to_case(couple, date.today()))
        plan = assess(case, profile=request.app.state.profile).care_plan
    except CaseValidationError:
        plan = []
    if item_id not in {c.id for c in plan}:
        return error_page(
            request, user, 404, _("This item is not in the couple's current care plan.")
        )
    if status not in repo.CARE_STATUSES:
        errors = FormErrors(
            form=f"care-{item_id}", anchor=slug(f"c-{item_id}-status"), values={"status": status}
        )
        errors.add(
            "status",
            _("status: choose one of {choices}").format(choices=", ".join(repo.CARE_STATUSES)),
        )
        return patient_page_response(request, session, couple, user, errors, 422)
    repo.set_care_status(session, couple, item_id, status, user.username)
    return see_other(f"/patients/{couple.id}#care")


@router.post("/patients/{couple_id}/care", response_model=None)
def set_care_statuses(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    intervention: Annotated[list[str] | None, Form()] = None,
    status: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """One form for the whole care plan (U4): pairs of (intervention, status), one per row of
    the merged plan. A status applies to every guideline's item on that intervention; an
    empty status leaves the row as it is."""
    couple = posted_couple(request, session, user, couple_id, csrf)
    if not isinstance(couple, Couple):
        return couple
    try:
        case = repo.validate(repo.couple_to_case(couple, date.today()))
        plan = assess(case, profile=request.app.state.profile).care_plan
    except CaseValidationError:
        plan = []
    items: dict[str, list[str]] = {}
    for c in plan:
        items.setdefault(c.intervention, []).append(c.id)
    keys, values = intervention or [], status or []
    errors = FormErrors(form="care-all", anchor="care-form")
    if len(keys) != len(values):
        errors.add(None, _("The form was incomplete: reload the page and try again."))
    pairs = list(zip(keys, values, strict=False))
    for key, value in pairs:
        if key not in items:
            errors.add(None, _("{key}: not in the couple's current care plan").format(key=key))
        elif value and value not in repo.CARE_STATUSES:
            choices = ", ".join(repo.CARE_STATUSES)
            problem = _("status: choose one of {choices}").format(choices=choices)
            errors.add(slug(f"c-{key}-status"), problem)
        errors.values[slug(f"c-{key}-status")] = value
    if errors:
        return patient_page_response(request, session, couple, user, errors, 422)
    current = {c.item_id: c.status for c in couple.care_statuses}
    for key, value in pairs:
        for item_id in items[key] if value else []:
            if current.get(item_id) != value:
                repo.set_care_status(session, couple, item_id, value, user.username)
    return see_other(f"/patients/{couple.id}#care")
