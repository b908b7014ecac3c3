"""Mixture-cure regression: recovery of generating parameters, equality with
lifelines' univariate MixtureCureFitter, gradient against finite differences."""

import warnings

import numpy as np
import pytest
from lifelines import MixtureCureFitter, WeibullFitter
from scipy.optimize import approx_fprime
from scipy.special import expit

from tfrsim.analysis.cure import _Data, _loglik_grad, fit_cure_model

#: Generating parameters: cure logit intercept, Sokal intermediate / high (log odds
#: of cure), log Weibull scale (log months), log shape, latency log HRs of Sokal high
#: and a standardised continuous covariate. ASSUMPTION: values of the order of TFR
#: studies (about half cured, most relapses within a year).
TRUE = np.array([0.3, -0.4, -0.9, np.log(5.0), np.log(1.3), 0.5, -0.3])


def _simulate(seed: int, n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    sokal = rng.integers(0, 3, n)
    z = np.column_stack([sokal == 1, sokal == 2]).astype(float)
    w = np.column_stack([sokal == 2, rng.normal(size=n)]).astype(float)
    pi = expit(TRUE[0] + z @ TRUE[1:3])
    cured = rng.random(n) < pi
    # Weibull PH: H(t) = (t / lambda)^k exp(w beta) => t = lambda (E exp(-w beta))^(1/k)
    k = np.exp(TRUE[4])
    latent = np.exp(TRUE[3]) * (rng.exponential(size=n) * np.exp(-w @ TRUE[5:])) ** (1 / k)
    t = np.where(cured, np.inf, latent)
    c = rng.uniform(6.0, 48.0, n)  # staggered entry, administrative censoring
    return np.minimum(t, c), t <= c, z, w


@pytest.mark.statistical
def test_recovers_generating_parameters() -> None:
    """At n = 50,000 every estimate lies within 3 SE of the truth and the Sokal
    cure fractions within 3 SE of expit(.) (catches sign errors in the incidence,
    a latency hazard not proportional to exp(w beta), a wrong information matrix:
    too small an SE would make |estimate - truth| / SE large)."""
    d, e, z, w = _simulate(2024, 50_000)
    fit = fit_cure_model(
        d,
        e,
        z,
        w,
        incidence_names=["sokal_intermediate", "sokal_high"],
        latency_names=["sokal_high", "x"],
        profiles={"low": [0, 0], "intermediate": [1, 0], "high": [0, 1]},
    )
    assert fit.converged
    np.testing.assert_array_less(np.abs(fit.coef - TRUE) / fit.se, 3.0)
    groups = fit.cure_by_group.set_index("group")
    truth = expit(TRUE[0] + np.array([0.0, TRUE[1], TRUE[2]]))
    got = groups.loc[["low", "intermediate", "high"]]
    np.testing.assert_array_less(np.abs(got["cure_fraction"] - truth) / got["se"], 3.0)
    assert ((got["lower"] < got["cure_fraction"]) & (got["cure_fraction"] < got["upper"])).all()
    summary = fit.summary()
    assert len(summary["coefficients"]) == TRUE.size
    assert summary["cure_by_group"][0]["group"] == "low"


def test_without_covariates_equals_lifelines() -> None:
    """No covariates: the model is lifelines' MixtureCureFitter(WeibullFitter):
    log-likelihood (1e-4) and cure fraction, scale, shape (1e-4 relative). Catches
    a likelihood missing the log-hazard term or a shape/scale parametrisation."""
    d, e, _, _ = _simulate(5, 4000)
    fit = fit_cure_model(d, e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MixtureCureFitter(base_fitter=WeibullFitter()).fit(d, e)
    assert fit.loglik == pytest.approx(ref.log_likelihood_, abs=1e-4)
    assert float(expit(fit.coef[0])) == pytest.approx(ref.cured_fraction_, abs=1e-4)
    assert fit.scale == pytest.approx(ref.lambda_, rel=1e-4)
    assert fit.shape == pytest.approx(ref.rho_, rel=1e-4)


def test_gradient_equals_finite_differences() -> None:
    """The analytic gradient equals a forward-difference gradient (relative 1e-5)
    away from the optimum (catches a wrong derivative of the censored term)."""
    d, e, z, w = _simulate(9, 2000)
    data = _Data(np.log(d), e, np.column_stack([np.ones(d.size), z]), w, np.ones(d.size))
    theta = TRUE + 0.1
    numeric = approx_fprime(theta, lambda th: _loglik_grad(th, data)[0], 1e-6)
    analytic = _loglik_grad(theta, data)[1]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)


def test_rejects_non_positive_durations() -> None:
    with pytest.raises(ValueError, match="> 0"):
        fit_cure_model(np.array([0.0, 1.0]), np.array([True, False]))
