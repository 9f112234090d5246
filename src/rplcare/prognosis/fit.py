"""Fit the next-pregnancy model jointly to the published data (maximum likelihood).

Every published figure becomes one or more *components*: an observed value on the logit or
log scale, its sampling standard error, and the model's value for it. Absolute risks from one
source share a source random effect (SD ``tau_between``) plus a residual (``tau_within``);
relative measures (odds ratios, ratios of shares) get their own extra spread
(``tau_relative``). Heterogeneity is estimated with the other parameters, as a random-effects
meta-analysis would, so the prediction interval carries it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import numpy as np
from scipy.optimize import minimize

from rplcare.prognosis import frailty
from rplcare.prognosis.data import (
    Observation,
    PublishedData,
    Setting,
    current_pregnancy_domain,
    load_published_data,
    next_pregnancy_domain,
    prediction_context,
)
from rplcare.prognosis.frailty import Array
from rplcare.prognosis.model import RHO_MAX, TAUS, THETA, age_curve, risk, unpack

MODEL_VERSION = "next-pregnancy/1"
REFERENCE_AGE = 30.0  # age at which odds ratios are evaluated (ORs were age-adjusted)


@dataclass(frozen=True)
class Component:
    id: str
    source: str
    setting: Setting
    relative: bool
    observed: float  # logit risk, or log ratio
    se: float
    scale: str  # "logit" or "log"
    model: Callable[[Array], Array]


def _logit_se(events: float, n: float) -> float:
    p = events / n
    return float(1.0 / np.sqrt(n * p * (1.0 - p)))


def _log_se(ci: list[float]) -> float:
    return float((np.log(ci[1]) - np.log(ci[0])) / (2 * 1.959963984540054))


def age_mix(data: PublishedData) -> list[tuple[float, float]]:
    """Single-year ages weighted by the Magnus 2019 pregnancies (for sources without ages)."""
    obs = next(o for o in data.observations if o.id == "magnus-2019.age")
    mix = []
    for band in obs.spec["bands"]:
        lo, hi = band["ages"]
        years = range(lo, hi + 1)
        mix += [(float(a), band["n"] / len(years)) for a in years]
    total = sum(w for _, w in mix)
    return [(a, w / total) for a, w in mix]


class _RiskMemo:
    """Memo of `risk` for one parameter batch: components share (age, history, setting)
    evaluations (the registries' age bands and the Magnus age mix use the same ages), so one
    likelihood evaluation computes each only once. Cleared whenever the batch changes."""

    def __init__(self) -> None:
        self.key = b""
        self.values: dict[tuple[float, str, str], Array] = {}

    def __call__(self, theta: Array, age: float, history: str, setting: Setting) -> Array:
        theta = np.atleast_2d(theta)
        key = theta.tobytes()
        if key != self.key:
            self.key, self.values = key, {}
        k = (float(age), history, setting)
        if k not in self.values:
            self.values[k] = risk(theta, age, history, setting)
        return self.values[k]


_risk = _RiskMemo()


def _mixed_risk(
    theta: Array, mix: list[tuple[float, float]], history: str, setting: Setting
) -> Array:
    return sum(w * _risk(theta, a, history, setting) for a, w in mix)  # type: ignore[return-value]


def _calibrated_eta(theta: Array, target: float) -> Array:
    """Linear predictor whose population-average risk equals `target` (Newton steps)."""
    sigma, _, _ = unpack(theta)
    eta = np.full(theta.shape[0], float(frailty.logit(target)))
    for _ in range(12):
        p = frailty.grid_risk(eta, sigma)
        m = (p * frailty.PRIOR).sum(-1)
        dm = (p * (1 - p) * frailty.PRIOR).sum(-1)
        eta = eta - (m - target) / dm
    return eta


def components(data: PublishedData) -> list[Component]:
    mix = age_mix(data)
    out: list[Component] = []
    for o in data.observations:
        out += _components_of(o, mix, data.other_loss_risk)
    return out


def _history(k: int, births: int) -> str:
    return "B" * births + "L" * k


def _components_of(
    o: Observation, mix: list[tuple[float, float]], other_loss: Callable[[float], float]
) -> list[Component]:
    s = o.spec
    setting: Setting = o.setting

    def comp(
        suffix: str, relative: bool, y: float, se: float, scale: str, fn: Callable[[Array], Array]
    ) -> Component:
        return Component(o.id + suffix, o.source, setting, relative, y, se, scale, fn)

    if o.kind == "risk_by_age":
        result = []
        for band in s["bands"]:
            lo, hi = band["ages"]
            ages = [float(a) for a in range(lo, hi + 1)]

            def fn(theta: Array, ages: list[float] = ages) -> Array:
                r = sum(_risk(theta, a, "", setting) for a in ages) / len(ages)
                return frailty.logit(r)

            y = float(frailty.logit(band["events"] / band["n"]))
            result.append(
                comp(f"[{lo}-{hi}]", False, y, _logit_se(band["events"], band["n"]), "logit", fn)
            )
        return result
    if o.kind in ("risk", "live_birth"):
        history = _history(s["k"], s["births"])
        # secondary RPL: this share had a live birth before the losses
        share = float(s.get("birth_share", 0.0))
        age = s.get("age")

        def fn_history(theta: Array, history: str) -> Array:
            if age is None:
                return _mixed_risk(theta, mix, history, setting)
            return _risk(theta, float(age), history, setting)

        def fn_risk(theta: Array) -> Array:
            r = fn_history(theta, history)
            if share:
                r = (1.0 - share) * r + share * fn_history(theta, "B" + history)
            if o.kind == "live_birth":
                r = 1.0 - (1.0 - r) * (1.0 - other_loss(float(age or REFERENCE_AGE)))
            return frailty.logit(r)

        events = s["events"] if o.kind == "risk" else s["n"] - s["events"]
        y = float(frailty.logit(events / s["n"]))
        return [comp("", False, y, _logit_se(events, s["n"]), "logit", fn_risk)]
    if o.kind == "risk_ci":
        lo, hi = s["ci"]
        se = float((frailty.logit(hi) - frailty.logit(lo)) / (2 * 1.959963984540054))

        def fn_mix(theta: Array) -> Array:
            return frailty.logit(_mixed_risk(theta, mix, "", setting))

        return [comp("", False, float(frailty.logit(s["estimate"])), se, "logit", fn_mix)]
    if o.kind == "odds_ratio":
        k, k_ref = s["k"], s["k_ref"]

        def fn_or(theta: Array) -> Array:
            r1 = _risk(theta, REFERENCE_AGE, "L" * k, setting)
            r0 = _risk(theta, REFERENCE_AGE, "L" * k_ref, setting)
            return frailty.logit(r1) - frailty.logit(r0)

        return [comp("", True, float(np.log(s["estimate"])), _log_se(s["ci"]), "log", fn_or)]
    if o.kind == "risk_ratio_live_birth":
        k, rr_age = s["k"], float(s["age"])

        def fn_rr(theta: Array) -> Array:
            r1 = _risk(theta, rr_age, "L" * (k + 1), setting)
            r0 = _risk(theta, rr_age, "L" * k, setting)
            return np.log1p(-r1) - np.log1p(-r0)

        return [comp("", True, float(np.log(s["estimate"])), _log_se(s["ci"]), "log", fn_rr)]
    if o.kind == "viable_odds_ratio":
        per, k, v_age = s["per"], s["k"], float(s["age"])

        def fn_viable(theta: Array) -> Array:
            if per == "age":
                a, b = (_risk(theta, v_age + d, "L" * k, setting) for d in (1.0, 0.0))
            elif per == "loss":
                a, b = (_risk(theta, v_age, "L" * n, setting) for n in (k + 1, k))
            else:  # a previous live birth before the losses
                a, b = (_risk(theta, v_age, h + "L" * k, setting) for h in ("B", ""))
            return frailty.logit(1.0 - a) - frailty.logit(1.0 - b)

        y = float(np.log(s["estimate"]))
        se = abs(y) / 1.959963984540054 if "p_value" in s else 0.0
        return [comp("", True, y, se, "log", fn_viable)]
    if o.kind == "irr_loss_before_birth":
        k, irr_age = s["k"], float(s["age"])

        def fn_irr(theta: Array) -> Array:
            with_loss = _risk(theta, irr_age, "LB" + "L" * k, setting)
            without = _risk(theta, irr_age, "B" + "L" * k, setting)
            return np.log(with_loss) - np.log(without)

        return [comp("", True, float(np.log(s["estimate"])), _log_se(s["ci"]), "log", fn_irr)]
    if o.kind == "lifetime_losses":
        shares = s["shares"]
        target = s["per_pregnancy_risk"]

        memo: dict[bytes, Array] = {}

        def shares_fn(theta: Array) -> Array:
            key = np.atleast_2d(theta).tobytes()
            if key not in memo:  # the components of one source share it
                memo.clear()
                sigma, _, lam = unpack(theta)
                memo[key] = frailty.lifetime_loss_shares(_calibrated_eta(theta, target), sigma, lam)
            return memo[key]

        result = []
        for k in range(len(shares) - 1):

            def fn_share(theta: Array, k: int = k) -> Array:
                p = shares_fn(theta)
                return np.log(p[:, k + 1]) - np.log(p[:, k])

            y = float(np.log(shares[k + 1] / shares[k]))
            result.append(comp(f"[{k + 1}v{k}]", True, y, 0.0, "log", fn_share))
        return result
    if o.kind == "prevalence_ratio":
        j, i = s["j"], s["i"]
        est_j, est_i = s["estimate"]
        se = float(np.hypot(_log_se(s["ci_j"]), _log_se(s["ci_i"])))
        target = s["per_pregnancy_risk"]

        def fn_prev(theta: Array) -> Array:
            sigma, _, lam = unpack(theta)
            p = frailty.lifetime_loss_shares(_calibrated_eta(theta, target), sigma, lam, k_max=3)
            return np.log(p[:, j]) - np.log(p[:, i])

        return [comp("", True, float(np.log(est_j / est_i)), se, "log", fn_prev)]
    raise ValueError(f"{o.id}: unknown observation kind {o.kind!r}")


def _neg_loglik(params: Array, comps: list[Component]) -> float:
    with np.errstate(all="ignore"):  # far-off trial points may overflow; they score 1e12
        return _neg_loglik_unguarded(params, comps)


def _neg_loglik_unguarded(params: Array, comps: list[Component]) -> float:
    theta = params[: len(THETA)][None, :]
    tau_b, tau_w, tau_r = np.exp(params[len(THETA) :])
    total = 0.0
    by_source: dict[str, list[tuple[float, float, float]]] = {}
    for c in comps:
        m = float(c.model(theta)[0])
        if not np.isfinite(m):
            return 1e12
        if c.relative:
            var = c.se**2 + tau_r**2
            total += 0.5 * ((c.observed - m) ** 2 / var + np.log(2 * np.pi * var))
        else:
            by_source.setdefault(c.source, []).append((c.observed, m, c.se))
    for rows in by_source.values():
        y = np.array([r[0] - r[1] for r in rows])
        cov = np.diag([r[2] ** 2 + tau_w**2 for r in rows]) + tau_b**2
        _, logdet = np.linalg.slogdet(cov)
        total += 0.5 * (y @ np.linalg.solve(cov, y) + logdet + len(rows) * np.log(2 * np.pi))
    return float(total)


START = np.array(
    [
        -2.2,
        0.1,
        0.8,
        0.3,
        np.log(0.8),
        0.5,
        np.log(1.5),
        -0.3,
        np.log(0.2),
        np.log(0.1),
        np.log(0.1),
    ]
)
BOUNDS = [(-6.0, 2.0), (-3.0, 3.0), (-3.0, 3.0), (-3.0, 3.0), (-4.0, 1.5), (0.0, RHO_MAX)]
BOUNDS += [(-3.0, 3.0), (-4.0, 4.0)] + [(-12.0, 2.0)] * 3


def _hessian(f: Callable[[Array], float], x: Array, h: float = 1e-3) -> Array:
    n = len(x)
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
            hess[i, j] = hess[j, i] = v
    return hess


def _at_bound(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is not None and x - lo < 1e-6) or (hi is not None and hi - x < 1e-6)


@dataclass(frozen=True)
class Optimum:
    x: Array  # THETA then the log heterogeneity SDs
    nll: float
    converged: bool
    free: list[int]  # indices not on a bound (the others get no variance)
    covariance: Array  # of all parameters, zero rows/columns for those on a bound


def optimise(comps: list[Component], start: Array = START, polish: bool = True) -> Optimum:
    """Maximum likelihood for the given components. Quasi-Newton to the optimum, then (with
    `polish`) a derivative-free polish: finite-difference gradients can make L-BFGS-B stop with
    a line-search warning at the optimum itself, so the polish confirms it. `converged` is
    information only: reproducibility is tested by tolerances on the result."""
    objective = lambda p: _neg_loglik(p, comps)  # noqa: E731
    first = minimize(objective, start, method="L-BFGS-B", bounds=BOUNDS)
    best = first
    if polish:
        best = minimize(
            objective,
            first.x,
            method="Powell",
            bounds=BOUNDS,
            options={"xtol": 1e-8, "ftol": 1e-12, "maxfev": 50000},
        )
    converged = bool(best.success) and abs(best.fun - first.fun) < 1e-3
    free = [i for i, (lo, hi) in enumerate(BOUNDS) if not _at_bound(best.x[i], lo, hi)]
    hess = _hessian(objective, best.x)[np.ix_(free, free)]
    cov_all = np.zeros((len(best.x), len(best.x)))
    cov_all[np.ix_(free, free)] = np.linalg.pinv(hess)
    return Optimum(np.asarray(best.x, dtype=float), float(best.fun), converged, free, cov_all)


def fit(data: PublishedData | None = None) -> dict[str, Any]:
    """Fit and return the parameters document (what `rplcare model fit` writes)."""
    data = data or load_published_data()
    comps = components(data)
    opt = optimise(comps)
    best_x, free, cov_all, converged = opt.x, opt.free, opt.covariance, opt.converged
    n_theta = len(THETA)
    theta = best_x[:n_theta]
    taus = np.exp(best_x[n_theta:])
    residuals = [
        {
            "id": c.id,
            "source": c.source,
            "setting": c.setting,
            "scale": c.scale,
            "observed": c.observed,
            "model": float(c.model(theta[None, :])[0]),
            "se": c.se,
        }
        for c in comps
    ]
    return {
        "model_version": MODEL_VERSION,
        "data_sha256": sha256(data.raw_text.encode()).hexdigest(),
        "method": (
            "maximum likelihood (L-BFGS-B, then Powell, within bounds); covariance = inverse "
            "observed information (finite differences); parameters on a bound get no variance"
        ),
        "negative_log_likelihood": opt.nll,
        "converged": converged,
        "at_bound": [name for i, name in enumerate([*THETA, *TAUS]) if i not in free],
        "parameters": {name: float(v) for name, v in zip(THETA, theta, strict=True)},
        "heterogeneity_sd": {
            "between": float(taus[0]),
            "within": float(taus[1]),
            "relative": float(taus[2]),
        },
        "covariance": cov_all[:n_theta, :n_theta].tolist(),
        "standard_errors": {
            name: float(np.sqrt(max(cov_all[i, i], 0.0))) for i, name in enumerate([*THETA, *TAUS])
        },
        "residuals": residuals,
    }


def fit_all() -> dict[str, Any]:
    """Both models, as one versioned document, with the out-of-sample calibration of their
    prediction intervals (leave-one-source-out; validate.py)."""
    from importlib import resources

    import yaml

    from rplcare.prognosis.current import fit_current
    from rplcare.prognosis.validate import (
        TARGET_COVERAGE_LOSO,
        loso_from_fit,
        new_source_sds,
    )

    data = load_published_data()
    raw = yaml.safe_load(
        resources.files("rplcare.prognosis").joinpath("sources.yaml").read_text("utf-8")
    )
    domain = next_pregnancy_domain(data)
    nxt = fit(data)
    theta = np.array([nxt["parameters"][k] for k in THETA])
    doc: dict[str, Any] = {
        "schema": "rplcare.prognosis-parameters/1",
        "data_sha256": sha256(data.raw_text.encode()).hexdigest(),
        "next_pregnancy": {**nxt, "domain": domain},
        "current_pregnancy": {
            **fit_current(raw["current_pregnancy"], theta),
            "domain": current_pregnancy_domain(raw["current_pregnancy"], domain["ages"]),
        },
        "context": prediction_context(data),
    }
    sds = new_source_sds(loso_from_fit(doc))
    method = (
        "extra variance for a new source: the smallest that puts at least "
        f"{TARGET_COVERAGE_LOSO:.0%} of the published figures, each predicted by a refit "
        "without its source (leave-one-source-out), inside their 95% prediction intervals"
    )
    doc["next_pregnancy"]["prediction"] = {
        "new_source_sd": {"absolute": sds["next-absolute"], "relative": sds["next-relative"]},
        "target_coverage": TARGET_COVERAGE_LOSO,
        "method": method,
    }
    doc["current_pregnancy"]["prediction"] = {
        "new_source_sd": sds["current"],
        "target_coverage": TARGET_COVERAGE_LOSO,
        "method": method,
    }
    return doc


def write_parameters(doc: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def derived_summary(doc: dict[str, Any]) -> dict[str, float]:
    theta = np.array([doc["parameters"][n] for n in THETA])[None, :]
    sigma, rho, lam = unpack(theta)
    return {
        "sigma": float(sigma[0]),
        "rho": float(rho[0]),
        "lambda": float(lam[0]),
        "eta30": float(age_curve(theta, 30.0)[0]),
    }
