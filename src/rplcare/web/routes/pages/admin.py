"""Administration pages: user accounts and the audit log (administrators only). Reading
either is audited, and so is a refused visit (review finding S7)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from rplcare.web import accounts, audit_trail
from rplcare.web import repository as repo
from rplcare.web.audit_trail import AuditFilter
from rplcare.web.deps import SessionDep
from rplcare.web.models import User
from rplcare.web.passwords import MAX_LENGTH, MIN_LENGTH, password_problems
from rplcare.web.routes.pages.common import (
    AnyPageUser,
    CsrfField,
    error_page,
    render,
    see_other,
)
from rplcare.web.routes.pages.forms import FormErrors, _
from rplcare.web.security import ROLES, csrf_matches

router = APIRouter(tags=["pages"], include_in_schema=False)

_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_TITLES = {400: _("The form could not be accepted"), 404: _("Not found"), 422: _("Not done")}


def _not_admin(request: Request, session: Session, user: User) -> HTMLResponse | None:
    if user.role == "admin":
        return None
    repo.audit(session, user.username, "forbidden", "page", None, request.url.path)
    return error_page(request, user, 403, _("This page is for administrators only."))


def _admin_error(request: Request, user: User, status: int, message: str) -> HTMLResponse:
    heading = _(_TITLES.get(status, "Error"))  # made at import, so translated here
    context = {"status": status, "heading": heading, "message": message}
    return render(request, user, "admin/error.html", context, status)


def _refused(request: Request, session: Session, user: User, csrf: str) -> HTMLResponse | None:
    """The 403 page for non-administrators, else the 400 page for a bad CSRF field."""
    if denied := _not_admin(request, session, user):
        return denied
    if csrf_matches(request.session.get("csrf"), csrf):
        return None
    return _admin_error(
        request,
        user,
        400,
        _("The form expired or did not come from this site. Go back, reload, and try again."),
    )


# --- users ----------------------------------------------------------------------------------


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
            "min_password": MIN_LENGTH,
            "max_password": MAX_LENGTH,
            "errors": errors or FormErrors(form="user"),
        },
        status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, session: SessionDep, user: AnyPageUser) -> Response:
    if denied := _not_admin(request, session, user):
        return denied
    repo.audit(session, user.username, "read", "user_list")
    return _users_page(request, session, user)


@router.post("/admin/users", response_model=None)
def admin_create_user(
    request: Request,
    session: SessionDep,
    user: AnyPageUser,
    csrf: CsrfField = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    if refused := _refused(request, session, user, csrf):
        return refused
    errors = FormErrors(form="user", values={"username": username, "role": role})
    name = username.strip()
    if not _USERNAME.fullmatch(name):
        errors.add(
            "new_username",
            _("username: 1 to 64 letters, digits or . _ @ - (no spaces)"),
        )
    elif repo.user_by_name(session, name) is not None:
        errors.add("new_username", _("username: this user already exists"))
    for problem in password_problems(password, name):
        errors.add("new_password", _(problem))
    if role not in ROLES:
        errors.add("new_role", _("role: choose one of {r}").format(r=", ".join(ROLES)))
    if errors:
        return _users_page(request, session, user, errors, 422)
    created = repo.create_user(session, username=name, password=password, role=role)
    repo.audit(session, user.username, "create", "user", created.id, f"role={role}")
    return see_other("/admin/users")


def _target(
    request: Request, session: Session, user: User, user_id: int, csrf: str
) -> User | HTMLResponse:
    if refused := _refused(request, session, user, csrf):
        return refused
    target = session.get(User, user_id) if 1 <= user_id <= repo.MAX_ID else None
    if target is None:
        return _admin_error(request, user, 404, _("There is no user with this number."))
    return target


@router.post("/admin/users/{user_id}/password", response_model=None)
def admin_reset_password(
    request: Request,
    session: SessionDep,
    user: AnyPageUser,
    user_id: int,
    csrf: CsrfField = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    target = _target(request, session, user, user_id, csrf)
    if isinstance(target, HTMLResponse):
        return target
    if problems := password_problems(password, target.username):
        errors = FormErrors(form=f"reset-{target.id}")
        errors.fields[f"reset-{target.id}"] = [_(p) for p in problems]
        return _users_page(request, session, user, errors, 422)
    accounts.reset_password(session, user, target, password)
    return see_other("/admin/users")


@router.post("/admin/users/{user_id}/active", response_model=None)
def admin_set_active(
    request: Request,
    session: SessionDep,
    user: AnyPageUser,
    user_id: int,
    csrf: CsrfField = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    target = _target(request, session, user, user_id, csrf)
    if isinstance(target, HTMLResponse):
        return target
    if active not in ("yes", "no"):
        return _admin_error(request, user, 422, _("Choose to activate or to deactivate."))
    if target.id == user.id:
        return _admin_error(request, user, 422, _("You cannot deactivate your own account."))
    accounts.set_active(session, user, target, active == "yes")
    return see_other("/admin/users")


# --- audit log ------------------------------------------------------------------------------


def _audit_filter(
    user: str, action: str, entity_id: str, since: str, until: str
) -> AuditFilter | str:
    """The filter, or the message for a date that is not YYYY-MM-DD."""
    try:
        first = date.fromisoformat(since) if since else None
        last = date.fromisoformat(until) if until else None
    except ValueError:
        return _("Dates: use the form YYYY-MM-DD.")
    return AuditFilter(user.strip(), action.strip(), entity_id.strip(), first, last)


Text = Annotated[str, Query(max_length=64)]
DateText = Annotated[str, Query(alias="from", max_length=10)]
UntilText = Annotated[str, Query(alias="to", max_length=10)]


@router.get("/admin/audit", response_class=HTMLResponse)
def admin_audit(
    request: Request,
    session: SessionDep,
    user: AnyPageUser,
    username: Annotated[str, Query(alias="user", max_length=64)] = "",
    action: Text = "",
    entity_id: Text = "",
    since: DateText = "",
    until: UntilText = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    if denied := _not_admin(request, session, user):
        return denied
    where = _audit_filter(username, action, entity_id, since, until)
    values = {"user": username, "action": action, "entity_id": entity_id}
    values |= {"from": since, "to": until}
    error = where if isinstance(where, str) else None
    where = AuditFilter() if isinstance(where, str) else where
    events, has_next = audit_trail.page_of_events(session, where, page)
    repo.audit(session, user.username, "read", "audit_log", None, f"{where.describe()} page={page}")
    query = urlencode({k: v for k, v in values.items() if v})
    context = {
        "events": events,
        "page": page,
        "has_next": has_next,
        "values": values,
        "query": query,
        "error": error,
        "actions": audit_trail.known_actions(session),
        "page_size": audit_trail.PAGE_SIZE,
    }
    return render(request, user, "admin/audit.html", context, 422 if error else 200)


@router.get("/admin/audit.csv", response_model=None)
def admin_audit_csv(
    request: Request,
    session: SessionDep,
    user: AnyPageUser,
    username: Annotated[str, Query(alias="user", max_length=64)] = "",
    action: Text = "",
    entity_id: Text = "",
    since: DateText = "",
    until: UntilText = "",
) -> Response:
    if denied := _not_admin(request, session, user):
        return denied
    where = _audit_filter(username, action, entity_id, since, until)
    if isinstance(where, str):
        return _admin_error(request, user, 422, where)
    if audit_trail.count_events(session, where) > audit_trail.CSV_MAX_ROWS:
        limit = f"{audit_trail.CSV_MAX_ROWS:,}"
        return _admin_error(
            request, user, 422, _("More than {n} events: narrow the filters.").format(n=limit)
        )
    body = audit_trail.to_csv(audit_trail.all_events(session, where))
    repo.audit(session, user.username, "export", "audit_log", None, where.describe())
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="rplcare-audit.csv"',
            "cache-control": "no-store",
        },
    )
