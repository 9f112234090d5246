"""Request dependencies: database session, current user, CSRF."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from rplcare.web.models import User
from rplcare.web.repository import user_by_name
from rplcare.web.security import csrf_matches, verify_password


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
    limiter = request.app.state.login_limiter
    key = f"{request.client.host if request.client else '-'}:{username}"
    if limiter.blocked(key):
        raise HTTPException(429, "too many failed logins; try again later")
    user = user_by_name(session, username)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        limiter.failed(key)
        return None
    limiter.succeeded(key)
    return user


def current_user(request: Request, session: SessionDep) -> User | None:
    username = request.session.get("user")
    user = user_by_name(session, username) if username else None
    if user is not None and user.active:
        return user
    return _basic_auth_user(request, session)


def require_user(request: Request, user: Annotated[User | None, Depends(current_user)]) -> User:
    if user is None:
        raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Basic"})
    # Cookie-authenticated unsafe requests must carry the session's CSRF token.
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    token = request.headers.get("x-csrf-token")
    if (
        unsafe
        and request.session.get("user")
        and not csrf_matches(request.session.get("csrf"), token)
    ):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    return user


def require_admin(user: Annotated[User, Depends(require_user)]) -> User:
    if user.role != "admin":
        raise HTTPException(403, "admin role required")
    return user


UserDep = Annotated[User, Depends(require_user)]
AdminDep = Annotated[User, Depends(require_admin)]
