"""Request dependencies: database session, current user, CSRF."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from rplcare.web.audit_trail import client_address, record_apart
from rplcare.web.models import User
from rplcare.web.security import csrf_matches
from rplcare.web.signin import check_password, session_user


def get_session(request: Request) -> Iterator[Session]:
    factory = request.app.state.sessions
    with factory() as session, session.begin():
        yield session


# Function scope: the transaction commits when the handler returns, *before* the response is
# sent, so "saved" (201/200/303) is only ever answered for a committed write. A failed commit
# propagates to the app's 503 handler instead (review finding C1).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _basic_auth_user(request: Request, session: Session) -> User | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        username, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    checked = check_password(request, session, username, password, "basic")
    if checked.throttled:
        raise HTTPException(429, "too many failed logins; try again later")
    return checked.user


def current_user(request: Request, session: SessionDep) -> User | None:
    session.info["client"] = client_address(request)  # for every audit event of the request
    token = request.session.get("sid")
    if token:
        user = session_user(request, session, str(token))
        if user is not None:
            return user
        request.session.clear()  # ended or expired on the server: drop the cookie too
    return _basic_auth_user(request, session)


def require_user(request: Request, user: Annotated[User | None, Depends(current_user)]) -> User:
    """Any signed-in user (cookie or HTTP Basic)."""
    if user is None:
        raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Basic"})
    # Cookie-authenticated unsafe requests must carry the session's CSRF token.
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    token = request.headers.get("x-csrf-token")
    if (
        unsafe
        and request.session.get("sid")
        and not csrf_matches(request.session.get("csrf"), token)
    ):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    if user.must_change_password:
        raise HTTPException(403, "password change required: sign in to the web app first")
    return user


def require_clinician(request: Request, user: Annotated[User, Depends(require_user)]) -> User:
    """Patient records are for clinicians; administrators manage accounts only."""
    if user.role != "clinician":
        record_apart(request, user.username, "forbidden", "api", None, request.url.path)
        raise HTTPException(403, "clinician role required")
    return user


def require_admin(request: Request, user: Annotated[User, Depends(require_user)]) -> User:
    if user.role != "admin":
        record_apart(request, user.username, "forbidden", "api", None, request.url.path)
        raise HTTPException(403, "admin role required")
    return user


# The patient API: clinicians only (see docs/web.md, "Access model").
UserDep = Annotated[User, Depends(require_clinician)]
AdminDep = Annotated[User, Depends(require_admin)]
