"""Bad registers give clear errors naming rows and columns (as the per-case validation would),
or, with skip_invalid, leave out exactly the women concerned."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rplcare.cohort.engines import DuckDBEngine
from rplcare.cohort.rules import CohortRules
from rplcare.cohort.run import CohortInputError, prepare
from rplcare.errors import InputError
from rplcare.knowledge.loader import load_knowledge

RULES = CohortRules.from_knowledge(load_knowledge())
AS_OF = date(2026, 1, 1)
HEADER = "woman_id,birth_date,age,outcome,end_date,gestational_weeks"


def run_csv(tmp_path: Path, *lines: str, header: str = HEADER, skip: bool = False) -> DuckDBEngine:
    path = tmp_path / "register.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    engine = DuckDBEngine()
    prepare(engine, path, RULES, AS_OF, skip_invalid=skip)
    return engine


@pytest.mark.parametrize(
    ("line", "column", "problem"),
    [
        ("1,1990-01-01,,miscarage,2025-01-01,8", "outcome", "not one of"),
        ("1,1990-01-01,,miscarriage,2025-02-30,8", "end_date", "not a date"),
        ("1,1990-01-01,,miscarriage,2026-06-01,8", "end_date", "after as_of (2026-01-01)"),
        ("1,1990-01-01,,miscarriage,2025-01-01,eight", "gestational_weeks", "not a number"),
        ("1,1990-01-01,,miscarriage,2025-01-01,-1", "gestational_weeks", "not a number"),
        ("1,1990-01-01,,miscarriage,2025-01-01,50", "gestational_weeks", "above the plausible 45"),
        ("1,1990-01-01,,miscarriage,2025-01-01,30", "gestational_weeks", "is a stillbirth"),
        ("1,1990-01-01,,stillbirth,2025-01-01,20", "gestational_weeks", "from 24 weeks"),
        ("1,,,miscarriage,2025-01-01,8", "birth_date/age", "give the woman's birth_date or age"),
        ("1,1990-01-01,35,miscarriage,2025-01-01,8", "birth_date/age", "not both"),
        ("1,1900-01-01,,miscarriage,2025-01-01,8", "birth_date", "above the plausible 70"),
        ("1,2025-06-01,,miscarriage,2025-01-01,8", "end_date", "not after the woman's birth_date"),
        ("1,,71,miscarriage,2025-01-01,8", "age", "not an age from 0 to 70"),
        ("1,,3x,miscarriage,2025-01-01,8", "age", "not a whole number"),
        (",1990-01-01,,miscarriage,2025-01-01,8", "woman_id", "missing"),
    ],
)
def test_each_problem_names_row_and_column(
    tmp_path: Path, line: str, column: str, problem: str
) -> None:
    ok = "2,1991-05-05,,live_birth,2020-01-01,39"
    with pytest.raises(CohortInputError) as info:
        run_csv(tmp_path, ok, line)
    found = [p for p in info.value.problems if p["column_name"] == column]
    assert found and all(p["input_row"] == 2 for p in found), info.value.problems
    assert any(problem in p["problem"] for p in found), found
    assert "row 2 " in str(info.value)


def test_birth_date_must_agree_across_a_womans_rows(tmp_path: Path) -> None:
    with pytest.raises(CohortInputError) as info:
        run_csv(
            tmp_path,
            "7,1990-01-01,,miscarriage,2024-01-01,8",
            "7,1991-01-01,,miscarriage,2025-01-01,8",
        )
    assert {p["input_row"] for p in info.value.problems} == {1, 2}
    assert all("differs between" in p["problem"] for p in info.value.problems)


def test_many_problems_are_counted_and_the_first_listed(tmp_path: Path) -> None:
    bad = [f"{i},1990-01-01,,nonsense,2025-01-01,8" for i in range(120)]
    with pytest.raises(CohortInputError) as info:
        run_csv(tmp_path, *bad)
    assert info.value.total == 120 and len(info.value.problems) == 50
    assert "(and 70 more)" in str(info.value)


def test_skip_invalid_leaves_out_whole_women(tmp_path: Path) -> None:
    engine = run_csv(
        tmp_path,
        "1,1990-01-01,,miscarriage,2024-01-01,8",
        "1,1990-01-01,,miscarriage,2025-13-01,8",  # bad row: woman 1 is left out entirely
        "2,1990-01-01,,miscarriage,2024-01-01,8",
        "2,1990-01-01,,miscarriage,2025-01-01,8",
        skip=True,
    )
    women = engine.rows("SELECT woman_id, losses_total FROM women_scored")
    assert women == [{"woman_id": "2", "losses_total": 2}]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("woman_id,birth_date,outcome,end_date", "missing column(s) gestational_weeks"),
        ("woman_id,outcome,end_date,gestational_weeks", "birth_date or age"),
        (HEADER + ",bmi", "unknown column(s) bmi"),
    ],
)
def test_columns_are_checked(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_csv(tmp_path, header=header)


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        prepare(DuckDBEngine(), tmp_path / "none.parquet", RULES, AS_OF)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot read"):
        prepare(DuckDBEngine(), broken, RULES, AS_OF)
    with pytest.raises(InputError, match=r"\.parquet or \.csv"):
        prepare(DuckDBEngine(), Path(__file__), RULES, AS_OF)
