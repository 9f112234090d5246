"""Turn raw parsed data into a `Case`, or one error listing every problem by field path.

Pydantic checks structure and types; then come the checks that need `as_of` and the knowledge
base's vocabulary, plausibility limits and cited thresholds. Both are reported together: when
the structure fails, every section that is itself well-formed is still checked, so a user sees
all problems at once. Messages read like ``pregnancies[2].end_date: after as_of (2026-03-01)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rplcare.domain.case import (
    Case,
    CurrentPregnancy,
    Day,
    Lifestyle,
    Outcome,
    Patient,
    Person,
    Pregnancy,
    TestResult,
)
from rplcare.errors import CaseValidationError
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import TestCode

_LOSSES_BEFORE_VIABILITY = {Outcome.MISCARRIAGE, Outcome.ANEMBRYONIC, Outcome.BIOCHEMICAL}


def _key(name: str) -> str:
    """A field name as the user wrote it: bare if it is an identifier, else quoted, so that odd
    keys (empty, with dots, brackets or line breaks) stay readable and unambiguous."""
    return name if name.isidentifier() and name.isascii() else json.dumps(name)


def field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"function-after", "function-before"} or "[" in str(part):
            continue  # pydantic's internal validator frames
        else:
            out += ("." if out else "") + _key(part)
    return out or "(case)"


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        msg = err["msg"].removeprefix("Value error, ")
        loc = err["loc"]
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            # The last part is the user's own key: keep it even if it looks like a frame name.
            where = field_path(loc[:-1]).removeprefix("(case)")
            key = _key(loc[-1])
            problems.append(
                f"{where}{'.' if where else ''}{key}: unknown field (not part of rplcare.case/1)"
            )
        elif err["type"] == "invalid_key" and loc:
            problems.append(f"{field_path(loc[:-1])}: field name {loc[-1]} is not a string")
        else:
            problems.append(f"{field_path(loc)}: {msg}")
    return problems


def _num(n: int) -> str:
    """An integer for a message; Python refuses to print integers of more than 4300 digits."""
    return str(n) if n < 10**15 else "an absurdly large number"


def parse_case(raw: Any, kb: KnowledgeBase, source: str | None = None) -> Case:
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "nothing"
        raise CaseValidationError([f"(case): expected an object with fields, got {kind}"], source)
    try:
        case = Case.model_validate(raw)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        # One pass for the user: the parts that are well-formed get their semantic checks too.
        problems += [p for p in _section_problems(_Parts.salvage(raw), kb) if p not in problems]
        raise CaseValidationError(problems, source) from None
    problems = semantic_problems(case, kb)
    if problems:
        raise CaseValidationError(problems, source)
    return case


M = TypeVar("M", bound=BaseModel)


def _valid(model: type[M], raw: Any) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


@dataclass(frozen=True)
class _Parts:
    """A case's sections, each None (or a None list item) where it is absent or malformed.
    Without a valid `as_of` nothing is judged: every date check depends on it."""

    as_of: date | None
    patient: Patient | None
    partner: Person | None
    pregnancies: list[Pregnancy | None]
    tests: list[TestResult | None]
    lifestyle: Lifestyle | None
    current: CurrentPregnancy | None

    @classmethod
    def of(cls, case: Case) -> _Parts:
        return cls(
            case.as_of,
            case.patient,
            case.partner,
            list(case.pregnancies),
            list(case.tests),
            case.lifestyle,
            case.current_pregnancy,
        )

    @classmethod
    def salvage(cls, raw: dict[Any, Any]) -> _Parts:
        def items(key: str) -> list[Any]:
            value = raw.get(key)
            return value if isinstance(value, list) else []

        as_of = _valid(_AsOf, {"as_of": raw.get("as_of")})
        return cls(
            as_of.as_of if as_of else None,
            _valid(Patient, raw.get("patient")),
            _valid(Person, raw.get("partner")),
            [_valid(Pregnancy, p) for p in items("pregnancies")],
            [_valid(TestResult, t) for t in items("tests")],
            _valid(Lifestyle, raw.get("lifestyle")),
            _valid(CurrentPregnancy, raw.get("current_pregnancy")),
        )


class _AsOf(BaseModel):
    as_of: Day


def _age_problems(where: str, person: Person, as_of: date, kb: KnowledgeBase) -> list[str]:
    limit = kb.vocabulary.limits.max_age_years
    if person.birth_date is not None:
        if person.birth_date >= as_of:
            return [f"{where}.birth_date: not before as_of ({as_of})"]
        years = (as_of - person.birth_date).days / 365.25
        if years > limit:
            return [f"{where}.birth_date: implies age {years:.0f}, above the plausible {limit}"]
    if person.age is not None and person.age > limit:
        return [f"{where}.age: {_num(person.age)} is above the plausible {limit}"]
    return []


def semantic_problems(case: Case, kb: KnowledgeBase) -> list[str]:
    """Checks that need `as_of` or the knowledge base. Never looks at the system clock."""
    return _section_problems(_Parts.of(case), kb)


def _section_problems(parts: _Parts, kb: KnowledgeBase) -> list[str]:
    as_of = parts.as_of
    if as_of is None:
        return []
    problems: list[str] = []
    if parts.patient is not None:
        problems += _age_problems("patient", parts.patient, as_of, kb)
    if parts.partner is not None:
        problems += _age_problems("partner", parts.partner, as_of, kb)
    birth = parts.patient.birth_date if parts.patient is not None else None
    for i, p in enumerate(parts.pregnancies):
        if p is not None:
            problems += _pregnancy_problems(f"pregnancies[{i}]", p, as_of, birth, kb)
    for i, t in enumerate(parts.tests):
        if t is not None:
            problems += _test_problems(f"tests[{i}]", t, as_of, birth, parts.pregnancies, kb)
    limits = kb.vocabulary.limits
    life = parts.lifestyle
    low, high = limits.bmi_range
    if life is not None and life.bmi is not None and not low <= life.bmi <= high:
        problems.append(f"lifestyle.bmi: {life.bmi:g} is outside the plausible {low:g}-{high:g}")
    cp = parts.current
    if cp is not None and cp.gestational_age_days > limits.max_gestational_weeks * 7:
        problems.append(
            f"current_pregnancy.gestational_age_days: {_num(cp.gestational_age_days)} is above the "
            f"plausible {limits.max_gestational_weeks * 7:g}"
        )
    return problems


def _pregnancy_problems(
    where: str, p: Pregnancy, as_of: date, birth: date | None, kb: KnowledgeBase
) -> list[str]:
    problems: list[str] = []
    limits = kb.vocabulary.limits
    viability = kb.history.viability_weeks.value
    if p.end_date > as_of:
        problems.append(f"{where}.end_date: after as_of ({as_of})")
    if birth is not None and p.end_date <= birth:
        problems.append(f"{where}.end_date: not after the patient's birth_date ({birth})")
    if p.gestational_weeks > limits.max_gestational_weeks:
        problems.append(
            f"{where}.gestational_weeks: {p.gestational_weeks:g} is above the plausible "
            f"{limits.max_gestational_weeks:g}"
        )
    elif p.outcome in _LOSSES_BEFORE_VIABILITY and p.gestational_weeks >= viability:
        problems.append(
            f"{where}.gestational_weeks: a {p.outcome.value} at {p.gestational_weeks:g} weeks "
            f"is impossible; a loss from {viability:g} weeks is a stillbirth"
        )
    elif p.outcome is Outcome.STILLBIRTH and p.gestational_weeks < viability:
        problems.append(
            f"{where}.gestational_weeks: a stillbirth is a loss from {viability:g} weeks; "
            f"record a loss at {p.gestational_weeks:g} weeks as miscarriage"
        )
    return problems


def _test_problems(
    where: str,
    t: TestResult,
    as_of: date,
    birth: date | None,
    pregnancies: Sequence[Pregnancy | None],
    kb: KnowledgeBase,
) -> list[str]:
    known = kb.vocabulary.tests
    spec = known.get(t.code)
    if spec is None:
        return [f"{where}.code: unknown test {t.code!r}; known codes: {', '.join(known)}"]
    problems: list[str] = []
    if t.result is not None and spec.results and t.result not in spec.results:
        problems.append(
            f"{where}.result: {t.result!r} is not a result of {t.code}; "
            f"expected one of: {', '.join(spec.results)}"
        )
    else:
        problems += _flag_contradicts_value(where, t, spec, kb)
    if t.unit is not None and spec.units and t.unit not in spec.units:
        problems.append(
            f"{where}.unit: {t.unit!r} is not a unit for {t.code}; "
            f"expected one of: {', '.join(spec.units)}"
        )
    if t.unit is not None and not spec.units:
        problems.append(f"{where}.unit: {t.code} takes a result, not a unit")
    if t.value is not None and not spec.units:
        problems.append(f"{where}.value: {t.code} takes a result, not a numeric value")
    if t.date > as_of:
        problems.append(f"{where}.date: after as_of ({as_of})")
    if birth is not None and t.date < birth:
        problems.append(f"{where}.date: before the patient's birth_date ({birth})")
    if t.pregnancy is not None:
        if t.pregnancy >= len(pregnancies):
            problems.append(
                f"{where}.pregnancy: index {_num(t.pregnancy)} but the case has "
                f"{len(pregnancies)} pregnancies (indexes start at 0)"
            )
        elif (
            t.code == "poc_karyotype"
            and (tissue := pregnancies[t.pregnancy]) is not None
            and tissue.outcome not in _LOSSES_BEFORE_VIABILITY | {Outcome.STILLBIRTH}
        ):
            problems.append(
                f"{where}.pregnancy: pregnancy tissue testing needs a loss, "
                f"but pregnancies[{t.pregnancy}] is {tissue.outcome.value}"
            )
    return problems


_COMPARATORS = {"gt": "above", "ge": "at or above", "lt": "below", "le": "at or below"}


def _flag_contradicts_value(
    where: str, t: TestResult, spec: TestCode, kb: KnowledgeBase
) -> list[str]:
    """A laboratory flag that the knowledge base's cited threshold for that flag contradicts,
    for a value in the threshold's unit. Tests without a cited threshold are never refused."""
    if t.result is None or t.value is None:
        return []
    problems = []
    for flag, key in spec.flag_thresholds.items():
        limit = kb.threshold(key)
        if t.unit != limit.unit or (t.result == flag) == limit.holds(t.value):
            continue
        side = _COMPARATORS[limit.comparator]
        says = "is" if limit.holds(t.value) else "is not"
        problems.append(
            f"{where}.result: {t.result!r} contradicts the value {t.value:g} {t.unit}, which "
            f"{says} {side} the {limit.value:g} {limit.unit} that makes a {t.code} result "
            f"{flag!r} ({limit.description} [{kb.cite(limit.citation)}]); correct the result "
            f"or the value, or, if the laboratory's own range differs, record its flag without "
            f"the value"
        )
    return problems
