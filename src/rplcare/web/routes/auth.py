"""Login and logout (session cookie), with rate limiting and CSRF on the form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep
from rplcare.web.security import csrf_matches, new_csrf_token, verify_password

router = APIRouter(tags=["auth"])


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return str(token)


def _login_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request,
        "auth/login.html",
        {"error": error, "csrf": csrf_token(request), "_": lambda s: s},
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_matches(request.session.get("csrf"), csrf):
        return _login_page(request, "The form expired; please try again.", 400)
    limiter = request.app.state.login_limiter
    key = f"{request.client.host if request.client else '-'}:{username}"
    if limiter.blocked(key):
        return _login_page(request, "Too many failed attempts. Wait a few minutes.", 429)
    user = repo.user_by_name(session, username)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        limiter.failed(key)
        repo.audit(session, username or "-", "login_failed", "user")
        return _login_page(request, "Wrong username or password.", 401)
    limiter.succeeded(key)
    request.session.clear()  # a fresh session on login (no fixation)
    request.session["user"] = user.username
    request.session["csrf"] = new_csrf_token()
    repo.audit(session, user.username, "login", "user", user.id)
    return RedirectResponse("/patients", status_code=303)


@router.post("/logout", status_code=303, response_class=RedirectResponse)
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    if csrf_matches(request.session.get("csrf"), csrf):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)
