"""The `rplcare.case/1` case model.

Structure only: types, required fields, enumerations fixed by the contract. Checks that need
the knowledge base (test codes, result vocabularies, gestational limits) or `as_of` live in
`rplcare.domain.validation`, so this module stays free of data files and clocks.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

CASE_SCHEMA = "rplcare.case/1"


class Outcome(StrEnum):
    LIVE_BIRTH = "live_birth"
    STILLBIRTH = "stillbirth"
    MISCARRIAGE = "miscarriage"
    ANEMBRYONIC = "anembryonic"
    BIOCHEMICAL = "biochemical"
    ECTOPIC = "ectopic"
    MOLAR = "molar"
    TERMINATION = "termination"


# Size limits of one case: input sanity, not clinical thresholds. They bound the work one
# request can cause (review finding S2: 9,000 pregnancies took 14 s) far above any real history.
MAX_PREGNANCIES = 60
MAX_TESTS = 500
MAX_TEXT = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# Strict numbers and booleans: clinical data must not turn `true` into 1 or "yes" into True.
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Count = Annotated[int, Field(ge=0, strict=True)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """Dates are YYYY-MM-DD strings (or YAML dates). Pydantic alone would read a number, or a
    string of digits such as "0", as a Unix timestamp and accept it as 1970-01-01."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("expected a date as YYYY-MM-DD")


Day = Annotated[date, BeforeValidator(_iso_date)]


class Person(_Strict):
    age: Count | None = None
    birth_date: Day | None = None

    @model_validator(mode="after")
    def _age_or_birth_date(self) -> Person:
        if self.age is not None and self.birth_date is not None:
            raise ValueError("give either age or birth_date, not both")
        return self


class Patient(Person):
    # Extension to the contract: polycystic ovary syndrome, used by the prognosis model.
    pcos: Flag | None = None

    @model_validator(mode="after")
    def _needs_age(self) -> Patient:
        if self.age is None and self.birth_date is None:
            raise ValueError("age or birth_date is required")
        return self


class Pregnancy(_Strict):
    outcome: Outcome
    end_date: Day
    gestational_weeks: NonNegative
    heartbeat_seen: Flag | None = None
    partner: Literal["current", "previous"] | None = None
    notes: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    # Extension to the contract: the source (e.g. a FHIR import) gave no gestation, and
    # `gestational_weeks` is a placeholder that only puts the pregnancy in its trimester. Rules
    # that need the gestation itself (APS clinical criteria) do not use it.
    gestational_weeks_assumed: Flag | None = None


class TestResult(_Strict):
    # Not a pytest test class, despite the name.
    __test__ = False

    # Lengths bound what a record can hold (the web app stores these fields).
    code: Annotated[str, Field(min_length=1, max_length=40)]
    date: Day
    result: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    value: Annotated[float, Field(allow_inf_nan=False, strict=True)] | None = None
    unit: Annotated[str, Field(max_length=20)] | None = None
    method: Annotated[str, Field(max_length=60)] | None = None
    detail: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    pregnancy: Count | None = None

    @model_validator(mode="after")
    def _result_or_value(self) -> TestResult:
        if self.result is None and self.value is None:
            raise ValueError("a test needs a result, a value, or both")
        if self.value is not None and not self.unit:
            raise ValueError("a value needs a unit")
        return self


class Lifestyle(_Strict):
    smoker: Flag | None = None
    bmi: Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)] | None = None
    alcohol_units_per_week: NonNegative | None = None
    caffeine_mg_per_day: NonNegative | None = None


class CurrentPregnancy(_Strict):
    gestational_age_days: Count
    heartbeat_seen: Flag | None = None
    bleeding: Flag | None = None
    # Extension to the contract: NICE NG126 progesterone needs a scan-confirmed intrauterine
    # pregnancy; a seen heartbeat implies it, but an early scan can confirm it before that.
    intrauterine_confirmed: Flag | None = None


class Case(_Strict):
    schema_: Literal["rplcare.case/1"] = Field(alias="schema")
    as_of: Day
    id: Annotated[str, Field(max_length=120)] | None = None
    patient: Patient
    partner: Person | None = None
    pregnancies: list[Pregnancy] = Field(default_factory=list, max_length=MAX_PREGNANCIES)
    tests: list[TestResult] = Field(default_factory=list, max_length=MAX_TESTS)
    lifestyle: Lifestyle | None = None
    current_pregnancy: CurrentPregnancy | None = None

    # No `populate_by_name`: it would also accept the Python name `schema_` in case files.
    model_config = ConfigDict(extra="forbid", frozen=True)
