"""JSON API v1: assess a case, quick risk, and stored patients (behind auth)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from rplcare.domain.case import Case
from rplcare.engine.assess import assess
from rplcare.errors import CaseValidationError
from rplcare.prognosis.quick import RiskInputError, quick_risk
from rplcare.web import records
from rplcare.web import repository as repo
from rplcare.web.deps import SessionDep, UserDep
from rplcare.web.models import Couple

router = APIRouter(prefix="/api/v1", tags=["api"])

CASE_EXAMPLE: dict[str, Any] = {
    "schema": "rplcare.case/1",
    "as_of": "2026-03-01",
    "patient": {"age": 31},
    "pregnancies": [
        {"outcome": "miscarriage", "end_date": "2025-01-20", "gestational_weeks": 8},
        {"outcome": "miscarriage", "end_date": "2025-09-02", "gestational_weeks": 7},
    ],
    "tests": [],
}
CaseBody = Annotated[
    dict[str, Any],
    Body(description="A case in the rplcare.case/1 format", examples=[CASE_EXAMPLE]),
]


def split_problem(problem: str) -> tuple[str, str]:
    """`path: message` -> (path, message); the path may hold JSON-quoted keys with ': '."""
    quoted = False
    for i, ch in enumerate(problem):
        if ch == '"' and (i == 0 or problem[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and problem.startswith(": ", i):
            return problem[:i], problem[i + 2 :]
    return "(case)", problem


def path_parts(path: str) -> list[str | int]:
    """`pregnancies[2].end_date` -> ["pregnancies", 2, "end_date"] (quoted keys kept whole)."""
    parts: list[str | int] = []
    for token in re.findall(r'"(?:[^"\\]|\\.)*"|\[\d+\]|[^.\[\]]+', path):
        if token.startswith("["):
            parts.append(int(token[1:-1]))
        elif token.startswith('"'):
            parts.append(json.loads(token))
        else:
            parts.append(token)
    return parts


def validation_detail(problems: list[str]) -> list[dict[str, Any]]:
    """Problems in FastAPI's HTTPValidationError shape (the schema /docs declares)."""
    out = []
    for problem in problems:
        path, message = split_problem(problem)
        out.append(
            {
                "loc": ["body", *path_parts(path)],
                "msg": message,
                "type": "value_error",
                "path": path,
            }
        )
    return out


def _invalid(exc: CaseValidationError) -> HTTPException:
    return HTTPException(422, validation_detail(exc.problems))


def _storable(raw: dict[str, Any]) -> Case:
    """A case to store: valid, and not judged at a future date (S10), as the import page
    requires: a stored couple is assessed as of today, where future entries would be invalid."""
    case = repo.validate(raw)
    if case.as_of > date.today():
        raise CaseValidationError([f"as_of: after today ({date.today()})"])
    return case


@router.post(
    "/assess",
    summary="Assess a case (rplcare.case/1 -> rplcare.assessment/1)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "The assessment"}},
)
async def assess_case(case: CaseBody, request: Request) -> Response:
    # async: a few milliseconds of pure computation, cheaper on the event loop than handed to
    # the thread pool and back (the GIL would serialise it anyway); the JSON is written by
    # pydantic-core in one pass.
    try:
        assessment = assess(repo.validate(case), profile=request.app.state.profile)
    except CaseValidationError as exc:
        raise _invalid(exc) from None
    return Response(assessment.to_json(), media_type="application/json")


class RiskRequest(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    age: float = Field(description="Maternal age in years")
    losses: int = Field(description="Consecutive losses since the last birth (or ever)")
    live_births: int = 0
    bmi: float | None = None
    smoker: bool = False
    pcos: bool = False
    gestational_days: int | None = None
    heartbeat: bool = False
    setting: str = "population"


@router.post("/risk", summary="Next- and current-pregnancy risk with intervals")
def risk(request: RiskRequest) -> dict[str, Any]:
    try:
        return quick_risk(**request.model_dump())
    except RiskInputError as exc:
        raise HTTPException(422, validation_detail(exc.problems)) from None


class PatientSummary(BaseModel):
    id: int
    label: str
    updated_at: str


@router.get("/patients", summary="List stored couples (search by label)")
def list_patients(
    session: SessionDep, user: UserDep, q: Annotated[str, Query(max_length=100)] = ""
) -> list[PatientSummary]:
    return [
        PatientSummary(id=c.id, label=c.label, updated_at=c.updated_at.isoformat())
        for c in repo.list_couples(session, user.username, q)
    ]


@router.post("/patients", status_code=201, summary="Store a couple from a case file")
def create_patient(case: CaseBody, session: SessionDep, user: UserDep) -> dict[str, Any]:
    try:
        couple = repo.create_couple(session, _storable(case), user.username)
    except CaseValidationError as exc:
        raise _invalid(exc) from None
    return {"id": couple.id, "label": couple.label}


def _couple(session: SessionDep, couple_id: int, username: str) -> Couple:
    couple = repo.get_couple(session, couple_id, username)
    if couple is None:
        raise HTTPException(404, "no such patient")
    return couple


@router.get("/patients/{couple_id}", summary="Export a stored couple as a case file")
def read_patient(couple_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    return repo.couple_to_case(_couple(session, couple_id, user.username), date.today())


@router.put(
    "/patients/{couple_id}",
    summary="Update a stored couple in place from a case file",
    description="Entries that did not change keep their rows; care-plan statuses are kept. The "
    "audit event lists the fields before and after, and the entries added or removed.",
)
def replace_patient(
    couple_id: int, case: CaseBody, session: SessionDep, user: UserDep
) -> dict[str, Any]:
    couple = _couple(session, couple_id, user.username)
    try:
        records.replace_case(session, couple, _storable(case), user.username)
    except CaseValidationError as exc:
        raise _invalid(exc) from None
    return {"id": couple.id, "label": couple.label}


@router.delete("/patients/{couple_id}", status_code=204, summary="Delete a stored couple")
def delete_patient(couple_id: int, session: SessionDep, user: UserDep) -> None:
    repo.delete_couple(session, _couple(session, couple_id, user.username), user.username)


@router.post("/patients/{couple_id}/assessments", summary="Assess a stored couple today")
def assess_patient(
    couple_id: int, request: Request, session: SessionDep, user: UserDep
) -> dict[str, Any]:
    couple = _couple(session, couple_id, user.username)
    profile = request.app.state.profile
    try:
        return repo.assess_couple(
            session, couple, date.today(), user.username, profile
        ).to_json_dict()
    except CaseValidationError as exc:
        raise _invalid(exc) from None
