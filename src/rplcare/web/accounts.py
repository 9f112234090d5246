"""Account life-cycle (review finding S6): a user changes their password; an administrator
resets one (forcing a change at next sign-in) or deactivates and reactivates an account.
Each ends the sessions it must (S1) and leaves an audit event."""

from __future__ import annotations

from sqlalchemy.orm import Session

from rplcare.web import user_sessions
from rplcare.web.models import User
from rplcare.web.repository import audit, now
from rplcare.web.security import hash_password


def change_own_password(db: Session, user: User, new_password: str, keep_token: str) -> None:
    """The new password, and every other session of the user ends."""
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    ended = user_sessions.end_all(db, user.id, now(), "password_changed", keep=keep_token)
    audit(db, user.username, "password_changed", "user", user.id, f"other sessions ended: {ended}")


def reset_password(db: Session, admin: User, user: User, temporary: str) -> None:
    """A temporary password that must be changed at next sign-in; all sessions end."""
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    ended = user_sessions.end_all(db, user.id, now(), "password_reset")
    audit(db, admin.username, "password_reset", "user", user.id, f"sessions ended: {ended}")


def set_active(db: Session, admin: User, user: User, active: bool) -> None:
    """Deactivation ends every session at once; sign-in is refused while inactive."""
    user.active = active
    detail = None
    if not active:
        detail = f"sessions ended: {user_sessions.end_all(db, user.id, now(), 'deactivated')}"
    audit(db, admin.username, "reactivate" if active else "deactivate", "user", user.id, detail)
