"""Checking a username and password (the sign-in form, HTTP Basic on /api/v1, and the
current password on a password change): throttled, and every refusal audited with the
client address (review finding S5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session

from rplcare.web import user_sessions
from rplcare.web.audit_trail import UNKNOWN_USER, client_address, record_apart
from rplcare.web.db import transaction
from rplcare.web.models import User
from rplcare.web.repository import user_by_name
from rplcare.web.security import LoginThrottle, verify_password


@dataclass(frozen=True)
class Checked:
    user: User | None  # None: refused
    throttled: bool = False


def check_password(
    request: Request, db: Session, username: str, password: str, via: str
) -> Checked:
    """`via` names the door (form, basic, password-change) in the audit event."""
    throttle: LoginThrottle = request.app.state.login_limiter
    client = client_address(request)
    user = user_by_name(db, username)
    # Only a name that exists is stored: a password typed into the username box is not.
    who, user_id = (user.username, user.id) if user else (UNKNOWN_USER, None)
    if throttle.blocked(client, username):
        record_apart(request, who, "login_throttled", "user", user_id, via)
        return Checked(None, throttled=True)
    # Always verify (a dummy hash for unknown names), so timing does not reveal accounts.
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not user.active or not matches:
        throttle.failed(client, username)
        detail = f"{via} (account deactivated)" if user and not user.active else via
        record_apart(request, who, "login_failed", "user", user_id, detail)
        return Checked(None)
    throttle.succeeded(client, username)
    return Checked(user)


def session_user(request: Request, db: Session, token: str) -> User | None:
    """The user of a live server-side session, or None (ended, expired or idle too long)."""
    settings = request.app.state.settings
    now = datetime.now(UTC)
    row = user_sessions.find(db, token)
    if row is None or not user_sessions.is_live(
        row, now, settings.session_max_age_s, settings.session_idle_s
    ):
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if user_sessions.needs_touch(row, now):
        # Apart from the request's transaction, which a refusal would roll back.
        with transaction(request.app.state.sessions) as apart:
            user_sessions.touch(apart, row.id, now)
    return user
