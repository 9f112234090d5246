"""The audit log beyond single events: the client address, events that must outlive a refused
request, and the administrator's view (filters, pages, CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rplcare.web import repository as repo
from rplcare.web.db import transaction
from rplcare.web.models import AuditEvent

#: Stored instead of a typed username that names no account (it may be a mistyped password).
UNKNOWN_USER = "(unknown user)"
PAGE_SIZE = 100
CSV_MAX_ROWS = 100_000
S = TypeVar("S", bound=Select[Any])
CSV_COLUMNS = ("id", "at", "username", "action", "entity", "entity_id", "detail", "client")


def client_address(request: Request) -> str:
    """The peer address (a trusted proxy's X-Forwarded-For only when configured)."""
    return request.client.host[:64] if request.client else "-"


def record_apart(
    request: Request,
    username: str,
    action: str,
    entity: str,
    entity_id: object = None,
    detail: str | None = None,
) -> None:
    """Writes an event in its own transaction: for refusals (401, 403, 429), whose request
    transaction is rolled back. Call it before the request session has written anything."""
    with transaction(request.app.state.sessions) as db:
        db.info["client"] = client_address(request)
        repo.audit(db, username, action, entity, entity_id, detail)


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    action: str = ""
    entity_id: str = ""
    since: date | None = None
    until: date | None = None  # inclusive

    def apply(self, stmt: S) -> S:
        if self.username:
            stmt = stmt.where(AuditEvent.username == self.username)
        if self.action:
            stmt = stmt.where(AuditEvent.action == self.action)
        if self.entity_id:
            stmt = stmt.where(AuditEvent.entity_id == self.entity_id)
        if self.since:
            stmt = stmt.where(AuditEvent.at >= datetime.combine(self.since, time(), UTC))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time(), UTC)
            stmt = stmt.where(AuditEvent.at < end)
        return stmt

    def describe(self) -> str:
        parts = {
            "user": self.username,
            "action": self.action,
            "entity_id": self.entity_id,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }
        return " ".join(f"{k}={v}" for k, v in parts.items() if v) or "all"


def page_of_events(db: Session, where: AuditFilter, page: int) -> tuple[list[AuditEvent], bool]:
    """Events newest first, one page (from 1); and whether a next page exists."""
    stmt = where.apply(select(AuditEvent)).order_by(AuditEvent.id.desc())
    rows = list(db.scalars(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def count_events(db: Session, where: AuditFilter) -> int:
    stmt = where.apply(select(AuditEvent)).with_only_columns(func.count())
    return int(db.scalar(stmt) or 0)


def all_events(db: Session, where: AuditFilter) -> list[AuditEvent]:
    stmt = where.apply(select(AuditEvent)).order_by(AuditEvent.id.desc())
    return list(db.scalars(stmt))


def known_actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell that starts like a formula (labels are free text).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(events: Sequence[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for ev in events:
        at = ev.at if ev.at.tzinfo else ev.at.replace(tzinfo=UTC)
        writer.writerow(
            [
                _cell(v)
                for v in (
                    ev.id,
                    at.isoformat(),
                    ev.username,
                    ev.action,
                    ev.entity,
                    ev.entity_id,
                    ev.detail,
                    ev.client,
                )
            ]
        )
    return out.getvalue()
