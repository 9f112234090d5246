"""`rplcare cohort simulate` and `rplcare cohort run`: files, their contents, and the same
answers from DuckDB and Spark."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rplcare.cli import app


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "register.parquet"
    r = CliRunner().invoke(
        app, ["cohort", "simulate", "--women", "3000", "-o", str(path), "--seed", "11"]
    )
    assert r.exit_code == 0, r.output
    assert "3,000 women" in r.output
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_simulate_writes_settings_beside_the_register(register: Path) -> None:
    settings = json.loads(register.with_name(register.name + ".settings.json").read_text())
    assert settings["women"] == 3000 and settings["seed"] == 11
    assert "Magnus 2019" in settings["first_pregnancy_age"]


def test_run_writes_every_output(register: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["cohort", "run", str(register), "-o", str(out),
                                 "--as-of", "2026-01-01"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "3,000 women" in r.stdout
    names = {p.name for p in out.iterdir()}
    assert names == {
        "women.parquet", "prevalence_by_age.csv", "losses_per_woman.csv",
        "calibration_by_age.csv", "calibration_by_earlier_losses.csv",
        "prevalence_by_age.svg", "losses_per_woman.svg", "calibration.svg", "run.json",
    }  # fmt: skip
    women = pq.read_table(out / "women.parquet")
    assert women.num_rows == 3000
    assert {"eshre_2022_meets", "rcog_2023_evaluation", "risk_interval_high"} <= set(
        women.column_names
    )
    run = json.loads((out / "run.json").read_text())
    assert run["women"] == 3000 and run["engine"] == "duckdb" and run["knowledge_version"]
    pregnancies = pq.read_metadata(register).num_rows
    assert run["rows"] == pregnancies
    # The summaries add up.
    prevalence = read_csv(out / "prevalence_by_age.csv")
    assert sum(int(r["women"]) for r in prevalence) == 3000
    losses = read_csv(out / "losses_per_woman.csv")
    assert sum(int(r["women"]) for r in losses) == 3000
    by_age = read_csv(out / "calibration_by_age.csv")
    by_prior = read_csv(out / "calibration_by_earlier_losses.csv")
    total = sum(int(r["pregnancies"]) for r in by_age)
    assert total == pregnancies == sum(int(r["pregnancies"]) for r in by_prior)
    # A register drawn from the model is calibrated against it (wide: 3000 women).
    observed = sum(int(r["observed_losses"]) for r in by_age)
    expected = sum(float(r["expected_losses"]) for r in by_age)
    assert 0.85 < observed / expected < 1.15
    svg = (out / "calibration.svg").read_text()
    assert "<svg" in svg and "Miscarriage risk by age band" in svg


def test_spark_gives_the_same_women_as_duckdb(register: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for engine in ("duckdb", "spark"):
        r = runner.invoke(app, ["cohort", "run", str(register), "-o", str(tmp_path / engine),
                                "--engine", engine, "--as-of", "2026-01-01"])  # fmt: skip
        assert r.exit_code == 0, r.output
    duck = pq.read_table(tmp_path / "duckdb" / "women.parquet").to_pylist()
    spark = pq.read_table(tmp_path / "spark" / "women.parquet").to_pylist()
    key = lambda r: r["woman_id"]  # noqa: E731
    assert sorted(duck, key=key) == sorted(spark, key=key)
    for name in ("prevalence_by_age.csv", "calibration_by_age.csv", "losses_per_woman.csv"):
        assert read_csv(tmp_path / "duckdb" / name) == read_csv(tmp_path / "spark" / name)


def test_bad_register_exits_2_with_rows_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("woman_id,age,outcome,end_date,gestational_weeks\n1,30,miscarage,2025-01-01,8\n")
    r = CliRunner().invoke(app, ["cohort", "run", str(bad), "-o", str(tmp_path / "o"),
                                 "--as-of", "2026-01-01"])  # fmt: skip
    assert r.exit_code == 2
    assert "row 1 outcome: not one of" in r.output and "Traceback" not in r.output


def test_memory_limit_is_passed_to_duckdb(register: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["cohort", "run", str(register), "-o", str(tmp_path / "a"),
                             "--memory-limit", "500MB", "--as-of", "2026-01-01"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["cohort", "run", str(register), "-o", str(tmp_path / "b"),
                              "--memory-limit", "lots"])  # fmt: skip
    assert bad.exit_code == 2 and "--memory-limit 'lots'" in bad.output
    spark = runner.invoke(app, ["cohort", "run", str(register), "-o", str(tmp_path / "c"),
                                "--engine", "spark", "--memory-limit", "1GB"])  # fmt: skip
    assert spark.exit_code == 2 and "for the duckdb engine" in spark.output
