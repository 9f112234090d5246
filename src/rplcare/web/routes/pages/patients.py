"""The couples as a whole: the list and search, a new couple, import and export of a case
file, and deletion."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import Field

from rplcare.domain.case import Case
from rplcare.errors import CaseValidationError
from rplcare.io import parse_text
from rplcare.knowledge.loader import load_knowledge
from rplcare.web import records
from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep
from rplcare.web.models import Couple, User
from rplcare.web.routes.pages.common import (
    CsrfField,
    PageUser,
    bad_csrf,
    couple_or_404,
    error_page,
    posted_couple,
    render,
    see_other,
)
from rplcare.web.routes.pages.form_models import FIELD_LABELS, CoupleForm, FormModel
from rplcare.web.routes.pages.forms import FLAG_CHOICES, FormErrors, _, as_int, assign_problems
from rplcare.web.routes.pages.records import LABEL_MAX, label_problem
from rplcare.web.routes.pages.view import saved_redirect

router = APIRouter(tags=["pages"], include_in_schema=False)

MAX_UPLOAD_BYTES = 1_000_000
PER_PAGE = 50


# --- list and search ------------------------------------------------------------------------


@router.get("/patients", response_class=HTMLResponse)
def patient_list(
    request: Request,
    session: SessionDep,
    user: PageUser,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    couples, total = repo.page_of_couples(session, user.username, q.strip(), page, PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render(
        request,
        user,
        "patients/list.html",
        {
            "couples": couples,
            "q": q,
            "page": page,
            "pages": pages,
            "total": total,
            "today": date.today(),
            "age_on": age_on,
        },
    )


def age_on(couple: Couple, today: date) -> int | None:
    """The woman's age today from her birth date, else the age recorded for her."""
    born = couple.patient_birth_date
    if born is None:
        return couple.patient_age
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- new couple -----------------------------------------------------------------------------


@router.get("/patients/new", response_class=HTMLResponse)
def new_patient_form(request: Request, user: PageUser) -> HTMLResponse:
    return render(
        request,
        user,
        "patients/new.html",
        {"errors": FormErrors(form="new"), "flag_choices": FLAG_CHOICES},
    )


@router.post("/patients/new", response_model=None)
def new_patient(
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[CoupleForm, Form()],
) -> Response:
    if bad := bad_csrf(request, user, form.csrf):
        return bad
    problems = label_problem(form.label)
    try:
        case = repo.validate(form.new_case(date.today()), "new couple")
    except CaseValidationError as exc:
        problems += exc.problems
    if problems:
        errors = assign_problems(
            problems, form.inputs(), "new", form.submitted(), labels=form.labels()
        )
        return render(
            request,
            user,
            "patients/new.html",
            {"errors": errors, "flag_choices": FLAG_CHOICES},
            422,
        )
    couple = repo.create_couple(session, case, user.username)
    return see_other(f"/patients/{couple.id}")


# --- import and export ----------------------------------------------------------------------


@router.get("/patients/import", response_class=HTMLResponse)
def import_form(request: Request, user: PageUser) -> HTMLResponse:
    return render(request, user, "patients/import.html", {"problems": []})


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


def _import_problems(case: Case) -> list[str]:
    problems = []
    if case.as_of > date.today():
        problems.append(f"as_of: after today ({date.today()})")
    if case.id is not None and len(case.id) > LABEL_MAX:
        problems.append(f"id: at most {LABEL_MAX} characters (it becomes the label)")
    return problems


def _import_error(request: Request, user: User, exc: CaseValidationError) -> HTMLResponse:
    context = {"problems": exc.problems, "source": exc.source}
    return render(request, user, "patients/import.html", context, 422)


@router.post("/patients/import", response_model=None)
async def import_case(
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A case whose id is the label of stored couples is not stored at once: a confirmation
    page shows what importing it over each of them would change."""
    if bad := bad_csrf(request, user, csrf):
        return bad
    try:
        name, text = await _read_upload(file)
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        case = repo.validate(parse_text(text, name, suffix), name)
        if problems := _import_problems(case):
            raise CaseValidationError(problems, name)
    except CaseValidationError as exc:
        return _import_error(request, user, exc)
    matches = repo.couples_labelled(session, case.id) if case.id else []
    if not matches:
        couple = repo.create_couple(session, case, user.username)
        repo.audit(session, user.username, "import", "couple", couple.id)
        return saved_redirect(couple, "imported")
    context = {
        "source": name,
        "case": case,
        "document": json.dumps(case.model_dump(mode="json", by_alias=True, exclude_none=True)),
        "matches": [(c, records.changes_by(c, case)) for c in matches],
        "field_labels": FIELD_LABELS,
        "tests_vocab": load_knowledge().vocabulary.tests,
    }
    return render(request, user, "patients/import_confirm.html", context)


class ImportConfirmForm(FormModel):
    """The confirmed import: the case again (checked again in full) and its target."""

    case: str = Field("", max_length=MAX_UPLOAD_BYTES)
    target: str = ""


@router.post("/patients/import/confirm", response_model=None)
def confirm_import(
    request: Request,
    session: SessionDep,
    user: PageUser,
    form: Annotated[ImportConfirmForm, Form()],
) -> Response:
    if bad := bad_csrf(request, user, form.csrf):
        return bad
    try:
        case = repo.validate(parse_text(form.case, "confirmed import", ".json"), "import")
        if problems := _import_problems(case):
            raise CaseValidationError(problems, "import")
    except CaseValidationError as exc:
        return _import_error(request, user, exc)
    if form.target == "new":
        couple = repo.create_couple(session, case, user.username)
        repo.audit(session, user.username, "import", "couple", couple.id)
        return saved_redirect(couple, "imported")
    target = as_int(form.target)
    found = repo.get_couple(session, target, user.username) if isinstance(target, int) else None
    if found is None or found.label != case.id:
        return error_page(request, user, 404, _("There is no couple with this label to update."))
    records.replace_case(session, found, case, user.username, "import")
    return saved_redirect(found, "import-updated")


@router.get("/patients/{couple_id}/export", response_model=None)
def export_case(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = couple_or_404(request, session, couple_id, user)
    if not isinstance(couple, Couple):
        return couple
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


@router.get("/patients/{couple_id}/leaflet", response_model=None)
def patient_leaflet(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    lang: str = "en",
    format: str = "html",
    booklet: bool = False,
) -> Response:
    """The couple's personal leaflet in their language, as a page to print or a PDF: the short
    leaflet (at most 4 pages, with a link and QR code to the public general information), or
    with `booklet=true` the full booklet. The booklet is only ever served here, signed in."""
    from rplcare.domain.validation import parse_case
    from rplcare.knowledge.loader import load_knowledge
    from rplcare.leaflet.render import leaflet_for_case
    from rplcare.web.leaflets import bad_request, leaflet_response

    if message := bad_request(lang, format):
        return error_page(request, user, 400, message)
    couple = couple_or_404(request, session, couple_id, user)
    if not isinstance(couple, Couple):
        return couple
    kb = load_knowledge()
    try:
        case = parse_case(repo.couple_to_case(couple, date.today()), kb, f"couple {couple.id}")
    except CaseValidationError as exc:
        return error_page(request, user, 422, "; ".join(exc.problems))
    kind = "booklet" if booklet else "leaflet"
    repo.audit(session, user.username, "leaflet", "couple", couple.id, f"{lang} {format} {kind}")
    settings = request.app.state.settings
    leaflet = leaflet_for_case(
        case,
        lang,
        kb,
        request.app.state.profile,
        booklet=booklet,
        public_url=settings.public_url or str(request.base_url),
    )
    return leaflet_response(
        leaflet, format, f"rplcare-{couple.id}" + ("-booklet" if booklet else "")
    )


# --- delete ---------------------------------------------------------------------------------


@router.get("/patients/{couple_id}/delete", response_class=HTMLResponse)
def delete_form(couple_id: int, request: Request, session: SessionDep, user: PageUser) -> Response:
    couple = couple_or_404(request, session, couple_id, user)
    if not isinstance(couple, Couple):
        return couple
    return render(request, user, "patients/delete.html", {"couple": couple, "error": None})


@router.post("/patients/{couple_id}/delete", response_model=None)
def delete_patient(
    couple_id: int,
    request: Request,
    session: SessionDep,
    user: PageUser,
    csrf: CsrfField = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    couple = posted_couple(request, session, user, couple_id, csrf)
    if not isinstance(couple, Couple):
        return couple
    if confirm != "yes":
        error = _("confirm: tick the box to confirm that this couple should be deleted")
        return render(
            request, user, "patients/delete.html", {"couple": couple, "error": error}, 422
        )
    repo.delete_couple(session, couple, user.username)
    return see_other("/patients")
