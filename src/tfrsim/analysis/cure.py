"""Mixture-cure regression: logistic cure probability, Weibull PH latency.

lifelines has no covariate cure model (lifelines issue #1204; its
``MixtureCureFitter`` is univariate), so the likelihood is maximised here. For patient
``i`` with incidence covariates ``z_i`` and latency covariates ``w_i``:

* cure probability ``pi_i = expit(gamma_0 + z_i' gamma)``;
* survival of the not cured ``S_u(t) = exp(-H_i(t))``, ``H_i(t) = (t / lambda)^k
  exp(w_i' beta)`` (Weibull, proportional hazards on the latency; t in months);
* population survival ``S(t) = pi_i + (1 - pi_i) S_u(t)``.

Log-likelihood: relapse at ``t``: ``log(1 - pi) + log h_u(t) - H(t)``; censored at
``t``: ``log(pi + (1 - pi) exp(-H(t)))``. The gradient is analytic; the observed
information is the central-difference Jacobian of the analytic gradient; Wald CIs
and the delta-method CI of a cure fraction (on the logit scale) come from its inverse.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from scipy.stats import norm

from tfrsim.analysis.pvalues import log10_p_normal
from tfrsim.jsonsafe import json_safe

Array = NDArray[np.float64]
COEF_COLUMNS: tuple[str, ...] = (
    "part",
    "parameter",
    "estimate",
    "se",
    "lower",
    "upper",
    "z",
    "p",
    "log10_p",
)
#: Relative step of the central differences of the gradient. ASSUMPTION: about
#: eps^(1/3), the step that balances truncation and rounding error for a central
#: difference of an analytic derivative (Nocedal & Wright 2006, section 8.1).
_HESSIAN_STEP: float = 1e-5


@dataclass(frozen=True)
class CureModelResult:
    """Maximum-likelihood mixture-cure model (logistic incidence, Weibull PH latency).

    Attributes
    ----------
    names : tuple of str
        Parameter names: ``cure:(intercept)``, ``cure:<z column>`` (log odds of
        being cured, per unit of the covariate), ``log_scale`` (log of the Weibull
        scale lambda, log months), ``log_shape`` (log k, dimensionless),
        ``latency:<w column>`` (log hazard ratio among the not cured, per unit).
    coef : float array
        Estimates, in the order of ``names``.
    covariance : float array
        Inverse observed information (NaN if singular).
    loglik : float
        Maximised log-likelihood (densities in 1/month).
    converged : bool
        The optimiser succeeded and the information is positive definite.
    n, n_events : int
    alpha : float
        1 - confidence level of the intervals.
    incidence_names, latency_names : tuple of str
        Covariate columns of each part.
    cure_by_group : pandas.DataFrame
        For the profiles given to the fit: ``group``, ``cure_fraction`` (probability),
        ``lower``, ``upper`` (delta-method CI on the logit scale), ``se`` (delta-method
        SE of the probability).
    message : str
        Optimiser message.
    """

    names: tuple[str, ...]
    coef: Array
    covariance: Array
    loglik: float
    converged: bool
    n: int
    n_events: int
    alpha: float
    incidence_names: tuple[str, ...]
    latency_names: tuple[str, ...]
    cure_by_group: pd.DataFrame = field(default_factory=pd.DataFrame)
    message: str = ""

    @property
    def se(self) -> Array:
        """Standard errors of ``coef``."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def scale(self) -> float:
        """Weibull scale lambda of the latency at zero covariates (months)."""
        return float(np.exp(self.coef[self.names.index("log_scale")]))

    @property
    def shape(self) -> float:
        """Weibull shape k of the latency (dimensionless)."""
        return float(np.exp(self.coef[self.names.index("log_shape")]))

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: ``part`` (cure, latency), ``parameter``, ``estimate``,
        ``se``, ``lower``, ``upper`` (Wald ``1 - alpha``), ``z``, ``p``, ``log10_p``
        (Wald test of 0; for ``log_scale``/``log_shape`` a test of lambda or k = 1)."""
        z_crit = float(norm.ppf(1 - self.alpha / 2))
        se = self.se
        with np.errstate(divide="ignore", invalid="ignore"):
            z = self.coef / se
        log10_p = log10_p_normal(z)
        return pd.DataFrame(
            {
                "part": ["cure" if n.startswith("cure:") else "latency" for n in self.names],
                "parameter": list(self.names),
                "estimate": self.coef,
                "se": se,
                "lower": self.coef - z_crit * se,
                "upper": self.coef + z_crit * se,
                "z": z,
                "p": 10.0**log10_p,
                "log10_p": log10_p,
            }
        )[list(COEF_COLUMNS)]

    def cure_fraction(self, profiles: Mapping[str, ArrayLike]) -> pd.DataFrame:
        """Cure probability of covariate profiles, with delta-method CIs.

        Parameters
        ----------
        profiles : mapping
            Group name -> incidence covariate values (one per ``incidence_names``),
            e.g. ``{"low": [0, 0], "intermediate": [1, 0], "high": [0, 1]}`` for
            the two Sokal indicators.

        Returns
        -------
        pandas.DataFrame
            ``group``, ``cure_fraction``, ``se``, ``lower``, ``upper``
            (probabilities; CI from ``logit(pi) -+ z se(logit pi)``).
        """
        q = len(self.incidence_names)
        z_crit = float(norm.ppf(1 - self.alpha / 2))
        v = self.covariance[: q + 1, : q + 1]
        rows = []
        for group, values in profiles.items():
            a = np.r_[1.0, np.asarray(values, dtype=float).reshape(-1)]
            if a.size != q + 1:
                raise ValueError(f"profile {group!r} needs {q} values, got {a.size - 1}")
            eta = float(a @ self.coef[: q + 1])
            se_eta = float(np.sqrt(a @ v @ a))
            pi = float(expit(eta))
            rows.append(
                {
                    "group": str(group),
                    "cure_fraction": pi,
                    "se": pi * (1 - pi) * se_eta,
                    "lower": float(expit(eta - z_crit * se_eta)),
                    "upper": float(expit(eta + z_crit * se_eta)),
                }
            )
        return pd.DataFrame(rows, columns=["group", "cure_fraction", "se", "lower", "upper"])

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: fit statistics, coefficient records and cure by group."""
        return json_safe(
            {
                "loglik": self.loglik,
                "converged": self.converged,
                "n": self.n,
                "n_events": self.n_events,
                "alpha": self.alpha,
                "message": self.message,
                "coefficients": self.to_frame().to_dict(orient="records"),
                "cure_by_group": self.cure_by_group.to_dict(orient="records"),
            }
        )


@dataclass(frozen=True)
class _Data:
    log_t: Array
    event: NDArray[np.bool_]
    z: Array  # (n, q + 1) with the intercept column
    w: Array  # (n, r)
    weight: Array  # (n,) frequency weights (identical rows collapsed)


def _loglik_grad(theta: Array, data: _Data) -> tuple[float, Array]:
    q1, r = data.z.shape[1], data.w.shape[1]
    gamma, log_lam, log_k, beta = theta[:q1], theta[q1], theta[q1 + 1], theta[q1 + 2 :]
    k = np.exp(log_k)
    eta = data.z @ gamma
    u = data.log_t - log_lam  # log(t / lambda)
    log_h_cum = np.clip(k * u + data.w @ beta, -700.0, 700.0)  # ASSUMPTION: exp range
    h_cum = np.exp(log_h_cum)
    e = data.event
    log_pi, log_1m_pi = log_expit(eta), log_expit(-eta)
    # Censored: log(pi + (1 - pi) exp(-H)), computed stably in log space.
    log_a = np.logaddexp(log_pi, log_1m_pi - h_cum)
    ll_event = log_1m_pi + log_k - log_lam + (k - 1.0) * u + (log_h_cum - k * u) - h_cum
    ll = float(data.weight @ np.where(e, ll_event, log_a))
    pi = np.exp(log_pi)
    frac = np.exp(log_1m_pi - h_cum - log_a)  # (1 - pi) S / A
    # d ll / d eta: relapse -pi; censored pi (1 - pi) (1 - S) / A, and with
    # pi / A = 1 - frac this is (1 - pi)(1 - frac) - pi frac (no division by S).
    wt = data.weight
    d_eta = wt * np.where(e, -pi, (1.0 - pi) * (1.0 - frac) - pi * frac)
    d_h = np.where(e, -1.0, -frac)  # d ll / d H
    d_log_lam = wt * (d_h * (-k * h_cum) + np.where(e, -k, 0.0))
    d_log_k = wt * (d_h * (k * u * h_cum) + np.where(e, 1.0 + k * u, 0.0))
    d_beta = (wt * (d_h * h_cum + np.where(e, 1.0, 0.0)))[:, None] * data.w
    grad = np.r_[data.z.T @ d_eta, d_log_lam.sum(), d_log_k.sum(), d_beta.sum(axis=0)]
    assert grad.size == q1 + 2 + r
    return ll, grad


def _hessian(theta: Array, data: _Data) -> Array:
    p = theta.size
    out = np.empty((p, p))
    for j in range(p):  # loop over parameters (vectorised over rows)
        h = _HESSIAN_STEP * max(1.0, abs(theta[j]))
        step = np.zeros(p)
        step[j] = h
        out[:, j] = (_loglik_grad(theta + step, data)[1] - _loglik_grad(theta - step, data)[1]) / (
            2 * h
        )
    return (out + out.T) / 2.0


def _as_matrix(x: ArrayLike | None, n: int, names: Sequence[str] | None, prefix: str) -> Any:
    if x is None:
        return np.empty((n, 0)), ()
    m = np.asarray(x, dtype=float)
    if m.ndim == 1:
        m = m[:, None]
    if m.shape[0] != n:
        raise ValueError(f"{prefix} covariates have {m.shape[0]} rows, expected {n}")
    if not np.isfinite(m).all():
        raise ValueError(f"{prefix} covariates must be finite (complete cases)")
    if names is None and isinstance(x, pd.DataFrame):
        names = [str(c) for c in x.columns]
    if names is None:
        names = [f"{prefix}{j}" for j in range(m.shape[1])]
    if len(names) != m.shape[1]:
        raise ValueError(f"{len(names)} {prefix} names for {m.shape[1]} columns")
    return m, tuple(str(s) for s in names)


def fit_cure_model(
    durations: ArrayLike,
    events: ArrayLike,
    incidence_x: ArrayLike | None = None,
    latency_x: ArrayLike | None = None,
    *,
    incidence_names: Sequence[str] | None = None,
    latency_names: Sequence[str] | None = None,
    profiles: Mapping[str, ArrayLike] | None = None,
    alpha: float = 0.05,
    max_newton: int = 20,
) -> CureModelResult:
    """Fit the mixture-cure model by maximum likelihood on right-censored data.

    Parameters
    ----------
    durations : float array, (n,)
        Months to relapse or censoring, > 0.
    events : bool array, (n,)
        Relapse observed.
    incidence_x : float array, (n, q), optional
        Covariates of the cure probability (e.g. Sokal indicators).
    latency_x : float array, (n, r), optional
        Covariates of the latency hazard (PH among the not cured).
    incidence_names, latency_names : sequence of str, optional
        Column names (default ``z0, z1, ...`` and ``w0, w1, ...``).
    profiles : mapping, optional
        Group -> incidence covariate values; their cure fractions are reported in
        ``cure_by_group`` (see :meth:`CureModelResult.cure_fraction`).
    alpha : float, default 0.05
    max_newton : int, default 20
        Newton steps (numerical Hessian) that polish the quasi-Newton optimum.

    Returns
    -------
    CureModelResult
    """
    t = np.asarray(durations, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    n = t.size
    if e.size != n or n == 0:
        raise ValueError("durations and events must be non-empty and of equal length")
    if not (np.isfinite(t).all() and (t > 0).all()):
        raise ValueError("durations must be finite and > 0 months (Weibull latency)")
    if not e.any():
        raise ValueError("the cure model needs at least one event")
    z, z_names = _as_matrix(incidence_x, n, incidence_names, "z")
    w, w_names = _as_matrix(latency_x, n, latency_names, "w")
    # Identical rows (visit-grid durations, a few covariate patterns) contribute
    # identical terms: fit on the distinct rows with frequency weights (the same
    # likelihood, exactly; 10^6 patients collapse to a few hundred rows).
    rows, counts = np.unique(np.column_stack([t, e, z, w]), axis=0, return_counts=True)
    q = z.shape[1]
    data = _Data(
        np.log(rows[:, 0]),
        rows[:, 1].astype(bool),
        np.column_stack([np.ones(len(rows)), rows[:, 2 : 2 + q]]),
        rows[:, 2 + q :],
        counts.astype(float),
    )
    # Start: cure fraction = share without an event (clipped), scale = median event
    # time, shape 1, covariate effects 0. ASSUMPTION: any interior start works; the
    # clip to [0.05, 0.95] keeps the logit finite.
    share = float(np.clip(1.0 - e.mean(), 0.05, 0.95))
    theta0 = np.r_[
        np.log(share / (1 - share)),
        np.zeros(z.shape[1]),
        np.log(np.median(t[e])),
        0.0,
        np.zeros(w.shape[1]),
    ]

    def objective(theta: Array) -> tuple[float, Array]:
        ll, grad = _loglik_grad(theta, data)
        return -ll / n, -grad / n

    opt = minimize(objective, theta0, jac=True, method="BFGS", options={"gtol": 1e-9})
    theta = np.asarray(opt.x, dtype=float)
    ll, grad = _loglik_grad(theta, data)
    for _ in range(max_newton):  # polish: Newton with step halving
        hess = _hessian(theta, data)
        try:
            step = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        for _ in range(30):
            cand = theta + scale * step
            ll_new, grad_new = _loglik_grad(cand, data)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            scale /= 2
        else:
            break
        theta, ll, grad = cand, ll_new, grad_new
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    info = -_hessian(theta, data)
    try:
        positive = bool(np.all(np.linalg.eigvalsh(info) > 0))
        covariance = np.asarray(np.linalg.inv(info), dtype=float)
    except np.linalg.LinAlgError:
        positive, covariance = False, np.full((theta.size, theta.size), np.nan)
    names = (
        "cure:(intercept)",
        *(f"cure:{s}" for s in z_names),
        "log_scale",
        "log_shape",
        *(f"latency:{s}" for s in w_names),
    )
    result = CureModelResult(
        names=names,
        coef=theta,
        covariance=covariance,
        loglik=ll,
        converged=positive and bool(np.all(np.isfinite(theta))),
        n=n,
        n_events=int(e.sum()),
        alpha=alpha,
        incidence_names=z_names,
        latency_names=w_names,
        message=str(opt.message),
    )
    if profiles:
        result = _with_groups(result, profiles)
    return result


def _with_groups(result: CureModelResult, profiles: Mapping[str, ArrayLike]) -> CureModelResult:
    return replace(result, cure_by_group=result.cure_fraction(profiles))
