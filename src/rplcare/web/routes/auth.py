"""Sign-in and sign-out. The signed cookie carries only a server-side session token and the
CSRF token; sign-in is throttled and audited (rplcare.web.signin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rplcare.web import repository as repo
from rplcare.web import user_sessions
from rplcare.web.audit_trail import client_address
from rplcare.web.db import transaction
from rplcare.web.deps import SessionDep
from rplcare.web.models import User
from rplcare.web.security import csrf_matches, new_csrf_token
from rplcare.web.signin import check_password

router = APIRouter(tags=["auth"])

NextParam = Annotated[str, Query(max_length=2000)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return str(token)


def safe_next(raw: str | None) -> str | None:
    """`raw` if it is a path on this site (review finding U9): never `//host`, a scheme, a
    backslash (browsers read `/\\host` as `//host`) or a control character."""
    if not raw or len(raw) > 2000 or not raw.startswith("/") or raw.startswith("//"):
        return None
    if "\\" in raw or any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return None
    return raw


def home_of(user: User) -> str:
    """Clinicians work on couples; administrators manage accounts (docs/web.md)."""
    return "/patients" if user.role == "clinician" else "/admin/users"


def landing(user: User, next_url: str | None) -> str:
    """Where sign-in leads: `next` when it is safe and within the user's role."""
    if next_url is None:
        return home_of(user)
    admin_area = next_url == "/admin" or next_url.startswith(("/admin/", "/admin?"))
    if user.role == "clinician" and admin_area:
        return home_of(user)
    if user.role != "clinician" and not (admin_area or next_url.startswith("/account/")):
        return home_of(user)
    return next_url


def _login_page(
    request: Request, next_url: str | None, error: str | None = None, status: int = 200
) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "auth/login.html",
        {"error": error, "csrf": csrf_token(request), "next": next_url, "_": lambda s: s},
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: NextParam = "") -> HTMLResponse:
    return _login_page(request, safe_next(next))


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    next_url = safe_next(next)
    if not csrf_matches(request.session.get("csrf"), csrf):
        return _login_page(request, next_url, "The form expired; please try again.", 400)
    checked = check_password(request, session, username, password, "form")
    if checked.throttled:
        return _login_page(request, next_url, "Too many failed attempts. Wait a few minutes.", 429)
    user = checked.user
    if user is None:
        return _login_page(request, next_url, "Wrong username or password.", 401)
    client = client_address(request)
    # Committed before the redirect is sent: the browser's next request needs the row (the
    # request's own transaction may commit only after the response).
    with transaction(request.app.state.sessions) as db:
        db.info["client"] = client
        token = user_sessions.start(db, user, datetime.now(UTC), client)
        repo.audit(db, user.username, "login", "user", user.id)
    request.session.clear()  # a fresh session on login (no fixation)
    request.session["sid"] = token
    request.session["csrf"] = new_csrf_token()
    return RedirectResponse(landing(user, next_url), status_code=303)


def _logout_page(request: Request, message: str | None, status: int) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "auth/logout.html",
        {"message": message, "csrf": csrf_token(request), "_": lambda s: s},
        status_code=status,
    )


@router.get("/logout", response_model=None)
def logout_form(request: Request) -> Response:
    """A sign-out button that works without the page the user came from."""
    if not request.session.get("sid"):
        return RedirectResponse("/login", status_code=303)
    return _logout_page(request, None, 200)


@router.post("/logout", response_model=None)
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    token = request.session.get("sid")
    if not token:
        return RedirectResponse("/login", status_code=303)
    if not csrf_matches(request.session.get("csrf"), csrf):
        # Never a silent redirect: the user would believe they are signed out.
        return _logout_page(
            request,
            "You are still signed in: the sign-out form had expired. Sign out here.",
            400,
        )
    # Ended and committed before the response, so a copy of the cookie is dead at once.
    with transaction(request.app.state.sessions) as db:
        row = user_sessions.find(db, str(token))
        user = db.get(User, row.user_id) if row is not None else None
        user_sessions.end(db, str(token), datetime.now(UTC), "logout")
        if user is not None:
            db.info["client"] = client_address(request)
            repo.audit(db, user.username, "logout", "user", user.id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
