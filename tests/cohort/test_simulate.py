"""The simulator draws from the fitted model: its register's own summary reproduces the
published population figures the model was fitted to (Magnus 2019: miscarriage risk by age band
and the odds ratios after 1, 2 and 3 earlier miscarriages), by the same criterion the model
itself is held to in `rplcare model validate` (inside the model's 95% prediction interval)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from rplcare.cohort.engines import DuckDBEngine
from rplcare.cohort.rules import CohortRules
from rplcare.cohort.run import prepare
from rplcare.cohort.simulate import SimulationSettings, simulate, write_register
from rplcare.knowledge.loader import load_knowledge
from rplcare.prognosis.validate import validation_report

WOMEN = 300_000  # about 640 000 pregnancies: sampling error well inside the intervals


@pytest.fixture(scope="module")
def register() -> dict[str, np.ndarray]:
    return simulate(SimulationSettings(women=WOMEN, seed=7))


def _pregnancies(register: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Age at each pregnancy (whole years), miscarriage or not, and the number of earlier
    miscarriages when the woman had nothing but miscarriages before (else -1): the histories
    the model's odds ratios compare ("L" * k against "")."""
    woman = register["woman_id"]
    loss = register["outcome"] == "miscarriage"
    age = ((register["end_date"] - register["birth_date"]).astype(int) // 365.25).astype(int)
    earlier = np.zeros(woman.size, dtype=int)
    run = 0
    for i in range(woman.size):  # rows are grouped by woman, oldest pregnancy first
        if i and woman[i] != woman[i - 1]:
            run = 0
        earlier[i] = run
        run = run + 1 if loss[i] and run >= 0 else -1
    return age, loss, earlier


def test_same_seed_same_register() -> None:
    a = simulate(SimulationSettings(women=2000, seed=3))
    b = simulate(SimulationSettings(women=2000, seed=3))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = simulate(SimulationSettings(women=2000, seed=4))
    assert not np.array_equal(a["outcome"], c["outcome"])


def test_risk_by_age_band_reproduces_magnus(register: dict[str, np.ndarray]) -> None:
    age, loss, _ = _pregnancies(register)
    rows = {r.id: r for r in validation_report().rows}
    checked = 0
    by_band = []
    for band in ("16-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49"):
        lo, hi = map(int, band.split("-"))
        inside = (age >= lo) & (age <= hi)
        simulated = float(loss[inside].mean())
        by_band.append(simulated)
        row = rows[f"magnus-2019.age[{band}]"]
        # As the model itself is judged: inside its 95% prediction interval for that figure.
        # (Not equal to the model's own value: the simulated older women are selected by their
        # earlier births, and with the fitted share of frailty kept across a birth near 1 that
        # marks lower-risk women, unlike Magnus's mix.)
        assert row.interval[0] <= simulated <= row.interval[1], (band, simulated, row)
        checked += 1
    assert checked == 7
    # The age curve's shape survives: the risk rises with every band from 25-29 on.
    assert all(a < b for a, b in itertools.pairwise(by_band[2:])), by_band


def test_odds_ratios_after_earlier_miscarriages_reproduce_magnus(
    register: dict[str, np.ndarray],
) -> None:
    """Age-adjusted (Mantel-Haenszel over 5-year bands) odds ratios for exactly k = 1, 2, 3
    earlier miscarriages (and no other pregnancy) against a first pregnancy: the comparison
    the model was fitted to Magnus 2019's odds ratios with."""
    age, loss, earlier = _pregnancies(register)
    band = np.clip(age // 5, 3, 9)
    rows = {r.id: r for r in validation_report().rows}
    for k in (1, 2, 3):
        num = den = 0.0
        for b in np.unique(band):
            at = band == b
            exposed = at & (earlier == k)
            ref = at & (earlier == 0)
            n = exposed.sum() + ref.sum()
            if not exposed.any() or not ref.any():
                continue
            a_, b_ = loss[exposed].sum(), (~loss[exposed]).sum()
            c_, d_ = loss[ref].sum(), (~loss[ref]).sum()
            num += a_ * d_ / n
            den += b_ * c_ / n
        odds_ratio = num / den
        row = rows[f"magnus-2019.or{k}"]
        assert row.interval[0] <= odds_ratio <= row.interval[1], (k, odds_ratio, row)


def test_register_is_valid_input(tmp_path: Path) -> None:
    path = tmp_path / "sim.parquet"
    rows = write_register(simulate(SimulationSettings(women=5000, seed=1)), path)
    assert pq.read_metadata(path).num_rows == rows
    engine = DuckDBEngine()
    _, report = prepare(
        engine, path, CohortRules.from_knowledge(load_knowledge()), date(2026, 1, 1)
    )
    assert report.women == 5000 and report.skipped_rows == 0
    counts = defaultdict(int)
    for r in engine.rows("SELECT outcome, COUNT(*) AS n FROM typed GROUP BY 1"):
        counts[r["outcome"]] = r["n"]
    assert set(counts) == {"miscarriage", "live_birth"} and sum(counts.values()) == rows
