"""`rplcare risk`: the prognosis for a few numbers, without a case file."""

from __future__ import annotations

from collections.abc import Sequence
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
ALCOHOL_RANGE = (0.0, 200.0)  # drinks a week
CAFFEINE_RANGE = (0.0, 5000.0)  # mg a day


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
    alcohol: float = 0.0,
    caffeine: float = 0.0,
    what_if: Sequence[str] = (),
) -> dict[str, Any]:
    problems: list[str] = []
    _check(problems, "alcohol", alcohol, *ALCOHOL_RANGE)
    _check(problems, "caffeine", caffeine, *CAFFEINE_RANGE)
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
    _add_explorer(result, age, losses, live_births, chosen, alcohol, caffeine, what_if)
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


def _add_explorer(
    result: dict[str, Any],
    age: float,
    losses: int,
    live_births: int,
    setting: Setting,
    alcohol: float,
    caffeine: float,
    changes: Sequence[str],
) -> None:
    """`cumulative_live_birth` (1, 2 and 5 years) and `what_if` (one entry per change)."""
    from rplcare.prognosis.cumulative import cumulative_live_birth, describe
    from rplcare.prognosis.whatif import Covariates, what_if

    inputs = result["inputs"]
    inputs["alcohol_drinks_per_week"] = alcohol
    inputs["caffeine_mg_per_day"] = caffeine
    history = history_string(losses, live_births)
    cov = Covariates(inputs["bmi"], inputs["smoker"], inputs["pcos"], alcohol, caffeine)
    years = cumulative_live_birth(
        age, history, setting, bmi=cov.bmi, smoker=cov.smoker, pcos=cov.pcos
    )
    result["cumulative_live_birth"] = {
        **describe(setting),
        "years": [y.as_dict() for y in years],
    }
    result["what_if"] = [w.as_dict() for w in what_if(age, history, setting, cov, changes)]


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
    _render_explorer(result, console)
    console.print(result["disclaimer"])


def _render_explorer(result: dict[str, Any], console: Console) -> None:
    """A second table: live birth within 1, 2, 5 years, then the what-if scenarios."""
    years = result.get("cumulative_live_birth", {}).get("years", [])
    changes = result.get("what_if", [])
    table = Table(title="Live birth over time, and what if")
    for col in ("", "Estimate", "95% prediction interval", "95% confidence interval"):
        table.add_column(col)
    for y in years:
        _row(table, f"Live birth: pregnancy begun within {y['years']} y", y)
    for w in changes:
        _row(table, f"If {w['change']}: miscarriage", w["miscarriage_risk"])
        _row(table, f"If {w['change']}: live birth", w["live_birth_chance"])
    console.print(table)
    if years:
        console.print(
            "- live birth over time: time from now to the start of the pregnancy that ends in a "
            "live birth (the birth follows that pregnancy); trying again after a loss"
        )
    for w in changes:
        console.print(f"- if {w['change']}: {w['effect']} ({w['citation']})")
