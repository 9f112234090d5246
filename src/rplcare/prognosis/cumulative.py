r"""Chance of a live birth within 1, 2 and 5 years of trying: time to pregnancy, repeated attempts.

Month by month, a woman who is trying conceives with her own **fecundability** $f$, which
varies between women as $f \sim \mathrm{Beta}(\mu\kappa, (1-\mu)\kappa)$ (the beta-geometric
time-to-pregnancy model); her odds of conceiving are multiplied by Koki 2025's fertility odds
ratios above age 35, with BMI above 25 and with smoking. Each pregnancy ends

- in a live birth with the fitted next-pregnancy chance (``predict.estimates``: age, history,
  setting, BMI, smoking, PCOS),
- in a miscarriage with the fitted risk, after which her history gains a loss (so the frailty
  model raises the risk of the next one) and she tries again,
- or in an ectopic pregnancy or stillbirth (Nybo Andersen 2000), after which she tries again
  with the same history.

She grows a year older every twelve months. The mean fecundability $\mu$ (one per setting) and
the spread $\kappa$ are calibrated by maximum likelihood to the published cohort figures in
``explorer.yaml`` (time to conception: Kaandorp 2014, Koki 2025, Kling 2018, Wildenschild 2019;
the long-run plateau: Lund 2012 at 15 years), with a residual heterogeneity $\tau$ on the logit
scale estimated alongside (random-effects style), as in the next-pregnancy fit.

**Time is counted to the start of the pregnancy that ends in a live birth**: the reference
files give no duration of pregnancy, so the birth itself comes that pregnancy's length later,
and a miscarriage is followed at once by the next month of trying. Both make the shorter
horizons optimistic; the 5-year figure is compared with Lund 2012 and Kling 2018's 5-year live
births (validation, not fitted).

Intervals (delta method on the logit scale, as for the per-pregnancy estimates): the confidence
interval moves the per-pregnancy risks together within their confidence intervals (one common
deviate, since the same parameters drive all of them) and the calibrated parameters by their
covariance; the prediction interval uses the per-pregnancy prediction intervals and adds
$\tau$ to $\operatorname{logit}\mu$ (a new population of that setting).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from importlib import resources
from typing import Any

import numpy as np
import yaml

from rplcare.prognosis.data import Setting
from rplcare.prognosis.frailty import Array, expit, logit
from rplcare.prognosis.model import (
    Z95,
    Estimate,
    FittedModel,
    covariate_shift,
    load_model,
    load_parameters,
    risks_after_more_losses,
)
from rplcare.prognosis.predict import estimates

YEARS = (1, 2, 5)
#: Gauss-Jacobi quadrature points for the fecundability distribution.
GRID = 20
#: Further miscarriages tracked after the start; later ones keep the last risk.
MAX_EXTRA = 4
#: Calendar: months in a week (the reference gives Kaandorp's median in weeks).
MONTHS_PER_WEEK = 7.0 / (365.25 / 12.0)
SETTINGS: tuple[Setting, ...] = ("clinic", "population")

METHOD = (
    "beta-geometric time to pregnancy (fecundability varying between women) calibrated to "
    "published cohorts, each pregnancy ending in a live birth, a miscarriage (history gains a "
    "loss, risk re-estimated) or an ectopic pregnancy or stillbirth, trying again after a loss; "
    "time counted to the start of the pregnancy that ends in a live birth; intervals by the "
    "delta method over the per-pregnancy intervals and the calibration's uncertainty"
)


@dataclass(frozen=True)
class YearEstimate:
    years: int
    estimate: Estimate

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        return {"years": self.years, **self.estimate.as_dict(digits)}


@cache
def load_explorer() -> dict[str, Any]:
    text = resources.files("rplcare.prognosis").joinpath("explorer.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text))


def citations(keys: Sequence[str]) -> list[str]:
    table = load_explorer()["citations"]
    return [table[k] for k in dict.fromkeys(keys)]


# ---------------------------------------------------------------- per-pregnancy inputs


@dataclass(frozen=True)
class PregnancyRisks:
    """Miscarriage risk on the logit scale with its standard errors, indexed [year, extra
    losses]; `keep` = 1 - ectopic and stillbirth risk for each year of age."""

    logit: Array
    se_ci: Array
    se_pi: Array
    keep: Array


def _se(band: tuple[float, float]) -> float:
    lo, hi = logit(np.clip(np.array(band), 1e-9, 1 - 1e-9))
    return float(max(hi - lo, 0.0) / (2 * Z95))


def pregnancy_risks(
    age: float,
    history: str,
    setting: Setting,
    n_years: int,
    *,
    bmi: float | None = None,
    smoker: bool = False,
    pcos: bool = False,
    model: FittedModel | None = None,
    first: Estimate | None = None,
) -> PregnancyRisks | str:
    """The fitted per-pregnancy risks as she ages and loses pregnancies, or why the first one
    lies outside the model's data. Later ages and loss counts beyond the data are held at the
    last covered value. The standard errors are the first pregnancy's (one delta-method
    evaluation stands for the whole table: they barely move with a year of age or a loss)."""
    model = model or load_model()
    if first is None:
        first = estimates(age, history, setting, bmi=bmi, smoker=smoker, pcos=pcos, model=model)[0]
    if first.estimate is None or first.confidence_interval is None or first.interval is None:
        return first.reason or "outside the model's data"
    domain = model.info["domain"]
    ages = np.minimum(age + np.arange(n_years, dtype=float), float(domain["ages"][1]))
    shift = covariate_shift(model.effects, bmi, smoker, pcos)
    room = max(int(domain["losses"][1]) - history.count("L"), 0)
    covered = min(MAX_EXTRA, room)
    r = risks_after_more_losses(model.theta, ages, history, setting, shift, covered)
    # further losses beyond the data keep the last covered risk
    r = np.concatenate([r, np.repeat(r[:, -1:], MAX_EXTRA - covered, axis=1)], axis=1)
    logits = logit(np.clip(r, 1e-12, 1 - 1e-12))
    keep = np.array([1.0 - model.other_loss_risk(float(a)) for a in ages])
    shape = logits.shape
    return PregnancyRisks(
        logits,
        np.full(shape, _se(first.confidence_interval)),
        np.full(shape, _se(first.interval)),
        keep,
    )


# ---------------------------------------------------------------- the chain

#: States: 0..MAX_EXTRA = trying after that many further losses; then live birth. A woman who
#: stops trying leaves the chain (only the live-birth state is read).
LIVE = MAX_EXTRA + 1
N_STATES = MAX_EXTRA + 2
_J = np.arange(MAX_EXTRA + 1)
#: Flat positions in a (N_STATES, N_STATES) matrix: staying put, one more loss, a live birth
#: (all from the trying states), and the live birth kept.
_STAY = _J * N_STATES + _J
_ONWARD = _J[:-1] * N_STATES + _J[:-1] + 1
_BIRTH = _J * N_STATES + LIVE
_KEPT = np.array([LIVE * N_STATES + LIVE])
_ENTRIES = np.concatenate([_STAY, _ONWARD, _BIRTH, _KEPT])


def _roots_jacobi(n: int, alpha: float, beta: float) -> tuple[Array, Array]:
    # SciPy's import takes most of a second: prediction reads stored grids instead (below).
    from scipy import special

    x, w = special.roots_jacobi(n, alpha, beta)
    return np.asarray(x), np.asarray(w)


def fecundability_grid(mu_logit: Array, log_kappa: Array) -> tuple[Array, Array]:
    """(draws, GRID) fecundabilities and their weights: Gauss-Jacobi quadrature of each draw's
    beta law (exact for polynomials in f up to degree 2 GRID - 1)."""
    mu = expit(np.atleast_1d(np.asarray(mu_logit, dtype=float)))
    kappa = np.exp(np.atleast_1d(np.asarray(log_kappa, dtype=float)))
    nodes = np.zeros((len(mu), GRID))
    weights = np.zeros((len(mu), GRID))
    for i, (m, k) in enumerate(zip(mu, kappa, strict=True)):
        x, w = _roots_jacobi(GRID, (1 - m) * k - 1, m * k - 1)
        nodes[i], weights[i] = (1 + x) / 2, w / w.sum()
    return np.clip(nodes, 1e-12, 1 - 1e-12), weights


def fecundability_shift(
    age: float | None, months: int, *, bmi: float | None, smoker: bool
) -> Array:
    """Log odds ratio on the monthly fecundability for each month of trying."""
    eff = load_explorer()["cumulative"]["fecundability_effects"]
    shift = np.zeros(months)
    if age is not None:
        e = eff["age_over_35"]
        ages = age + np.arange(months) / 12.0
        shift += np.log(e["odds_ratio"]) * (ages > e["above"])
    if bmi is not None and bmi > eff["bmi_over_25"]["above"]:
        shift += np.log(eff["bmi_over_25"]["odds_ratio"])
    if smoker:
        shift += np.log(eff["smoking"]["odds_ratio"])
    return shift


def conceived_by(grid: tuple[Array, Array], shift: Array, months: float) -> Array:
    """Share of women who have conceived within `months` (fractional months allowed)."""
    f, w = grid
    whole = int(np.floor(months))
    frac = months - whole
    ft = expit(logit(f)[:, None, :] + shift[None, : whole + 1, None])
    log_surv = np.log1p(-ft[:, :whole, :]).sum(axis=1)
    if frac > 0:
        log_surv = log_surv + frac * np.log1p(-ft[:, whole, :])
    return np.asarray(1.0 - (w * np.exp(log_surv)).sum(axis=1))


def live_birth_curve(
    grid: tuple[Array, Array], shift: Array, mis_logit: Array, keep: Array, stop: Array
) -> Array:
    """(draws, years) share who have started a pregnancy ending in a live birth by the end of
    each year. Month by month she conceives (fecundability, shifted by age, BMI, smoking);
    the pregnancy ends in a live birth, a miscarriage (one more loss), or an ectopic pregnancy
    or stillbirth (same history); after a loss she stops trying with probability `stop`.
    Risks and the fecundability shift are those at the start of each year (12 equal months:
    the yearly transition is the monthly matrix to the 12th power). `mis_logit` is
    (draws, years, MAX_EXTRA + 1); `stop` is (draws,)."""
    f, w = grid
    draws, n_years = mis_logit.shape[0], mis_logit.shape[1]
    # Every year's monthly transition probabilities at once, (draws, years, GRID, J)...
    ft = expit(logit(f)[:, None, :] + shift[12 * np.arange(n_years)][None, :, None])[..., None]
    p = expit(mis_logit)[:, :, None, :]
    kept = keep[None, :n_years, None, None]
    s = stop[:, None, None, None]
    live = ft * (1 - p) * kept
    other = ft * (1 - p) * (1 - kept)
    mis = ft * p
    stay = (1 - ft) + other * (1 - s)
    onward = mis * (1 - s)
    # after the last tracked loss, a further loss keeps the same (last) risk
    stay[..., MAX_EXTRA] += onward[..., MAX_EXTRA]
    entries = np.concatenate(
        [stay, onward[..., :MAX_EXTRA], live, np.ones((*live.shape[:-1], 1))], axis=-1
    )
    dist = np.zeros((draws, GRID, 1, N_STATES))
    dist[:, :, 0, 0] = w
    out = np.zeros((draws, n_years))
    # ...but the matrices a year at a time: stacks of all years are large enough for the
    # allocator to hand out fresh pages on every product, which cost more than the products.
    for y in range(n_years):
        flat = np.zeros((draws, GRID, N_STATES * N_STATES))
        flat[..., _ENTRIES] = entries[:, y]
        m = flat.reshape(draws, GRID, N_STATES, N_STATES)
        # twelve months by squaring (np.linalg.matrix_power is much slower on stacks)
        m4 = (m2 := m @ m) @ m2
        dist = dist @ ((m4 @ m4) @ m4)
        out[:, y] = dist[:, :, 0, LIVE].sum(axis=1)
    return out


# ---------------------------------------------------------------- calibration

#: Calibrated: logit mu (clinic), logit mu (population), log kappa, logit stop; then log tau.
PHI = ("logit_mu_clinic", "logit_mu_population", "log_kappa", "logit_stop")


@dataclass(frozen=True)
class Calibration:
    """The time-to-pregnancy and stopping parameters, their covariance, the residual SD tau."""

    phi: Array
    covariance: Array
    tau: float
    targets: tuple[dict[str, Any], ...]

    def mu_logit(self, setting: Setting) -> float:
        return float(self.phi[SETTINGS.index(setting)])

    def as_dict(self) -> dict[str, Any]:
        se = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        return {
            "mean_fecundability": {
                s: round(float(expit(np.array(self.mu_logit(s)))), 4) for s in SETTINGS
            },
            "beta_concentration": round(float(np.exp(self.phi[2])), 3),
            "stop_after_loss": round(float(expit(np.array(self.phi[3]))), 3),
            "standard_errors": {k: round(float(v), 3) for k, v in zip(PHI, se, strict=True)},
            "residual_sd_logit": round(self.tau, 3),
        }


def _target_months(t: dict[str, Any]) -> float:
    return float(t["months"]) if "months" in t else float(t["weeks"]) * MONTHS_PER_WEEK


def _obs_var(t: dict[str, Any]) -> float:
    if "ci" in t:
        return _se((float(t["ci"][0]), float(t["ci"][1]))) ** 2
    p = float(t["value"])
    return 1.0 / (float(t["n"]) * p * (1 - p))


@cache
def _target_risks(setting: Setting, age: float, history: str, n_years: int) -> PregnancyRisks:
    risks = pregnancy_risks(age, history, setting, n_years)
    if isinstance(risks, str):
        raise ValueError(f"calibration target outside the model's data: {risks}")
    return risks


def target_value(t: dict[str, Any], phi: Array) -> float:
    """The model's value for one published figure at calibration parameters `phi`."""
    grid = fecundability_grid(np.array([phi[SETTINGS.index(t["setting"])]]), np.array([phi[2]]))
    months = _target_months(t)
    age = float(t["age"]) if "age" in t else None
    shift = fecundability_shift(age, int(np.ceil(months)) + 1, bmi=None, smoker=False)
    if t["kind"] == "conception":
        return float(conceived_by(grid, shift, months)[0])
    n_years = round(months / 12)
    risks = _target_risks(t["setting"], float(t["age"]), str(t["history"]), n_years)
    stop = expit(np.array([phi[3]]))
    curve = live_birth_curve(grid, shift, risks.logit[None], risks.keep, stop)
    return float(curve[0, n_years - 1])


def _nll(x: Array, targets: Sequence[dict[str, Any]]) -> float:
    tau2 = float(np.exp(2 * x[4]))
    total = 0.0
    for t in targets:
        m = float(np.clip(target_value(t, x[:4]), 1e-9, 1 - 1e-9))
        resid = float(logit(np.array(float(t["value"]))) - logit(np.array(m)))
        var = _obs_var(t) + tau2
        total += 0.5 * (resid**2 / var + np.log(var))
    return total


def _hessian(fun: Any, x: Array, step: float = 1e-3) -> Array:
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
            h[i, j] = h[j, i] = (
                fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            ) / (4 * step * step)
    return h


def fit_calibration() -> Calibration:
    """Maximum likelihood for PHI and log tau against the published cohort figures."""
    targets = tuple(load_explorer()["cumulative"]["calibration"])
    start = np.array([-1.5, -1.5, np.log(3.0), 0.0, np.log(0.2)])
    from scipy import optimize

    res = optimize.minimize(_nll, start, args=(targets,), method="L-BFGS-B")
    x = np.asarray(res.x)
    hess = _hessian(lambda v: _nll(v, targets), x)
    cov = np.linalg.pinv(hess)[:4, :4]
    return Calibration(x[:4], (cov + cov.T) / 2, float(np.exp(x[4])), targets)


#: The calibration, written by `rplcare model fit` (it takes about a second; prediction only
#: reads it). Valid for the cohort figures and next-pregnancy parameters it was fitted with.
CALIBRATION_FILE = "cumulative.json"


def calibration_inputs_sha() -> str:
    explorer = resources.files("rplcare.prognosis").joinpath("explorer.yaml").read_bytes()
    params = json.dumps(load_parameters()["next_pregnancy"]["parameters"], sort_keys=True)
    return sha256(explorer + params.encode()).hexdigest()


def _grids_for(cal: Calibration, setting: Setting) -> tuple[Array, Array]:
    """Fecundability quadrature for the centre and for each calibrated parameter nudged by
    STEP (rows: centre, then PHI in order): the same for every woman of a setting."""
    phis = np.repeat(cal.phi[None, :], 1 + len(PHI), axis=0)
    phis[1:] += STEP * np.eye(len(PHI))
    return fecundability_grid(phis[:, SETTINGS.index(setting)], phis[:, 2])


def calibration_document(cal: Calibration) -> dict[str, Any]:
    grids = {s: _grids_for(cal, s) for s in SETTINGS}
    return {
        "schema": "rplcare.cumulative-calibration/1",
        "inputs_sha256": calibration_inputs_sha(),
        "parameters": dict(zip(PHI, map(float, cal.phi), strict=True)),
        "covariance": cal.covariance.tolist(),
        "tau": cal.tau,
        "summary": cal.as_dict(),
        # Quadrature nodes and weights per setting, so that prediction needs no SciPy.
        "grids": {s: {"nodes": f.tolist(), "weights": w.tolist()} for s, (f, w) in grids.items()},
    }


@cache
def _stored() -> dict[str, Any] | None:
    path = resources.files("rplcare.prognosis").joinpath(CALIBRATION_FILE)
    if not path.is_file():
        return None
    doc = dict(json.loads(path.read_text("utf-8")))
    return doc if doc.get("inputs_sha256") == calibration_inputs_sha() else None


@cache
def calibrate() -> Calibration:
    """The stored calibration when it matches the current inputs; otherwise fitted now."""
    doc = _stored()
    if doc is not None:
        targets = tuple(load_explorer()["cumulative"]["calibration"])
        phi = np.array([doc["parameters"][k] for k in PHI])
        return Calibration(phi, np.array(doc["covariance"]), float(doc["tau"]), targets)
    return fit_calibration()


# ---------------------------------------------------------------- the estimate


#: Step for the numerical derivatives of the delta-method intervals.
STEP = 1e-3


@cache
def _grid(setting: Setting) -> tuple[Array, Array]:
    doc = _stored()
    if doc is not None and "grids" in doc:
        g = doc["grids"][setting]
        return np.array(g["nodes"]), np.array(g["weights"])
    return _grids_for(calibrate(), setting)


def cumulative_live_birth(
    age: float,
    history: str,
    setting: Setting,
    *,
    bmi: float | None = None,
    smoker: bool = False,
    pcos: bool = False,
    years: Sequence[int] = YEARS,
    model: FittedModel | None = None,
    first: Estimate | None = None,
) -> list[YearEstimate]:
    """Chance of starting, within each horizon from now, the pregnancy that ends in a live
    birth, in the given setting; out-of-range estimates, with the reason, when the
    next-pregnancy estimate lies outside the model's data.

    Intervals by the delta method on the logit scale, like the per-pregnancy ones: the
    per-pregnancy risks move together (one common deviate, their confidence or prediction
    standard error), the calibrated parameters by their covariance, and the prediction
    interval adds the between-study spread tau to the mean fecundability."""
    horizon = max(years)
    risks = pregnancy_risks(
        age, history, setting, horizon, bmi=bmi, smoker=smoker, pcos=pcos, model=model,
        first=first,
    )  # fmt: skip
    if isinstance(risks, str):
        return [YearEstimate(y, Estimate.outside(risks)) for y in years]
    cal = calibrate()
    shift = fecundability_shift(age, 12 * horizon, bmi=bmi, smoker=smoker)
    f, w = _grid(setting)
    n = 1 + len(PHI)
    # rows: centre and PHI nudges (grid rows), then the risks nudged by their CI and PI SEs
    grid = (np.vstack([f, f[:1], f[:1]]), np.vstack([w, w[:1], w[:1]]))
    mis = np.repeat(risks.logit[None], n + 2, axis=0)
    mis[n] += STEP * risks.se_ci
    mis[n + 1] += STEP * risks.se_pi
    stop_logit = np.full(n + 2, cal.phi[3])
    stop_logit[1 + PHI.index("logit_stop")] += STEP
    curves = live_birth_curve(grid, shift, mis, risks.keep, expit(stop_logit))
    lc = logit(np.clip(curves, 1e-9, 1 - 1e-9))
    d_phi = (lc[1:n] - lc[0]) / STEP  # (PHI, years)
    d_ci, d_pi = (lc[n] - lc[0]) / STEP, (lc[n + 1] - lc[0]) / STEP
    var_phi = np.einsum("iy,ij,jy->y", d_phi, cal.covariance, d_phi)
    d_mu = d_phi[SETTINGS.index(setting)]
    var_ci = var_phi + d_ci**2
    var_pi = var_phi + d_pi**2 + (d_mu * cal.tau) ** 2
    out = []
    for y in years:
        i = y - 1
        centre = float(lc[0, i])

        def band(var: float, c: float = centre) -> tuple[float, float]:
            half = Z95 * float(np.sqrt(max(var, 0.0)))
            lo, hi = expit(np.array([c - half, c + half]))
            return float(lo), float(hi)

        est = float(expit(np.array(centre)))
        out.append(YearEstimate(y, Estimate(est, band(var_ci[i]), band(var_pi[i]))))
    return out


def describe(setting: Setting) -> dict[str, Any]:
    """What the JSON block says besides the numbers: setting, what is counted, sources."""
    cal = calibrate()
    keys = [t["source"] for t in cal.targets]
    keys += [e["source"] for e in load_explorer()["cumulative"]["fecundability_effects"].values()]
    return {
        "setting": setting,
        "counted_from": "the start of trying (now)",
        "counted_to": "the start of the pregnancy that ends in a live birth (the birth follows "
        "that pregnancy's length later)",
        "method": METHOD,
        "citations": citations(keys),
    }
