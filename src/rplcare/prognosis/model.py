r"""Next-pregnancy miscarriage model: an age curve, a woman-level frailty, two settings.

.. math::

    \operatorname{logit} p = a_0 + a_1 x + a_2 x^2 + a_3 x^3 + \beta^\top w
        + c\,[\text{clinic}] + \sigma z, \qquad x = (\text{age} - 30)/10

with :math:`z` updated by the woman's history (``frailty.py``), :math:`w` the cited fixed
effects (smoking, BMI, PCOS) and :math:`c` the clinic offset. Intervals: the delta method on the
logit scale with the fitted covariance gives the confidence interval; adding the between- and
within-source variances (random-effects style) gives the 95% prediction interval for a new
population of that setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from rplcare.prognosis import frailty
from rplcare.prognosis.data import FixedEffect, Setting
from rplcare.prognosis.frailty import Array

#: Parameters with their uncertainty propagated into the confidence interval.
THETA = ("a0", "a1", "a2", "a3", "log_sigma", "rho", "log_lambda", "clinic_offset")
#: Bounds for the fit; rho, the share of frailty kept across a birth, lies in [0, RHO_MAX].
RHO_MAX = 0.99
#: Heterogeneity (log standard deviations): between sources, within source, relative measures.
TAUS = ("log_tau_between", "log_tau_within", "log_tau_relative")
Z95 = 1.959963984540054
AGE_CENTRE = 30.0
AGE_SCALE = 10.0


def age_curve(theta: Array, age: float | Array) -> Array:
    x = (np.asarray(age, dtype=float) - AGE_CENTRE) / AGE_SCALE
    a0, a1, a2, a3 = (theta[..., i] for i in range(4))
    return np.asarray(a0 + a1 * x + a2 * x**2 + a3 * x**3)


def unpack(theta: Array) -> tuple[Array, Array, Array]:
    """sigma, rho, lambda from the (batch of) parameter vectors."""
    sigma = np.exp(theta[..., 4])
    rho = np.clip(theta[..., 5], 0.0, RHO_MAX)
    lam = np.exp(theta[..., 6])
    return sigma, rho, lam


def covariate_shift(
    effects: dict[str, FixedEffect], bmi: float | None, smoker: bool, pcos: bool
) -> float:
    def log_or(e: FixedEffect) -> float:
        value = float(np.log(e.odds_ratio))
        return -value if e.outcome == "viable_pregnancy" else value

    shift = 0.0
    if smoker:
        shift += log_or(effects["smoking"])
    if pcos:
        shift += log_or(effects["pcos"])
    if bmi is not None:
        e = effects["bmi_per_unit"]
        shift += log_or(e) * (bmi - (e.centre or 0.0))
    return shift


def _predictor(
    theta: Array, age: float | Array, setting: Setting, shift: float
) -> tuple[Array, Array, Array]:
    """Linear predictor, sigma and rho, broadcast to one shape (batch of parameter vectors,
    or one parameter vector at a batch of ages)."""
    theta = np.atleast_2d(theta)
    sigma, rho, _ = unpack(theta)
    eta = age_curve(theta, age) + shift
    if setting == "clinic":
        eta = eta + theta[..., 7]
    return eta, np.broadcast_to(sigma, eta.shape), np.broadcast_to(rho, eta.shape)


def risk(
    theta: Array, age: float | Array, history: str, setting: Setting, shift: float = 0.0
) -> Array:
    """Miscarriage risk of the next pregnancy for a batch of parameter vectors, or for one
    parameter vector at a batch of ages."""
    return frailty.next_risk(history, *_predictor(theta, age, setting, shift))


def risks_after_more_losses(
    theta: Array, ages: Array, history: str, setting: Setting, shift: float, more: int
) -> Array:
    """`risk` at each age after `history` plus 0..`more` further losses: (ages, more + 1)."""
    return frailty.next_risks_after_more_losses(
        history, *_predictor(theta, ages, setting, shift), more
    )


@dataclass(frozen=True)
class Estimate:
    """A probability with its intervals, or (outside the model's data) no number at all:
    `estimate` and both intervals are None and `reason` names the range the data cover."""

    estimate: float | None
    confidence_interval: tuple[float, float] | None
    interval: tuple[float, float] | None
    reason: str | None = None

    @classmethod
    def outside(cls, reason: str) -> Estimate:
        return cls(None, None, None, reason)

    @property
    def out_of_range(self) -> bool:
        return self.estimate is None

    def complement(self) -> Estimate:
        if self.estimate is None or self.confidence_interval is None or self.interval is None:
            return self
        lo, hi = self.confidence_interval
        plo, phi = self.interval
        return Estimate(1.0 - self.estimate, (1.0 - hi, 1.0 - lo), (1.0 - phi, 1.0 - plo))

    def scaled(self, factor: float) -> Estimate:
        """Every number times `factor` (e.g. the share of pregnancies not lost otherwise)."""
        if self.estimate is None or self.confidence_interval is None or self.interval is None:
            return self
        lo, hi = self.confidence_interval
        plo, phi = self.interval
        return Estimate(
            self.estimate * factor, (lo * factor, hi * factor), (plo * factor, phi * factor)
        )

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        if self.estimate is None or self.confidence_interval is None or self.interval is None:
            return {
                "estimate": None,
                "interval": None,
                "confidence_interval": None,
                "out_of_range": True,
                "reason": self.reason,
            }
        return {
            "estimate": round(self.estimate, digits),
            "interval": [round(x, digits) for x in self.interval],
            "confidence_interval": [round(x, digits) for x in self.confidence_interval],
            "out_of_range": False,
            "reason": None,
        }


def outside_domain(
    domain: dict[str, Any], *, age: float, losses: int, day: int | None = None
) -> str | None:
    """Why an input lies outside the data a model was fitted to, or None inside it."""
    lo, hi = domain["ages"]
    if not lo <= age <= hi:
        return f"the model's data cover ages {lo:g}-{hi:g}"
    top = domain["losses"][1]
    if losses > top:
        return f"the model's data cover up to {top} previous losses"
    if day is not None and "gestational_days" in domain:
        first, last = domain["gestational_days"]
        if not first <= day <= last:
            return (
                f"the model's data cover gestations from {first // 7} weeks {first % 7} days "
                f"to {last // 7} weeks {last % 7} days"
            )
    return None


@dataclass(frozen=True)
class FittedModel:
    version: str
    theta: Array
    covariance: Array  # of THETA
    taus: dict[str, float]  # standard deviations, not logs
    effects: dict[str, FixedEffect]
    info: dict[str, Any]
    context: dict[str, Any]

    def other_loss_risk(self, age: float) -> float:
        """Ectopic + stillbirth risk for the age band containing `age` (clamped)."""
        bands = self.context["other_losses_by_age"]
        for band in bands:
            if age < band["ages"][1] + 1:
                return float(band["other"])
        return float(bands[-1]["other"])

    @property
    def prediction_variance(self) -> float:
        """Extra variance for a new population: between-source plus within-source spread,
        plus the "new source" variance calibrated out of sample (leave-one-source-out,
        `rplcare model fit`; absent from documents written before it existed)."""
        extra = self.info.get("prediction", {}).get("new_source_sd", {}).get("absolute", 0.0)
        return self.taus["between"] ** 2 + self.taus["within"] ** 2 + float(extra) ** 2

    def central(self, age: float, history: str, setting: Setting) -> float:
        """The point estimate alone (no intervals), for the drivers' comparisons."""
        return float(risk(self.theta, age, history, setting)[0])

    def central_both(self, age: float, history: str) -> tuple[float, float]:
        """Point estimates in the population and the clinic setting, in one pass of the
        frailty model."""
        settings = [_predictor(self.theta, age, s, 0.0) for s in ("population", "clinic")]
        eta, sigma, rho = (np.concatenate(parts) for parts in zip(*settings, strict=True))
        both = frailty.next_risk(history, eta, sigma, rho)
        return float(both[0]), float(both[1])

    def predict(
        self,
        age: float,
        history: str,
        setting: Setting,
        *,
        bmi: float | None = None,
        smoker: bool = False,
        pcos: bool = False,
    ) -> Estimate:
        shift = covariate_shift(self.effects, bmi, smoker, pcos)
        step = 1e-4
        batch = np.vstack([self.theta, self.theta + step * np.eye(len(self.theta))])
        values = frailty.logit(risk(batch, age, history, setting, shift))
        centre = float(values[0])
        grad = (values[1:] - values[0]) / step
        var = float(grad @ self.covariance @ grad)
        half_ci = Z95 * np.sqrt(max(var, 0.0))
        half_pi = Z95 * np.sqrt(max(var, 0.0) + self.prediction_variance)

        def band(half: float) -> tuple[float, float]:
            lo, hi = frailty.expit(np.array([centre - half, centre + half]))
            return float(lo), float(hi)

        return Estimate(float(frailty.expit(np.array(centre))), band(half_ci), band(half_pi))


def model_from_json(data: dict[str, Any], context: dict[str, Any]) -> FittedModel:
    values = data["parameters"]
    return FittedModel(
        version=data["model_version"],
        theta=np.array([values[name] for name in THETA], dtype=float),
        covariance=np.array(data["covariance"], dtype=float),
        taus={k: float(v) for k, v in data["heterogeneity_sd"].items()},
        effects={
            name: FixedEffect.from_mapping(name, e) for name, e in context["fixed_effects"].items()
        },
        info=data,
        context=context,
    )


PARAMETERS_FILE = "parameters.json"


@cache
def load_parameters() -> dict[str, Any]:
    """The versioned, fitted parameters document (written by `rplcare model fit`)."""
    text = resources.files("rplcare.prognosis").joinpath(PARAMETERS_FILE).read_text("utf-8")
    return dict(json.loads(text))


@cache
def load_model() -> FittedModel:
    params = load_parameters()
    return model_from_json(params["next_pregnancy"], params["context"])
