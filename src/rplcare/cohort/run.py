"""A cohort run: validate the register, classify every woman, score her next pregnancy, write
the per-woman table and the summaries. Engine-agnostic; `sql.py` holds the rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rplcare.cohort.engines import Engine, Rows
from rplcare.cohort.rules import CohortRules
from rplcare.cohort.sql import MAX_PROBLEMS, OPTIONAL, REQUIRED, Queries
from rplcare.errors import InputError
from rplcare.prognosis.model import load_model, load_parameters
from rplcare.prognosis.predict import estimates

RISK_SCHEMA = {
    "age": "INTEGER",
    "history": "STRING",
    "setting": "STRING",
    "risk": "DOUBLE",
    "risk_ci_low": "DOUBLE",
    "risk_ci_high": "DOUBLE",
    "risk_interval_low": "DOUBLE",
    "risk_interval_high": "DOUBLE",
    "live_birth": "DOUBLE",
    "live_birth_interval_low": "DOUBLE",
    "live_birth_interval_high": "DOUBLE",
    "risk_out_of_range_reason": "STRING",
}
Step = Callable[[str], None]


class CohortInputError(InputError):
    """The register has rows rplcare cannot use: which rows, which columns, why."""

    def __init__(self, total: int, problems: Rows) -> None:
        self.total = total
        self.problems = problems
        listed = "; ".join(
            f"row {p['input_row']} {p['column_name']}: {p['problem']}" for p in problems
        )
        more = f" (and {total - len(problems)} more)" if total > len(problems) else ""
        super().__init__(f"{total} problems in the input: {listed}{more}")


@dataclass
class RunReport:
    engine: str
    as_of: date
    rows: int = 0
    women: int = 0
    skipped_rows: int = 0
    risk_keys: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _timed(report: RunReport, step: Step, name: str) -> Callable[[], None]:
    step(name)
    start = time.perf_counter()

    def done() -> None:
        report.seconds[name] = round(time.perf_counter() - start, 3)

    return done


def risk_rows(keys: Rows) -> Rows:
    """The model's estimates for each distinct (age, history, setting): a few thousand calls
    stand in for millions of women."""
    model = load_model()
    out = []
    for k in keys:
        risk, live = estimates(k["age"], k["history"], k["setting"], model=model)
        ci, pi, live_pi = risk.confidence_interval, risk.interval, live.interval
        # Outside the model's data every estimate column is null and the reason is stated.
        out.append(
            {
                **k,
                "risk": risk.estimate,
                "risk_ci_low": ci[0] if ci else None,
                "risk_ci_high": ci[1] if ci else None,
                "risk_interval_low": pi[0] if pi else None,
                "risk_interval_high": pi[1] if pi else None,
                "live_birth": live.estimate,
                "live_birth_interval_low": live_pi[0] if live_pi else None,
                "live_birth_interval_high": live_pi[1] if live_pi else None,
                "risk_out_of_range_reason": risk.reason,
            }
        )
    return out


def prepare(
    engine: Engine,
    path: Path,
    rules: CohortRules,
    as_of: date,
    *,
    skip_invalid: bool = False,
    step: Step = lambda _: None,
) -> tuple[Queries, RunReport]:
    """Load and validate the register, then define `women_scored` (one row per woman)."""
    report = RunReport(engine.name, as_of)
    done = _timed(report, step, "read")
    columns = engine.load(path)
    missing = [c for c in REQUIRED if c not in columns]
    if missing or not ({"birth_date", "age"} & set(columns)):
        need = missing + ([] if {"birth_date", "age"} & set(columns) else ["birth_date or age"])
        raise InputError(
            f"{path}: missing column(s) {', '.join(need)}; expected {', '.join(REQUIRED)}, "
            f"birth_date or age, and optionally heartbeat_seen"
        )
    unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL) - {"_row"})
    if unknown:
        raise InputError(f"{path}: unknown column(s) {', '.join(unknown)}")
    q = Queries(rules, engine.dialect, as_of, frozenset(columns))
    done()

    done = _timed(report, step, "validate")
    engine.table("problems", q.problems(), materialise=True)
    [count] = engine.rows("SELECT COUNT(*) AS n FROM problems")
    if count["n"] and not skip_invalid:
        sample = engine.rows(
            f"SELECT * FROM problems ORDER BY input_row, column_name LIMIT {MAX_PROBLEMS}"
        )
        raise CohortInputError(count["n"], sample)
    typed = q.typed()
    if count["n"]:
        # Leave out every woman with a problem row (her history would be incomplete).
        typed = (
            f"SELECT * FROM ({typed}) t WHERE woman_id IS NOT NULL AND woman_id NOT IN "
            "(SELECT DISTINCT CAST(r.woman_id AS STRING) FROM raw r JOIN problems p "
            "ON r._row + 1 = p.input_row WHERE r.woman_id IS NOT NULL)"
        )
    engine.table("typed", typed)
    [sizes] = engine.rows("SELECT COUNT(*) AS n FROM raw")
    report.rows = int(sizes["n"])
    done()

    done = _timed(report, step, "classify")
    engine.table("events", q.events(), materialise=True)
    engine.table("women", q.women(), materialise=True)
    [used] = engine.rows("SELECT COUNT(*) AS n, COUNT(DISTINCT woman_id) AS w FROM events")
    report.skipped_rows = report.rows - int(used["n"])
    report.women = int(used["w"])
    done()

    done = _timed(report, step, "score")
    keys = engine.rows("SELECT DISTINCT age, history, setting FROM women")
    report.risk_keys = len(keys)
    engine.add_rows("risk", risk_rows(keys), RISK_SCHEMA)
    engine.table(
        "women_scored",
        "SELECT w.*, r.risk, r.risk_ci_low, r.risk_ci_high, r.risk_interval_low, "
        "r.risk_interval_high, r.live_birth, r.live_birth_interval_low, "
        "r.live_birth_interval_high, r.risk_out_of_range_reason FROM women w JOIN risk r "
        "ON w.age = r.age AND w.history = r.history AND w.setting = r.setting",
    )
    done()
    return q, report


def output_columns(rules: CohortRules) -> list[str]:
    per_definition = [
        f"{g.column}_{x}"
        for g in rules.definitions
        for x in ("meets", "losses_counted", "kind", "evaluation")
    ]
    return [
        "woman_id", "age", "pregnancies", "losses_total", "losses_clinical",
        "losses_biochemical", "losses_first_trimester", "losses_second_trimester", "live_births",
        "stillbirths", "ectopic", "molar", "terminations", "consecutive_losses",
        "losses_since_last_birth", *per_definition, "setting", "history", "risk", "risk_ci_low",
        "risk_ci_high", "risk_interval_low", "risk_interval_high", "live_birth",
        "live_birth_interval_low", "live_birth_interval_high", "risk_out_of_range_reason",
    ]  # fmt: skip


def metadata(report: RunReport, rules: CohortRules) -> dict[str, Any]:
    return {
        "rplcare_cohort": 1,
        "engine": report.engine,
        "as_of": report.as_of.isoformat(),
        "knowledge_version": rules.knowledge_version,
        "model_version": load_parameters()["next_pregnancy"]["model_version"],
        "rows": report.rows,
        "rows_left_out": report.skipped_rows,
        "women": report.women,
        "distinct_age_history_setting": report.risk_keys,
        "seconds": report.seconds,
        "disclaimer": (
            "Research use: classifications and model estimates for a register, computed with "
            "the same knowledge base as the per-case engine. rplcare supports, and does not "
            "replace, clinical judgement."
        ),
    }


def write_metadata(out_dir: Path, report: RunReport, rules: CohortRules) -> None:
    (out_dir / "run.json").write_text(
        json.dumps(metadata(report, rules), indent=2) + "\n", encoding="utf-8"
    )


def write_outputs(
    engine: Engine,
    q: Queries,
    report: RunReport,
    rules: CohortRules,
    out_dir: Path,
    *,
    step: Step = lambda _: None,
) -> dict[str, Path]:
    """women.parquet, the summary CSVs and charts, and run.json in `out_dir`."""
    from rplcare.cohort import charts, summaries

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"women": out_dir / "women.parquet"}
    done = _timed(report, step, "write")
    engine.write_parquet(
        f"SELECT {', '.join(output_columns(rules))} FROM women_scored ORDER BY woman_id",
        paths["women"],
    )
    done()

    done = _timed(report, step, "summarise")
    prevalence = summaries.prevalence(engine, rules)
    losses = summaries.losses_per_woman(engine)
    by_age, by_prior = summaries.calibration(engine, q)
    tables = {
        "prevalence_by_age": prevalence,
        "losses_per_woman": losses,
        "calibration_by_age": by_age,
        "calibration_by_earlier_losses": by_prior,
    }
    for name, rows in tables.items():
        paths[name] = out_dir / f"{name}.csv"
        summaries.write_csv(paths[name], rows)
    paths["prevalence_chart"] = out_dir / "prevalence_by_age.svg"
    charts.prevalence_chart(prevalence, rules, paths["prevalence_chart"])
    paths["losses_chart"] = out_dir / "losses_per_woman.svg"
    charts.losses_chart(losses, paths["losses_chart"])
    paths["calibration_chart"] = out_dir / "calibration.svg"
    charts.calibration_chart(by_age, by_prior, paths["calibration_chart"])
    done()
    paths["run"] = out_dir / "run.json"
    write_metadata(out_dir, report, rules)
    return paths
