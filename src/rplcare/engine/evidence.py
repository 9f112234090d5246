"""Shared types for interpretation: causes, evidence lines with their citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from rplcare.domain.case import Case, TestResult
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import Citation, Verification


class Status(StrEnum):
    CONFIRMED = "confirmed"
    POSSIBLE = "possible"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class Cause:
    category: str
    status: Status
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class RiskFactor:
    category: str
    present: bool
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class NotAssessed:
    category: str
    reason: str


@dataclass
class Findings:
    """What interpretation learned: causes, plus facts and repeat dates the planners need."""

    causes: list[Cause] = field(default_factory=list)
    risk_factors: list[RiskFactor] = field(default_factory=list)
    not_assessed: list[NotAssessed] = field(default_factory=list)
    facts: dict[str, bool | int | float | str | None] = field(default_factory=dict)
    repeat_due: dict[str, date] = field(default_factory=dict)  # test code -> earliest repeat date
    warnings: list[str] = field(default_factory=list)

    def add(self, category: str, status: Status, evidence: list[str]) -> None:
        self.causes.append(Cause(category, status, tuple(evidence)))

    def skip(self, category: str, reason: str) -> None:
        self.not_assessed.append(NotAssessed(category, reason))

    def status_of(self, category: str) -> Status | None:
        return next((c.status for c in self.causes if c.category == category), None)


def tag(kb: KnowledgeBase, citation: Citation, verification: Verification) -> str:
    mark = "UNVERIFIED" if verification is Verification.UNVERIFIED else verification.value
    return f"[{kb.cite(citation)}; {mark}]"


def statement(kb: KnowledgeBase, key: str) -> str:
    s = kb.statement(key)
    return f"{s.text} {tag(kb, s.citation, s.verification)}"


def threshold_text(kb: KnowledgeBase, key: str) -> str:
    t = kb.threshold(key)
    return f"{t.description} {tag(kb, t.citation, t.verification)}"


def results(case: Case, code: str) -> list[TestResult]:
    """All results for a test code, oldest first."""
    return sorted((t for t in case.tests if t.code == code), key=lambda t: t.date)


def latest(case: Case, code: str) -> TestResult | None:
    found = results(case, code)
    return found[-1] if found else None


def shown(t: TestResult) -> str:
    parts = [t.result] if t.result else []
    if t.value is not None:
        parts.append(f"{t.value:g} {t.unit}")
    return f"{t.code} {' / '.join(parts)} on {t.date}"
