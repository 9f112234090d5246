"""The installed `rplcare` command, run as a user would: exit codes, output, never a traceback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.engine.assessment import DISCLAIMER
from rplcare.knowledge.loader import load_knowledge
from tests.conftest import EXAMPLES, REPO, WriteCase, dump, valid_case

KB = load_knowledge()
_SCRIPT = shutil.which("rplcare", path=str(Path(sys.executable).parent))
RPLCARE = [_SCRIPT] if _SCRIPT else [sys.executable, "-c", "from rplcare.cli import main; main()"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RPLCARE, *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        timeout=120,
        check=False,
    )


def flat(text: str) -> str:
    """Terminal output without box drawing and line wrapping, for substring checks."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())


def assert_input_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""
    message = proc.stderr.strip()
    assert message.startswith("error: ")
    assert "\n\n" not in message, "one paragraph"
    for fragment in fragments:
        assert fragment in flat(message), (fragment, message)


# --- success paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_assess_json(example: Path) -> None:
    proc = run("assess", example, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema"] == "rplcare.assessment/1"
    for key in ("history", "definitions", "workup", "causes", "care_plan", "disclaimer"):
        assert key in out
    assert out["disclaimer"] == DISCLAIMER
    assert out["as_of"] == json.loads(example.read_text(encoding="utf-8"))["as_of"]
    assert set(out["definitions"]) == set(KB.definitions)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_assess_text(example: Path) -> None:
    proc = run("assess", example)
    assert proc.returncode == 0, proc.stderr
    text = flat(proc.stdout)
    assert DISCLAIMER in text
    unverified = json.loads(run("assess", example, "-f", "json").stdout)["unverified_items"]
    assert unverified > 0
    assert f"{unverified} work-up or care-plan items are UNVERIFIED" in text
    assert text.count("UNVERIFIED") > 1  # the items themselves, not only the disclaimer


def test_assess_one_guideline(tmp_path: Path) -> None:
    gid = next(iter(KB.guidelines))
    proc = run("assess", EXAMPLES[0], "--format", "json", "--guideline", gid)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {w["guideline"] for w in out["workup"] + out["care_plan"]} <= {gid}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_validate_examples(example: Path) -> None:
    proc = run("validate", example)
    assert proc.returncode == 0, proc.stderr
    assert "valid rplcare.case/1" in proc.stdout


def test_validate_yaml(write_case: WriteCase) -> None:
    proc = run("validate", write_case(valid_case(), ".yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "(3 pregnancies, 3 tests, as of 2026-03-01)" in proc.stdout


def test_case_text_is_printed_verbatim_not_as_markup(write_case: WriteCase) -> None:
    data = valid_case()
    data["id"] = "[/] [bold]x :warning:"
    data["tests"][1].update(result="unbalanced_structural", detail="[/red] der(11)t(11;22)")
    proc = run("assess", write_case(data))
    assert proc.returncode == 0, proc.stderr
    assert "[/] [bold]x :warning:" in proc.stdout
    assert "[/red] der(11)t(11;22)" in flat(proc.stdout)


def test_knowledge_check() -> None:
    proc = run("knowledge", "check")
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"OK - (\d+) investigations, (\d+) treatments, (\d+) references", proc.stdout)
    assert match, proc.stdout
    assert [int(n) for n in match.groups()] == [
        len(KB.investigations),
        len(KB.treatments),
        len(KB.references),
    ]
    items = [*KB.investigations, *KB.treatments]
    unverified = sum(i.verification.value == "unverified" for i in items)
    assert f"unverified {unverified}" in proc.stdout


def _verification_cells(table: str) -> list[str]:
    """The last column of every body row of a Rich table (continuation lines give '')."""
    return [line.split("│")[-2].strip() for line in table.splitlines() if line.startswith("│")]


def test_knowledge_list_unverified_lists_only_unverified() -> None:
    proc = run("knowledge", "list", "--verification", "unverified")
    assert proc.returncode == 0, proc.stderr
    items = [*KB.investigations, *KB.treatments]
    expected = sum(i.verification.value == "unverified" for i in items)
    assert 0 < expected < len(items)
    assert proc.stdout.rstrip().endswith(f"\n{expected} items")
    cells = [c for c in _verification_cells(proc.stdout) if c]
    assert cells == ["UNVERIFIED"] * expected

    everything = run("knowledge", "list")
    assert everything.stdout.rstrip().endswith(f"\n{len(items)} items")
    assert set(_verification_cells(everything.stdout)) - {""} == {
        "UNVERIFIED",
        "verified",
        "secondary",
    }


# --- bad input: exit 2, a message on stderr, no traceback ------------------------------------


def _bad(data: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    node: Any = data
    *parents, last = where.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize("command", ["assess", "validate"])
@pytest.mark.parametrize(
    ("content", "suffix", "fragments"),
    [
        (b"\x00\xff\xfe garbage \x89PNG", ".json", ("not UTF-8 text",)),
        (b"{not json", ".json", ("invalid case (1 problem)", "not valid JSON: line 1")),
        (b"a: [", ".yaml", ("not valid YAML",)),
        (b"", ".json", ("file is empty",)),
        (b"[" * 100_000, ".json", ("not valid JSON",)),
        (b"- 1\n", ".yml", ("(case): expected an object with fields, got list",)),
        (
            dump(_bad(valid_case(), "pregnancies.2.end_date", "2026-03-02"), ".json").encode(),
            ".json",
            ("pregnancies[2].end_date: after as_of (2026-03-01)",),
        ),
        (
            dump(_bad(valid_case(), "tests.0.code", "tsh2"), ".yaml").encode(),
            ".yaml",
            ("tests[0].code: unknown test 'tsh2'; known codes:",),
        ),
        (
            dump(_bad(_bad(valid_case(), "as_of", 0), "id", 5), ".json").encode(),
            ".json",
            ("invalid case (2 problems)", "as_of: expected a date", "id: Input should be"),
        ),
    ],
    ids=[
        "binary",
        "bad-json",
        "bad-yaml",
        "empty",
        "deep",
        "list",
        "future",
        "code",
        "two-problems",
    ],
)
def test_bad_case_files(
    write_case: WriteCase, command: str, content: bytes, suffix: str, fragments: tuple[str, ...]
) -> None:
    path = write_case(content, suffix)
    assert_input_error(run(command, path), str(path), *fragments)


@pytest.mark.parametrize("command", ["assess", "validate"])
def test_missing_file_and_directory(tmp_path: Path, command: str) -> None:
    assert_input_error(run(command, tmp_path / "absent.json"), "absent.json", "file not found")
    assert_input_error(run(command, tmp_path), "is a directory")


def test_unknown_guideline() -> None:
    proc = run("assess", EXAMPLES[0], "--guideline", "nope")
    assert_input_error(proc, "unknown guideline 'nope'", *KB.guidelines)


def test_usage_errors_exit_2_without_traceback() -> None:
    for args in (["assess"], ["assess", EXAMPLES[0], "--format", "xml"], ["frobnicate"]):
        proc = run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout


# --- in process, on random content ---------------------------------------------------------------

runner = CliRunner()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    content=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.builds(
        lambda where, value: dump(_bad(valid_case(), where, value), ".json").encode(),
        st.sampled_from(
            [
                "id",
                "as_of",
                "patient.age",
                "pregnancies.0.outcome",
                "pregnancies.1.gestational_weeks",
                "tests.1.detail",
                "tests.0.value",
                "current_pregnancy.bleeding",
            ]
        ),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=20)
        | st.lists(st.integers(), max_size=3),
    )
    | st.builds(  # valid cases with arbitrary free text, printed in the report
        lambda where, value: dump(_bad(valid_case(), where, value), ".yaml").encode(),
        st.sampled_from(["id", "tests.1.detail", "tests.1.method", "pregnancies.0.notes"]),
        st.text(max_size=40) | st.sampled_from(["[/]", "[bold]x[/bold", ":warning:", "\x1b[31m"]),
    ),
    suffix=st.sampled_from([".json", ".yaml", ".txt"]),
    command=st.sampled_from(
        [["assess"], ["assess", "--format", "json"], ["validate"], ["assess", "-g", "nope"]]
    ),
)
def test_cli_in_process_never_crashes(
    tmp_path: Path, content: bytes, suffix: str, command: list[str]
) -> None:
    path = tmp_path / f"case{suffix}"
    path.write_bytes(content)
    result = runner.invoke(app, [*command, str(path)])
    event(f"exit {result.exit_code}")
    output = result.stdout + result.stderr
    assert result.exit_code in {0, 2}, (result.exit_code, output, result.exception)
    assert "Traceback" not in output
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ")
    elif "json" in command:
        assert json.loads(result.stdout)["schema"] == "rplcare.assessment/1"
