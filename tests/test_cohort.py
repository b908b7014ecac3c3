"""Cohort sampling: eligibility, shares and published medians (SE-derived tolerances)."""

import numpy as np
import pytest
from scipy import stats

from tfrsim.cohort.distributions import (
    categorical,
    lognormal_mass,
    normal_mass,
    truncated_lognormal,
    truncated_normal,
)
from tfrsim.cohort.params import SOKAL_GROUPS, LogNormalParams
from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params
from tfrsim.random import stream

N = 40_000


def _cohort(overrides: list[str], seed: int = 11):
    params = load_params([f"cohort.n_patients={N}", *overrides])
    return params, sample_cohort(params.cohort, N, rng=stream("cohort", seed=seed, replicate=0))


def test_trial_mode_respects_eligibility_and_shares() -> None:
    params, cohort = _cohort([])
    elig = params.cohort.eligibility
    assert len(cohort) == N
    assert cohort.tki_years.min() >= elig.min_tki_years
    assert cohort.dmr_years.min() >= elig.min_dmr_years
    assert np.all(cohort.depth_log == 5.0)  # STIM1 required MR5
    assert np.all(np.isnan(cohort.sokal_score))  # not sampled in trial mode
    for code, group in enumerate(SOKAL_GROUPS):
        share = params.cohort.sokal_shares[group]
        se = np.sqrt(share * (1 - share) / N)
        assert abs(np.mean(cohort.sokal_group == code) - share) < 4 * se
    male_se = np.sqrt(0.37 * 0.63 / N)
    assert abs(cohort.male.mean() - params.cohort.male_fraction) < 4 * male_se


@pytest.mark.parametrize("trial", ["stim1", "population"])
def test_deep_response_fits_inside_imatinib_treatment(trial: str) -> None:
    from tfrsim.cohort.sample import MIN_YEARS_TO_DMR

    _, cohort = _cohort([f"trial={trial}"])
    assert np.all(cohort.dmr_years <= cohort.tki_years - MIN_YEARS_TO_DMR + 1e-12)


def test_stim1_published_medians() -> None:
    # STIM1: median imatinib 50 months, median CMR 36 months (Kimura, Stem Cell
    # Investig 2016, Table 1). SE of a sample median: sqrt(1/4n) / density at the median,
    # with the density estimated from the sample's interquartile spread (conservative).
    _, cohort = _cohort([])
    for values, published in ((cohort.tki_years * 12, 50.0), (cohort.dmr_years * 12, 36.0)):
        q25, q50, q75 = np.percentile(values, [25, 50, 75])
        density = 0.5 / (q75 - q25)
        se = np.sqrt(0.25 / N) / density
        assert abs(q50 - published) < 4 * se


def test_population_mode_sokal_high_share() -> None:
    # Unselected European cohorts: Sokal high 24.7 % (EUTOS PBR 2015) and 23 % (ELN
    # registry, Pfirrmann 2020): the clinical assumptions must land in [23 %, 25 %].
    _, cohort = _cohort(["trial=population"])
    high = np.mean(cohort.sokal_group == 2)
    se = np.sqrt(0.24 * 0.76 / N)
    assert 0.23 - 3 * se < high < 0.25 + 3 * se
    assert np.all(np.isfinite(cohort.sokal_score))
    assert np.all(cohort.blasts_pct < 15)  # chronic phase
    assert set(np.unique(cohort.elts_group)) <= {0, 1, 2}


def test_depth_eligibility_renormalises() -> None:
    _, cohort = _cohort(["cohort.eligibility.min_depth=MR4.5"])
    assert set(np.unique(cohort.depth_log)) == {4.5, 5.0}
    # Shares 0.35 : 0.35 before eligibility -> 1/2 each after.
    assert abs(np.mean(cohort.depth_log == 5.0) - 0.5) < 4 * np.sqrt(0.25 / N)


def test_same_stream_same_patients() -> None:
    _, a = _cohort([], seed=3)
    _, b = _cohort([], seed=3)
    _, c = _cohort([], seed=4)
    np.testing.assert_array_equal(a.tki_years, b.tki_years)
    assert not np.array_equal(a.tki_years, c.tki_years)


@pytest.mark.parametrize("first_id", [0, 12_345])
def test_patient_ids(first_id: int) -> None:
    params = load_params(["cohort.n_patients=10"])
    cohort = sample_cohort(
        params.cohort, 10, rng=stream("cohort", seed=1, replicate=0), first_id=first_id
    )
    assert cohort.patient_id.tolist() == list(range(first_id, first_id + 10))


@pytest.mark.parametrize(("lo", "hi"), [(0.5, 10.0), (1.0, np.inf), (0.0, 4.0), (3.0, 6.0)])
def test_truncated_distributions_match_scipy(lo: float, hi: float) -> None:
    """Catches a wrong truncation of the cohort's inverse-CDF draws (a lower bound
    ignored below 1 or at 1, a bound on the wrong side, a mass computed as a ratio):
    quantiles and masses equal scipy's truncated normal on the log scale (log-normal)
    and on the natural scale (normal), an independent closed form, to 1e-9."""
    u = np.linspace(0.001, 0.999, 41)
    dist = LogNormalParams(median=2.0, sigma=0.8)
    mu = np.log(dist.median)
    log_lo = np.log(lo) if lo > 0 else -np.inf
    a, b = (log_lo - mu) / dist.sigma, (np.log(hi) - mu) / dist.sigma
    expected = np.exp(stats.truncnorm.ppf(u, a, b, loc=mu, scale=dist.sigma))
    np.testing.assert_allclose(truncated_lognormal(u, dist, lo, hi), expected, rtol=1e-9)
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    assert lognormal_mass(dist, lo, hi) == pytest.approx(mass, rel=1e-9)
    mean, sd = 2.5, 1.5
    a, b = (lo - mean) / sd, (hi - mean) / sd
    expected = stats.truncnorm.ppf(u, a, b, loc=mean, scale=sd)
    np.testing.assert_allclose(truncated_normal(u, mean, sd, lo, hi), expected, rtol=1e-9)
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    assert normal_mass(mean, sd, lo, hi) == pytest.approx(mass, rel=1e-9)


def test_categorical_uses_cumulative_shares() -> None:
    """Catches an off-by-one category at a boundary: with shares 0.2 / 0.5 / 0.3, a
    uniform below 0.2 is category 0, in [0.2, 0.7) category 1, above category 2."""
    u = np.array([0.0, 0.19, 0.2, 0.69, 0.7, 0.999999])
    assert categorical(u, np.array([0.2, 0.5, 0.3])).tolist() == [0, 0, 1, 1, 2, 2]


def test_degenerate_distributions_are_point_masses() -> None:
    """Catches the zero-SD branch skipped or its bounds mis-compared (a point mass at
    the mean is inside [lo, hi] when lo <= mean <= hi, with either bound inclusive):
    with SD 0 the mass is 1 or 0 and every draw is the mean."""
    assert normal_mass(60.0, 0.0, 18.0, 85.0) == 1.0
    assert normal_mass(60.0, 0.0, 60.0, 60.0) == 1.0
    assert normal_mass(60.0, 0.0, 61.0, 85.0) == 0.0
    assert lognormal_mass(LogNormalParams(5.0, 0.0), 3.0) == 1.0
    assert lognormal_mass(LogNormalParams(2.0, 0.0), 3.0) == 0.0
    u = np.array([0.1, 0.5, 0.9])
    assert truncated_normal(u, 60.0, 0.0, 18.0, 85.0).tolist() == [60.0] * 3
    assert truncated_lognormal(u, LogNormalParams(5.0, 0.0), 3.0).tolist() == [5.0] * 3


def test_cohort_parameters_are_frozen() -> None:
    """Catches a parameter dataclass left mutable (a run could then change the
    parameters another run shares): every dataclass of cohort.params is frozen."""
    import dataclasses as dc

    from tfrsim.cohort import params as module

    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and dc.is_dataclass(obj) and obj.__module__ == module.__name__
    ]
    assert len(classes) >= 4
    for cls in classes:
        assert cls.__dataclass_params__.frozen, cls.__name__
