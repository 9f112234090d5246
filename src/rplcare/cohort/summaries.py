"""Summary tables of a cohort run, as rows (CSV) and charts (SVG).

- prevalence of each definition (met, or evaluation at discretion) by age band;
- the distribution of losses per woman;
- calibration: for every pregnancy that ended in a miscarriage or a birth, the model's risk
  from the woman's age at that pregnancy and her history before it (population setting), summed
  as expected losses against the observed ones, by age band and by number of earlier losses.

Age bands are those of the model's own age-banded data, so a calibration row compares like with
like.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

from rplcare.cohort.engines import Engine, Rows
from rplcare.cohort.rules import CohortRules
from rplcare.cohort.sql import Queries
from rplcare.prognosis.model import load_model
from rplcare.prognosis.predict import estimates


@cache
def age_bands() -> tuple[tuple[int, int], ...]:
    return tuple(
        (int(b["ages"][0]), int(b["ages"][1])) for b in load_model().context["other_losses_by_age"]
    )


def band_label(age: int) -> str:
    bands = age_bands()
    if age < bands[0][0]:
        return f"<{bands[0][0]}"
    for lo, hi in bands:
        if lo <= age <= hi:
            return f"{lo}-{hi}"
    return f"{bands[-1][1] + 1}+"


def band_order() -> list[str]:
    bands = age_bands()
    return [f"<{bands[0][0]}", *(f"{lo}-{hi}" for lo, hi in bands), f"{bands[-1][1] + 1}+"]


def _band_sql(column: str) -> str:
    bands = age_bands()
    cases = [f"WHEN {column} < {bands[0][0]} THEN '<{bands[0][0]}'"]
    cases += [f"WHEN {column} <= {hi} THEN '{lo}-{hi}'" for lo, hi in bands]
    return f"CASE {' '.join(cases)} ELSE '{bands[-1][1] + 1}+' END"


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 3) if whole else None


def prevalence(engine: Engine, rules: CohortRules) -> Rows:
    sums = [
        f"SUM(CASE WHEN {g.column}_meets THEN 1 ELSE 0 END) AS {g.column}_meets, "
        f"SUM(CASE WHEN {g.column}_evaluation = 'discretionary' THEN 1 ELSE 0 END) "
        f"AS {g.column}_discretionary"
        for g in rules.definitions
    ]
    rows = engine.rows(
        f"SELECT {_band_sql('age')} AS age_band, COUNT(*) AS women, {', '.join(sums)} "
        f"FROM women_scored GROUP BY 1"
    )
    order = band_order()
    out = []
    for r in sorted(rows, key=lambda r: order.index(r["age_band"])):
        row: dict[str, Any] = {"age_band": r["age_band"], "women": int(r["women"])}
        for g in rules.definitions:
            for what in ("meets", "discretionary"):
                n = int(r[f"{g.column}_{what}"])
                row[f"{g.column}_{what}"] = n
                row[f"{g.column}_{what}_pct"] = _pct(n, r["women"])
        out.append(row)
    return out


def losses_per_woman(engine: Engine) -> Rows:
    rows = engine.rows(
        "SELECT losses_total AS losses, COUNT(*) AS women FROM women_scored GROUP BY 1 ORDER BY 1"
    )
    total = sum(int(r["women"]) for r in rows)
    return [
        {"losses": int(r["losses"]), "women": int(r["women"]), "pct": _pct(r["women"], total)}
        for r in rows
    ]


def calibration(engine: Engine, q: Queries) -> tuple[Rows, Rows]:
    """Expected vs observed losses, by age band and by number of earlier losses."""
    keys = engine.rows(
        f"SELECT age_at_pregnancy AS age, prior, COUNT(*) AS n, SUM(loss) AS observed "
        f"FROM ({q.pregnancies_for_calibration()}) c GROUP BY 1, 2"
    )
    model = load_model()
    by_age: dict[str, list[float]] = {}
    by_prior: dict[str, list[float]] = {}
    for k in keys:
        risk, _ = estimates(k["age"], k["prior"], "population", model=model)
        if risk.estimate is None:
            continue  # outside the model's data: no expected count
        n, observed = int(k["n"]), int(k["observed"])
        prior_losses = k["prior"].count("L")
        for table, key in (
            (by_age, band_label(k["age"])),
            (by_prior, str(prior_losses) if prior_losses < 3 else "3+"),
        ):
            acc = table.setdefault(key, [0.0, 0.0, 0.0])
            acc[0] += n
            acc[1] += observed
            acc[2] += n * risk.estimate

    def rows(table: dict[str, list[float]], label: str, order: list[str]) -> Rows:
        return [
            {
                label: key,
                "pregnancies": int(n),
                "observed_losses": int(obs),
                "expected_losses": round(exp, 2),
                "observed_pct": _pct(obs, n),
                "expected_pct": _pct(exp, n),
                "observed_to_expected": round(obs / exp, 4) if exp else None,
            }
            for key in order
            if key in table
            for n, obs, exp in [table[key]]
        ]

    return (
        rows(by_age, "age_band", band_order()),
        rows(by_prior, "earlier_losses", ["0", "1", "2", "3+"]),
    )


def write_csv(path: Path, rows: Rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        if not rows:
            f.write("")
            return
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
