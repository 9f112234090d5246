"""Persistence verbs. Couples are stored as their recorded facts and exchanged in the
`rplcare.case/1` format, so import, export and the API share one validated representation."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Session, selectinload

from rplcare.domain.case import Case
from rplcare.domain.validation import parse_case
from rplcare.engine.assess import assess
from rplcare.engine.assessment import Assessment
from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.profile import Profile
from rplcare.web.models import (
    AssessmentRecord,
    AuditEvent,
    CareItemStatus,
    Couple,
    Pregnancy,
    TestResultRow,
    User,
)
from rplcare.web.security import hash_password

CARE_STATUSES = ("planned", "started", "done", "declined")


def now() -> datetime:
    return datetime.now(UTC)


# --- audit ----------------------------------------------------------------------------------


def audit(
    session: Session,
    username: str,
    action: str,
    entity: str,
    entity_id: object = None,
    detail: str | None = None,
) -> None:
    """One audit row; the client address comes from the session (`current_user` puts it
    there for every signed-in request)."""
    session.add(
        AuditEvent(
            at=now(),
            username=username,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail,
            client=session.info.get("client"),
        )
    )


# --- users ----------------------------------------------------------------------------------


def create_user(session: Session, *, username: str, password: str, role: str) -> User:
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        active=True,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    return user


def user_by_name(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


# --- couples <-> cases ----------------------------------------------------------------------


def couple_to_case(couple: Couple, as_of: date) -> dict[str, Any]:
    """The couple as an `rplcare.case/1` document, judged at `as_of`."""
    patient: dict[str, Any] = (
        {"birth_date": couple.patient_birth_date.isoformat()}
        if couple.patient_birth_date
        else {"age": couple.patient_age}
    )
    if couple.pcos is not None:
        patient["pcos"] = couple.pcos
    case: dict[str, Any] = {
        "schema": "rplcare.case/1",
        "id": couple.label,
        "as_of": as_of.isoformat(),
        "patient": patient,
    }
    if couple.partner_birth_date or couple.partner_age is not None:
        case["partner"] = (
            {"birth_date": couple.partner_birth_date.isoformat()}
            if couple.partner_birth_date
            else {"age": couple.partner_age}
        )
    index = {p.id: i for i, p in enumerate(couple.pregnancies)}
    case["pregnancies"] = [pregnancy_part(p) for p in couple.pregnancies]
    case["tests"] = [result_part(t, index) for t in couple.tests]
    lifestyle = _drop_none(
        {
            "smoker": couple.smoker,
            "bmi": couple.bmi,
            "alcohol_units_per_week": couple.alcohol_units_per_week,
            "caffeine_mg_per_day": couple.caffeine_mg_per_day,
        }
    )
    if lifestyle:
        case["lifestyle"] = lifestyle
    days = current_days(couple, as_of)
    # A current pregnancy carried past the plausible gestation has ended: it stays stored (the
    # page asks for its outcome) but is left out, so time alone never makes a case invalid.
    if days is not None and not current_overdue(couple, as_of):
        case["current_pregnancy"] = _drop_none(
            {
                "gestational_age_days": days,
                "heartbeat_seen": couple.current_heartbeat_seen,
                "bleeding": couple.current_bleeding,
                "intrauterine_confirmed": couple.current_intrauterine_confirmed,
            }
        )
    return case


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def current_days(couple: Couple, as_of: date) -> int | None:
    """The stored current pregnancy's gestation carried forward to `as_of`, in days."""
    if couple.current_gestational_age_days is None or couple.current_recorded_on is None:
        return None
    return couple.current_gestational_age_days + (as_of - couple.current_recorded_on).days


def current_overdue(couple: Couple, as_of: date) -> bool:
    """Whether the current pregnancy would by now be past the knowledge base's plausible
    gestation (U8): it must have ended, and its outcome is wanted."""
    days = current_days(couple, as_of)
    limit = load_knowledge().vocabulary.limits.max_gestational_weeks * 7
    return days is not None and days > limit


def pregnancy_part(p: Pregnancy) -> dict[str, Any]:
    """A stored pregnancy as a case's `pregnancies[]` item."""
    return _drop_none(
        {
            "outcome": p.outcome,
            "end_date": p.end_date.isoformat(),
            "gestational_weeks": p.gestational_weeks,
            "gestational_weeks_assumed": p.gestational_weeks_assumed,
            "heartbeat_seen": p.heartbeat_seen,
            "partner": p.partner,
            "notes": p.notes,
        }
    )


def result_part(t: TestResultRow, index: dict[int, int]) -> dict[str, Any]:
    """A stored result as a case's `tests[]` item; `index` numbers the pregnancy rows."""
    return _drop_none(
        {
            "code": t.code,
            "date": t.date.isoformat(),
            "result": t.result,
            "value": t.value,
            "unit": t.unit,
            "method": t.method,
            "detail": t.detail,
            "pregnancy": index.get(t.pregnancy_id) if t.pregnancy_id else None,
        }
    )


def apply_details(couple: Couple, case: Case) -> None:
    """The couple's label, demographics and lifestyle from a validated case."""
    couple.label = case.id or couple.label
    couple.patient_birth_date = case.patient.birth_date
    couple.patient_age = case.patient.age
    couple.pcos = case.patient.pcos
    couple.partner_birth_date = case.partner.birth_date if case.partner else None
    couple.partner_age = case.partner.age if case.partner else None
    life = case.lifestyle
    couple.smoker = life.smoker if life else None
    couple.bmi = life.bmi if life else None
    couple.alcohol_units_per_week = life.alcohol_units_per_week if life else None
    couple.caffeine_mg_per_day = life.caffeine_mg_per_day if life else None
    couple.updated_at = now()


def apply_current(couple: Couple, case: Case) -> None:
    cp = case.current_pregnancy
    couple.current_recorded_on = case.as_of if cp else None
    couple.current_gestational_age_days = cp.gestational_age_days if cp else None
    couple.current_heartbeat_seen = cp.heartbeat_seen if cp else None
    couple.current_bleeding = cp.bleeding if cp else None
    couple.current_intrauterine_confirmed = cp.intrauterine_confirmed if cp else None
    couple.updated_at = now()


def apply_case(couple: Couple, case: Case, *, keep_overdue_current: bool = False) -> None:
    """Replace the couple's recorded facts with those of a validated case.

    Rows whose content is unchanged are kept (with their ids); only the differences are
    added or removed. With `keep_overdue_current`, a current pregnancy left out of the case
    because it is overdue (`current_overdue`) is kept until its outcome is recorded."""
    apply_details(couple, case)
    if not (keep_overdue_current and current_overdue(couple, case.as_of)):
        apply_current(couple, case)
    spare = list(couple.pregnancies)
    pregnancies: list[Pregnancy] = []
    for p in case.pregnancies:
        part = p.model_dump(mode="json", exclude_none=True)
        row = next((r for r in spare if pregnancy_part(r) == part), None)
        if row is None:
            row = Pregnancy(
                outcome=p.outcome.value,
                end_date=p.end_date,
                gestational_weeks=p.gestational_weeks,
                gestational_weeks_assumed=p.gestational_weeks_assumed,
                heartbeat_seen=p.heartbeat_seen,
                partner=p.partner,
                notes=p.notes,
            )
        else:
            spare.remove(row)
        pregnancies.append(row)
    old_index = {r.id: i for i, r in enumerate(couple.pregnancies)}
    spare_tests = list(couple.tests)
    tests: list[TestResultRow] = []
    for t in case.tests:
        tissue = pregnancies[t.pregnancy] if t.pregnancy is not None else None
        part = t.model_dump(mode="json", exclude_none=True, exclude={"pregnancy"})

        def same(r: TestResultRow, part: dict[str, Any] = part, tissue: Any = tissue) -> bool:
            stored = result_part(r, old_index)
            stored.pop("pregnancy", None)
            return stored == part and r.pregnancy is tissue

        match = next((r for r in spare_tests if same(r)), None)
        if match is None:
            match = TestResultRow(
                code=t.code,
                date=t.date,
                result=t.result,
                value=t.value,
                unit=t.unit,
                method=t.method,
                detail=t.detail,
                pregnancy=tissue,
            )
        else:
            spare_tests.remove(match)
        tests.append(match)
    couple.pregnancies = pregnancies
    couple.tests = tests
    couple.updated_at = now()


def validate(raw: Any, source: str = "request") -> Case:
    return parse_case(raw, load_knowledge(), source)


def new_couple_id(session: Session) -> int:
    """A random id in 1..MAX_ID that no couple has, and no audit event ever named (so an id
    is never reused after a deletion, and ids cannot be enumerated)."""
    while True:
        candidate = secrets.randbelow(MAX_ID) + 1
        used = session.scalar(
            select(
                exists().where(Couple.id == candidate)
                | exists().where(
                    AuditEvent.entity == "couple", AuditEvent.entity_id == str(candidate)
                )
            )
        )
        if not used:
            return candidate


def create_couple(session: Session, case: Case, username: str) -> Couple:
    couple = Couple(
        id=new_couple_id(session), label=case.id or "unnamed", created_at=now(), updated_at=now()
    )
    apply_case(couple, case)
    session.add(couple)
    session.flush()
    audit(session, username, "create", "couple", couple.id)
    return couple


#: Database integer keys are 64-bit; anything outside cannot exist (and SQLite would overflow).
MAX_ID = 2**63 - 1


def get_couple(session: Session, couple_id: int, username: str) -> Couple | None:
    if not 1 <= couple_id <= MAX_ID:
        return None
    couple = session.get(Couple, couple_id)
    if couple is not None:
        audit(session, username, "read", "couple", couple_id)
    return couple


def couples_labelled(session: Session, label: str) -> list[Couple]:
    """Couples whose label is exactly `label`: the ones an imported case with that id means."""
    return list(session.scalars(select(Couple).where(Couple.label == label).order_by(Couple.id)))


def list_couples(session: Session, username: str, query: str = "") -> list[Couple]:
    stmt = select(Couple).order_by(Couple.updated_at.desc())
    if query:
        stmt = stmt.where(or_(func.lower(Couple.label).contains(query.lower())))
    audit(session, username, "read", "couple_list", detail=f"search:{bool(query)}")
    return list(session.scalars(stmt))


def page_of_couples(
    session: Session, username: str, query: str, page: int, per_page: int
) -> tuple[list[Couple], int]:
    """One page of the list (newest update first) with its pregnancies loaded in one query,
    and how many couples match in all."""
    where = func.lower(Couple.label).contains(query.lower()) if query else sa_true()
    total = session.scalar(select(func.count()).select_from(Couple).where(where)) or 0
    stmt = (
        select(Couple)
        .where(where)
        .order_by(Couple.updated_at.desc(), Couple.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
        .options(selectinload(Couple.pregnancies))
    )
    audit(session, username, "read", "couple_list", detail=f"search:{bool(query)};page:{page}")
    return list(session.scalars(stmt)), total


def delete_couple(session: Session, couple: Couple, username: str) -> None:
    # The label is the only trace of which record this was once the row is gone.
    audit(session, username, "delete", "couple", couple.id, f"label={couple.label}")
    session.delete(couple)


def assess_couple(
    session: Session,
    couple: Couple,
    as_of: date,
    username: str,
    profile: Profile | None = None,
) -> Assessment:
    """Assess the stored couple now and save the snapshot with its versions."""
    case = validate(couple_to_case(couple, as_of), f"couple {couple.id}")
    assessment = assess(case, profile=profile)
    payload = assessment.to_json_dict()
    last = couple.assessments[-1] if couple.assessments else None
    if last is not None and last.as_of == as_of and last.payload == payload:
        return assessment  # unchanged since the last snapshot: keep one copy
    session.add(
        AssessmentRecord(
            couple_id=couple.id,
            created_at=now(),
            created_by=username,
            as_of=as_of,
            knowledge_version=assessment.knowledge_version,
            model_version=assessment.prognosis.model_version,
            rplcare_version=assessment.rplcare_version,
            payload=payload,
        )
    )
    audit(session, username, "create", "assessment", couple.id)
    return assessment


def set_care_status(
    session: Session, couple: Couple, item_id: str, status: str, username: str
) -> None:
    if status not in CARE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CARE_STATUSES)}")
    row = next((c for c in couple.care_statuses if c.item_id == item_id), None)
    if row is None:
        row = CareItemStatus(item_id=item_id, status=status, updated_at=now(), updated_by=username)
        couple.care_statuses.append(row)
    row.status, row.updated_at, row.updated_by = status, now(), username
    audit(session, username, "update", "care_item", couple.id, f"{item_id}={status}")


def days_ago(d: date, n: int) -> date:
    return d - timedelta(days=n)
