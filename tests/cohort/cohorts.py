"""Random valid cohorts for the equivalence tests, and the per-case engine's answer for each
woman in the shape of a cohort row."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from hypothesis import strategies as st

from rplcare.domain.case import Outcome
from rplcare.domain.validation import parse_case
from rplcare.engine.assess import assess
from rplcare.knowledge.loader import KnowledgeBase

AS_OF = date(2026, 1, 1)
_WEEKS = {
    "miscarriage": st.sampled_from([5.0, 8.0, 12.0, 12.9, 13.0, 16.0, 23.9]),
    "anembryonic": st.sampled_from([7.0, 12.99, 13.0, 20.0]),
    "biochemical": st.sampled_from([3.0, 4.5, 13.0]),
    "stillbirth": st.sampled_from([24.0, 30.0, 41.0]),
    "live_birth": st.sampled_from([22.0, 30.0, 39.0, 42.0]),
}
_OTHER_WEEKS = st.sampled_from([6.0, 9.0, 14.0])


@st.composite
def woman(draw: st.DrawFn, wid: int) -> dict[str, Any]:
    """One woman as a case file (the per-case engine's input)."""
    age_now = draw(st.integers(min_value=16, max_value=69))
    born = AS_OF - timedelta(days=age_now * 365 + draw(st.integers(0, 364)))
    first = born + timedelta(days=12 * 366)
    span = max(1, (AS_OF - first).days)
    days = draw(st.lists(st.integers(0, span - 1), min_size=1, max_size=8))
    if len(days) > 1 and draw(st.booleans()):
        days[-1] = days[0]  # two pregnancies ending on the same day: input order decides
    pregnancies = []
    for d in days:
        outcome = draw(st.sampled_from([o.value for o in Outcome]))
        pregnancies.append(
            {
                "outcome": outcome,
                "end_date": (first + timedelta(days=d)).isoformat(),
                "gestational_weeks": draw(_WEEKS.get(outcome, _OTHER_WEEKS)),
            }
        )
    patient = {"age": age_now} if draw(st.booleans()) else {"birth_date": born.isoformat()}
    return {
        "schema": "rplcare.case/1",
        "as_of": AS_OF.isoformat(),
        "id": f"w{wid}",
        "patient": patient,
        "pregnancies": pregnancies,
    }


@st.composite
def cohorts(draw: st.DrawFn, max_women: int = 25) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=1, max_value=max_women))
    return [draw(woman(i)) for i in range(n)]


def rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One register row per pregnancy, in each case file's order."""
    out = []
    for c in cases:
        for p in c["pregnancies"]:
            out.append(
                {
                    "woman_id": c["id"],
                    "birth_date": c["patient"].get("birth_date"),
                    "age": c["patient"].get("age"),
                    **p,
                }
            )
    return out


def write(cases: list[dict[str, Any]], path: Path) -> Path:
    table = pa.Table.from_pylist(
        rows(cases),
        schema=pa.schema(
            [
                ("woman_id", pa.string()),
                ("birth_date", pa.string()),
                ("age", pa.int32()),
                ("outcome", pa.string()),
                ("end_date", pa.string()),
                ("gestational_weeks", pa.float64()),
            ]
        ),
    )
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def _end(interval: list[float] | None, i: int) -> float | None:
    """One end of an interval; None outside the model's data."""
    return interval[i] if interval is not None else None


def expected(case: dict[str, Any], kb: KnowledgeBase) -> dict[str, Any]:
    """What `rplcare assess` says about this woman, named as the cohort's columns."""
    a = assess(parse_case(case, kb), kb)
    h = a.history
    nxt = a.prognosis.next_pregnancy
    out: dict[str, Any] = {
        "age": a.patient.age,
        **{k: getattr(h, k) for k in (
            "pregnancies", "losses_total", "losses_clinical", "losses_biochemical",
            "losses_first_trimester", "losses_second_trimester", "live_births", "stillbirths",
            "ectopic", "molar", "terminations", "consecutive_losses", "losses_since_last_birth",
        )},
        "setting": nxt.setting,
        "risk": nxt.miscarriage_risk.estimate,
        "risk_ci_low": _end(nxt.miscarriage_risk.confidence_interval, 0),
        "risk_ci_high": _end(nxt.miscarriage_risk.confidence_interval, 1),
        "risk_interval_low": _end(nxt.miscarriage_risk.interval, 0),
        "risk_interval_high": _end(nxt.miscarriage_risk.interval, 1),
        "live_birth": nxt.live_birth_chance.estimate,
        "live_birth_interval_low": _end(nxt.live_birth_chance.interval, 0),
        "live_birth_interval_high": _end(nxt.live_birth_chance.interval, 1),
        "risk_out_of_range_reason": nxt.miscarriage_risk.reason,
    }  # fmt: skip
    for gid, d in a.definitions.items():
        col = gid.replace("-", "_")
        out |= {
            f"{col}_meets": d.meets,
            f"{col}_losses_counted": d.losses_counted,
            f"{col}_kind": d.kind,
            f"{col}_evaluation": d.evaluation,
        }
    return out


ROUNDED = {"risk", "risk_ci_low", "risk_ci_high", "risk_interval_low", "risk_interval_high",
           "live_birth", "live_birth_interval_low", "live_birth_interval_high"}  # fmt: skip


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Fields where the cohort row differs; probabilities compared as the assessment shows
    them (rounded to 4 decimals)."""
    out = []
    for key, value in want.items():
        mine = got[key]
        if key in ROUNDED and mine is not None:  # None: outside the model's data
            mine = round(mine, 4)
        if mine != value:
            out.append(f"{key}: cohort {mine!r}, per-case {value!r}")
    return out
