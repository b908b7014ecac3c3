"""Spreads and shapes, not only means: each against a closed form, with tolerances of
4 standard errors (fixed seeds).

A mean can be right while a scale is wrong (assay noise in natural-log instead of
log10 units, a log-normal SD applied twice, a dropout rate per year read per month);
these tests compare variances, quantiles and survival shapes:

* SE of a sample variance: ``sqrt((m4 - s^4) / n)`` (``m4`` the sample fourth central
  moment); of a sample SD, that divided by ``2 s``;
* SE of a sample mean: ``s / sqrt(n)``; of an empirical proportion ``sqrt(p (1 - p) / n)``;
* SE of an exponential rate estimated as events / exposure: ``rate / sqrt(events)``.
"""

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params
from tfrsim.disease import clonal
from tfrsim.disease.clonal import ClonalParams
from tfrsim.monitoring import sample_follow_up
from tfrsim.monitoring.assay import measure
from tfrsim.monitoring.params import AssayParams, FollowUpParams
from tfrsim.random import stream

Z = 4.0
LN10 = np.log(10.0)


def _var_se(x: np.ndarray) -> tuple[float, float]:
    """Sample variance and its standard error."""
    x = np.asarray(x, dtype=float)
    m = x.mean()
    var = float(np.mean((x - m) ** 2))
    m4 = float(np.mean((x - m) ** 4))
    return var, float(np.sqrt((m4 - var**2) / x.size))


def _assert_var(x: np.ndarray, expected: float, what: str) -> None:
    var, se = _var_se(x)
    assert abs(var - expected) < Z * se, (
        f"{what}: variance {var:.6g} vs {expected:.6g} (SE {se:.2g})"
    )


def _assert_mean(x: np.ndarray, expected: float, what: str) -> None:
    x = np.asarray(x, dtype=float)
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - expected) < Z * se, f"{what}: mean {x.mean():.6g} vs {expected:.6g}"


@pytest.mark.statistical
def test_assay_noise_sd_among_positives_at_high_levels() -> None:
    """Catches a wrong assay-noise scale (e.g. ``noise_sd_log10`` used as a natural-log
    SD, or applied twice): at 1 % IS with 50,000 ABL1 copies every test is positive and
    Var(log10 measured) = noise_sd^2 + Var(log10 Poisson(500) / 500), the latter
    1 / (500 ln(10)^2) by the delta method."""
    params = AssayParams(abl_median_copies=50_000, abl_sigma_log10=0.0, noise_sd_log10=0.15)
    true = np.full((10_000, 20), 1.0)
    tests = measure(true, params, rng=stream("assay", seed=41, replicate=0))
    assert tests.detected.all()
    logs = np.log10(tests.measured_pct).ravel()
    _assert_var(logs, 0.15**2 + 1 / (500 * LN10**2), "log10 measured % IS")


@pytest.mark.statistical
def test_abl_copy_spread() -> None:
    """Catches a wrong spread of the control-gene copies (``abl_sigma_log10`` in the
    wrong units): SD of log10 ABL1 copies = abl_sigma_log10 (rounding to whole copies
    at ~50,000 is negligible), median at abl_median_copies."""
    params = AssayParams(abl_median_copies=50_000, abl_sigma_log10=0.25, noise_sd_log10=0.15)
    tests = measure(np.full((10_000, 20), 0.01), params, rng=stream("assay", seed=42, replicate=0))
    logs = np.log10(tests.abl_copies).ravel()
    _assert_var(logs, 0.25**2, "log10 ABL1 copies")
    _assert_mean(logs, np.log10(50_000), "log10 ABL1 copies")


def _clonal_course(n: int, **changes: float):  # type: ignore[no-untyped-def]
    """Clonal course of a reference cohort (eta = 0) with model changes."""
    params = load_params(
        [
            "model=clonal",
            f"cohort.n_patients={n}",
            "cohort.sokal_shares={low: 1.0, intermediate: 0.0, high: 0.0}",
        ]
    )
    model = dataclasses.replace(params.model, **changes)
    assert isinstance(model, ClonalParams)
    cohort = sample_cohort(params.cohort, n, rng=stream("cohort", seed=43, replicate=0))
    return model, clonal.simulate_clonal(cohort, model, rng=stream("disease", seed=43, replicate=0))


@pytest.mark.statistical
def test_clone_growth_rates_are_log_normal_with_the_given_spread() -> None:
    """Catches a wrong growth-rate heterogeneity (``growth_sigma`` dropped, squared or
    applied to the latency instead): log per-clone rates have mean log(r0) and SD
    growth_sigma."""
    model, course = _clonal_course(20_000, theta0=2.0, growth_sigma=0.4)
    log_rate = np.log(course.clone_rate_per_month)
    assert log_rate.size > 30_000
    _assert_mean(log_rate, np.log(model.growth_rate_per_month), "log growth rate")
    _assert_var(log_rate, 0.4**2, "log growth rate")


@pytest.mark.statistical
@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_clone_latency_is_an_exponential_mixture_over_log_normal_rates(sigma: float) -> None:
    """Catches a wrong latency heterogeneity (the log-normal spread of the per-clone
    reactivation rate dropped, scaled, or drawn once per patient instead of per clone):
    P(L > t) = E[exp(-alpha t)], alpha = alpha0 exp(sigma Z), computed here by
    adaptive quadrature, at the latency quartiles."""
    model, course = _clonal_course(20_000, theta0=2.0, latency_sigma=sigma)
    onset = course.clone_onset_month
    a0 = model.latency_rate_per_month

    def survival(t: float) -> float:
        value, _ = integrate.quad(
            lambda z: np.exp(-a0 * np.exp(sigma * z) * t) * stats.norm.pdf(z), -12, 12, limit=200
        )
        return float(value)

    for t in np.quantile(onset, [0.1, 0.25, 0.5, 0.75, 0.9]):
        expected = survival(float(t))
        se = np.sqrt(expected * (1 - expected) / onset.size)
        assert abs(np.mean(onset > t) - expected) < Z * se, f"P(L > {t:.3g})"
    # Clones of one patient have independent latencies (drawn per clone): among
    # patients with two clones, the two latency ranks are uncorrelated.
    two = np.flatnonzero(course.n_clones == 2)
    first = np.searchsorted(course.clone_patient, two)
    ranks = stats.rankdata(onset) / onset.size
    r = np.corrcoef(ranks[first], ranks[first + 1])[0, 1]
    assert abs(r) < Z / np.sqrt(two.size)


@pytest.mark.statistical
def test_follow_up_censoring_is_uniform_over_accrual_and_dropout_is_exponential() -> None:
    """Catches a wrong censoring shape or scale (entry not uniform over the accrual, a
    cut-off measured from the wrong origin, a dropout rate per year or a mis-scaled
    exponential): entry has the U(0, A) mean and variance; administrative censoring
    equals horizon - entry; the dropout rate, estimated as dropouts / exposure, equals
    the given rate."""
    params = FollowUpParams(followup_months=60, accrual_months=30, dropout_rate_per_month=0.01)
    n = 40_000
    fu = sample_follow_up(params, n, rng=stream("follow_up", seed=44, replicate=0))
    a = params.accrual_months
    x = fu.entry_month
    assert abs(x.mean() - a / 2) < Z * a / np.sqrt(12 * n)
    assert abs(x.var() - a**2 / 12) < Z * a**2 * np.sqrt((1 / 80 - 1 / 144) / n)
    admin = ~fu.dropped_out
    np.testing.assert_allclose(fu.censor_month[admin], 90.0 - x[admin])
    # Exponential dropout censored by the cut-off: MLE = dropouts / total exposure.
    events = fu.dropped_out.sum()
    rate = events / fu.censor_month.sum()
    assert abs(rate - 0.01) < Z * 0.01 / np.sqrt(events)


@pytest.mark.statistical
def test_cohort_log_normal_spreads_match_truncated_moments() -> None:
    """Catches a wrong log-normal spread of the TKI or deep-response duration (sigma
    applied on the wrong scale or twice) or a wrong truncation: log TKI years, truncated
    below by eligibility, has the mean and variance of the truncated normal
    (scipy.stats.truncnorm); log DMR years (an upper limit that almost never binds
    here) those of the plain normal; age, those of its truncated normal."""
    n = 40_000
    params = load_params(
        [
            f"cohort.n_patients={n}",
            "cohort.tki_years={median: 8.0, sigma: 0.5}",
            "cohort.dmr_years={median: 1.5, sigma: 0.4}",
            "cohort.eligibility.min_tki_years=6.0",
            "cohort.eligibility.min_dmr_years=0",
            "cohort.age_mean_years=40",
            "cohort.age_sd_years=20",
        ]
    )
    cp = params.cohort
    cohort = sample_cohort(cp, n, rng=stream("cohort", seed=45, replicate=0))
    mu, sd = np.log(8.0), 0.5
    tki = stats.truncnorm((np.log(6.0) - mu) / sd, np.inf, loc=mu, scale=sd)
    _assert_mean(np.log(cohort.tki_years), tki.mean(), "log tki_years")
    _assert_var(np.log(cohort.tki_years), tki.var(), "log tki_years")
    # P(DMR > TKI - 0.5) < 1e-6 here: the upper truncation is immaterial.
    _assert_mean(np.log(cohort.dmr_years), np.log(1.5), "log dmr_years")
    _assert_var(np.log(cohort.dmr_years), 0.4**2, "log dmr_years")
    elig = cp.eligibility
    age = stats.truncnorm(
        (elig.min_age_years - 40) / 20, (elig.max_age_years - 40) / 20, loc=40, scale=20
    )
    _assert_mean(cohort.age_years, age.mean(), "age")
    _assert_var(cohort.age_years, age.var(), "age")
