"""Correctable records (issue 15, U2): each pregnancy and test result can be edited or removed,
the couple's details edited, and a current pregnancy's outcome recorded, each on its own page.

A form page posts to its own address, so after a 422 the address bar shows the form's page.
Reloading it sends the same refused input again, which is refused again and stores nothing; a
redirect after a 422 would have to carry the entered clinical values in the (client-side,
signed but unencrypted) session cookie, which these pages avoid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from rplcare.errors import CaseValidationError
from rplcare.web import records
from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep
from rplcare.web.models import Couple, Pregnancy, TestResultRow, User
from rplcare.web.routes.pages.common import (
    PageUser,
    couple_or_404,
    error_page,
    posted_couple,
    render,
)
from rplcare.web.routes.pages.form_models import (
    ConfirmForm,
    CoupleForm,
    FormModel,
    PregnancyForm,
    TestForm,
    weeks_text,
)
from rplcare.web.routes.pages.forms import FLAG_CHOICES, FormErrors, _, assign_problems
from rplcare.web.routes.pages.view import OUTCOMES, saved_redirect, vocabulary_tests

router = APIRouter(tags=["pages"], include_in_schema=False)

PARTNER_CHOICES = (
    ("", _("not recorded")),
    ("current", _("current partner")),
    ("previous", _("previous partner")),
)


def _show(
    request: Request,
    user: User,
    template: str,
    couple: Couple,
    form: FormModel,
    errors: FormErrors | None = None,
    **extra: Any,
) -> HTMLResponse:
    """A record's form page, filled in with `form`'s texts; HTTP 422 when it has errors."""
    context = {
        "couple": couple,
        "values": form.submitted(),
        "labels": form.labels(),
        "errors": errors or FormErrors(),
        "outcomes": OUTCOMES,
        "flag_choices": FLAG_CHOICES,
        "partner_choices": PARTNER_CHOICES,
        "tests_vocab": vocabulary_tests(),
        "today": date.today(),
        **extra,
    }
    return render(request, user, template, context, 422 if errors else 200)


def _errors(form: FormModel, problems: list[str], inputs: dict[str, str]) -> FormErrors:
    return assign_problems(problems, inputs, "record", form.submitted(), "record", form.labels())


def _row(rows: list[Any], row_id: int) -> Any:
    return next((r for r in rows if r.id == row_id), None)


def _lookup(
    request: Request,
    session: Session,
    user: User,
    couple_id: int,
    csrf: str | None,
    find: Callable[[Couple], Any],
) -> tuple[Couple, Any] | HTMLResponse:
    """The couple (checking the CSRF field of a post) and its row, or the error page."""
    couple = (
        couple_or_404(request, session, couple_id, user)
        if csrf is None
        else posted_couple(request, session, user, couple_id, csrf)
    )
    if not isinstance(couple, Couple):
        return couple
    row = find(couple)
    if row is None:
        return error_page(request, user, 404, _("This couple has no such entry."))
    return couple, row


def _save(
    request: Request,
    user: User,
    couple: Couple,
    action: Callable[[date], None],
    on_error: Callable[[list[str]], HTMLResponse],
    saved: str,
) -> Response:
    try:
        action(date.today())
    except CaseValidationError as exc:
        return on_error(exc.problems)
    return saved_redirect(couple, saved)


# --- pregnancies ----------------------------------------------------------------------------


def _pregnancy_page(
    request: Request,
    user: User,
    couple: Couple,
    row: Pregnancy,
    form: PregnancyForm,
    errors: FormErrors | None = None,
) -> HTMLResponse:
    number = records.position(couple, row) + 1
    return _show(
        request,
        user,
        "patients/pregnancy_form.html",
        couple,
        form,
        errors,
        heading=_("Edit pregnancy {n}").format(n=number),
        action=f"/patients/{couple.id}/pregnancies/{row.id}/edit",
        button=_("Save pregnancy"),
    )


@router.get("/patients/{couple_id}/pregnancies/{row_id}/edit", response_class=HTMLResponse)
def edit_pregnancy_form(
    couple_id: int, row_id: int, request: Request, session: SessionDep, user: PageUser
) -> Response:
    found = _lookup(request, session, user, couple_id, None, lambda c: _row(c.pregnancies, row_id))
    if isinstance(found, HTMLResponse):
        return found
    couple, row = found
    form = PregnancyForm.of_part(repo.pregnancy_part(row))
    return _pregnancy_page(request, user, couple, row, form)


@router.post("/patients/{couple_id}/pregnancies/{row_id}/edit", response_model=None)
def edit_pregnancy(
    couple_id: int,
    row_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[PregnancyForm, Form()],
) -> Response:
    found = _lookup(
        request, session, user, couple_id, form.csrf, lambda c: _row(c.pregnancies, row_id)
    )
    if isinstance(found, HTMLResponse):
        return found
    couple, row = found
    at = f"pregnancies[{records.position(couple, row)}]"

    def on_error(problems: list[str]) -> HTMLResponse:
        errors = _errors(form, problems, form.inputs(at=at))
        return _pregnancy_page(request, user, couple, row, form, errors)

    def action(today: date) -> None:
        records.update_pregnancy(session, couple, row, form.part(), user.username, today)

    return _save(request, user, couple, action, on_error, "pregnancy-edited")


# --- test results ---------------------------------------------------------------------------


def _test_page(
    request: Request,
    user: User,
    couple: Couple,
    row: TestResultRow,
    form: TestForm,
    errors: FormErrors | None = None,
) -> HTMLResponse:
    return _show(
        request,
        user,
        "patients/test_form.html",
        couple,
        form,
        errors,
        heading=_("Edit test result"),
        action=f"/patients/{couple.id}/tests/{row.id}/edit",
    )


@router.get("/patients/{couple_id}/tests/{row_id}/edit", response_class=HTMLResponse)
def edit_test_form(
    couple_id: int, row_id: int, request: Request, session: SessionDep, user: PageUser
) -> Response:
    found = _lookup(request, session, user, couple_id, None, lambda c: _row(c.tests, row_id))
    if isinstance(found, HTMLResponse):
        return found
    couple, row = found
    index = {p.id: i for i, p in enumerate(couple.pregnancies)}
    form = TestForm.of_part(repo.result_part(row, index))
    return _test_page(request, user, couple, row, form)


@router.post("/patients/{couple_id}/tests/{row_id}/edit", response_model=None)
def edit_test(
    couple_id: int,
    row_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[TestForm, Form()],
) -> Response:
    found = _lookup(request, session, user, couple_id, form.csrf, lambda c: _row(c.tests, row_id))
    if isinstance(found, HTMLResponse):
        return found
    couple, row = found
    at = f"tests[{records.position(couple, row)}]"

    def on_error(problems: list[str]) -> HTMLResponse:
        errors = _errors(form, problems, form.input_ids(at))
        return _test_page(request, user, couple, row, form, errors)

    def action(today: date) -> None:
        records.update_test(session, couple, row, form.part(), user.username, today)

    return _save(request, user, couple, action, on_error, "test-edited")


# --- removal --------------------------------------------------------------------------------


def _describe(couple: Couple, row: Pregnancy | TestResultRow) -> str:
    if isinstance(row, Pregnancy):
        number = records.position(couple, row) + 1
        outcome = _(row.outcome.replace("_", " "))
        return _("pregnancy {n}: {outcome} on {date}, {weeks} weeks").format(
            n=number, outcome=outcome, date=row.end_date, weeks=weeks_text(row.gestational_weeks)
        )
    spec = vocabulary_tests().get(row.code)
    shown = " ".join(
        x for x in (row.result, f"{row.value:g}" if row.value is not None else None, row.unit) if x
    )
    return _("test result: {test} on {date}, {result}").format(
        test=spec.label if spec else row.code, date=row.date, result=shown
    )


def _remove_page(
    request: Request, user: User, couple: Couple, row: Pregnancy | TestResultRow, kind: str
) -> HTMLResponse:
    linked = records.linked_tests(couple, row) if isinstance(row, Pregnancy) else []
    return render(
        request,
        user,
        "patients/remove.html",
        {
            "couple": couple,
            "what": _describe(couple, row),
            "linked": len(linked),
            "action": f"/patients/{couple.id}/{kind}/{row.id}/remove",
        },
    )


def _remove_routes(kind: str, rows: Callable[[Couple], list[Any]], saved: str) -> None:
    """GET (confirmation page) and POST (remove) for one kind of entry."""

    def find(row_id: int) -> Callable[[Couple], Any]:
        return lambda couple: _row(rows(couple), row_id)

    @router.get(f"/patients/{{couple_id}}/{kind}/{{row_id}}/remove", response_class=HTMLResponse)
    def confirm_removal(
        couple_id: int, row_id: int, request: Request, session: SessionDep, user: PageUser
    ) -> Response:
        found = _lookup(request, session, user, couple_id, None, find(row_id))
        if isinstance(found, HTMLResponse):
            return found
        return _remove_page(request, user, *found, kind)

    @router.post(f"/patients/{{couple_id}}/{kind}/{{row_id}}/remove", response_model=None)
    def remove(
        couple_id: int,
        row_id: int,
        request: Request,
        session: SessionDep,
        user: PageUser,
        form: Annotated[ConfirmForm, Form()],
    ) -> Response:
        found = _lookup(request, session, user, couple_id, form.csrf, find(row_id))
        if isinstance(found, HTMLResponse):
            return found
        couple, row = found

        def action(today: date) -> None:
            verb = records.remove_pregnancy if isinstance(row, Pregnancy) else records.remove_test
            verb(session, couple, row, user.username, today)

        def on_error(problems: list[str]) -> HTMLResponse:
            message = _("It cannot be removed: the rest of the record would be invalid ({p}).")
            return error_page(request, user, 422, message.format(p="; ".join(problems)))

        return _save(request, user, couple, action, on_error, saved)


_remove_routes("pregnancies", lambda c: list(c.pregnancies), "pregnancy-removed")
_remove_routes("tests", lambda c: list(c.tests), "test-removed")


# --- the couple's details -------------------------------------------------------------------


def _details_page(
    request: Request, user: User, couple: Couple, form: CoupleForm, errors: FormErrors | None
) -> HTMLResponse:
    return _show(request, user, "patients/details.html", couple, form, errors)


@router.get("/patients/{couple_id}/details", response_class=HTMLResponse)
def details_form(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = couple_or_404(request, session, couple_id, user)
    if not isinstance(couple, Couple):
        return couple
    form = CoupleForm.of_case(repo.couple_to_case(couple, date.today()))
    return _details_page(request, user, couple, form, None)


@router.post("/patients/{couple_id}/details", response_model=None)
def edit_details(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[CoupleForm, Form()],
) -> Response:
    couple = posted_couple(request, session, user, couple_id, form.csrf)
    if not isinstance(couple, Couple):
        return couple

    def on_error(problems: list[str]) -> HTMLResponse:
        errors = _errors(form, problems, form.inputs())
        return _details_page(request, user, couple, form, errors)

    def action(today: date) -> None:
        label_problems = label_problem(form.label)
        if label_problems:
            raise CaseValidationError(label_problems)
        records.update_details(session, couple, form.apply_to, user.username, today)

    return _save(request, user, couple, action, on_error, "details")


LABEL_MAX = 120  # the couples.label column


def label_problem(label: str) -> list[str]:
    if not label.strip():
        return [_("id: a label is required (a clinic reference, not a name)")]
    if len(label.strip()) > LABEL_MAX:
        return [_("id: at most {n} characters").format(n=LABEL_MAX)]
    return []


# --- the outcome of the current pregnancy (U8) ----------------------------------------------


def _outcome_page(
    request: Request, user: User, couple: Couple, form: PregnancyForm, errors: FormErrors | None
) -> HTMLResponse:
    return _show(
        request,
        user,
        "patients/pregnancy_form.html",
        couple,
        form,
        errors,
        heading=_("Record the outcome of this pregnancy"),
        action=f"/patients/{couple.id}/current/outcome",
        button=_("Add to the history and clear the current pregnancy"),
    )


@router.get("/patients/{couple_id}/current/outcome", response_class=HTMLResponse)
def outcome_form(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = couple_or_404(request, session, couple_id, user)
    if not isinstance(couple, Couple):
        return couple
    if repo.current_days(couple, date.today()) is None:
        return error_page(request, user, 404, _("No current pregnancy is recorded."))
    return _outcome_page(request, user, couple, PregnancyForm(), None)


@router.post("/patients/{couple_id}/current/outcome", response_model=None)
def record_outcome(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[PregnancyForm, Form()],
) -> Response:
    couple = posted_couple(request, session, user, couple_id, form.csrf)
    if not isinstance(couple, Couple):
        return couple
    if repo.current_days(couple, date.today()) is None:
        return error_page(request, user, 404, _("No current pregnancy is recorded."))
    at = f"pregnancies[{len(couple.pregnancies)}]"

    def on_error(problems: list[str]) -> HTMLResponse:
        errors = _errors(form, problems, form.inputs(at=at))
        return _outcome_page(request, user, couple, form, errors)

    def action(today: date) -> None:
        records.record_outcome(session, couple, form.part(), user.username, today)

    return _save(request, user, couple, action, on_error, "outcome")
