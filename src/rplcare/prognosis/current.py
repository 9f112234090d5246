r"""Current-pregnancy model: risk of loss from today's gestational day to 12 and 20 weeks.

A weekly hazard, held constant within each week and spread over its days. After a heartbeat
has been seen it is an early, falling hazard plus a constant late (second-trimester) one,

.. math::

    h_w = 1 - \bigl(1 - \operatorname{expit}(c_0 + c_1 (w - 8) + s)\bigr)
              \bigl(1 - \operatorname{expit}(c_\text{late} + s)\bigr),
    \qquad s = \gamma\,k + A(\text{age}),

where :math:`k` is the number of previous miscarriages and :math:`A` is the next-pregnancy
model's age curve relative to age 30 (shared, as the registries show the same J-shape). Before
a heartbeat has been confirmed, an extra hazard of failure
:math:`\operatorname{expit}(c_3 + c_4 (w - 8) + A(\text{age}))` acts as well, **only in the
first trimester** (weeks 0-12): a pregnancy that is not viable is recognised as such by the
end of the first trimester, so from 13 weeks both branches share the same hazard (losses
between 12 and 20 weeks are a few per cent, with or without an early heartbeat). The risk
from day :math:`d` to day :math:`D` is :math:`1 - \prod_{t=d}^{D-1} (1 - h_{w(t)})^{1/7}`.

Fitted by maximum likelihood: each figure on the logit (or log-odds-ratio) scale with its own
sampling error where the paper gives a count, plus a common between-figure SD; figures given
only as bounds ("above 2% a week") count only when the model breaks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rplcare.prognosis import frailty
from rplcare.prognosis.frailty import Array
from rplcare.prognosis.model import Z95, Estimate, age_curve

PARAMS = ("c0", "c1", "c_late", "c3_unconfirmed", "c4_unconfirmed_slope", "gamma_per_loss")
LAST_DAY = 196  # hazards are modelled through 27 completed weeks (Hoesli follows to 28 weeks)
WEEK_12 = 84
WEEK_20 = 140
CURVE_FROM_DAY = 35  # charts start at 5 weeks
#: The extra hazard before a heartbeat is confirmed acts in weeks 0..12 only (first trimester).
UNCONFIRMED_UNTIL_WEEK = 13
MAX_WEEKLY_HAZARD = 1.0 - 1e-12
#: Bounds of the fit (c1 and c4 <= 0: hazards fall with gestation).
BOUNDS = [(-10.0, 2.0), (-3.0, 0.0), (-12.0, -2.0), (-10.0, 2.0), (-3.0, 0.0), (-1.0, 2.0)]
BOUNDS += [(np.log(0.01), np.log(3.0))]  # log residual SD
START = np.array([-4.0, -0.5, -6.5, -2.5, -0.3, 0.4, np.log(0.3)])


def weekly_hazard(params: Array, heartbeat: bool, losses: int, age_shift: float) -> Array:
    """Hazard for weeks 0..LAST_DAY // 7; shape (batch, weeks)."""
    params = np.atleast_2d(params)
    weeks = np.arange(0, LAST_DAY // 7 + 1, dtype=float)
    w = weeks - 8.0
    c0, c1, c_late, c3, c4, g = (params[:, i : i + 1] for i in range(6))
    shift = g * losses + age_shift
    early = frailty.expit(c0 + c1 * w + shift)
    late = frailty.expit(c_late + shift)
    survive = (1.0 - early) * (1.0 - late)
    if not heartbeat:
        # Before viability is confirmed: an extra hazard that fades and ends with the first
        # trimester.
        # Age acts on it (aneuploidy rises with age); previous losses do not: every figure
        # without a heartbeat comes from unselected pregnancies, and the loss effect is
        # estimated after a heartbeat (Hyer 2004, JMFNM 2022, Westin 2007).
        extra = frailty.expit(c3 + c4 * w + age_shift) * (weeks < UNCONFIRMED_UNTIL_WEEK)
        survive = survive * (1.0 - extra)
    # A weekly hazard of exactly 1 would make the log-survival infinite at extreme inputs.
    return np.clip(1.0 - survive, 0.0, MAX_WEEKLY_HAZARD)


def risk_between(
    params: Array, from_day: int, to_day: int, heartbeat: bool, losses: int, age_shift: float = 0.0
) -> Array:
    if to_day <= from_day:
        return np.zeros(np.atleast_2d(params).shape[0])
    h = weekly_hazard(params, heartbeat, losses, age_shift)
    log_survival = daily_log_survival(h, np.arange(from_day, to_day)).sum(axis=-1)
    return np.asarray(-np.expm1(log_survival), dtype=float)


def daily_log_survival(h: Array, days: NDArray[np.intp]) -> Array:
    """Log of surviving each of `days`, from weekly hazards `h` (the week's hazard spread
    evenly over its seven days)."""
    return np.asarray(np.log1p(-h[..., days // 7]) / 7.0, dtype=float)


@dataclass(frozen=True)
class CurrentModel:
    params: Array
    covariance: Array
    residual_sd: float
    next_theta: Array  # next-pregnancy parameters, for the shared age curve
    #: Extra SD for a new source, calibrated out of sample (leave-one-source-out; see
    #: validate.py); 0 in documents written before it existed.
    new_source_sd: float = 0.0

    def age_shift(self, age: float) -> float:
        return age_shift(self.next_theta, age)

    def predict(self, day: int, to_day: int, heartbeat: bool, losses: int, age: float) -> Estimate:
        return self.predict_to(day, (to_day,), heartbeat, losses, age)[0]

    def predict_to(
        self, day: int, to_days: tuple[int, ...], heartbeat: bool, losses: int, age: float
    ) -> tuple[Estimate, ...]:
        """Risk of loss from `day` until each of `to_days`, with intervals (delta method).
        One hazard table serves every window."""
        step = 1e-5
        batch = np.vstack([self.params, self.params + step * np.eye(len(self.params))])
        h = weekly_hazard(batch, heartbeat, losses, self.age_shift(age))
        last = max(to_days)
        days = np.arange(day, max(last, day))
        # log-survival from `day` to the end of each day, per parameter row
        log_survival = np.cumsum(daily_log_survival(h, days), axis=-1)
        extra = self.residual_sd**2 + self.new_source_sd**2
        out = []
        for to_day in to_days:
            if to_day <= day:
                out.append(Estimate(0.0, (0.0, 0.0), (0.0, 0.0)))
                continue
            risk = -np.expm1(log_survival[:, to_day - day - 1])
            values = frailty.logit(np.clip(risk, 1e-12, 1 - 1e-12))
            centre = float(values[0])
            grad = (values[1:] - values[0]) / step
            var = max(float(grad @ self.covariance @ grad), 0.0)
            out.append(
                Estimate(
                    float(frailty.expit(np.array(centre))),
                    _band(centre, var),
                    _band(centre, var + extra),
                )
            )
        return tuple(out)

    def curve(
        self, heartbeat: bool, losses: int, age: float, to_day: int = WEEK_20
    ) -> list[dict[str, float]]:
        """Risk of loss from each day (5 to 20 weeks) until `to_day`, for charts."""
        h = weekly_hazard(self.params, heartbeat, losses, self.age_shift(age))[0]
        days = np.arange(CURVE_FROM_DAY, to_day)
        daily = daily_log_survival(h, days)
        # log-survival from each day to `to_day`: reversed cumulative sum of the daily terms
        remaining = np.cumsum(daily[::-1])[::-1]
        risks = -np.expm1(remaining)
        return [
            {"day": int(d), "risk": round(float(r), 5)} for d, r in zip(days, risks, strict=True)
        ]


def _band(centre: float, var: float) -> tuple[float, float]:
    half = Z95 * np.sqrt(var)
    lo, hi = frailty.expit(np.array([centre - half, centre + half]))
    return float(lo), float(hi)


def age_shift(next_theta: Array, age: float) -> float:
    theta = np.atleast_2d(next_theta)
    return float(age_curve(theta, age)[0] - age_curve(theta, 30.0)[0])


@dataclass(frozen=True)
class CurrentComponent:
    id: str
    source: str  # the id's prefix (before the first ".")
    observed: float  # logit risk or hazard, or log odds ratio
    se: float  # sampling SE from a published count or CI; 0 when the paper gives none
    scale: str  # "logit" or "log"
    bound: str | None  # "lower" / "upper": the figure is a bound, not a value
    fitted: bool  # False: validation only (`use: validate` in sources.yaml)
    model: Callable[[Array], Array]


def source_of(figure_id: str) -> str:
    return figure_id.split(".")[0]


def _ages(o: dict[str, Any]) -> list[float]:
    if "ages" in o:
        lo, hi = o["ages"]
        return [float(a) for a in range(int(lo), int(hi) + 1)]
    return [float(o.get("age", 30.0))]


def _observed(o: dict[str, Any], key: str) -> tuple[float, float]:
    """The figure on the logit scale and its binomial SE (0 without a count)."""
    if "events" in o:
        p, n = o["events"] / o["n"], float(o["n"])
        return float(frailty.logit(p)), float(1.0 / np.sqrt(n * p * (1.0 - p)))
    return float(frailty.logit(o[key])), 0.0


def components(spec: dict[str, Any], next_theta: Array) -> list[CurrentComponent]:
    out: list[CurrentComponent] = []

    def add(
        o: dict[str, Any], y: float, se: float, scale: str, fn: Callable[[Array], Array]
    ) -> None:
        out.append(
            CurrentComponent(
                o["id"],
                source_of(o["id"]),
                y,
                se,
                scale,
                o.get("bound"),
                o.get("use", "fit") == "fit",
                fn,
            )
        )

    for o in spec["observations"]:
        shifts = [age_shift(next_theta, a) for a in _ages(o)]

        def fn(p: Array, o: dict[str, Any] = o, shifts: list[float] = shifts) -> Array:
            r = sum(
                risk_between(p, o["from_day"], o["to_day"], o["heartbeat"], o["losses"], s)
                for s in shifts
            ) / len(shifts)
            return frailty.logit(np.clip(r, 1e-12, 1 - 1e-12))

        y, se = _observed(o, "risk")
        add(o, y, se, "logit", fn)
    for o in spec["hazards"]:
        first, last = o["weeks"] if "weeks" in o else (o["week"], o["week"])

        def fn_h(p: Array, o: dict[str, Any] = o, first: int = first, last: int = last) -> Array:
            h = weekly_hazard(p, o["heartbeat"], 0, 0.0)[:, first : last + 1].mean(axis=-1)
            return frailty.logit(h)

        y, se = _observed(o, "hazard")
        add(o, y, se, "logit", fn_h)
    for o in spec["odds_ratios"]:

        def fn_or(p: Array, o: dict[str, Any] = o) -> Array:
            if o["per"] == "week":
                a = risk_between(p, o["at_day"] + 7, o["to_day"], True, 0)
                b = risk_between(p, o["at_day"], o["to_day"], True, 0)
            else:
                a = risk_between(p, o["at_day"], o["to_day"], True, 1)
                b = risk_between(p, o["at_day"], o["to_day"], True, 0)
            return frailty.logit(a) - frailty.logit(b)

        se = 0.0
        if "ci" in o:
            se = float((np.log(o["ci"][1]) - np.log(o["ci"][0])) / (2 * Z95))
        add(o, float(np.log(o["odds_ratio"])), se, "log", fn_or)
    return out


def residual(c: CurrentComponent, model_value: float) -> float:
    """Model minus published; for a bound, only the part that breaks it (else 0)."""
    r = model_value - c.observed
    if c.bound == "lower":
        return min(r, 0.0)
    if c.bound == "upper":
        return max(r, 0.0)
    return r


def _nll(x: Array, comps: list[CurrentComponent]) -> float:
    p, sd = x[:6][None, :], float(np.exp(x[6]))
    total = 0.0
    with np.errstate(all="ignore"):
        for c in comps:
            r = residual(c, float(c.model(p)[0]))
            if not np.isfinite(r):
                return 1e12
            var = c.se**2 + sd**2
            total += 0.5 * r * r / var
            if c.bound is None:
                total += 0.5 * np.log(var)
    return float(total)


@dataclass(frozen=True)
class CurrentFit:
    params: Array
    covariance: Array  # of PARAMS
    residual_sd: float
    nll: float
    converged: bool


def optimise(
    comps: list[CurrentComponent], start: Array = START, polish: bool = True
) -> CurrentFit:
    """Maximum likelihood within BOUNDS: L-BFGS-B, then (with `polish`) a derivative-free
    polish (Powell). `converged` is information only; the tests check the result by
    tolerances."""
    from scipy.optimize import minimize  # fitting only: keeps prediction imports light

    fitted = [c for c in comps if c.fitted]

    def nll(x: Array) -> float:
        return _nll(x, fitted)

    quasi = minimize(nll, start, method="L-BFGS-B", bounds=BOUNDS)
    best = quasi
    if polish:
        best = minimize(
            nll,
            quasi.x,
            method="Powell",
            bounds=BOUNDS,
            options={"xtol": 1e-8, "ftol": 1e-12, "maxfev": 50000},
        )
    converged = bool(best.success) and abs(best.fun - quasi.fun) < 1e-3
    x = np.asarray(best.x, dtype=float)
    free = [i for i, (lo, hi) in enumerate(BOUNDS) if lo + 1e-6 < x[i] < hi - 1e-6]
    h = 1e-4
    n = len(x)
    hess = np.zeros((n, n))
    for i in free:
        for j in free:
            if j < i:
                continue
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            v = (nll(x + ei + ej) - nll(x + ei - ej) - nll(x - ei + ej) + nll(x - ei - ej)) / (
                4 * h * h
            )
            hess[i, j] = hess[j, i] = v
    cov = np.zeros((n, n))
    cov[np.ix_(free, free)] = np.linalg.pinv(hess[np.ix_(free, free)])
    return CurrentFit(x[:6], cov[:6, :6], float(np.exp(x[6])), float(best.fun), converged)


def fit_current(spec: dict[str, Any], next_theta: Array) -> dict[str, Any]:
    comps = components(spec, next_theta)
    result = optimise(comps)
    params = result.params
    return {
        "method": (
            "maximum likelihood within bounds (L-BFGS-B, then Powell): each figure with its "
            "binomial or CI-based SE where published plus a common between-figure SD; bounds "
            "count only when broken; covariance = inverse observed information"
        ),
        "negative_log_likelihood": result.nll,
        "converged": result.converged,
        "parameters": {k: float(v) for k, v in zip(PARAMS, params, strict=True)},
        "residual_sd": result.residual_sd,
        "covariance": result.covariance.tolist(),
        "residuals": [
            {
                "id": c.id,
                "observed": c.observed,
                "model": float(c.model(params[None, :])[0]),
                "fitted": c.fitted,
            }
            for c in comps
        ],
    }


def current_from_json(doc: dict[str, Any], next_theta: Array) -> CurrentModel:
    return CurrentModel(
        params=np.array([doc["parameters"][k] for k in PARAMS]),
        covariance=np.array(doc["covariance"]),
        residual_sd=float(doc["residual_sd"]),
        next_theta=next_theta,
        new_source_sd=float(doc.get("prediction", {}).get("new_source_sd", 0.0)),
    )


@cache
def load_current_model() -> CurrentModel:
    from rplcare.prognosis.model import load_model, load_parameters

    return current_from_json(load_parameters()["current_pregnancy"], load_model().theta)
