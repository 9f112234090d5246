"""Golden clinical vignettes.

Each directory under ``tests/vignettes/`` holds a synthetic case (``case.json``, format
``rplcare.case/1``) and the part of the expected assessment that matters for the clinical point
it makes (``expected.yaml``). The expectations were derived from the guideline rules, not copied
from engine output. Directories whose name starts with ``_`` (``_disputed``) are skipped: they
hold cases where we believe the engine, not the expectation, is wrong.

``expected.yaml`` keys (all optional except ``description``):

* ``history``: exact values of ``assessment.history`` fields.
* ``definitions``: per guideline, exact ``meets``, ``losses_counted``, ``kind``, ``evaluation``.
* ``causes``: category -> ``confirmed`` | ``possible`` | ``excluded`` | ``absent`` (not in causes),
  or a mapping of ``status`` and ``evidence_contains`` (a substring of one evidence line).
* ``risk_factors``: category -> ``present`` | ``absent`` (modifiable associations, not causes).
* ``workup``: item id -> ``absent`` | ``present`` | a mapping of ``status``, ``recommendation``,
  ``due_date`` (exact) and ``note_contains`` (substring of the note).
* ``care_plan``: item id -> ``present`` | ``absent``.
* ``disagreements``: ``test:<code>`` or ``intervention:<code>`` -> ``present`` | ``absent``.
* ``counts``: exact number of ``workup``, ``care_plan``, ``causes`` or ``disagreements`` entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from rplcare.domain.case import Case
from rplcare.domain.history import age_at
from rplcare.engine.assess import assess
from rplcare.engine.assessment import Assessment, HistoryOut
from rplcare.io import load_case
from rplcare.knowledge.loader import KnowledgeBase, load_knowledge

VIGNETTES = Path(__file__).parent / "vignettes"
MIN_VIGNETTES = 30
AGE_RANGE = (20, 45)

ABSENT = "absent"
PRESENT = "present"
TOP_KEYS = {
    "description",
    "history",
    "definitions",
    "causes",
    "risk_factors",
    "workup",
    "care_plan",
    "disagreements",
    "counts",
}
DEFINITION_KEYS = {"meets", "losses_counted", "kind", "evaluation"}
CAUSE_STATUSES = {"confirmed", "possible", "excluded", ABSENT}
WORKUP_KEYS = {"status", "recommendation", "due_date", "note_contains"}
WORKUP_STATUSES = {"to_do", "optional", "done", "repeat", "not_indicated"}
RISK_STATUSES = {"present", "absent"}
RECOMMENDATIONS = {"recommended", "consider", "not_recommended"}
COUNT_KEYS = {"workup", "care_plan", "causes", "disagreements"}


def vignette_dirs() -> list[Path]:
    """Every vignette directory, skipping `_`-prefixed ones such as `_disputed`."""
    return sorted(p for p in VIGNETTES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def load_expected(directory: Path) -> dict[str, Any]:
    data = yaml.safe_load((directory / "expected.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise AssertionError(f"{directory.name}/expected.yaml is not a mapping")
    return data


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


# ------------------------------------------------------------------ expected.yaml structure


def _mapping(problems: list[str], path: str, value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    problems.append(f"{path}: expected a mapping, got {value!r}")
    return {}


def _one_of(problems: list[str], path: str, value: object, allowed: set[str]) -> None:
    if value not in allowed:
        problems.append(f"{path}: {value!r} is not one of {sorted(allowed)}")


def structure_problems(expected: Mapping[str, Any], kb: KnowledgeBase) -> list[str]:
    """Typos in expected.yaml must fail loudly: an `absent` check on a misspelt id would
    otherwise pass for ever."""
    problems: list[str] = []
    for key in sorted(set(expected) - TOP_KEYS):
        problems.append(f"{key}: unknown key (known: {sorted(TOP_KEYS)})")
    description = expected.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append("description: a non-empty string saying what the case tests is required")

    history_fields = set(HistoryOut.model_fields)
    for key in _mapping(problems, "history", expected.get("history", {})):
        if key not in history_fields:
            problems.append(f"history.{key}: not a history field")

    for gid, want in _mapping(problems, "definitions", expected.get("definitions", {})).items():
        if gid not in kb.definitions:
            problems.append(f"definitions.{gid}: unknown definition")
        for key in set(_mapping(problems, f"definitions.{gid}", want)) - DEFINITION_KEYS:
            problems.append(f"definitions.{gid}.{key}: unknown key")

    for category, status in _mapping(problems, "causes", expected.get("causes", {})).items():
        if category not in kb.vocabulary.causes:
            problems.append(f"causes.{category}: unknown cause category")
        if isinstance(status, Mapping):
            for key in set(status) - {"status", "evidence_contains"}:
                problems.append(f"causes.{category}.{key}: unknown key")
            status = status.get("status")
        _one_of(problems, f"causes.{category}", status, CAUSE_STATUSES)

    for category, status in _mapping(
        problems, "risk_factors", expected.get("risk_factors", {})
    ).items():
        if category not in kb.vocabulary.risk_factors:
            problems.append(f"risk_factors.{category}: unknown risk-factor category")
        _one_of(problems, f"risk_factors.{category}", status, RISK_STATUSES)

    investigation_ids = {i.id for i in kb.investigations}
    for item_id, want in _mapping(problems, "workup", expected.get("workup", {})).items():
        path = f"workup.{item_id}"
        if item_id not in investigation_ids:
            problems.append(f"{path}: unknown investigation id")
        if isinstance(want, str):
            _one_of(problems, path, want, {ABSENT, PRESENT})
            continue
        fields = _mapping(problems, path, want)
        for key in set(fields) - WORKUP_KEYS:
            problems.append(f"{path}.{key}: unknown key (known: {sorted(WORKUP_KEYS)})")
        if "status" in fields:
            _one_of(problems, f"{path}.status", fields["status"], WORKUP_STATUSES)
        if "recommendation" in fields:
            _one_of(problems, f"{path}.recommendation", fields["recommendation"], RECOMMENDATIONS)

    treatment_ids = {t.id for t in kb.treatments}
    for item_id, want in _mapping(problems, "care_plan", expected.get("care_plan", {})).items():
        if item_id not in treatment_ids:
            problems.append(f"care_plan.{item_id}: unknown treatment id")
        _one_of(problems, f"care_plan.{item_id}", want, {ABSENT, PRESENT})

    topics = {f"test:{c}" for c in kb.vocabulary.tests} | {
        f"intervention:{c}" for c in kb.vocabulary.interventions
    }
    for topic, want in _mapping(
        problems, "disagreements", expected.get("disagreements", {})
    ).items():
        if topic not in topics:
            problems.append(f"disagreements.{topic}: use test:<code> or intervention:<code>")
        _one_of(problems, f"disagreements.{topic}", want, {ABSENT, PRESENT})

    for key, want in _mapping(problems, "counts", expected.get("counts", {})).items():
        if key not in COUNT_KEYS:
            problems.append(f"counts.{key}: unknown key (known: {sorted(COUNT_KEYS)})")
        if not isinstance(want, int) or isinstance(want, bool):
            problems.append(f"counts.{key}: expected an integer, got {want!r}")
    return problems


# ------------------------------------------------------------------ comparison


def _same(want: object, got: object) -> bool:
    """Exact equality that does not let `true` stand for 1 or a date for its string."""
    if isinstance(want, date):
        want = want.isoformat()
    if isinstance(got, date):
        got = got.isoformat()
    return want == got and isinstance(want, bool) == isinstance(got, bool)


def _presence(path: str, want: str, found: bool) -> list[str]:
    if want == PRESENT and not found:
        return [f"{path}: expected present, got absent"]
    if want == ABSENT and found:
        return [f"{path}: expected absent, got present"]
    return []


def _disagreement_topics(actual: Assessment, kb: KnowledgeBase) -> set[str]:
    """`test:<code>` / `intervention:<code>` for each disagreement (codes via the item ids)."""
    code_of: dict[str, str] = {i.id: f"test:{i.test}" for i in kb.investigations}
    code_of.update({t.id: f"intervention:{t.intervention}" for t in kb.treatments})
    return {code_of[d.positions[0].id] for d in actual.disagreements if d.positions}


def mismatches(expected: Mapping[str, Any], actual: Assessment, kb: KnowledgeBase) -> list[str]:
    problems: list[str] = []

    def check(path: str, want: object, got: object) -> None:
        if not _same(want, got):
            problems.append(f"{path}: expected {want!r}, got {got!r}")

    history = actual.history.model_dump()
    for key, want in expected.get("history", {}).items():
        check(f"history.{key}", want, history.get(key))

    for gid, fields in expected.get("definitions", {}).items():
        definition = actual.definitions.get(gid)
        if definition is None:
            problems.append(f"definitions.{gid}: missing from the assessment")
            continue
        got_fields = definition.model_dump()
        for key, want in fields.items():
            check(f"definitions.{gid}.{key}", want, got_fields.get(key))

    causes = {c.category: c for c in actual.causes}
    for category, want in expected.get("causes", {}).items():
        found = causes.get(category)
        status = want.get("status") if isinstance(want, Mapping) else want
        check(f"causes.{category}", status, found.status if found else ABSENT)
        fragment = want.get("evidence_contains") if isinstance(want, Mapping) else None
        if fragment and not any(fragment in line for line in (found.evidence if found else [])):
            problems.append(f"causes.{category}.evidence: no line contains {fragment!r}")

    risks = {r.category: r.status for r in actual.risk_factors}
    for category, want in expected.get("risk_factors", {}).items():
        check(f"risk_factors.{category}", want, risks.get(category, ABSENT))

    workup = {w.id: w for w in actual.workup}
    for item_id, want in expected.get("workup", {}).items():
        path = f"workup.{item_id}"
        entry = workup.get(item_id)
        if isinstance(want, str):
            problems += _presence(path, want, entry is not None)
            continue
        if entry is None:
            problems.append(f"{path}: expected {dict(want)!r}, got absent")
            continue
        for key, value in want.items():
            if key == "note_contains":
                if value not in (entry.note or ""):
                    problems.append(
                        f"{path}.note: expected to contain {value!r}, got {entry.note!r}"
                    )
            else:
                check(f"{path}.{key}", value, getattr(entry, key))

    care = {c.id for c in actual.care_plan}
    for item_id, want in expected.get("care_plan", {}).items():
        problems += _presence(f"care_plan.{item_id}", want, item_id in care)

    topics = _disagreement_topics(actual, kb)
    for topic, want in expected.get("disagreements", {}).items():
        problems += _presence(f"disagreements.{topic}", want, topic in topics)

    sizes = {
        "workup": len(actual.workup),
        "care_plan": len(actual.care_plan),
        "causes": len(actual.causes),
        "disagreements": len(actual.disagreements),
    }
    for key, want in expected.get("counts", {}).items():
        check(f"counts.{key}", want, sizes.get(key))
    return problems


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("directory", vignette_dirs(), ids=lambda p: p.name)
def test_vignette(directory: Path, kb: KnowledgeBase) -> None:
    expected = load_expected(directory)
    problems = structure_problems(expected, kb)
    if not problems:
        assessment = assess(load_case(directory / "case.json", kb), kb)
        problems = mismatches(expected, assessment, kb)
    header = f"{directory.name}: {expected.get('description', '(no description)')}"
    assert not problems, "\n  ".join([header, *problems])


def _case_dates(case: Case) -> list[tuple[str, date]]:
    dates: list[tuple[str, date]] = [
        (f"pregnancies[{i}].end_date", p.end_date) for i, p in enumerate(case.pregnancies)
    ]
    dates += [(f"tests[{i}].date", t.date) for i, t in enumerate(case.tests)]
    if case.patient.birth_date is not None:
        dates.append(("patient.birth_date", case.patient.birth_date))
    if case.partner is not None and case.partner.birth_date is not None:
        dates.append(("partner.birth_date", case.partner.birth_date))
    return dates


@pytest.mark.parametrize("directory", vignette_dirs(), ids=lambda p: p.name)
def test_vignette_case_is_plausible(directory: Path, kb: KnowledgeBase) -> None:
    """Synthetic cases: every date strictly before `as_of`, patient aged 20-45."""
    case = load_case(directory / "case.json", kb)
    late = [
        f"{where} {d} is not before as_of {case.as_of}"
        for where, d in _case_dates(case)
        if d >= case.as_of
    ]
    assert not late, late
    low, high = AGE_RANGE
    assert low <= age_at(case) <= high, f"patient age {age_at(case)} outside {AGE_RANGE}"


def test_vignettes_cover_the_rules(kb: KnowledgeBase) -> None:
    """At least MIN_VIGNETTES vignettes; together they pin every cause category (with a
    non-`absent` expectation) and every definition both met and not met."""
    directories = vignette_dirs()
    assert len(directories) >= MIN_VIGNETTES, f"only {len(directories)} vignettes"

    causes_pinned: set[str] = set()
    meets_seen: dict[str, set[bool]] = {gid: set() for gid in kb.definitions}
    for directory in directories:
        expected = load_expected(directory)
        causes_pinned |= {
            c
            for c, s in expected.get("causes", {}).items()
            if (s.get("status") if isinstance(s, Mapping) else s) != ABSENT
        }
        for gid, fields in expected.get("definitions", {}).items():
            if "meets" in fields and gid in meets_seen:
                meets_seen[gid].add(fields["meets"])

    missing_causes = sorted(set(kb.vocabulary.causes) - causes_pinned)
    assert not missing_causes, f"no vignette pins these causes: {missing_causes}"
    one_sided = {gid: sorted(seen) for gid, seen in meets_seen.items() if seen != {True, False}}
    assert not one_sided, f"definitions not covered both met and not met: {one_sided}"
