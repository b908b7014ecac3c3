"""Interval-censored relapse: Turnbull NPMLE and mixture-cure Weibull fit."""

import warnings

import numpy as np
import pytest
from lifelines.fitters.npmle import npmle

from tfrsim.analysis.interval import (
    fit_interval_cure_weibull,
    fit_turnbull,
    intervals_from_tests,
    turnbull_intervals,
)
from tfrsim.analysis.survfit import km_estimate

#: True latent curve: cure fraction, Weibull scale (months), shape. ASSUMPTION: of
#: the order of TFR studies (about half relapse, mostly within 6 months).
PI, SCALE, SHAPE = 0.45, 5.0, 1.3


def _truth(months: np.ndarray) -> np.ndarray:
    return PI + (1 - PI) * np.exp(-((months / SCALE) ** SHAPE))


def _visits(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3-monthly tests (+-0.5 month jitter, 10% missed) up to a follow-up of 11-36
    months. Returns (left, right] intervals and the visit-dated (duration, event)."""
    rng = np.random.default_rng(seed)
    relapse = np.where(rng.random(n) < PI, np.inf, SCALE * rng.weibull(SHAPE, n))
    visits = np.arange(1, 13) * 3.0 + rng.uniform(-0.5, 0.5, (n, 12))
    follow_up = 36.0 * rng.uniform(0.3, 1.0, n)
    visits[(rng.random((n, 12)) < 0.1) | (visits > follow_up[:, None])] = np.nan
    positive = visits >= relapse[:, None]
    detecting = np.where(positive, visits, np.inf).min(axis=1)
    negative = np.where(~positive & ~np.isnan(visits), visits, 0.0).max(axis=1)
    relapsed = np.isfinite(detecting)
    left = negative  # last negative test (0: none), or last test if no relapse
    right = detecting  # inf without a detected relapse
    duration = np.where(relapsed, detecting, negative)
    return left, right, duration, relapsed


def test_turnbull_intervals_half_open() -> None:
    """(0,3], (3,6], (0,6], (6, inf): ends at 3 close one interval and open the next
    (half-open), so the innermost intervals are (0,3], (3,6], (6,inf)."""
    left = np.array([0.0, 3.0, 0.0, 6.0])
    right = np.array([3.0, 6.0, 6.0, np.inf])
    lo, hi = turnbull_intervals(left, right)
    np.testing.assert_array_equal(lo, [0.0, 3.0, 6.0])
    np.testing.assert_array_equal(hi, [3.0, 6.0, np.inf])
    fit = fit_turnbull(left, right, [3.0, 6.0])
    assert fit.converged
    np.testing.assert_allclose(fit.mass.sum(), 1.0)
    # NPMLE by hand: the likelihood p1 (p1 + p2) p2 p3 is symmetric in p1, p2; with
    # p1 = p2 = x it is 2 x^3 (1 - 2 x), maximal at x = 3/8. Catches a convergence
    # check that stops before the maximum (e.g. a wrong P_i for intervals from 0).
    np.testing.assert_allclose(fit.mass, [3 / 8, 3 / 8, 1 / 4], atol=1e-5)


def test_turnbull_equals_lifelines() -> None:
    """Same Turnbull intervals and masses (1e-5) as lifelines' EM run to 1e-12, on
    80 patients with jittered visits (no tied endpoints, so open vs closed does not
    matter). lifelines is the reference only at this size: at 300 patients its EM
    takes minutes and stops short of the maximum (lower log-likelihood).
    Catches a wrong interval construction or a non-converged maximisation."""
    left, right, _, _ = _visits(3, 80)
    fit = fit_turnbull(left, right, [6.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mass, intervals = npmle(left, right, tol=1e-12)[:2]
    np.testing.assert_allclose(fit.lower, [iv.left for iv in intervals])
    np.testing.assert_allclose(fit.upper, [iv.right for iv in intervals])
    np.testing.assert_allclose(fit.mass, mass, atol=1e-5)
    assert fit.converged
    assert fit.summary()["n_intervals"] == fit.mass.size


def test_turnbull_kuhn_tucker_by_brute_force() -> None:
    """At n = 2000 the NPMLE satisfies the self-consistency (Kuhn–Tucker)
    conditions, checked with an explicit (observation x interval) matrix: d_j <= 1
    everywhere and = 1 where the mass is positive (to 1e-5)."""
    left, right, _, _ = _visits(8, 2000)
    fit = fit_turnbull(left, right, [6.0])
    cover = (left[:, None] <= fit.lower[None, :]) & (fit.upper[None, :] <= right[:, None])
    prob = cover @ fit.mass
    d = (cover / prob[:, None]).sum(axis=0) / left.size
    assert d.max() < 1 + 1e-5
    np.testing.assert_allclose(d[fit.mass > 1e-6], 1.0, atol=1e-5)


@pytest.mark.statistical
def test_npmle_closer_to_truth_than_visit_dated_km() -> None:
    """Mean absolute error over months 1..24 against the known latent curve:
    the NPMLE must beat the KM of visit-dated relapses by a factor 2 at n = 5000.

    The KM error is a bias (relapses dated up to one visit interval late: about
    0.04 here) that does not shrink with n, while the NPMLE's sampling error is about
    sqrt(S(1 - S) / n) ~ 0.007; a factor of 2 is not luck. Catches an NPMLE that
    ignores the left ends (it would equal the visit-dated KM)."""
    left, right, duration, relapsed = _visits(17, 5000)
    months = np.arange(1.0, 25.0)
    truth = _truth(months)
    npmle_fit = fit_turnbull(left, right, months)
    km = km_estimate(duration, relapsed).at(months)["survival"].to_numpy()
    error_npmle = np.mean(np.abs(npmle_fit.survival - truth))
    error_km = np.mean(np.abs(km - truth))
    assert error_npmle < 0.5 * error_km
    assert npmle_fit.converged


@pytest.mark.statistical
def test_cure_weibull_interval_fit_recovers_truth() -> None:
    """Parameters within 3 SE of the truth at n = 5000 and the pointwise CI covers
    the true curve at months 3, 6, 12 (catches a likelihood treating right-censored
    patients as relapsing at infinity with probability pi, which biases pi to 0, and a
    reported cure fraction, scale or shape read from the wrong coefficient)."""
    left, right, _, _ = _visits(29, 5000)
    fit = fit_interval_cure_weibull(left, right, [3.0, 6.0, 12.0])
    assert fit.converged
    truth = np.array([np.log(PI / (1 - PI)), np.log(SCALE), np.log(SHAPE)])
    se = np.sqrt(np.diag(fit.covariance))
    np.testing.assert_array_less(np.abs(fit.coef - truth) / se, 3.0)
    # The reported natural-scale parameters are the fitted ones, each near the truth.
    natural = np.log([fit.cure_fraction / (1 - fit.cure_fraction), fit.scale, fit.shape])
    np.testing.assert_array_less(np.abs(natural - truth) / se, 3.0)
    true_curve = _truth(fit.months)
    assert ((fit.lower < true_curve) & (true_curve < fit.upper)).all()
    assert fit.summary()["parameters"][0]["parameter"] == "cure_fraction"


def test_rejects_bad_intervals() -> None:
    with pytest.raises(ValueError, match="right must exceed left"):
        fit_turnbull(np.array([3.0]), np.array([3.0]), [1.0])


def test_intervals_from_tests_by_hand() -> None:
    """Patient 1: negative at 3, 6, positive at 9 and 12 -> (6, 9]; patient 2:
    negative at 3, 6 -> (6, inf); patient 3: positive at the first test (3) -> (0, 3];
    rows given out of order (catches an unsorted 'last negative' test)."""
    patient = [1, 1, 1, 1, 2, 2, 3, 3]
    month = [12.0, 3.0, 9.0, 6.0, 6.0, 3.0, 3.0, 6.0]
    positive = [True, False, True, False, False, False, True, False]
    out = intervals_from_tests(patient, month, positive).set_index("patient")
    assert out.loc[1, ["left", "right"]].tolist() == [6.0, 9.0]
    assert out.loc[2, ["left", "right"]].tolist() == [6.0, np.inf]
    assert out.loc[3, ["left", "right"]].tolist() == [0.0, 3.0]
    assert out["relapsed"].tolist() == [True, False, True]


def test_cure_weibull_interval_ci_is_the_delta_method_with_the_analytic_gradient() -> None:
    """Catches a wrong finite-difference gradient in the delta-method CI of S(t) (a
    step taken multiplicatively, a sign, a wrong divisor): the reported limits equal
    expit(logit S -/+ z SE) with SE from the fit's covariance and the gradient of
    logit S derived by hand: S = pi + (1 - pi) L, L = exp(-u), u = (t / scale)^shape,
    dS/dlogit(pi) = pi (1 - pi)(1 - L), dS/dlog(scale) = (1 - pi) L shape u,
    dS/dlog(shape) = -(1 - pi) L u log u, d logit S = dS / (S (1 - S))."""
    from scipy.special import expit, logit
    from scipy.stats import norm

    left, right, _, _ = _visits(7, 800)
    months = np.array([3.0, 6.0, 12.0])
    fit = fit_interval_cure_weibull(left, right, months)
    pi, scale, shape = fit.cure_fraction, fit.scale, fit.shape
    u = (months / scale) ** shape
    big_l = np.exp(-u)
    s = pi + (1 - pi) * big_l
    d_s = np.column_stack(
        [
            pi * (1 - pi) * (1 - big_l),
            (1 - pi) * big_l * shape * u,
            -(1 - pi) * big_l * u * np.log(u),
        ]
    )
    grad = d_s / (s * (1 - s))[:, None]
    se = np.sqrt(np.einsum("ka,ab,kb->k", grad, fit.covariance, grad))
    z = norm.ppf(0.975)
    np.testing.assert_allclose(fit.survival, s, rtol=1e-12)
    np.testing.assert_allclose(fit.lower, expit(logit(s) - z * se), rtol=1e-6)
    np.testing.assert_allclose(fit.upper, expit(logit(s) + z * se), rtol=1e-6)


def test_cure_weibull_without_relapses_is_not_called_converged() -> None:
    """Catches a convergence flag that trusts the optimiser alone: with no relapse at
    all the likelihood rises towards a cure fraction of 1 (its logit to infinity), the
    information matrix is not positive definite and no interval can be given, so the
    fit must say it did not converge even where BFGS stops "successfully"."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_interval_cure_weibull(np.full(200, 24.0), np.full(200, np.inf), [3.0])
    assert fit.cure_fraction > 0.99
    assert not fit.converged
