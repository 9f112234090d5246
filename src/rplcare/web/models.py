"""Database tables. Derived facts (loss counts, classifications) are never stored: a saved
assessment is a snapshot with the knowledge-base and model versions that produced it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rplcare.web.db import Base

#: Couple ids are random 63-bit numbers (never sequential, never reused). SQLite's INTEGER is
#: already 64-bit (and stays the rowid); other databases need BIGINT.
CoupleId = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | clinician
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set by an administrator's reset: the user must choose a new password at next sign-in.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class UserSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so
    the table cannot be used to sign in. Ended sessions are kept (ended_at, end_reason)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(64))


class Couple(Base):
    __tablename__ = "couples"

    id: Mapped[int] = mapped_column(CoupleId, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(120))  # a clinic reference, not a name
    patient_birth_date: Mapped[date | None] = mapped_column(Date)
    patient_age: Mapped[int | None] = mapped_column(Integer)
    pcos: Mapped[bool | None] = mapped_column(Boolean)
    partner_birth_date: Mapped[date | None] = mapped_column(Date)
    partner_age: Mapped[int | None] = mapped_column(Integer)
    smoker: Mapped[bool | None] = mapped_column(Boolean)
    bmi: Mapped[float | None] = mapped_column(Float)
    alcohol_units_per_week: Mapped[float | None] = mapped_column(Float)
    caffeine_mg_per_day: Mapped[float | None] = mapped_column(Float)
    # Current pregnancy, dated so that its gestation can be carried forward to any as_of.
    current_recorded_on: Mapped[date | None] = mapped_column(Date)
    current_gestational_age_days: Mapped[int | None] = mapped_column(Integer)
    current_heartbeat_seen: Mapped[bool | None] = mapped_column(Boolean)
    current_bleeding: Mapped[bool | None] = mapped_column(Boolean)
    current_intrauterine_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    pregnancies: Mapped[list[Pregnancy]] = relationship(
        back_populates="couple", cascade="all, delete-orphan", order_by="Pregnancy.end_date"
    )
    tests: Mapped[list[TestResultRow]] = relationship(
        back_populates="couple", cascade="all, delete-orphan", order_by="TestResultRow.date"
    )
    assessments: Mapped[list[AssessmentRecord]] = relationship(
        back_populates="couple", cascade="all, delete-orphan", order_by="AssessmentRecord.id"
    )
    care_statuses: Mapped[list[CareItemStatus]] = relationship(
        back_populates="couple", cascade="all, delete-orphan"
    )


class Pregnancy(Base):
    __tablename__ = "pregnancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    couple_id: Mapped[int] = mapped_column(CoupleId, ForeignKey("couples.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(20))
    end_date: Mapped[date] = mapped_column(Date)
    gestational_weeks: Mapped[float] = mapped_column(Float)
    gestational_weeks_assumed: Mapped[bool | None] = mapped_column(Boolean)
    heartbeat_seen: Mapped[bool | None] = mapped_column(Boolean)
    partner: Mapped[str | None] = mapped_column(String(10))
    notes: Mapped[str | None] = mapped_column(Text)

    couple: Mapped[Couple] = relationship(back_populates="pregnancies")


class TestResultRow(Base):
    __tablename__ = "test_results"
    __test__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    couple_id: Mapped[int] = mapped_column(CoupleId, ForeignKey("couples.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    date: Mapped[date] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str | None] = mapped_column(Text)
    pregnancy_id: Mapped[int | None] = mapped_column(
        ForeignKey("pregnancies.id", ondelete="SET NULL")
    )

    couple: Mapped[Couple] = relationship(back_populates="tests")
    pregnancy: Mapped[Pregnancy | None] = relationship()


class AssessmentRecord(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    couple_id: Mapped[int] = mapped_column(CoupleId, ForeignKey("couples.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    knowledge_version: Mapped[str] = mapped_column(String(40))
    model_version: Mapped[str] = mapped_column(String(40))
    rplcare_version: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    couple: Mapped[Couple] = relationship(back_populates="assessments")


class CareItemStatus(Base):
    __tablename__ = "care_item_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    couple_id: Mapped[int] = mapped_column(CoupleId, ForeignKey("couples.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20))  # planned | started | done | declined
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))

    couple: Mapped[Couple] = relationship(back_populates="care_statuses")


class AuditEvent(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    # Filters in the viewer, and the check that a couple id was never used before.
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))  # read | create | update | delete | login ...
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(64))  # the client's address
