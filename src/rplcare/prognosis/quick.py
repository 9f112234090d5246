"""`rplcare risk`: the prognosis for a few numbers, without a case file."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from rplcare.errors import InputError
from rplcare.prognosis.data import Setting
from rplcare.prognosis.model import load_parameters
from rplcare.prognosis.predict import (
    INTERVAL_METHOD,
    current_pregnancy,
    history_string,
    limits,
    next_pregnancy,
)

DISCLAIMER = (
    "An estimate from published population data, not a diagnosis: it supports, and does not "
    "replace, the judgement of a clinician."
)
#: Plausibility bounds for the inputs (data entry, not clinical thresholds).
AGE_RANGE = (10.0, 70.0)
MAX_LOSSES = 30
MAX_BIRTHS = 30
BMI_RANGE = (10.0, 100.0)
MAX_GESTATIONAL_DAYS = 315


class RiskInputError(InputError):
    """Out-of-range quick-risk inputs: one `field: problem` string per input."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _check(problems: list[str], name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:  # also false for NaN
        problems.append(f"{name}: {value:g} is outside the plausible range {lo:g} to {hi:g}")


def quick_risk(
    *,
    age: float,
    losses: int,
    live_births: int = 0,
    bmi: float | None = None,
    smoker: bool = False,
    pcos: bool = False,
    gestational_days: int | None = None,
    heartbeat: bool = False,
    setting: str = "population",
) -> dict[str, Any]:
    problems: list[str] = []
    _check(problems, "age", age, *AGE_RANGE)
    _check(problems, "losses", losses, 0, MAX_LOSSES)
    _check(problems, "live_births", live_births, 0, MAX_BIRTHS)
    if bmi is not None:
        _check(problems, "bmi", bmi, *BMI_RANGE)
    if gestational_days is not None:
        _check(problems, "gestational_days", gestational_days, 0, MAX_GESTATIONAL_DAYS)
    if setting not in ("population", "clinic"):
        problems.append(f"setting: {setting!r} is not population or clinic")
    if problems:
        raise RiskInputError(problems)
    chosen: Setting = "clinic" if setting == "clinic" else "population"
    nxt = next_pregnancy(
        age, history_string(losses, live_births), chosen, bmi=bmi, smoker=smoker, pcos=pcos
    )
    result: dict[str, Any] = {
        "schema": "rplcare.risk/1",
        "model_version": load_parameters()["next_pregnancy"]["model_version"],
        "inputs": {
            "age": age,
            "losses": losses,
            "live_births": live_births,
            "bmi": bmi,
            "smoker": smoker,
            "pcos": pcos,
            "gestational_days": gestational_days,
            "heartbeat": heartbeat if gestational_days is not None else None,
        },
        "next_pregnancy": {
            "setting": chosen,
            "miscarriage_risk": nxt.miscarriage_risk.as_dict(),
            "live_birth_chance": nxt.live_birth_chance.as_dict(),
            "drivers": list(nxt.drivers),
        },
        "current_pregnancy": None,
        "interval_method": INTERVAL_METHOD,
        "limits": limits(),
        "disclaimer": DISCLAIMER,
    }
    if gestational_days is not None:
        cur = current_pregnancy(gestational_days, heartbeat, losses, age)
        result["current_pregnancy"] = {
            "gestational_age_days": gestational_days,
            "heartbeat_seen": heartbeat,
            "loss_risk_to_12_weeks": cur.loss_to_12_weeks.as_dict(),
            "loss_risk_to_20_weeks": cur.loss_to_20_weeks.as_dict(),
            "curve_to_20_weeks": cur.curve,
            "drivers": list(cur.drivers),
        }
    return result


def _row(table: Table, label: str, e: dict[str, Any]) -> None:
    if e["estimate"] is None:
        table.add_row(label, f"not estimated: {e['reason']}", "", "")
        return
    ci, pi = e["confidence_interval"], e["interval"]
    table.add_row(
        label,
        f"{100 * e['estimate']:.1f}%",
        f"{100 * pi[0]:.1f}-{100 * pi[1]:.1f}%",
        f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}%",
    )


def render_quick(result: dict[str, Any], console: Console) -> None:
    nxt = result["next_pregnancy"]
    table = Table(title=f"rplcare risk ({nxt['setting']} setting)")
    for col in ("", "Estimate", "95% prediction interval", "95% confidence interval"):
        table.add_column(col)
    _row(table, "Miscarriage, next pregnancy", nxt["miscarriage_risk"])
    _row(table, "Live birth, next pregnancy", nxt["live_birth_chance"])
    cur = result["current_pregnancy"]
    if cur:
        _row(table, "Loss before 12 weeks, this pregnancy", cur["loss_risk_to_12_weeks"])
        _row(table, "Loss before 20 weeks, this pregnancy", cur["loss_risk_to_20_weeks"])
    console.print(table)
    for line in nxt["drivers"] + (cur["drivers"] if cur else []):
        console.print(f"- {line}")
    console.print(result["disclaimer"])
