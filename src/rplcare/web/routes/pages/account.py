"""The signed-in user's own account: changing the password (review finding S6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from rplcare.web import accounts
from rplcare.web.deps import SessionDep
from rplcare.web.models import User
from rplcare.web.passwords import MAX_LENGTH, MIN_LENGTH, password_problems
from rplcare.web.routes.pages.common import (
    CsrfField,
    PasswordPageUser,
    bad_csrf,
    render,
    see_other,
)
from rplcare.web.routes.pages.forms import FormErrors, _
from rplcare.web.signin import check_password

router = APIRouter(tags=["pages"], include_in_schema=False)


def _password_page(
    request: Request,
    user: User,
    errors: FormErrors | None = None,
    status: int = 200,
    changed: bool = False,
) -> HTMLResponse:
    context = {
        "errors": errors or FormErrors(form="password"),
        "min_password": MIN_LENGTH,
        "max_password": MAX_LENGTH,
        "changed": changed,
    }
    return render(request, user, "account/password.html", context, status)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, user: PasswordPageUser, changed: bool = False) -> Response:
    return _password_page(request, user, changed=changed)


@router.post("/account/password", response_model=None)
def change_password(
    request: Request,
    session: SessionDep,
    user: PasswordPageUser,
    csrf: CsrfField = "",
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if bad := bad_csrf(request, user, csrf):
        return bad
    errors = _check(request, session, user, current, new, confirm)
    if errors:
        return _password_page(request, user, errors, 422)
    accounts.change_own_password(session, user, new, str(request.session.get("sid", "")))
    return see_other("/account/password?changed=true")


def _check(
    request: Request, session: Session, user: User, current: str, new: str, confirm: str
) -> FormErrors | None:
    errors = FormErrors(form="password")
    # Throttled and audited like a sign-in: a borrowed session must not guess the password.
    checked = check_password(request, session, user.username, current, "password-change")
    if checked.throttled:
        errors.add("current", _("current password: too many failed attempts; wait a few minutes"))
    elif checked.user is None:
        errors.add("current", _("current password: this is not your current password"))
    for problem in password_problems(new, user.username):
        errors.add("new", _(problem))
    if new != confirm:
        errors.add("confirm", _("confirmation: does not match the new password"))
    return errors or None
