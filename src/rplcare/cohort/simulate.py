"""A synthetic pregnancy register drawn from the fitted prognosis model.

Each woman's pregnancies are drawn in turn: the chance that the next one ends in miscarriage is
the model's estimate for her age and her history so far (population setting), exactly as
`rplcare assess` would give it, so the register carries the model's age curve and its
clustering of losses. The rest of the register's shape is not from any source and is stated as
simulation settings (`SimulationSettings`), never as clinical facts:

- her age at the first pregnancy follows the age distribution of the pregnancies in Magnus 2019
  (the counts per band in `prognosis/sources.yaml`), uniform within a band;
- the number of pregnancies is 1 + Poisson(`extra_pregnancies_mean`), drawn before any outcome,
  so that the outcomes do not decide how many pregnancies a woman has;
- the gap to the next pregnancy is uniform in `gap_after_loss_years` or `gap_after_birth_years`;
  pregnancies after the model's oldest data age or after `as_of` are not drawn;
- a pregnancy that is not a miscarriage is a live birth (the model has no separate risks for
  terminations or biochemical losses, and its ectopic + stillbirth figure is not split);
- gestation at the end: uniform in `loss_weeks` (first trimester) or `birth_weeks`.

Vectorised with NumPy: at each step the model is evaluated once per distinct (age, history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from rplcare.knowledge.loader import load_knowledge
from rplcare.prognosis.data import load_published_data
from rplcare.prognosis.model import load_model

DAYS_PER_YEAR = 365.25
_L, _B = 1, 2  # history digits (base 3), oldest first


@dataclass(frozen=True)
class SimulationSettings:
    women: int
    seed: int = 2026
    as_of: date = date(2026, 1, 1)
    extra_pregnancies_mean: float = 1.2
    gap_after_loss_years: tuple[float, float] = (0.25, 1.0)
    gap_after_birth_years: tuple[float, float] = (1.0, 3.0)
    loss_weeks: tuple[float, float] = (6.0, 12.0)
    birth_weeks: tuple[float, float] = (37.0, 41.0)
    first_pregnancy_years_back: tuple[float, float] = (1.0, 25.0)


def _magnus_age_bands() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    obs = next(o for o in load_published_data().observations if o.id == "magnus-2019.age")
    bands = obs.spec["bands"]
    low = np.array([b["ages"][0] for b in bands], dtype=float)
    high = np.array([b["ages"][1] for b in bands], dtype=float) + 1
    weight = np.array([b["n"] for b in bands], dtype=float)
    return low, high, weight / weight.sum()


def _decode(code: int) -> str:
    out = ""
    while code:
        code, digit = divmod(code, 3)
        out = ("L" if digit == _L else "B") + out
    return out


def simulate(
    settings: SimulationSettings, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, np.ndarray]:
    """Columns of the register: woman_id, birth_date, outcome, end_date, gestational_weeks."""
    rng = np.random.default_rng(settings.seed)
    model = load_model()
    n = settings.women
    low, high, weight = _magnus_age_bands()
    oldest = float(high[-1])
    band = rng.choice(len(weight), size=n, p=weight)
    age = rng.uniform(low[band], high[band])  # exact age at the first pregnancy's end
    # Years from the first pregnancy to as_of, keeping every woman within the case format's
    # plausible age on as_of.
    short, long = settings.first_pregnancy_years_back
    oldest_now = load_knowledge().vocabulary.limits.max_age_years - 1
    back = rng.uniform(short, np.minimum(long, oldest_now - age))
    as_of = np.datetime64(settings.as_of.isoformat(), "D")
    end = as_of - (back * DAYS_PER_YEAR).astype("timedelta64[D]")
    birth = end - (age * DAYS_PER_YEAR).astype("timedelta64[D]")
    remaining = 1 + rng.poisson(settings.extra_pregnancies_mean, size=n)
    history = np.zeros(n, dtype=np.int64)
    women = np.arange(n)
    cache: dict[tuple[int, int], float] = {}
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("woman", "end", "loss", "weeks")}
    steps = int(remaining.max())
    for step in range(steps):
        active = (remaining > step) & (end <= as_of) & (age < oldest)
        idx = women[active]
        if idx.size == 0:
            break
        whole = np.floor(age[idx]).astype(np.int64)
        keys = whole * 10**12 + history[idx]
        distinct, inverse = np.unique(keys, return_inverse=True)
        risks = np.empty(distinct.size)
        for j, key in enumerate(distinct.tolist()):
            k = (key // 10**12, key % 10**12)
            if k not in cache:
                # The simulator needs a risk for every pregnancy, so it draws from the model's
                # equation even past the data's range (where `assess` gives no estimate).
                value = model.predict(k[0], _decode(k[1]), "population").estimate
                assert value is not None  # predict() itself always returns a number
                cache[k] = value
            risks[j] = cache[k]
        loss = rng.random(idx.size) < risks[inverse]
        weeks = np.where(
            loss,
            rng.uniform(*settings.loss_weeks, size=idx.size),
            rng.uniform(*settings.birth_weeks, size=idx.size),
        )
        columns["woman"].append(idx)
        columns["end"].append(end[idx])
        columns["loss"].append(loss)
        columns["weeks"].append(np.round(weeks, 1))
        history[idx] = history[idx] * 3 + np.where(loss, _L, _B)
        gap = np.where(
            loss,
            rng.uniform(*settings.gap_after_loss_years, size=idx.size),
            rng.uniform(*settings.gap_after_birth_years, size=idx.size),
        )
        end[idx] = end[idx] + (gap * DAYS_PER_YEAR).astype("timedelta64[D]")
        age[idx] = age[idx] + gap
        if progress:
            progress(step + 1, steps)
    woman = np.concatenate(columns["woman"])
    order = np.argsort(woman, kind="stable")
    loss = np.concatenate(columns["loss"])[order]
    return {
        "woman_id": woman[order].astype(np.int64),
        "birth_date": birth[woman[order]],
        "outcome": np.where(loss, "miscarriage", "live_birth"),
        "end_date": np.concatenate(columns["end"])[order],
        "gestational_weeks": np.concatenate(columns["weeks"])[order],
    }


def write_register(columns: dict[str, np.ndarray], path: Path) -> int:
    """Parquet (or CSV for a .csv path); returns the number of rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "woman_id": pa.array(columns["woman_id"]),
            "birth_date": pa.array(columns["birth_date"].astype("datetime64[D]")),
            "outcome": pa.array(columns["outcome"].astype(str)),
            "end_date": pa.array(columns["end_date"].astype("datetime64[D]")),
            "gestational_weeks": pa.array(columns["gestational_weeks"]),
        }
    )
    if path.suffix.lower() == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=1 << 20)
    return int(table.num_rows)


def settings_note(s: SimulationSettings) -> dict[str, Any]:
    """The settings as written next to a simulated register (they are assumptions)."""
    return {
        "women": s.women,
        "seed": s.seed,
        "as_of": s.as_of.isoformat(),
        "extra_pregnancies_mean": s.extra_pregnancies_mean,
        "gap_after_loss_years": list(s.gap_after_loss_years),
        "gap_after_birth_years": list(s.gap_after_birth_years),
        "loss_weeks": list(s.loss_weeks),
        "birth_weeks": list(s.birth_weeks),
        "first_pregnancy_years_back": list(s.first_pregnancy_years_back),
        "first_pregnancy_age": "Magnus 2019 pregnancy counts by age band (sources.yaml)",
        "outcome": "miscarriage with the model's risk (population setting), else live birth",
        "model_version": load_model().version,
    }
