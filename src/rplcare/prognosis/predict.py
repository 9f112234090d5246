"""Turn the fitted model into the `prognosis` block: estimates, intervals, drivers in words."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rplcare.prognosis.data import Setting

__all__ = ["Setting", "current_pregnancy", "next_pregnancy"]
from rplcare.prognosis.model import (
    Estimate,
    FittedModel,
    load_model,
    load_parameters,
    outside_domain,
)

INTERVAL_METHOD = (
    "confidence_interval: delta method on the logit scale with the maximum-likelihood "
    "covariance (parameter uncertainty); interval: 95% prediction interval for a new "
    "population of this setting, adding the heterogeneity between and within sources "
    "estimated in the fit"
)


#: Why the clinic setting's figures are lower than the population's (one wording for the
#: drivers and for the pages that explain the settings).
CLINIC_SETTING_EFFECT = (
    "couples seen in RPL clinics after a work-up miscarry less than registry figures for the "
    "same history suggest"
)


def limits() -> list[str]:
    """The model's known limits, as stated in sources.yaml."""
    return list(load_model().context["limits"])


@dataclass(frozen=True)
class NextPregnancy:
    setting: Setting
    miscarriage_risk: Estimate
    live_birth_chance: Estimate
    drivers: tuple[str, ...]


def history_string(losses_since_birth: int, births: int, losses_before: int = 0) -> str:
    """Oldest first: losses before the births, the births, then the run of recent losses."""
    return "L" * losses_before + "B" * births + "L" * losses_since_birth


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def estimates(
    age: float,
    history: str,
    setting: Setting,
    *,
    bmi: float | None = None,
    smoker: bool = False,
    pcos: bool = False,
    model: FittedModel | None = None,
) -> tuple[Estimate, Estimate]:
    """Miscarriage risk and live-birth chance of the next pregnancy, without the drivers
    (cohort mode computes these for every distinct age and history)."""
    model = model or load_model()
    # Outside the data the model was fitted to there is no number, only the reason.
    reason = outside_domain(model.info["domain"], age=age, losses=history.count("L"))
    if reason is not None:
        return Estimate.outside(reason), Estimate.outside(reason)
    risk = model.predict(age, history, setting, bmi=bmi, smoker=smoker, pcos=pcos)
    # No miscarriage, and then no ectopic pregnancy or stillbirth (applied as a proportion so
    # that the chance never goes negative and falls whenever the miscarriage risk rises).
    live = risk.complement().scaled(1.0 - model.other_loss_risk(age))
    return risk, live


def next_pregnancy(
    age: float,
    history: str,
    setting: Setting,
    *,
    bmi: float | None = None,
    smoker: bool = False,
    pcos: bool = False,
    model: FittedModel | None = None,
) -> NextPregnancy:
    model = model or load_model()
    risk, live = estimates(age, history, setting, bmi=bmi, smoker=smoker, pcos=pcos, model=model)
    if risk.reason is not None:
        return NextPregnancy(setting, risk, live, (f"no estimate: {risk.reason}",))
    other = model.other_loss_risk(age)
    return NextPregnancy(
        setting,
        risk,
        live,
        tuple(_drivers(model, age, history, setting, risk, bmi, smoker, pcos, other)),
    )


def _drivers(
    model: FittedModel,
    age: float,
    history: str,
    setting: Setting,
    final: Estimate,
    bmi: float | None,
    smoker: bool,
    pcos: bool,
    other: float,
) -> list[str]:
    base = model.central(age, "", "population")
    out = [
        f"age {age:g}: {_pct(base)} for a pregnancy at this age with no earlier pregnancies "
        "(registry data)"
    ]
    recent = len(history) - len(history.rstrip("L"))
    births = history.count("B")
    with_history, clinic = model.central_both(age, history)
    if history:
        parts = []
        if recent:
            since = " since the last birth" if births else ""
            parts.append(f"{recent} loss{'es' if recent != 1 else ''}{since}")
        if births:
            parts.append(f"{births} earlier birth{'s' if births != 1 else ''}")
        before = history.rstrip("L").count("L")
        if before:
            parts.append(f"{before} loss{'es' if before != 1 else ''} before a birth")
        rho = model.info["parameters"]["rho"]
        renewal = (
            "a birth resets it: in the fitted model losses before a birth carry no weight"
            if rho < 0.005
            else f"a birth renews it, keeping a fitted share of {rho:.2f}"
        )
        why = "each loss raises the estimated tendency to miscarry"
        out.append(
            f"{', '.join(parts)}: {_pct(with_history)} ({why}; {renewal})"
            if births
            else f"{', '.join(parts)}: {_pct(with_history)} ({why})"
        )
    if setting == "clinic":
        out.append(f"RPL-clinic setting: {_pct(clinic)}; {CLINIC_SETTING_EFFECT}")
    effects = []
    if bmi is not None:
        effects.append(f"BMI {bmi:g}")
    if smoker:
        effects.append("smoking")
    if pcos:
        effects.append("PCOS")
    if effects:
        out.append(f"{', '.join(effects)}: {_pct(final.estimate or 0.0)} after the cited effects")
    out.append(
        f"live-birth chance also allows for ectopic pregnancy and stillbirth ({_pct(other)} of "
        "pregnancies at this age, Nybo Andersen 2000)"
    )
    return out


@dataclass(frozen=True)
class CurrentPregnancy:
    loss_to_12_weeks: Estimate
    loss_to_20_weeks: Estimate
    curve: list[dict[str, float]]
    drivers: tuple[str, ...]


def current_pregnancy(
    day: int, heartbeat: bool | None, previous_losses: int, age: float
) -> CurrentPregnancy:
    from rplcare.prognosis.current import WEEK_12, WEEK_20, load_current_model

    model = load_current_model()
    seen = bool(heartbeat)
    domain = load_parameters()["current_pregnancy"]["domain"]
    reason = outside_domain(domain, age=age, losses=previous_losses, day=day)
    if reason is not None:
        none = Estimate.outside(reason)
        return CurrentPregnancy(none, none, [], (f"no estimate: {reason}",))
    to12, to20 = model.predict_to(day, (WEEK_12, WEEK_20), seen, previous_losses, age)
    weeks, days = divmod(day, 7)
    drivers = [
        f"gestation {weeks} weeks {days} days: risk falls with every week the pregnancy continues",
        (
            "heartbeat seen: risk after a seen heartbeat (Tong 2008, Simpson 1987, Deaton 1997, "
            "Westin 2007, Frederiksen 2018 and others; Hyer 2004 in women with recurrent "
            "miscarriage)"
            if seen
            else "heartbeat not (yet) confirmed: an extra risk in the first trimester only, "
            "without that reassurance (Ammon Avalos 2012 and cohorts counted from a positive "
            "test); a scan that looked for a heartbeat and did not find one needs clinical "
            "review, which this model does not replace"
        ),
    ]
    if previous_losses:
        per_loss = float(np.exp(model.params[-1]))
        drivers.append(
            f"{previous_losses} previous loss{'es' if previous_losses != 1 else ''}: fitted "
            f"odds ratio {per_loss:.2f} per loss"
        )
    drivers.append(f"age {age:g}: the registry age curve, relative to age 30")
    return CurrentPregnancy(to12, to20, model.curve(seen, previous_losses, age), tuple(drivers))
