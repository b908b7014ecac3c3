"""Disease models against their closed forms (fixed seeds, SE-derived tolerances).

With n patients, an empirical survival proportion has standard error
sqrt(S (1 - S) / n); every check allows 4 SE, so a correct model fails with
probability < 1e-4 per check, while a wrong mechanism (e.g. a non-Poisson clone
count, or latency drawn per patient instead of per clone) moves S by many SE.
"""

import dataclasses

import numpy as np
import pytest

from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params
from tfrsim.disease import clonal, mixture_cure
from tfrsim.disease.clonal import ClonalParams
from tfrsim.disease.course import linear_predictor
from tfrsim.disease.mixture_cure import MixtureCureParams
from tfrsim.disease.params import MMR_PCT
from tfrsim.random import stream

N = 60_000
MONTHS = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 24.0, 60.0, 156.0])


def _cohort(overrides: list[str]):
    params = load_params([f"cohort.n_patients={N}", *overrides])
    return params, sample_cohort(params.cohort, N, rng=stream("cohort", seed=5, replicate=0))


def _reference_cohort(overrides: list[str]):
    """Every patient at the reference covariates (eta = 0): Sokal low, female, no IFN,
    imatinib and DMR durations equal to the reference (degenerate distributions)."""
    return _cohort(
        [
            *overrides,
            "cohort.sokal_shares={low: 1.0, intermediate: 0.0, high: 0.0}",
            "cohort.male_fraction=0",
            "cohort.prior_ifn_fraction=0",
            "cohort.tki_years={median: 5.0, sigma: 0.0}",
            "cohort.dmr_years={median: 3.0, sigma: 0.0}",
        ]
    )


def _assert_survival(latent: np.ndarray, expected: np.ndarray, months: np.ndarray) -> None:
    empirical = np.array([np.mean(~(latent <= t)) for t in months])  # NaN = never relapses
    se = np.sqrt(expected * (1 - expected) / latent.size)
    np.testing.assert_array_less(np.abs(empirical - expected), 4 * se + 1e-12)


@pytest.mark.statistical
def test_clonal_latent_survival_matches_closed_form() -> None:
    params, cohort = _reference_cohort([])
    model = params.model
    assert isinstance(model, ClonalParams)
    assert np.allclose(linear_predictor(cohort, model.effects), 0.0)
    course = clonal.simulate_clonal(cohort, model, rng=stream("disease", seed=5, replicate=0))
    _assert_survival(course.relapse_month, clonal.survival(MONTHS, model), MONTHS)
    # Cure fraction exp(-theta0).
    cure = np.exp(-model.theta0)
    se = np.sqrt(cure * (1 - cure) / N)
    assert abs(np.mean(np.isnan(course.relapse_month)) - cure) < 4 * se
    assert abs(np.mean(course.n_clones == 0) - cure) < 4 * se


@pytest.mark.statistical
def test_clonal_survival_with_covariates_is_proportional_hazards() -> None:
    # A mixed cohort: S(t | x) = exp(-theta0 exp(eta) F(t)) patient by patient, so the
    # cohort average of the closed form must match the empirical curve.
    params, cohort = _cohort(["cohort.sokal_shares={low: 0.3, intermediate: 0.3, high: 0.4}"])
    model = dataclasses.replace(params.model, theta0=1.3)
    course = clonal.simulate_clonal(cohort, model, rng=stream("disease", seed=6, replicate=0))
    eta = linear_predictor(cohort, model.effects)
    F = clonal.clone_delay_cdf(MONTHS, model)
    expected = np.exp(-model.theta0 * np.exp(eta)[:, None] * F[None, :]).mean(axis=0)
    _assert_survival(course.relapse_month, expected, MONTHS)
    # Within Sokal high only: cure fraction = mean of exp(-theta_i).
    high = cohort.sokal_group == 2
    cure = np.exp(-model.theta0 * np.exp(eta[high])).mean()
    se = np.sqrt(cure * (1 - cure) / high.sum())
    assert abs(np.mean(np.isnan(course.relapse_month[high])) - cure) < 4 * se


def test_clonal_course_crosses_mmr_at_latent_month() -> None:
    params, cohort = _cohort(["cohort.n_patients=2000"])
    cohort = dataclasses.replace(
        cohort,
        **{  # first 2000 patients only
            f.name: getattr(cohort, f.name)[:2000] for f in dataclasses.fields(cohort)
        },
    )
    course = clonal.simulate_clonal(
        cohort, params.model, rng=stream("disease", seed=1, replicate=0)
    )
    relapsing = np.flatnonzero(~np.isnan(course.relapse_month))
    t = course.relapse_month
    at = np.where(np.isnan(t), 1.0, t)[:, None] + np.array([[-1e-6, 1e-6]])
    level = course.bcr_abl_pct(at)
    # Just after the latent month some clone is above MMR, so the total is too.
    assert np.all(level[relapsing, 1] > MMR_PCT)
    # Just before it, patients with one clone are below MMR (residual included).
    single = relapsing[course.n_clones[relapsing] == 1]
    assert np.all(level[single, 0] < MMR_PCT + course.residual_pct[single])
    # Cured patients stay at their residual level.
    cured = np.flatnonzero(np.isnan(course.relapse_month))
    np.testing.assert_allclose(level[cured, 1], course.residual_pct[cured])


@pytest.mark.statistical
def test_mixture_cure_fraction_and_weibull_median() -> None:
    params, cohort = _reference_cohort(["model=mixture_cure"])
    model = params.model
    assert isinstance(model, MixtureCureParams)
    course = mixture_cure.simulate_mixture_cure(
        cohort, model, rng=stream("disease", seed=7, replicate=0)
    )
    t = course.relapse_month
    cure = 1 / (1 + np.exp(-model.cure_logit0))
    se = np.sqrt(cure * (1 - cure) / N)
    assert abs(np.mean(np.isnan(t)) - cure) < 4 * se
    # Weibull median scale * (ln 2)^(1/k); a sample median's SE is
    # sqrt(1 / (4 m)) / f(median) with f the Weibull density there.
    uncured = t[~np.isnan(t)]
    k, lam = model.weibull_shape, model.weibull_scale_months
    median = lam * np.log(2) ** (1 / k)
    density = (k / lam) * (median / lam) ** (k - 1) * 0.5
    se_median = np.sqrt(0.25 / uncured.size) / density
    assert abs(np.median(uncured) - median) < 4 * se_median
    _assert_survival(t, mixture_cure.survival(MONTHS, model), MONTHS)


def test_clone_delay_cdf_properties() -> None:
    params = load_params(["model=clonal"])
    model = params.model
    assert isinstance(model, ClonalParams)
    F = clonal.clone_delay_cdf(np.linspace(0, 200, 81), model)
    assert F[0] == 0.0
    assert np.all(np.diff(F) >= -1e-12)
    assert 0.99 < F[-1] <= 1.0
    # No clone can cross MMR before its fastest growth time.
    assert clonal.clone_delay_cdf(0.3, model) == 0.0


def test_course_level_is_nan_where_no_time_is_given() -> None:
    params, cohort = _cohort(["cohort.n_patients=200"])
    cohort = dataclasses.replace(
        cohort, **{f.name: getattr(cohort, f.name)[:200] for f in dataclasses.fields(cohort)}
    )
    course = clonal.simulate_clonal(
        cohort, params.model, rng=stream("disease", seed=2, replicate=0)
    )
    months = np.tile([1.0, np.nan, 30.0], (200, 1))
    level = course.bcr_abl_pct(months)
    assert np.isnan(level[:, 1]).all()
    assert np.isfinite(level[:, [0, 2]]).all()


def test_poisson_inverse_cdf_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    u = rng.random(20_000)
    mean = rng.uniform(0.01, 8.0, 20_000)
    expected = np.minimum(stats.poisson.ppf(u, mean), clonal.MAX_CLONES)
    np.testing.assert_array_equal(clonal.poisson_inverse_cdf(u, mean, clonal.MAX_CLONES), expected)


def test_clonal_course_is_continuous_in_theta0() -> None:
    # Common random numbers: raising theta0 only adds clones (never removes or
    # reshuffles), so latent relapse months can only move earlier.
    params, cohort = _cohort(["cohort.n_patients=5000"])
    cohort = dataclasses.replace(
        cohort, **{f.name: getattr(cohort, f.name)[:5000] for f in dataclasses.fields(cohort)}
    )
    low = clonal.simulate_clonal(cohort, params.model, rng=stream("disease", seed=4, replicate=0))
    more = dataclasses.replace(params.model, theta0=params.model.theta0 * 1.05)
    high = clonal.simulate_clonal(cohort, more, rng=stream("disease", seed=4, replicate=0))
    assert np.all(high.n_clones >= low.n_clones)
    relapsed = ~np.isnan(low.relapse_month)
    assert np.all(high.relapse_month[relapsed] <= low.relapse_month[relapsed])
    np.testing.assert_array_equal(high.residual_pct, low.residual_pct)


def test_run_sums_equal_reduceat_bit_for_bit() -> None:
    """The per-patient clone sums equal ``np.add.reduceat`` bit for bit, for runs of 1 to
    20 clones (numpy adds ``first + (others)``, the others pairwise from 8 of them).

    Catches: summing a run left to right (``(a + b) + c`` differs from ``a + (b + c)``
    in the last bit, which would change every simulated level), a long run cut short.
    """
    from tfrsim.disease.course import _run_sums

    rng = np.random.default_rng(11)
    lengths = np.r_[np.arange(1, 21), rng.integers(1, 4, 200)]
    rng.shuffle(lengths)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    values = rng.lognormal(0.0, 4.0, (int(lengths.sum()), 41))
    values[rng.random(values.shape) < 0.3] = 0.0
    expected = np.add.reduceat(values, starts, axis=0)
    assert _run_sums(values, starts).tobytes() == expected.tobytes()
