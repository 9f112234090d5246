"""The cohort engines give every woman exactly what the per-case engine gives her: history,
each definition (met, losses counted, kind, evaluation), setting and the model's estimates.
On random cohorts (Hypothesis), for DuckDB and for Spark in local mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from rplcare.cohort.engines import DuckDBEngine, Engine, SparkEngine
from rplcare.cohort.rules import CohortRules
from rplcare.cohort.run import prepare
from rplcare.knowledge.loader import KnowledgeBase, load_knowledge
from tests.cohort.cohorts import AS_OF, cohorts, differences, expected, write

KB = load_knowledge()
RULES = CohortRules.from_knowledge(KB)


def check(engine: Engine, cases: list[dict[str, Any]], path: Path, kb: KnowledgeBase) -> None:
    write(cases, path)
    prepare(engine, path, RULES, AS_OF)
    got = {r["woman_id"]: r for r in engine.rows("SELECT * FROM women_scored")}
    assert sorted(got) == sorted(c["id"] for c in cases)
    problems = {
        c["id"]: diff for c in cases if (diff := differences(got[c["id"]], expected(c, kb)))
    }
    assert not problems, problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=cohorts())
def test_duckdb_equals_the_per_case_engine(
    cases: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("cohort") / "register.parquet"
    engine = DuckDBEngine()
    try:
        check(engine, cases, path, KB)
    finally:
        engine.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=cohorts())
def test_duckdb_reads_csv_like_parquet(cases: list[dict[str, Any]], tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("cohort") / "register.csv"
    engine = DuckDBEngine()
    try:
        check(engine, cases, path, KB)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    engine = SparkEngine(master="local[2]")
    yield engine
    engine.close()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cases=cohorts(max_women=40))
def test_spark_equals_the_per_case_engine(
    spark: SparkEngine, cases: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("cohort") / "register.parquet"
    check(spark, cases, path, KB)


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cases=cohorts(max_women=30))
def test_spark_reads_csv(
    spark: SparkEngine, cases: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    check(spark, cases, tmp_path_factory.mktemp("cohort") / "register.csv", KB)
