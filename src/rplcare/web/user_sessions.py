"""Server-side sessions (review finding S1): the signed cookie carries only a random token;
the row behind it says whether the session still counts. Sign-out, a password change and
deactivation end rows, so a copied cookie stops working at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from rplcare.web.models import User, UserSession

#: last_seen_at is written at most this often (a write per request would be wasteful).
TOUCH_EVERY = timedelta(seconds=60)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start(db: Session, user: User, now: datetime, client: str | None) -> str:
    """A new session for `user`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    db.add(
        UserSession(
            id=_key(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            client=client,
        )
    )
    return token


def find(db: Session, token: str) -> UserSession | None:
    return db.get(UserSession, _key(token))


def is_live(row: UserSession, now: datetime, max_age_s: int, idle_s: int) -> bool:
    """Not ended, within its absolute lifetime, and used within the idle timeout."""
    return (
        row.ended_at is None
        and now - aware(row.created_at) <= timedelta(seconds=max_age_s)
        and now - aware(row.last_seen_at) <= timedelta(seconds=idle_s)
    )


def needs_touch(row: UserSession, now: datetime) -> bool:
    return now - aware(row.last_seen_at) >= TOUCH_EVERY


def touch(db: Session, key: str, now: datetime) -> None:
    db.execute(update(UserSession).where(UserSession.id == key).values(last_seen_at=now))


def end(db: Session, token: str, now: datetime, reason: str) -> None:
    db.execute(
        update(UserSession)
        .where(UserSession.id == _key(token), UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def end_all(db: Session, user_id: int, now: datetime, reason: str, keep: str | None = None) -> int:
    """End every open session of a user (but `keep`, a token); returns how many ended."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != _key(keep))
    result = db.execute(stmt.values(ended_at=now, end_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]
