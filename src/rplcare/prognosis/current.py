r"""Current-pregnancy model: risk of loss from today's gestational day to 12 and 20 weeks.

A weekly hazard, held constant within each week and spread over its days,

.. math::

    \operatorname{logit} h_w = c_0 + c_1 (w - 8) + c_2 (w - 8)^2 + c_3\,[\text{no heartbeat}]
        + \gamma\,k + A(\text{age}),

where :math:`k` is the number of previous miscarriages and :math:`A` is the next-pregnancy
model's age curve relative to age 30 (shared, as the registries show the same J-shape). The
risk from day :math:`d` to day :math:`D` is :math:`1 - \prod_{t=d}^{D-1} (1 - h_{w(t)})^{1/7}`.
Fitted by maximum likelihood (normal errors on the logit / log-odds-ratio scale with a common
residual SD, because the sources' own standard errors are mostly not published).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from rplcare.prognosis import frailty
from rplcare.prognosis.frailty import Array
from rplcare.prognosis.model import Z95, Estimate, age_curve

PARAMS = ("c0", "c1", "c2", "c3_unconfirmed", "c4_unconfirmed_slope", "gamma_per_loss")
LAST_DAY = 175  # hazards are modelled through 24 completed weeks (Westin follows to 25 weeks)
WEEK_12 = 84
WEEK_20 = 140
CURVE_FROM_DAY = 35  # charts start at 5 weeks
MAX_WEEKLY_HAZARD = 1.0 - 1e-12


def weekly_hazard(params: Array, heartbeat: bool, losses: int, age_shift: float) -> Array:
    """Hazard for weeks 0..24; shape (batch, 25)."""
    params = np.atleast_2d(params)
    w = np.arange(0, LAST_DAY // 7 + 1, dtype=float) - 8.0
    c0, c1, c2, c3, c4, g = (params[:, i : i + 1] for i in range(6))
    shift = g * losses + age_shift
    after_heartbeat = frailty.expit(c0 + c1 * w + c2 * w**2 + shift)
    if not heartbeat:
        # Before viability is confirmed, an extra hazard of failure that fades with gestation.
        extra = frailty.expit(c3 + c4 * w + shift)
        after_heartbeat = 1.0 - (1.0 - after_heartbeat) * (1.0 - extra)
    # A weekly hazard of exactly 1 would make the log-survival infinite at extreme inputs.
    return np.clip(after_heartbeat, 0.0, MAX_WEEKLY_HAZARD)


def risk_between(
    params: Array, from_day: int, to_day: int, heartbeat: bool, losses: int, age_shift: float = 0.0
) -> Array:
    if to_day <= from_day:
        return np.zeros(np.atleast_2d(params).shape[0])
    h = weekly_hazard(params, heartbeat, losses, age_shift)
    days = np.arange(from_day, to_day)
    log_survival = (np.log1p(-h[:, days // 7]) / 7.0).sum(axis=-1)
    return np.asarray(-np.expm1(log_survival), dtype=float)


@dataclass(frozen=True)
class CurrentModel:
    params: Array
    covariance: Array
    residual_sd: float
    next_theta: Array  # next-pregnancy parameters, for the shared age curve

    def age_shift(self, age: float) -> float:
        theta = self.next_theta[None, :]
        return float(age_curve(theta, age)[0] - age_curve(theta, 30.0)[0])

    def predict(self, day: int, to_day: int, heartbeat: bool, losses: int, age: float) -> Estimate:
        step = 1e-5
        batch = np.vstack([self.params, self.params + step * np.eye(len(self.params))])
        values = frailty.logit(
            np.clip(
                risk_between(batch, day, to_day, heartbeat, losses, self.age_shift(age)),
                1e-12,
                1 - 1e-12,
            )
        )
        centre = float(values[0])
        grad = (values[1:] - values[0]) / step
        var = max(float(grad @ self.covariance @ grad), 0.0)

        def band(extra: float) -> tuple[float, float]:
            half = Z95 * np.sqrt(var + extra)
            lo, hi = frailty.expit(np.array([centre - half, centre + half]))
            return float(lo), float(hi)

        if to_day <= day:
            return Estimate(0.0, (0.0, 0.0), (0.0, 0.0))
        return Estimate(
            float(frailty.expit(np.array(centre))), band(0.0), band(self.residual_sd**2)
        )

    def curve(
        self, heartbeat: bool, losses: int, age: float, to_day: int = WEEK_20
    ) -> list[dict[str, float]]:
        """Risk of loss from each day (5 to 20 weeks) until `to_day`, for charts."""
        h = weekly_hazard(self.params, heartbeat, losses, self.age_shift(age))[0]
        days = np.arange(CURVE_FROM_DAY, to_day)
        daily = np.log1p(-h[days // 7]) / 7.0
        # log-survival from each day to `to_day`: reversed cumulative sum of the daily terms
        remaining = np.cumsum(daily[::-1])[::-1]
        risks = -np.expm1(remaining)
        return [
            {"day": int(d), "risk": round(float(r), 5)} for d, r in zip(days, risks, strict=True)
        ]


def _components(spec: dict[str, Any]) -> list[tuple[str, float, Any]]:
    out: list[tuple[str, float, Any]] = []
    for o in spec["observations"]:

        def fn(p: Array, o: dict[str, Any] = o) -> Array:
            r = risk_between(p, o["from_day"], o["to_day"], o["heartbeat"], o["losses"])
            return frailty.logit(np.clip(r, 1e-12, 1 - 1e-12))

        out.append((o["id"], float(frailty.logit(o["risk"])), fn))
    for o in spec["hazards"]:

        def fn_h(p: Array, o: dict[str, Any] = o) -> Array:
            return frailty.logit(weekly_hazard(p, o["heartbeat"], 0, 0.0)[:, o["week"]])

        out.append((o["id"], float(frailty.logit(o["hazard"])), fn_h))
    for o in spec["odds_ratios"]:

        def fn_or(p: Array, o: dict[str, Any] = o) -> Array:
            if o["per"] == "week":
                a = risk_between(p, o["at_day"] + 7, o["to_day"], True, 0)
                b = risk_between(p, o["at_day"], o["to_day"], True, 0)
            else:
                a = risk_between(p, o["at_day"], o["to_day"], True, 1)
                b = risk_between(p, o["at_day"], o["to_day"], True, 0)
            return frailty.logit(a) - frailty.logit(b)

        out.append((o["id"], float(np.log(o["odds_ratio"])), fn_or))
    return out


def fit_current(spec: dict[str, Any]) -> dict[str, Any]:
    from scipy.optimize import minimize  # fitting only: keeps prediction imports light

    comps = _components(spec)

    def nll(x: Array) -> float:
        p, sd = x[:6][None, :], np.exp(x[6])
        with np.errstate(all="ignore"):
            res = np.array([y - float(fn(p)[0]) for _, y, fn in comps])
        if not np.all(np.isfinite(res)):
            return 1e12
        return float(0.5 * (res @ res) / sd**2 + len(res) * np.log(sd))

    start = np.array([-3.5, -0.3, 0.01, -3.0, -0.3, 0.4, np.log(0.3)])
    best = minimize(
        nll, start, method="Nelder-Mead", options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-10}
    )
    quasi = minimize(nll, best.x, method="L-BFGS-B")
    # Finite-difference gradients can make L-BFGS-B stop with a line-search warning at the
    # optimum itself (seen on some CPUs/BLAS builds): convergence is judged by a derivative-free
    # polish that agrees with it, as for the next-pregnancy model.
    best = minimize(
        nll, quasi.x, method="Powell", options={"xtol": 1e-8, "ftol": 1e-12, "maxfev": 50000}
    )
    converged = bool(best.success) and abs(best.fun - quasi.fun) < 1e-3
    h = 1e-4
    n = len(best.x)
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hess[i, j] = (
                nll(best.x + ei + ej)
                - nll(best.x + ei - ej)
                - nll(best.x - ei + ej)
                + nll(best.x - ei - ej)
            ) / (4 * h * h)
    cov = np.linalg.inv(hess)
    params = best.x[:6]
    return {
        "method": (
            "maximum likelihood, common residual SD (sources' standard errors mostly "
            "unpublished); covariance = inverse observed information"
        ),
        "converged": converged,
        "parameters": {k: float(v) for k, v in zip(PARAMS, params, strict=True)},
        "residual_sd": float(np.exp(best.x[6])),
        "covariance": cov[:6, :6].tolist(),
        "residuals": [
            {"id": cid, "observed": y, "model": float(fn(params[None, :])[0])}
            for cid, y, fn in comps
        ],
    }


def current_from_json(doc: dict[str, Any], next_theta: Array) -> CurrentModel:
    return CurrentModel(
        params=np.array([doc["parameters"][k] for k in PARAMS]),
        covariance=np.array(doc["covariance"]),
        residual_sd=float(doc["residual_sd"]),
        next_theta=next_theta,
    )


@cache
def load_current_model() -> CurrentModel:
    from rplcare.prognosis.model import load_model, load_parameters

    return current_from_json(load_parameters()["current_pregnancy"], load_model().theta)
