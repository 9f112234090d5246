"""The patient page and the forms on it that edit the couple's case.

Every edit has one shape (`edit_case`): check the CSRF field, load the couple, let a `records`
verb change, validate and store its case; on invalid input re-render the page with HTTP 422 and
each problem next to its input, else redirect back to the page's section with a "Saved" notice
(POST/redirect/GET). The forms' fields are declared once, in `form_models`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from rplcare.engine.assess import assess
from rplcare.errors import CaseValidationError
from rplcare.web import records
from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep
from rplcare.web.models import Couple, User
from rplcare.web.routes.pages.common import (
    CsrfField,
    PageUser,
    couple_or_404,
    error_page,
    posted_couple,
)
from rplcare.web.routes.pages.form_models import CurrentForm, PregnancyForm, TestForm
from rplcare.web.routes.pages.forms import FormErrors, _, assign_problems, slug
from rplcare.web.routes.pages.view import patient_page_response, saved_redirect

router = APIRouter(tags=["pages"], include_in_schema=False)


def edit_case(
    request: Request,
    session: Session,
    user: User,
    couple_id: int,
    csrf: str,
    save: Callable[[Couple, date], None],
    errors: Callable[[Couple, list[str]], FormErrors],
    saved: str,
) -> Response:
    """Run `save` (a `records` verb) on the couple; then redirect to the patient page with a
    "Saved" notice, or re-render the page with the problems shown on the form (HTTP 422)."""
    couple = posted_couple(request, session, user, couple_id, csrf)
    if not isinstance(couple, Couple):
        return couple
    try:
        save(couple, date.today())
    except CaseValidationError as exc:
        return patient_page_response(
            request, session, couple, user, errors(couple, exc.problems), 422
        )
    return saved_redirect(couple, saved)


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
    form: Annotated[TestForm, Form()],
) -> Response:
    def save(couple: Couple, today: date) -> None:
        records.add_test(session, couple, form.part(), user.username, today)

    def errors(couple: Couple, problems: list[str]) -> FormErrors:
        # One test form per work-up item ("test-<item id>") and a general one ("test-any").
        anchor = "add-test" if form.form == "test-any" else "w-" + form.form.removeprefix("test-")
        at = f"tests[{len(couple.tests)}]"
        ids = form.input_ids(at, combined=form.form == "test-any")
        return assign_problems(
            problems, ids, form.form, form.submitted(), slug(anchor), form.labels()
        )

    return edit_case(request, session, user, couple_id, form.csrf, save, errors, "test-added")


# Pregnancies -------------------------------------------------------------------------------


@router.post("/patients/{couple_id}/pregnancies", response_model=None)
def add_pregnancy(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[PregnancyForm, Form()],
) -> Response:
    def save(couple: Couple, today: date) -> None:
        records.add_pregnancy(session, couple, form.part(), user.username, today)

    def errors(couple: Couple, problems: list[str]) -> FormErrors:
        at = f"pregnancies[{len(couple.pregnancies)}]"
        return assign_problems(
            problems,
            form.inputs("preg_", at),
            "pregnancy",
            form.submitted(),
            "add-pregnancy",
            {"preg_" + k: v for k, v in form.labels().items()},
        )

    return edit_case(request, session, user, couple_id, form.csrf, save, errors, "pregnancy-added")


# Current pregnancy -------------------------------------------------------------------------


@router.post("/patients/{couple_id}/current", response_model=None)
def set_current(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[CurrentForm, Form()],
) -> Response:
    clear = form.action == "clear"

    def save(couple: Couple, today: date) -> None:
        part = None if clear else form.part()
        records.set_current(session, couple, part, user.username, today)

    def errors(couple: Couple, problems: list[str]) -> FormErrors:
        return assign_problems(
            problems,
            form.inputs("cur_", "current_pregnancy"),
            "current",
            {"cur_" + k: v for k, v in form.submitted().items()},
            "current",
            {"cur_" + k: v for k, v in form.labels().items()},
        )

    saved = "current-cleared" if clear else "current-set"
    return edit_case(request, session, user, couple_id, form.csrf, save, errors, saved)


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
    return saved_redirect(couple, "care")


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
    return saved_redirect(couple, "care")
