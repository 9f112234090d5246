r"""The woman-level frailty that makes miscarriages recur.

Each woman carries a latent log-odds shift :math:`u = \sigma z`, :math:`z \sim N(0, 1)`. A
pregnancy at linear predictor :math:`\eta` (age curve plus covariates) miscarries with
probability :math:`p = \operatorname{expit}(\eta + \sigma z)`. Observing losses (``L``) and
births (``B``) updates the distribution of :math:`z` by Bayes' rule, so each loss raises the
risk of the next. After a birth the frailty is partly renewed,
:math:`z' = \rho z + \sqrt{1 - \rho^2}\,\varepsilon`, so losses before a live birth weigh less
(Kolte 2021, Egerup 2016). Everything is vectorised over a leading batch axis so that many
parameter sets can be evaluated at once (used for the delta method).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

Z = np.linspace(-6.0, 6.0, 97)
_N_MAX = 20  # most pregnancies per woman considered in lifetime counts
_PRIOR = np.exp(-0.5 * Z**2)
PRIOR: Array = _PRIOR / _PRIOR.sum()


def expit(x: Array | float) -> Array:
    # tanh form: no overflow for large |x| (and no scipy import on the prediction path)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float))), dtype=float)


def logit(p: Array | float) -> Array:
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return np.asarray(np.log(p) - np.log1p(-p), dtype=float)


@lru_cache(maxsize=4096)
def _renewal(rho: float) -> Array:
    """Row-stochastic transition matrix of z across a birth."""
    scale = max(np.sqrt(1.0 - rho**2), 1e-3)
    k = np.exp(-0.5 * ((Z[None, :] - rho * Z[:, None]) / scale) ** 2)
    return np.asarray(k / k.sum(axis=1, keepdims=True), dtype=float)


def renew(w: Array, rho: Array) -> Array:
    """Carry the weights (batch, grid) across a birth: one matrix product per distinct rho
    (a batch of parameter nudges holds one or two), not a stack of matrices per row."""
    rho = np.broadcast_to(np.asarray(rho, dtype=float), w.shape[:-1])
    out = np.empty_like(w)
    for r in np.unique(rho):
        rows = rho == r
        out[rows] = w[rows] @ _renewal(float(r))
    return out


def grid_risk(eta: Array, sigma: Array) -> Array:
    """p on the z grid: shape (batch, grid)."""
    return expit(np.asarray(eta)[..., None] + np.asarray(sigma)[..., None] * Z)


def posterior(history: str, eta: Array, sigma: Array, rho: Array) -> Array:
    """Weights over z after a history such as "LLBLL" (oldest first); shape (batch, grid)."""
    p = grid_risk(eta, sigma)
    w = np.broadcast_to(PRIOR, p.shape).copy()
    for event in history:
        if event == "L":
            w *= p
        elif event == "B":
            w *= 1.0 - p
            w = renew(w, rho)
        else:
            raise ValueError(f"history event {event!r} is not L or B")
        w /= w.sum(axis=-1, keepdims=True)
    return w


def next_risk(history: str, eta: Array, sigma: Array, rho: Array) -> Array:
    """Risk of miscarriage in the next pregnancy after `history`; shape (batch,)."""
    return next_risks_after_more_losses(history, eta, sigma, rho, 0)[..., 0]


def next_risks_after_more_losses(
    history: str, eta: Array, sigma: Array, rho: Array, more: int
) -> Array:
    """Risk of the next pregnancy after `history` followed by 0..`more` further losses;
    shape (batch, more + 1). One Bayes pass: each further loss multiplies the weights by p,
    so the table costs one posterior instead of `more + 1`."""
    p = grid_risk(eta, sigma)
    w = posterior(history, eta, sigma, rho)
    out = np.empty((*p.shape[:-1], more + 1))
    for j in range(more + 1):
        if j:
            w = w * p
            w /= w.sum(axis=-1, keepdims=True)
        out[..., j] = (w * p).sum(axis=-1)
    return out


def lifetime_loss_shares(eta: Array, sigma: Array, lam: Array, k_max: int = 4) -> Array:
    """Share of women with 0..k_max-1 and >= k_max lifetime losses when the number of
    pregnancies is 1 + Poisson(lam) (no renewal); shape (batch, k_max + 1)."""
    from scipy.special import gammaln

    n = np.arange(1, _N_MAX + 1, dtype=float)
    lam_ = np.asarray(lam, dtype=float)[..., None]
    pn = np.exp((n - 1) * np.log(lam_) - lam_ - gammaln(n))  # 1 + Poisson(lam), (batch, n)
    pn /= pn.sum(axis=-1, keepdims=True)
    p = grid_risk(eta, sigma)  # (batch, grid)
    k = np.arange(0, k_max, dtype=float)
    # P(K = k | N = n, z) = C(n, k) p^k (1-p)^(n-k): (batch, n, grid, k)
    log_c = (
        gammaln(n + 1)[:, None]
        - gammaln(k + 1)[None, :]
        - gammaln(np.maximum(n[:, None] - k[None, :], 0) + 1)
    )
    valid = (k[None, :] <= n[:, None]).astype(float)
    p = np.clip(p, 1e-300, 1.0 - 1e-16)
    lp, lq = np.log(p)[:, None, :, None], np.log1p(-p)[:, None, :, None]
    pk = np.exp(log_c[None, :, None, :] + k * lp + (n[:, None] - k[None, :])[None, :, None, :] * lq)
    pk *= valid[None, :, None, :]
    exact = np.einsum("bn,g,bngk->bk", pn, PRIOR, pk)
    return np.concatenate([exact, 1.0 - exact.sum(axis=-1, keepdims=True)], axis=-1)
