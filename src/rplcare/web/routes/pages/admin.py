"""Administration pages: user accounts and the audit log (administrators only)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep
from rplcare.web.models import AuditEvent, User
from rplcare.web.routes.pages.common import (
    CsrfField,
    PageUser,
    bad_csrf,
    error_page,
    render,
    see_other,
)
from rplcare.web.routes.pages.forms import FormErrors, _
from rplcare.web.security import ROLES

router = APIRouter(tags=["pages"], include_in_schema=False)

MIN_PASSWORD = 12
AUDIT_PAGE = 200
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def _not_admin(request: Request, user: User) -> HTMLResponse | None:
    if user.role == "admin":
        return None
    return error_page(request, user, 403, _("This page is for administrators only."))


def _users_page(
    request: Request,
    session: Session,
    user: User,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    users = list(session.scalars(select(User).order_by(User.username)))
    return render(
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
    if bad := bad_csrf(request, user, csrf):
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
    return see_other("/admin/users")


@router.get("/admin/audit", response_class=HTMLResponse)
def admin_audit(request: Request, session: SessionDep, user: PageUser) -> Response:
    if denied := _not_admin(request, user):
        return denied
    events = list(
        session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE))
    )
    return render(request, user, "admin/audit.html", {"events": events, "limit": AUDIT_PAGE})
