"""The terminology table (`terminology.yaml`): which codes rplcare reads and writes, and how sure
the project is of each (status tags from the ecosystem reference)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rplcare.domain.case import Outcome
from rplcare.errors import KnowledgeError

CodeStatus = Literal["verified", "secondary", "conflicting"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Code(_Frozen):
    system: str
    code: str
    display: str | None
    status: CodeStatus
    source: str


class OutcomeCode(Code):
    outcome: Outcome
    trimester: Literal["first", "second"] | None
    # A delivery procedure: a baby was born, alive or not is not said.
    delivery_only: bool = False


class NotedCode(Code):
    why: str


class TestCodes(_Frozen):
    __test__ = False

    codes: list[Code] = Field(min_length=1)
    units: dict[str, str]


class LifestyleCodes(_Frozen):
    codes: list[Code] = Field(min_length=1)
    units: dict[str, str] = Field(default_factory=dict)
    not_smoking: list[Code] = Field(default_factory=list)


class Panel(_Frozen):
    patterns: list[str] = Field(min_length=1)
    tests: list[str] = Field(min_length=1)


class Terminology(_Frozen):
    schema_version: Literal[1]
    version: str
    description: str
    systems: dict[str, str]
    episode_markers: list[Code]
    outcomes: list[OutcomeCode]
    noted: list[NotedCode]
    diagnosis: dict[str, list[Code]]
    lifestyle: dict[Literal["bmi", "smoking_status"], LifestyleCodes]
    tests: dict[str, TestCodes]
    order_text: dict[str, list[str]]
    order_panels: dict[str, Panel]

    @model_validator(mode="after")
    def _systems_known_and_patterns_compile(self) -> Terminology:
        codes = [*self.episode_markers, *self.outcomes, *self.noted]
        codes += [c for cs in self.diagnosis.values() for c in cs]
        codes += [c for t in self.tests.values() for c in t.codes]
        codes += [c for x in self.lifestyle.values() for c in [*x.codes, *x.not_smoking]]
        unknown = sorted({c.system for c in codes} - set(self.systems))
        if unknown:
            raise ValueError(f"codes use undeclared systems: {unknown}")
        patterns = [p for ps in self.order_text.values() for p in ps]
        patterns += [p for panel in self.order_panels.values() for p in panel.patterns]
        for pattern in patterns:
            re.compile(pattern)
        seen: set[tuple[str, str]] = set()
        for c in [*self.episode_markers, *self.outcomes, *self.noted]:
            if (c.system, c.code) in seen:
                raise ValueError(f"{c.system} {c.code} is listed twice")
            seen.add((c.system, c.code))
        return self

    def url(self, system: str) -> str:
        return self.systems[system]

    def coding(self, code: Code) -> dict[str, str]:
        """A FHIR Coding (no display when the table has none: rplcare never invents one)."""
        out = {"system": self.url(code.system), "code": code.code}
        if code.display:
            out["display"] = code.display
        return out

    def test_for_loinc(self, code: str) -> str | None:
        for test, entry in self.tests.items():
            if any(c.code == code and c.system == "loinc" for c in entry.codes):
                return test
        return None


@cache
def load_terminology() -> Terminology:
    text = resources.files("rplcare.fhir").joinpath("terminology.yaml").read_text("utf-8")
    try:
        return Terminology.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise KnowledgeError([f"fhir/terminology.yaml: {exc}"]) from exc


def check_against_vocabulary(term: Terminology, tests: set[str]) -> list[str]:
    """Every test the table names must exist in the knowledge base's vocabulary."""
    named = set(term.tests) | set(term.order_text)
    named |= {t for panel in term.order_panels.values() for t in panel.tests}
    return [f"fhir/terminology.yaml names unknown test {t!r}" for t in sorted(named - tests)]
