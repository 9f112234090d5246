"""Correcting a couple's record one entry at a time: edit or remove a pregnancy or a test
result, edit the couple's details, set or clear the current pregnancy, record its outcome.

Each change is made to the couple's whole case first and validated by the domain, so an edit
can never store what an import would refuse; then only the changed row is written, so rows
keep their ids. Every change writes one audit event whose detail is compact JSON of the changed
fields before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from rplcare.domain.case import Case
from rplcare.errors import CaseValidationError
from rplcare.web import repository as repo
from rplcare.web.changes import CaseChanges, case_changes, compact
from rplcare.web.models import Couple, Pregnancy, TestResultRow


def changed_fields(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the fields that differ, on each side; a missing side stays None (add/remove)."""
    if before is None or after is None:
        return before, after
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return (
        {k: before[k] for k in keys if k in before},
        {k: after[k] for k in keys if k in after},
    )


def audit_change(
    session: Session,
    username: str,
    couple: Couple,
    change: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    **ids: Any,
) -> None:
    old, new = changed_fields(before, after)
    detail = compact({"change": change, **ids, "before": old, "after": new})
    repo.audit(session, username, "update", "couple", couple.id, detail)


def _checked(couple: Couple, change: Callable[[dict[str, Any]], None], today: date) -> Case:
    """The couple's case with `change` applied, validated (raises CaseValidationError)."""
    case = repo.couple_to_case(couple, today)
    change(case)
    return repo.validate(case, f"couple {couple.id}")


def position(couple: Couple, row: Pregnancy | TestResultRow) -> int:
    rows: list[Any] = couple.pregnancies if isinstance(row, Pregnancy) else couple.tests
    return next(i for i, r in enumerate(rows) if r.id == row.id)


def _index(couple: Couple) -> dict[int, int]:
    return {p.id: i for i, p in enumerate(couple.pregnancies)}


# --- pregnancies ----------------------------------------------------------------------------


def update_pregnancy(
    session: Session, couple: Couple, row: Pregnancy, part: dict[str, Any], user: str, today: date
) -> None:
    i = position(couple, row)
    before = repo.pregnancy_part(row)
    merged = dict(part)
    # "Gestation assumed" (set by a FHIR import) is not on the form: it holds while the
    # placeholder gestation is kept, and ends when a gestation is entered.
    if before.get("gestational_weeks_assumed") and part.get("gestational_weeks") == before.get(
        "gestational_weeks"
    ):
        merged["gestational_weeks_assumed"] = True

    def change(case: dict[str, Any]) -> None:
        case["pregnancies"][i] = merged

    p = _checked(couple, change, today).pregnancies[i]
    row.outcome, row.end_date, row.gestational_weeks = (
        p.outcome.value,
        p.end_date,
        p.gestational_weeks,
    )
    row.gestational_weeks_assumed = p.gestational_weeks_assumed
    row.heartbeat_seen, row.partner, row.notes = p.heartbeat_seen, p.partner, p.notes
    couple.updated_at = repo.now()
    audit_change(
        session,
        user,
        couple,
        "pregnancy edited",
        before,
        repo.pregnancy_part(row),
        pregnancy=row.id,
    )


def linked_tests(couple: Couple, row: Pregnancy) -> list[TestResultRow]:
    return [t for t in couple.tests if t.pregnancy_id == row.id]


def remove_pregnancy(
    session: Session, couple: Couple, row: Pregnancy, user: str, today: date
) -> None:
    """Remove a pregnancy; results of its tissue are kept without the link."""
    i = position(couple, row)

    def change(case: dict[str, Any]) -> None:
        del case["pregnancies"][i]
        for test in case["tests"]:
            at = test.get("pregnancy")
            if at == i:
                del test["pregnancy"]
            elif at is not None and at > i:
                test["pregnancy"] = at - 1

    _checked(couple, change, today)
    before = repo.pregnancy_part(row)
    for test in linked_tests(couple, row):
        test.pregnancy = None
    couple.pregnancies.remove(row)
    session.delete(row)
    couple.updated_at = repo.now()
    audit_change(session, user, couple, "pregnancy removed", before, None, pregnancy=row.id)


def add_pregnancy(
    session: Session, couple: Couple, part: dict[str, Any], user: str, today: date
) -> None:
    def change(case: dict[str, Any]) -> None:
        case["pregnancies"].append(part)

    repo.apply_case(couple, _checked(couple, change, today), keep_overdue_current=True)
    audit_change(session, user, couple, "pregnancy added", None, part)


def record_outcome(
    session: Session, couple: Couple, part: dict[str, Any], user: str, today: date
) -> None:
    """The current pregnancy has ended: add it to the history and clear it (U8)."""
    before = {
        "gestational_age_days": repo.current_days(couple, today),
        "recorded_on": couple.current_recorded_on.isoformat()
        if couple.current_recorded_on
        else None,
    }

    def change(case: dict[str, Any]) -> None:
        case["pregnancies"].append(part)
        case.pop("current_pregnancy", None)

    repo.apply_case(couple, _checked(couple, change, today))
    audit_change(session, user, couple, "current pregnancy ended", before, part)


# --- test results ---------------------------------------------------------------------------


def update_test(
    session: Session,
    couple: Couple,
    row: TestResultRow,
    part: dict[str, Any],
    user: str,
    today: date,
) -> None:
    i = position(couple, row)
    before = repo.result_part(row, _index(couple))

    def change(case: dict[str, Any]) -> None:
        case["tests"][i] = part

    t = _checked(couple, change, today).tests[i]
    row.code, row.date, row.result, row.value, row.unit = t.code, t.date, t.result, t.value, t.unit
    row.method, row.detail = t.method, t.detail
    row.pregnancy = couple.pregnancies[t.pregnancy] if t.pregnancy is not None else None
    couple.updated_at = repo.now()
    after = repo.result_part(row, _index(couple))
    audit_change(session, user, couple, "test result edited", before, after, test=row.id)


def remove_test(
    session: Session, couple: Couple, row: TestResultRow, user: str, today: date
) -> None:
    i = position(couple, row)

    def change(case: dict[str, Any]) -> None:
        del case["tests"][i]

    _checked(couple, change, today)
    before = repo.result_part(row, _index(couple))
    couple.tests.remove(row)
    session.delete(row)
    couple.updated_at = repo.now()
    audit_change(session, user, couple, "test result removed", before, None, test=row.id)


def add_test(
    session: Session, couple: Couple, part: dict[str, Any], user: str, today: date
) -> None:
    def change(case: dict[str, Any]) -> None:
        case["tests"].append(part)

    repo.apply_case(couple, _checked(couple, change, today), keep_overdue_current=True)
    audit_change(session, user, couple, "test result added", None, part)


# --- couple details and the current pregnancy -----------------------------------------------


def details_part(case: dict[str, Any]) -> dict[str, Any]:
    """Label, patient, partner and lifestyle of a case, flattened for the audit."""
    out: dict[str, Any] = {"id": case.get("id")}
    for key in ("patient", "partner", "lifestyle"):
        for name, value in (case.get(key) or {}).items():
            out[f"{key}.{name}"] = value
    return out


def update_details(
    session: Session,
    couple: Couple,
    change: Callable[[dict[str, Any]], None],
    user: str,
    today: date,
) -> None:
    before = details_part(repo.couple_to_case(couple, today))
    case = _checked(couple, change, today)
    repo.apply_details(couple, case)
    after = details_part(case.model_dump(mode="json", exclude_none=True))
    audit_change(session, user, couple, "couple details edited", before, after)


def current_part(couple: Couple, today: date) -> dict[str, Any] | None:
    case = repo.couple_to_case(couple, today)
    current = case.get("current_pregnancy")
    return dict(current) if current else None


def set_current(
    session: Session, couple: Couple, part: dict[str, Any] | None, user: str, today: date
) -> None:
    """Set (`part`) or clear (None) the current pregnancy."""
    before = current_part(couple, today)
    if before is None and repo.current_days(couple, today) is not None:
        before = {"gestational_age_days": repo.current_days(couple, today)}  # overdue

    def change(case: dict[str, Any]) -> None:
        if part is None:
            case.pop("current_pregnancy", None)
        else:
            case["current_pregnancy"] = part

    repo.apply_current(couple, _checked(couple, change, today))
    what = "current pregnancy cleared" if part is None else "current pregnancy set"
    audit_change(session, user, couple, what, before, part)


# --- a whole case: import over an existing couple, and the API's PUT -------------------------


def _document(case: Case) -> dict[str, Any]:
    return case.model_dump(mode="json", by_alias=True, exclude_none=True)


def changes_by(couple: Couple, case: Case) -> CaseChanges:
    """What replacing the couple's case by `case` would change (both judged at its as_of)."""
    stored = repo.couple_to_case(couple, case.as_of)
    # The same number forms as `case`; a record invalid at that as_of is compared as stored.
    with suppress(CaseValidationError):
        stored = _document(repo.validate(stored))
    return case_changes(stored, _document(case))


def replace_case(
    session: Session, couple: Couple, case: Case, user: str, action: str = "update"
) -> CaseChanges:
    """Update the couple in place from a whole case. Unchanged entries keep their rows, and
    care-plan statuses (not part of the case format) are kept."""
    changes = changes_by(couple, case)
    repo.apply_case(couple, case)
    detail = compact({"change": f"case replaced ({action})", **changes.audit_detail()})
    repo.audit(session, user, action, "couple", couple.id, detail)
    return changes
