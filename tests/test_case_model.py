"""Example-based validation: each kind of bad case file gets a message naming its field path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rplcare.domain.case import Case
from rplcare.errors import CaseValidationError
from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from tests.conftest import EXAMPLES, WriteCase, valid_case

Mutation = Callable[[dict[str, Any]], object]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CaseValidationError) as info:
        load_case(path)
    assert info.value.source == str(path)
    assert info.value.problems, "an error must carry at least one problem"
    return info.value.problems


def assert_problem(problems: list[str], *fragments: str) -> None:
    """Some single problem contains every fragment."""
    assert any(all(f in p for f in fragments) for p in problems), (fragments, problems)


def test_valid_fixture_case_loads(write_case: WriteCase) -> None:
    case = load_case(write_case(valid_case()))
    assert isinstance(case, Case)
    assert len(case.pregnancies) == 3 and len(case.tests) == 3


# --- file level ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "suffix", "fragments"),
    [
        ('{"schema": "rplcare.case/1",', ".json", ("not valid JSON", "line 1")),
        ("{'schema': 1}", ".json", ("not valid JSON", "double quotes")),
        ("schema: [rplcare.case/1\nas_of: x\n", ".yaml", ("not valid YAML", "line")),
        ("a:\n\t- b\n", ".yml", ("not valid YAML", "line 2")),
        ("a: 1\na: 2\n", ".yaml", ("not valid YAML", "duplicate key 'a'")),
        ('{"a": 1, "a": 2}', ".json", ("not valid JSON", "duplicate key 'a'")),
        ("as_of: 2026-02-30\n", ".yaml", ("not valid YAML", "day is out of range")),
        ('{"id": ' + "1" * 5000 + "}", ".json", ("not valid JSON", "number is too long")),
        ("id: " + "1" * 5000 + "\n", ".yaml", ("not valid YAML", "number is too long")),
        ("[" * 50_000 + "]" * 50_000, ".json", ("not valid JSON", "nested too deeply")),
        ("[" * 50_000 + "]" * 50_000, ".yaml", ("not valid YAML", "nested too deeply")),
        ("!!python/object/apply:os.system ['true']", ".yaml", ("not valid YAML", "constructor")),
        ("", ".json", ("file is empty",)),
        ("  \n\t\n", ".yaml", ("file is empty",)),
        ("[]", ".json", ("(case): expected an object with fields, got list",)),
        ("- 1\n- 2\n", ".yaml", ("(case): expected an object with fields, got list",)),
        ('"just a string"', ".json", ("(case): expected an object", "got str")),
        ("null", ".json", ("(case): expected an object", "got nothing")),
        ("42", ".yaml", ("(case): expected an object", "got int")),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_file_level_problems(
    write_case: WriteCase, content: str, suffix: str, fragments: tuple[str, ...]
) -> None:
    problems = problems_of(write_case(content, suffix))
    assert len(problems) == 1
    assert_problem(problems, *fragments)


def test_binary_content_is_not_utf8(write_case: WriteCase) -> None:
    assert problems_of(write_case(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")) == ["not UTF-8 text"]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.json") == ["file not found"]
    assert problems_of(tmp_path) == ["is a directory, not a case file"]


def test_utf8_bom_is_accepted(write_case: WriteCase) -> None:
    path = write_case(b"\xef\xbb\xbf" + json.dumps(valid_case()).encode())
    assert load_case(path).id == "fixture-rich"


# --- structure and types -----------------------------------------------------------------------


def _set(path: str, value: Any) -> Mutation:
    """Mutation setting a dotted path (list indexes as numbers) to `value`."""

    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return apply


def _drop(path: str) -> Mutation:
    def apply(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return apply


BAD_CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    ("missing schema", _drop("schema"), ("schema: Field required",)),
    (
        "wrong schema",
        _set("schema", "rplcare.case/2"),
        ("schema: Input should be 'rplcare.case/1'",),
    ),
    (
        "python name of schema",
        lambda d: d.update(schema_=d.pop("schema")),
        ("schema_: unknown field",),
    ),
    ("missing as_of", _drop("as_of"), ("as_of: Field required",)),
    ("missing patient", _drop("patient"), ("patient: Field required",)),
    ("patient without age", _set("patient", {}), ("patient: age or birth_date is required",)),
    ("as_of not a date", _set("as_of", "yesterday"), ("as_of: expected a date as YYYY-MM-DD",)),
    ("as_of month 13", _set("as_of", "2026-13-01"), ("as_of:", "month value is outside")),
    ("as_of day 30 Feb", _set("as_of", "2026-02-30"), ("as_of:", "day value is outside")),
    ("as_of US style", _set("as_of", "03/01/2026"), ("as_of: expected a date as YYYY-MM-DD",)),
    ("as_of number", _set("as_of", 0), ("as_of: expected a date as YYYY-MM-DD",)),
    ("as_of digit string", _set("as_of", "1700000000"), ("as_of: expected a date as YYYY-MM-DD",)),
    ("as_of date-time", _set("as_of", "2026-03-01T10:00"), ("as_of: expected a date",)),
    (
        "end_date garbage",
        _set("pregnancies.1.end_date", "last spring"),
        ("pregnancies[1].end_date: expected a date as YYYY-MM-DD",),
    ),
    ("test date null", _set("tests.0.date", None), ("tests[0].date:",)),
    (
        "weeks as string",
        _set("pregnancies.0.gestational_weeks", "8"),
        ("pregnancies[0].gestational_weeks: Input should be a valid number",),
    ),
    (
        "weeks as true",
        _set("pregnancies.0.gestational_weeks", True),
        ("pregnancies[0].gestational_weeks: Input should be a valid number",),
    ),
    (
        "bleeding yes",
        _set("current_pregnancy.bleeding", "yes"),
        ("current_pregnancy.bleeding: Input should be a valid boolean",),
    ),
    (
        "smoker 1",
        _set("lifestyle.smoker", 1),
        ("lifestyle.smoker: Input should be a valid boolean",),
    ),
    ("age as float", _set("partner.age", 36.0), ("partner.age: Input should be a valid integer",)),
    ("age as string", _set("partner.age", "36"), ("partner.age: Input should be a valid integer",)),
    (
        "unknown outcome",
        _set("pregnancies.2.outcome", "loss"),
        ("pregnancies[2].outcome: Input should be", "'miscarriage'"),
    ),
    (
        "partner enum",
        _set("pregnancies.0.partner", "new"),
        ("pregnancies[0].partner: Input should be 'current' or 'previous'",),
    ),
    (
        "pregnancies not a list",
        _set("pregnancies", {}),
        ("pregnancies: Input should be a valid list",),
    ),
    ("pregnancy not an object", _set("pregnancies.0", 8), ("pregnancies[0]: Input should be",)),
    (
        "unknown field (typo)",
        lambda d: d["pregnancies"][0].update(gestational_week=8),
        ("pregnancies[0].gestational_week: unknown field (not part of rplcare.case/1)",),
    ),
    ("unknown top-level field", _set("notes", "x"), ("notes: unknown field",)),
    (
        "odd unknown key is quoted",
        _set("patient.foo[1] bar", 1),
        ('patient."foo[1] bar": unknown field',),
    ),
    ("NaN weeks", _set("pregnancies.0.gestational_weeks", float("nan")), ("finite number",)),
    (
        "Infinity bmi",
        _set("lifestyle.bmi", float("inf")),
        ("lifestyle.bmi: Input should be a finite",),
    ),
    (
        "NaN value",
        _set("tests.0.value", float("nan")),
        ("tests[0].value: Input should be a finite",),
    ),
    ("zero bmi", _set("lifestyle.bmi", 0), ("lifestyle.bmi: Input should be greater than 0",)),
    (
        "negative gestational_age_days",
        _set("current_pregnancy.gestational_age_days", -3),
        ("current_pregnancy.gestational_age_days: Input should be greater than or equal to 0",),
    ),
    (
        "negative weeks",
        _set("pregnancies.0.gestational_weeks", -1),
        ("pregnancies[0].gestational_weeks: Input should be greater than or equal to 0",),
    ),
    (
        "negative pregnancy index",
        _set("tests.1.pregnancy", -1),
        ("tests[1].pregnancy: Input should be greater than or equal to 0",),
    ),
    (
        "both age and birth_date",
        _set("patient.age", 30),
        ("patient: give either age or birth_date",),
    ),
    (
        "partner both",
        _set("partner.birth_date", "1990-01-01"),
        ("partner: give either age or birth_date",),
    ),
    ("test with neither", _drop("tests.2.result"), ("tests[2]: a test needs a result, a value",)),
    ("value without unit", _drop("tests.0.unit"), ("tests[0]: a value needs a unit",)),
    ("empty code", _set("tests.0.code", ""), ("tests[0].code: String should have at least 1",)),
]


@pytest.mark.parametrize(
    ("mutate", "fragments"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_structural_problems(
    write_case: WriteCase, mutate: Mutation, fragments: tuple[str, ...]
) -> None:
    data = valid_case()
    mutate(data)
    for suffix in (".json", ".yaml"):  # NaN and Infinity go to YAML as .nan and .inf
        assert_problem(problems_of(write_case(data, suffix)), *fragments)


# --- checks against as_of and the knowledge base ---------------------------------------------

KB = load_knowledge()
LIMIT_WEEKS = KB.vocabulary.limits.max_gestational_weeks
VIABILITY = KB.history.viability_weeks.value

SEMANTIC_CASES: list[tuple[str, Mutation, tuple[str, ...]]] = [
    (
        "unknown test code",
        _set("tests.0.code", "tsh_typo"),
        ("tests[0].code: unknown test 'tsh_typo'; known codes:", "tsh", "lupus_anticoagulant"),
    ),
    (
        "result not allowed",
        _set("tests.2.result", "weakly positive"),
        ("tests[2].result: 'weakly positive' is not a result of lupus_anticoagulant", "positive"),
    ),
    (
        "unit not allowed",
        _set("tests.0.unit", "kg"),
        ("tests[0].unit: 'kg' is not a unit for tsh; expected one of:", "mIU/L"),
    ),
    (
        "unit for a code without units",
        _set("tests.1.unit", "%"),
        ("tests[1].unit: poc_karyotype takes a result, not a unit",),
    ),
    (
        "numeric value for a result-only code",
        lambda d: d["tests"][2].update(value=1.0, unit="U"),
        ("tests[2].value: lupus_anticoagulant takes a result, not a numeric value",),
    ),
    (
        "pregnancy end after as_of",
        _set("pregnancies.2.end_date", "2026-03-02"),
        ("pregnancies[2].end_date: after as_of (2026-03-01)",),
    ),
    (
        "test date after as_of",
        _set("tests.0.date", "2027-01-01"),
        ("tests[0].date: after as_of (2026-03-01)",),
    ),
    (
        "birth_date after as_of",
        _set("patient.birth_date", "2026-06-01"),
        ("patient.birth_date: not before as_of (2026-03-01)",),
    ),
    (
        "birth_date after a pregnancy",
        _set("patient.birth_date", "2024-06-01"),
        ("pregnancies[0].end_date: not after the patient's birth_date (2024-06-01)",),
    ),
    (
        "implausible age",
        _set("partner.age", 140),
        ("partner.age: 140 is above the plausible", str(KB.vocabulary.limits.max_age_years)),
    ),
    (
        "implausible birth_date",
        _set("patient.birth_date", "1900-01-01"),
        ("patient.birth_date: implies age 126",),
    ),
    (
        "absurd gestational weeks",
        lambda d: d["pregnancies"][1].update(gestational_weeks=LIMIT_WEEKS + 15),
        ("pregnancies[1].gestational_weeks:", "is above the plausible", f"{LIMIT_WEEKS:g}"),
    ),
    (
        "miscarriage at viability",
        _set("pregnancies.0.gestational_weeks", VIABILITY),
        ("pregnancies[0].gestational_weeks: a miscarriage at", "is a stillbirth"),
    ),
    (
        "biochemical at 30 weeks",
        _set("pregnancies.2.gestational_weeks", 30),
        ("pregnancies[2].gestational_weeks: a biochemical at 30 weeks is impossible",),
    ),
    (
        "stillbirth before viability",
        lambda d: d["pregnancies"][1].update(outcome="stillbirth", gestational_weeks=20),
        ("pregnancies[1].gestational_weeks: a stillbirth is a loss from", "as miscarriage"),
    ),
    (
        "pregnancy index out of range",
        _set("tests.1.pregnancy", 3),
        ("tests[1].pregnancy: index 3 but the case has 3 pregnancies",),
    ),
    (
        "poc_karyotype on a live birth",
        _set("tests.1.pregnancy", 1),
        ("tests[1].pregnancy: pregnancy tissue testing needs a loss", "is live_birth"),
    ),
    (
        "current pregnancy too long",
        _set("current_pregnancy.gestational_age_days", 400),
        ("current_pregnancy.gestational_age_days: 400 is above the plausible",),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "fragments"), [c[1:] for c in SEMANTIC_CASES], ids=[c[0] for c in SEMANTIC_CASES]
)
def test_semantic_problems(
    write_case: WriteCase, mutate: Mutation, fragments: tuple[str, ...]
) -> None:
    data = valid_case()
    mutate(data)
    for suffix in (".json", ".yaml"):
        assert_problem(problems_of(write_case(data, suffix)), *fragments)


def test_unknown_code_lists_every_known_code(write_case: WriteCase) -> None:
    data = valid_case()
    data["tests"][0]["code"] = "nope"
    (problem,) = problems_of(write_case(data))
    for code in KB.vocabulary.tests:
        assert code in problem


def test_dates_are_judged_against_as_of_not_the_clock(write_case: WriteCase) -> None:
    # Far in the future of any real clock, but before as_of: valid.
    future = {
        "schema": "rplcare.case/1",
        "as_of": "2099-01-01",
        "patient": {"birth_date": "2065-01-01"},
        "pregnancies": [
            {"outcome": "miscarriage", "end_date": "2098-12-01", "gestational_weeks": 7}
        ],
        "tests": [{"code": "tsh", "result": "normal", "date": "2098-12-15"}],
    }
    assert load_case(write_case(future)).as_of.year == 2099
    # Long past, and after as_of: invalid even though the clock has passed it.
    data = valid_case()
    data["as_of"] = "2020-01-01"
    data["patient"] = {"age": 30}
    problems = problems_of(write_case(data))
    assert_problem(problems, "pregnancies[0].end_date: after as_of (2020-01-01)")
    assert_problem(problems, "tests[0].date: after as_of (2020-01-01)")


def test_huge_integers_do_not_break_messages(write_case: WriteCase) -> None:
    text = dump_yaml_with(f"partner: {{age: 0x{'f' * 5000}}}")
    problems = problems_of(write_case(text, ".yaml"))
    assert_problem(problems, "partner.age:", "above the plausible")


def dump_yaml_with(line: str) -> str:
    data = valid_case()
    del data["partner"]
    return yaml.safe_dump(data, sort_keys=False) + line + "\n"


def test_non_string_keys_are_named(write_case: WriteCase) -> None:
    text = dump_yaml_with("1: one")
    assert_problem(problems_of(write_case(text, ".yaml")), "(case): field name 1 is not a string")


def test_yaml_nan_is_rejected(write_case: WriteCase) -> None:
    text = dump_yaml_with("partner: {age: 30}").replace("bmi: 24.0", "bmi: .nan")
    assert_problem(
        problems_of(write_case(text, ".yaml")), "lifestyle.bmi: Input should be a finite"
    )


def test_json_nan_and_infinity_literals_are_rejected(write_case: WriteCase) -> None:
    text = json.dumps(valid_case()).replace('"bmi": 24.0', '"bmi": NaN')
    text = text.replace('"gestational_weeks": 39', '"gestational_weeks": -Infinity')
    problems = problems_of(write_case(text))
    assert_problem(problems, "lifestyle.bmi: Input should be a finite number")
    assert_problem(problems, "pregnancies[1].gestational_weeks: Input should be a finite")


def test_every_problem_is_reported_at_once(write_case: WriteCase) -> None:
    data = valid_case()
    data["pregnancies"][0]["outcome"] = "loss"
    data["pregnancies"][1]["gestational_weeks"] = "39"
    data["tests"][0]["colour"] = "blue"
    data["current_pregnancy"]["bleeding"] = "yes"
    problems = problems_of(write_case(data))
    assert len(problems) == 4
    for fragment in (
        "pregnancies[0].outcome:",
        "pregnancies[1].gestational_weeks:",
        "tests[0].colour: unknown field",
        "current_pregnancy.bleeding:",
    ):
        assert_problem(problems, fragment)


def test_every_semantic_problem_is_reported_at_once(write_case: WriteCase) -> None:
    data = valid_case()
    data["pregnancies"][2]["end_date"] = "2026-04-01"
    data["tests"][0]["unit"] = "kg"
    data["tests"][1]["pregnancy"] = 7
    data["tests"][2]["code"] = "nope"
    data["partner"]["age"] = 99
    problems = problems_of(write_case(data))
    assert len(problems) == 5, problems
    message = str(CaseValidationError(problems, "f.json"))
    assert message.startswith("f.json: ") and "; " in message


def test_semantic_checks_wait_for_structure(write_case: WriteCase) -> None:
    """Structural errors stop before as_of checks: no follow-on noise from half-read data."""
    data = valid_case()
    data["as_of"] = "nope"
    data["pregnancies"][0]["end_date"] = "2030-01-01"
    assert problems_of(write_case(data)) == ["as_of: expected a date as YYYY-MM-DD"]


# --- YAML equivalents of the examples ----------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_load_as_json_and_as_yaml(example: Path, write_case: WriteCase) -> None:
    from_json = load_case(example)
    data = json.loads(example.read_text(encoding="utf-8"))
    for suffix in (".yaml", ".yml"):
        assert load_case(write_case(data, suffix, name=example.stem)) == from_json


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_hand_written_yaml_with_native_dates_loads(example: Path, write_case: WriteCase) -> None:
    """YAML written by hand has unquoted dates (parsed as dates, not strings): same case."""
    from_json = load_case(example)
    text = yaml.safe_dump(json.loads(example.read_text(encoding="utf-8")), sort_keys=False)
    unquoted = text.replace("'", "")  # '2026-03-01' -> 2026-03-01 (a YAML date)
    assert "as_of: 20" in unquoted
    assert load_case(write_case(unquoted, ".yaml")) == from_json


def test_test_date_before_birth_date_is_rejected(tmp_path: Path) -> None:
    raw = {
        "schema": "rplcare.case/1",
        "as_of": "2026-01-01",
        "patient": {"birth_date": "1990-05-01"},
        "tests": [{"code": "tsh", "result": "normal", "date": "1989-01-01"}],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(CaseValidationError) as exc:
        load_case(path)
    assert "tests[0].date: before the patient's birth_date (1990-05-01)" in str(exc.value)


def test_implausible_bmi_is_a_field_path_error_not_a_model_overflow() -> None:
    """Found by the API fuzzer: BMI 1e6 made the prognosis logit infinite (HTTP 500)."""
    from rplcare.domain.validation import parse_case
    from rplcare.errors import CaseValidationError
    from rplcare.knowledge.loader import load_knowledge
    from rplcare.prognosis.quick import BMI_RANGE

    kb = load_knowledge()
    assert tuple(kb.vocabulary.limits.bmi_range) == BMI_RANGE  # case files and /risk agree
    raw = {
        "schema": "rplcare.case/1",
        "as_of": "2026-01-01",
        "patient": {"age": 30},
        "lifestyle": {"bmi": 1e6},
    }
    with pytest.raises(CaseValidationError) as err:
        parse_case(raw, kb, "t")
    assert err.value.problems == ["lifestyle.bmi: 1e+06 is outside the plausible 10-100"]
    raw["lifestyle"] = {"bmi": 100}
    assert parse_case(raw, kb, "t").lifestyle is not None


# --- U2: a laboratory flag that contradicts the value ------------------------------------------


def _tsh_case(result: str, value: float, unit: str = "mIU/L") -> dict[str, Any]:
    return {
        "schema": "rplcare.case/1",
        "as_of": "2026-01-01",
        "patient": {"age": 30},
        "tests": [
            {"code": "tsh", "date": "2025-09-01", "result": result, "value": value, "unit": unit}
        ],
    }


@pytest.mark.parametrize(("result", "value"), [("high", 3.5), ("normal", 4.5), ("high", 1.0)])
def test_a_laboratory_flag_is_never_refused_for_the_default_tsh_limit(
    result: str, value: float
) -> None:
    """The cited 4.0 mIU/L holds only when no laboratory range is given, so it cannot
    contradict a laboratory's flag (which wins in the engine): TSH has no flag threshold."""
    from rplcare.domain.validation import parse_case

    kb = load_knowledge()
    assert not kb.vocabulary.tests["tsh"].flag_thresholds
    assert parse_case(_tsh_case(result, value), kb, "t").tests


@pytest.mark.parametrize(
    ("result", "value", "unit"),
    [
        ("high", 5.0, "mIU/L"),  # agrees with the cited limit
        ("normal", 1.0, "mIU/L"),
        ("high", 1.0, "mU/L"),  # not the threshold's unit: nothing is compared
    ],
)
def test_flags_that_agree_or_cannot_be_compared_are_accepted(
    result: str, value: float, unit: str
) -> None:
    """U2: only a contradiction with a cited threshold, in its own unit, is refused."""
    from rplcare.domain.validation import parse_case

    assert parse_case(_tsh_case(result, value, unit), load_knowledge(), "t").tests


def test_tests_without_a_cited_threshold_are_never_refused() -> None:
    """U2: free T4 and prolactin have no cited cut-off, so any flag goes with any value."""
    from rplcare.domain.validation import parse_case

    kb = load_knowledge()
    assert not kb.vocabulary.tests["free_t4"].flag_thresholds
    raw = _tsh_case("high", 1.0, "pmol/L")
    raw["tests"][0]["code"] = "free_t4"
    assert parse_case(raw, kb, "t").tests


def test_structural_and_semantic_problems_come_in_one_pass(write_case: WriteCase) -> None:
    """U6: age and birth date together (structure) and a BMI of 8 (plausibility) are both
    reported at once, so the user does not correct one error to meet the next."""
    data = valid_case()
    data["patient"] = {"age": 30, "birth_date": "1990-01-01"}
    data["lifestyle"] = {"bmi": 8}
    data["pregnancies"][0]["end_date"] = "2099-01-01"
    problems = problems_of(write_case(data))
    assert_problem(problems, "patient: give either age or birth_date")
    assert_problem(problems, "lifestyle.bmi: 8 is outside the plausible")
    assert_problem(problems, "pregnancies[0].end_date: after as_of")
    assert len(problems) == 3, problems
