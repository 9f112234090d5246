r"""What-if explorer: the next-pregnancy estimate if one thing changed, from cited effect sizes.

A change of age re-runs the fitted model at the new age (its own age curve). Every other
change (smoking, BMI category, alcohol, caffeine) shifts the woman's log-odds of miscarriage by
a published effect (``explorer.yaml``, from prognosis-more-sources.md section 6) and widens both
intervals by that effect's variance on the log scale:

.. math::

    \operatorname{logit} p' = \operatorname{logit} p + \Delta,\qquad
    \operatorname{SE}'^2 = \operatorname{SE}^2 + \operatorname{Var}(\Delta)

where SE is read back from the model's interval on the logit scale. Risk ratios (and hazard
ratios) are converted to odds ratios once, at the model's first-pregnancy risk $p_0$ for her
age (the general-population pregnancies the meta-analyses describe):
$\mathrm{OR} = \mathrm{RR}(1-p_0)/(1-\mathrm{RR}\,p_0)$. The effects act on top of the model's
own covariate effects (the baseline keeps Risch 1988 for smoking and Koki 2025 for BMI): the
explorer shows the difference the cited meta-analysis implies, not a refit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rplcare.errors import InputError
from rplcare.prognosis.cumulative import citations, load_explorer
from rplcare.prognosis.data import Setting
from rplcare.prognosis.frailty import expit, logit
from rplcare.prognosis.model import (
    Z95,
    Estimate,
    FittedModel,
    load_model,
    load_parameters,
    outside_domain,
)
from rplcare.prognosis.predict import estimates

KEYS = ("smoker", "bmi", "age", "alcohol", "caffeine")
UNITS = {"bmi": "kg/m2", "age": "years", "alcohol": "drinks a week", "caffeine": "mg a day"}
AGE_CITATION = (
    "the model's own age curve (fitted to Magnus 2019 and Nybo Andersen 2000 registry data and "
    "the RPL-clinic cohorts; docs/prognosis.md)"
)
TRUE = ("true", "yes", "1")
FALSE = ("false", "no", "0")


class WhatIfError(InputError):
    """A malformed --what-if: one `what-if KEY=VALUE: problem` string per change."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Covariates:
    bmi: float | None = None
    smoker: bool = False
    pcos: bool = False
    alcohol: float = 0.0  # drinks a week (not in the model; used only here)
    caffeine: float = 0.0  # mg a day (not in the model; used only here)


@dataclass(frozen=True)
class Change:
    key: str
    value: float
    relative: bool
    text: str


@dataclass(frozen=True)
class WhatIf:
    change: str
    miscarriage_risk: Estimate
    live_birth_chance: Estimate
    citation: str
    effect: str

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        return {
            "change": self.change,
            "miscarriage_risk": self.miscarriage_risk.as_dict(digits),
            "live_birth_chance": self.live_birth_chance.as_dict(digits),
            "citation": self.citation,
            "effect": self.effect,
        }


def parse_change(text: str) -> Change:
    """`KEY=VALUE`: smoker=true|false, bmi=24, age=+2 (or an absolute age), alcohol=0 (drinks a
    week), caffeine=100 (mg a day); a leading + or - makes a number relative to now."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip().lower(), raw.strip()
    where = f"what-if {text!r}"
    if not sep or not key or not raw:
        raise WhatIfError([f"{where}: expected KEY=VALUE, e.g. smoker=false, bmi=24, age=+2"])
    if key not in KEYS:
        raise WhatIfError([f"{where}: unknown key {key!r}; use one of {', '.join(KEYS)}"])
    if key == "smoker":
        if raw.lower() not in TRUE + FALSE:
            raise WhatIfError([f"{where}: smoker must be true or false"])
        return Change(key, 1.0 if raw.lower() in TRUE else 0.0, False, f"smoker={raw.lower()}")
    try:
        value = float(raw)
    except ValueError:
        raise WhatIfError([f"{where}: {raw!r} is not a number ({UNITS[key]})"]) from None
    if not math.isfinite(value):
        raise WhatIfError([f"{where}: {raw!r} is not a finite number"])
    relative = raw[0] in "+-"
    return Change(key, value, relative, f"{key}={raw}")


def _plausible(key: str, value: float) -> str | None:
    from rplcare.prognosis.quick import AGE_RANGE, BMI_RANGE

    lo, hi = {"age": AGE_RANGE, "bmi": BMI_RANGE}.get(key, (0.0, math.inf))
    if not lo <= value <= hi:
        return f"{value:g} {UNITS[key]} is outside the plausible range {lo:g} to {hi:g}"
    return None


# ---------------------------------------------------------------- effects


@dataclass(frozen=True)
class Shift:
    """A change on the log-odds scale with its variance, or why it cannot be computed."""

    delta: float = 0.0
    variance: float = 0.0
    sources: tuple[str, ...] = ()
    text: str = ""
    outside: str | None = None


def _log_se(ci: Sequence[float]) -> float:
    return (math.log(ci[1]) - math.log(ci[0])) / (2 * Z95)


def _as_log_or(effect: dict[str, Any], p0: float, power: float = 1.0) -> tuple[float, float]:
    """Log odds ratio and its variance for `power` units of the effect (a risk or hazard ratio
    is converted at p0, the unexposed risk)."""
    log_r = power * math.log(effect["estimate"])
    var = (power * _log_se(effect["ci"])) ** 2
    if effect["kind"] == "or":
        return log_r, var
    rr = math.exp(log_r)
    if rr * p0 >= 0.99:  # conversion undefined; fall back to the ratio itself
        return log_r, var
    log_or = math.log(rr * (1 - p0) / (1 - rr * p0))
    slope = 1.0 / (1.0 - rr * p0)  # d log OR / d log RR
    return log_or, var * slope**2


def _fmt(effect: dict[str, Any]) -> str:
    lo, hi = effect["ci"]
    name = {"or": "OR", "rr": "RR", "hr": "HR"}[effect["kind"]]
    return f"{name} {effect['estimate']:.2f} ({lo:.2f}-{hi:.2f})"


def _bmi_category(bmi: float) -> str:
    lo, mid, hi = load_explorer()["what_if"]["bmi_categories"]["cut_offs"]
    if bmi < lo:
        return "below_20"
    if bmi < mid:
        return "reference"
    return "from_25" if bmi < hi else "from_30"


CATEGORY_TEXT = {
    "below_20": "below 20",
    "reference": "20 to under 25",
    "from_25": "25 to under 30",
    "from_30": "30 or more",
}


def _smoking(old: bool, new: bool, p0: float) -> Shift:
    e = load_explorer()["what_if"]["smoking"]
    if old == new:
        return Shift(text="no change (smoking status as now)")
    log_or, var = _as_log_or(e, p0)
    sign = 1.0 if new else -1.0
    verb = "starting" if new else "stopping"
    return Shift(
        sign * log_or,
        var,
        (e["source"],),
        f"{verb} smoking: {_fmt(e)} for smoking, odds ratio {math.exp(log_or):.2f} at this age",
    )


def _bmi(old: float, new: float, setting: Setting, p0: float) -> Shift:
    table = load_explorer()["what_if"]["bmi_categories"][setting]
    a, b = _bmi_category(old), _bmi_category(new)
    if a == b:
        return Shift(text=f"same BMI category ({CATEGORY_TEXT[a]}): no cited difference")
    delta, var, sources = 0.0, 0.0, []
    for cat, sign in ((b, 1.0), (a, -1.0)):
        if cat != "reference":
            log_or, v = _as_log_or(table[cat], p0)
            delta += sign * log_or
            var += v
            sources.append(table[cat]["source"])
    parts = [f"{CATEGORY_TEXT[c]}: {_fmt(table[c])}" for c in (a, b) if c != "reference"]
    text = (
        f"BMI category {CATEGORY_TEXT[a]} -> {CATEGORY_TEXT[b]} "
        f"({'; '.join(parts)}, each vs 20 to under 25)"
    )
    return Shift(delta, var, tuple(sources), text)


def _dose(key: str, old: float, new: float, p0: float) -> Shift:
    name = {"alcohol": "alcohol_per_drink_week", "caffeine": "caffeine_per_100mg_day"}[key]
    e = load_explorer()["what_if"][name]
    unit = 1.0 if key == "alcohol" else 100.0
    top = float(e["max"])
    if max(old, new) > top:
        reason = (
            f"the cited {key} effect covers 0 to {top:g} {UNITS[key]} "
            f"({citations([e['source']])[0].split('.')[0]})"
        )
        return Shift(outside=reason, sources=(e["source"],))
    if old == new:
        return Shift(text=f"no change ({old:g} {UNITS[key]})")
    lo, hi = sorted((old, new))
    log_or, var = _as_log_or(e, p0, power=(hi - lo) / unit)
    sign = 1.0 if new > old else -1.0
    return Shift(
        sign * log_or,
        var,
        (e["source"],),
        f"{key} {old:g} -> {new:g} {UNITS[key]}: {_fmt(e)} per "
        f"{'drink a week' if key == 'alcohol' else '100 mg a day'}",
    )


# ---------------------------------------------------------------- the explorer


def _shifted(base: Estimate, shift: Shift) -> Estimate:
    if base.out_of_range or base.estimate is None:
        return base
    if shift.outside:
        return Estimate.outside(shift.outside)
    assert base.confidence_interval is not None and base.interval is not None
    centre = float(logit(np.array(base.estimate))) + shift.delta

    def band(interval: tuple[float, float]) -> tuple[float, float]:
        lo, hi = logit(np.clip(np.array(interval), 1e-12, 1 - 1e-12))
        se = float(hi - lo) / (2 * Z95)
        half = Z95 * math.sqrt(se**2 + shift.variance)
        a, b = expit(np.array([centre - half, centre + half]))
        return float(a), float(b)

    return Estimate(
        float(expit(np.array(centre))), band(base.confidence_interval), band(base.interval)
    )


def _scenario(
    age: float,
    history: str,
    setting: Setting,
    cov: Covariates,
    changes: Sequence[Change],
    model: FittedModel,
) -> WhatIf:
    new_age = age
    for c in changes:
        if c.key == "age":
            new_age = age + c.value if c.relative else c.value
    domain = load_parameters()["next_pregnancy"].get("domain")
    reason = domain and outside_domain(domain, age=new_age, losses=history.count("L"))
    base = (
        Estimate.outside(reason)
        if reason
        else estimates(
            new_age, history, setting, bmi=cov.bmi, smoker=cov.smoker, pcos=cov.pcos, model=model
        )[0]
    )
    label = ", ".join(c.text for c in changes)
    keys: list[str] = []
    texts: list[str] = []
    shifts: list[Shift] = []
    if any(c.key == "age" for c in changes):
        texts.append(f"age {age:g} -> {new_age:g}: the model's age curve")
    if not base.out_of_range:
        p0 = estimates(new_age, "", "population", model=model)[0].estimate or 0.0
        for c in changes:
            if c.key == "smoker":
                shifts.append(_smoking(cov.smoker, bool(c.value), p0))
            elif c.key == "bmi":
                assert cov.bmi is not None
                new = cov.bmi + c.value if c.relative else c.value
                shifts.append(_bmi(cov.bmi, new, setting, p0))
            elif c.key in ("alcohol", "caffeine"):
                old = cov.alcohol if c.key == "alcohol" else cov.caffeine
                new = old + c.value if c.relative else c.value
                shifts.append(_dose(c.key, old, new, p0))
    total = Shift(
        sum(s.delta for s in shifts),
        sum(s.variance for s in shifts),
        outside=next((s.outside for s in shifts if s.outside), None),
    )
    for s in shifts:
        keys += list(s.sources)
        if s.text:
            texts.append(s.text)
    risk = _shifted(base, total)
    live = risk.complement().scaled(1.0 - model.other_loss_risk(new_age))
    cited = "; ".join(
        ([AGE_CITATION] if any(c.key == "age" for c in changes) else [])
        + [f"{c} [{_tag(k)}]" for k, c in zip(dict.fromkeys(keys), citations(keys), strict=True)]
    )
    return WhatIf(label, risk, live, cited, "; ".join(texts))


def _recent(history: str) -> int:
    return len(history) - len(history.rstrip("L"))


def _tag(source: str) -> str:
    ex = load_explorer()["what_if"]
    tags = {e["source"]: e["tag"] for k, e in ex.items() if k != "bmi_categories"}
    for setting in ("population", "clinic"):
        tags.update({e["source"]: e["tag"] for e in ex["bmi_categories"][setting].values()})
    return str(tags.get(source, "P"))


def _check(age: float, cov: Covariates, changes: Sequence[Change]) -> None:
    problems = []
    for c in changes:
        where = f"what-if {c.text!r}"
        if c.key == "bmi" and cov.bmi is None:
            problems.append(f"{where}: needs the current BMI (--bmi) to compare categories")
            continue
        now = {"age": age, "bmi": cov.bmi or 0.0, "alcohol": cov.alcohol, "caffeine": cov.caffeine}
        if c.key in now:
            if c.key == "age" and not c.relative and c.value < 0:
                problems.append(f"{where}: age must be positive")
                continue
            new = now[c.key] + c.value if c.relative else c.value
            problem = _plausible(c.key, new)
            if problem:
                problems.append(f"{where}: {problem}")
    if problems:
        raise WhatIfError(problems)


def what_if(
    age: float,
    history: str,
    setting: Setting,
    covariates: Covariates,
    changes: Sequence[str | Change],
    *,
    model: FittedModel | None = None,
) -> list[WhatIf]:
    """One entry per change (each alone, against the current estimate), then, if more than
    one key changes, all of them together."""
    model = model or load_model()
    parsed = [c if isinstance(c, Change) else parse_change(c) for c in changes]
    _check(age, covariates, parsed)
    out = [_scenario(age, history, setting, covariates, [c], model) for c in parsed]
    keys = [c.key for c in parsed]
    if len(parsed) > 1 and len(set(keys)) == len(keys):
        combined = _scenario(age, history, setting, covariates, parsed, model)
        out.append(replace(combined, change="together: " + combined.change))
    return out
