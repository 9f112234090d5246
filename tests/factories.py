"""Small builders for synthetic cases used across tests."""

from __future__ import annotations

from typing import Any

from rplcare.domain.case import Case
from rplcare.domain.validation import parse_case
from rplcare.engine.assess import assess
from rplcare.engine.assessment import Assessment
from rplcare.knowledge.loader import load_knowledge

AS_OF = "2026-06-01"


def preg(outcome: str, end: str, weeks: float, **extra: Any) -> dict[str, Any]:
    return {"outcome": outcome, "end_date": end, "gestational_weeks": weeks, **extra}


def losses(
    n: int, outcome: str = "miscarriage", weeks: float = 8, start: int = 2021
) -> list[dict[str, Any]]:
    """n losses, one every four months from March of `start`."""
    return [preg(outcome, f"{start + i // 3}-{3 + 4 * (i % 3):02d}-01", weeks) for i in range(n)]


def case(
    pregnancies: list[dict[str, Any]] | None = None,
    tests: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Case:
    raw: dict[str, Any] = {
        "schema": "rplcare.case/1",
        "as_of": AS_OF,
        "patient": {"age": 33},
        "pregnancies": pregnancies or [],
        "tests": tests or [],
        **extra,
    }
    return parse_case(raw, load_knowledge(), "test")


def run(**kwargs: Any) -> Assessment:
    return assess(case(**kwargs))


def cause(a: Assessment, category: str) -> str | None:
    return next((c.status for c in a.causes if c.category == category), None)


def workup_ids(a: Assessment) -> set[str]:
    return {w.id for w in a.workup}


def care_ids(a: Assessment) -> set[str]:
    return {c.id for c in a.care_plan}
