"""Property tests: whatever a case file holds, loading it gives a Case or a CaseValidationError
whose every problem names a field path (or the file), and a Case always assesses."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rplcare.domain.case import Case, Outcome
from rplcare.engine.assess import assess
from rplcare.errors import CaseValidationError
from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from tests.conftest import dump, valid_case

KB = load_knowledge()
SUFFIXES = (".json", ".yaml", ".yml", ".txt")

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what a problem string may start with ---------------------------------------------------

FILE_LEVEL = (
    "file not found",
    "is a directory, not a case file",
    "cannot read file",
    "not UTF-8 text",
    "file is empty",
    "not valid JSON: ",
    "not valid YAML: ",
)
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")'  # bare, or JSON-quoted if odd
FIELD_PATH = re.compile(rf"^(?:\(case\)|{_NAME}(?:\[\d+\]|\.{_NAME})*): \S")
TOP_LEVEL = {f.alias or name for name, f in Case.model_fields.items()}


def check_problem(problem: str) -> None:
    assert "\n" not in problem, f"multi-line problem: {problem!r}"
    if problem.startswith(FILE_LEVEL):
        return
    match = FIELD_PATH.match(problem)
    assert match, f"problem does not start with a field path: {problem!r}"
    head = re.split(r"[.\[:]", problem, maxsplit=1)[0]
    if head not in TOP_LEVEL and head != "(case)":
        assert "unknown field" in problem, problem


# --- strategies -------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
numbers = (
    st.integers(min_value=-(10**20), max_value=10**20)
    | st.sampled_from([0, -1, 1, 23.9, 24, 45, 45.0001, 1e308, -1e-308, 10**18])
    | st.floats(allow_nan=True, allow_infinity=True)
)
date_like = (
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(str)
    | st.from_regex(r"\A\d{1,5}-\d{1,3}-\d{1,3}\Z")
    | st.sampled_from(["", "0", "2026-02-29", "2024-02-29", "2026-1-1", "2026-01-01T00:00"])
    | st.text(max_size=12)
)
enum_like = st.sampled_from(
    [o.value for o in Outcome]
    + list(KB.vocabulary.tests)
    + [r for t in KB.vocabulary.tests.values() for r in t.results]
    + [u for t in KB.vocabulary.tests.values() for u in t.units]
    + ["current", "previous", "rplcare.case/1"]
) | st.text(max_size=15)
field_names = st.sampled_from(
    sorted(
        TOP_LEVEL
        | {"age", "birth_date", "outcome", "end_date", "gestational_weeks", "code", "date"}
        | {"result", "value", "unit", "pregnancy", "bleeding", "schema_"}
    )
) | st.text(max_size=10)

Path_ = tuple[str | int, ...]


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every location inside a parsed case (the root excluded)."""
    out: list[Path_] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _parent(root: Any, path: Path_) -> Any:
    node = root
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_cases(draw: st.DrawFn) -> Any:
    """A valid case with one to four mutations: drop, retype, renest, rename, add."""
    data: Any = valid_case()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(data) if isinstance(data, dict | list) else []
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        op = draw(
            st.sampled_from(
                ["drop", "json", "string", "number", "date", "enum", "nest", "add", "rename"]
            )
        )
        if op == "drop":
            del parent[key]
        elif op == "json":
            parent[key] = draw(json_values)
        elif op == "string":
            parent[key] = draw(st.text(max_size=30))
        elif op == "number":
            parent[key] = draw(numbers)
        elif op == "date":
            parent[key] = draw(date_like)
        elif op == "enum":
            parent[key] = draw(enum_like)
        elif op == "nest":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        elif op == "add" and isinstance(parent, dict):
            parent[draw(field_names)] = draw(json_values)
        elif op == "rename" and isinstance(parent, dict):
            new = draw(field_names)
            parent[new] = parent.pop(key)
    if draw(st.booleans()):  # sometimes the whole document is replaced
        data = draw(st.sampled_from([data, [data], None, 0, "text", draw(json_values)]))
    return data


@st.composite
def plausible_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Cases built from the vocabulary: mostly valid, so that assess() gets exercised."""
    as_of = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)))
    days = st.integers(min_value=0, max_value=30 * 365)
    before_viability = st.floats(min_value=0, max_value=23.9) | st.integers(0, 23)
    any_weeks = st.floats(min_value=0, max_value=45) | st.sampled_from([12, 13, 14, 24, 45])
    weeks_for = {
        "miscarriage": before_viability,
        "anembryonic": before_viability,
        "biochemical": before_viability,
        "stillbirth": st.floats(min_value=24, max_value=45) | st.integers(24, 45),
    }
    pregnancies = []
    for _ in range(draw(st.integers(min_value=0, max_value=7))):
        outcome = draw(st.sampled_from([o.value for o in Outcome]))
        pregnancy = {
            "outcome": outcome,
            "end_date": str(date.fromordinal(max(1, as_of.toordinal() - draw(days)))),
            "gestational_weeks": draw(weeks_for.get(outcome, any_weeks)),
        }
        if draw(st.booleans()):
            pregnancy["heartbeat_seen"] = draw(st.booleans())
        pregnancies.append(pregnancy)
    tests = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        code = draw(st.sampled_from(list(KB.vocabulary.tests)))
        spec = KB.vocabulary.tests[code]
        test: dict[str, Any] = {
            "code": code,
            "date": str(date.fromordinal(max(1, as_of.toordinal() - draw(days)))),
        }
        if len(spec.units) > 0 and draw(st.booleans()):
            test["value"] = draw(st.floats(min_value=0, max_value=1e4))
            test["unit"] = draw(st.sampled_from(spec.units))
        if "value" not in test or (spec.results and draw(st.booleans())):
            test["result"] = draw(
                st.sampled_from(spec.results) if spec.results else st.text(min_size=1, max_size=8)
            )
        if len(pregnancies) > 0 and draw(st.booleans()):
            test["pregnancy"] = draw(st.integers(min_value=0, max_value=len(pregnancies) - 1))
        tests.append(test)
    case: dict[str, Any] = {
        "schema": "rplcare.case/1",
        "as_of": str(as_of),
        "patient": {"age": draw(st.integers(min_value=0, max_value=70))},
        "pregnancies": pregnancies,
        "tests": tests,
    }
    optional = st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=20),
            "partner": st.fixed_dictionaries(
                {}, optional={"age": st.integers(min_value=0, max_value=70)}
            ),
            "lifestyle": st.fixed_dictionaries(
                {},
                optional={
                    "smoker": st.booleans(),
                    "bmi": st.floats(min_value=1, max_value=100),
                    "alcohol_units_per_week": st.floats(min_value=0, max_value=200),
                    "caffeine_mg_per_day": st.integers(min_value=0, max_value=5000),
                },
            ),
            "current_pregnancy": st.fixed_dictionaries(
                {"gestational_age_days": st.integers(min_value=0, max_value=315)},
                optional={
                    "heartbeat_seen": st.booleans(),
                    "bleeding": st.booleans(),
                    "intrauterine_confirmed": st.booleans(),
                },
            ),
        },
    )
    case.update(draw(optional))
    return case


def _encode(draw: st.DrawFn, data: Any) -> tuple[bytes, str]:
    suffix = draw(st.sampled_from(SUFFIXES))
    return dump(data, ".json" if suffix == ".json" else ".yaml").encode("utf-8"), suffix


def _valid_yaml_with(line: str) -> str:
    data = valid_case()
    del data["partner"]
    return dump(data, ".yaml") + line + "\n"


# Inputs that break parsers rather than the schema: deep nesting, numbers too long to print,
# YAML dates that do not exist, duplicate keys, huge hexadecimal integers.
nasty_text = st.one_of(
    st.integers(min_value=500, max_value=60_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=500, max_value=20_000).map(lambda n: "a: " + "{a: " * n + "1" + "}" * n),
    st.integers(min_value=4000, max_value=6000).map(lambda n: '{"id": ' + "9" * n + "}"),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "id: " + "9" * n),
    st.from_regex(r"\Aas_of: [0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?\Z"),
    st.integers(min_value=1, max_value=6000).map(
        lambda n: _valid_yaml_with(f"partner: {{age: 0x{'f' * n}}}")
    ),
    st.integers(min_value=1, max_value=6000).map(
        lambda n: _valid_yaml_with(f"partner: {{age: {'1:' * n}0}}")
    ),
    field_names.map(lambda k: json.dumps(valid_case())[:-1] + f", {json.dumps(k)}: 1}}"),
)


@st.composite
def case_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """(content, suffix) of a case file: mutated, plausible, or not a case at all."""
    kinds = ["mutated", "plausible", "plausible+mutated", "bytes", "text", "nasty"]
    kind = draw(st.sampled_from(kinds))
    if kind == "nasty":
        return draw(nasty_text).encode(), draw(st.sampled_from(SUFFIXES))
    if kind == "bytes":
        return draw(st.binary(max_size=200)), draw(st.sampled_from(SUFFIXES))
    if kind == "text":
        text = draw(st.text(max_size=200) | st.from_regex(r"\A[\[\]{}:,\"'\-\s a-z0-9#&*!|>]*\Z"))
        return text.encode("utf-8", "surrogatepass"), draw(st.sampled_from(SUFFIXES))
    if kind == "mutated":
        return _encode(draw, draw(mutated_cases()))
    data: Any = draw(plausible_cases())
    if kind == "plausible+mutated":
        path = draw(st.sampled_from(_paths(data)))
        _parent(data, path)[path[-1]] = draw(json_values | numbers | date_like | enum_like)
    return _encode(draw, data)


def load(tmp_path: Path, content: bytes, suffix: str) -> Case | CaseValidationError:
    path = tmp_path / f"case{suffix}"
    path.write_bytes(content)
    try:
        return load_case(path, KB)
    except CaseValidationError as exc:
        return exc


# --- properties ---------------------------------------------------------------------------------


@PROPERTY
@given(file=case_files())
def test_load_case_returns_a_case_or_raises_case_validation_error(
    tmp_path: Path, file: tuple[bytes, str]
) -> None:
    # Any other exception escapes and fails the test.
    outcome = load(tmp_path, *file)
    event("valid" if isinstance(outcome, Case) else "invalid")
    assert isinstance(outcome, Case | CaseValidationError)


@PROPERTY
@given(file=case_files())
def test_every_problem_names_a_field_path_or_the_file(
    tmp_path: Path, file: tuple[bytes, str]
) -> None:
    outcome = load(tmp_path, *file)
    if isinstance(outcome, CaseValidationError):
        assert outcome.problems
        for problem in outcome.problems:
            check_problem(problem)


@PROPERTY
@given(data=plausible_cases(), suffix=st.sampled_from([".json", ".yaml"]))
def test_a_loaded_case_always_assesses_to_json(
    tmp_path: Path, data: dict[str, Any], suffix: str
) -> None:
    outcome = load(tmp_path, dump(data, suffix).encode(), suffix)
    if isinstance(outcome, CaseValidationError):
        event("rejected")
        for problem in outcome.problems:
            check_problem(problem)
        return
    event("assessed")
    result = assess(outcome, KB)
    out = result.to_json_dict()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["schema"] == "rplcare.assessment/1"
    assert out["history"]["pregnancies"] == len(data["pregnancies"])  # type: ignore[index]
    for gid in KB.guidelines:
        assess(outcome, KB, gid).to_json_dict()


@PROPERTY
@given(file=case_files())
def test_mutated_cases_that_load_also_assess(tmp_path: Path, file: tuple[bytes, str]) -> None:
    outcome = load(tmp_path, *file)
    if isinstance(outcome, Case):
        json.dumps(assess(outcome, KB).to_json_dict(), allow_nan=False)


def test_check_problem_accepts_and_refuses() -> None:
    """The property's own oracle, checked on known strings."""
    for good in (
        "pregnancies[2].end_date: after as_of (2026-03-01)",
        "(case): expected an object with fields, got list",
        'patient."a b": unknown field (not part of rplcare.case/1)',
        "zzz: unknown field (not part of rplcare.case/1)",
        "not valid JSON: line 1 column 2: Expecting value",
        "file is empty",
    ):
        check_problem(good)
    for bad in ("Traceback (most recent call last)", "pregnancies: ok\nmore", ": x", "zzz: bad"):
        try:
            check_problem(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")
