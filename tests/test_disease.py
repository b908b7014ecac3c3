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
from tfrsim.disease.params import MMR_PCT, CovariateEffects
from tfrsim.random import stream

N = 60_000
MONTHS = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 12.0, 24.0, 60.0, 156.0])


#: The clonal model's tests run the calibrated clonal model (v1); the installed default
#: is the immune model (v2), tested in test_immune.py.
CLONAL = "model=clonal_calibrated"


def _cohort(overrides: list[str]):
    params = load_params([CLONAL, f"cohort.n_patients={N}", *overrides])
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


def test_clonal_closed_form_raises_risk_with_eta() -> None:
    """Catches a covariate effect applied with the wrong sign in the closed-form curve
    (``theta0 / e^eta``): the clonal model's latent hazard is proportional, so
    S(t | eta) = S(t | 0) ** exp(eta) (algebra of exp(-theta0 e^eta F(t))), and a
    positive eta lowers the curve."""
    model = load_params([CLONAL]).model
    assert isinstance(model, ClonalParams)
    base = clonal.survival(MONTHS, model)
    for eta in (-0.7, 0.5):
        np.testing.assert_allclose(
            clonal.survival(MONTHS, model, eta), base ** np.exp(eta), rtol=1e-12
        )
    assert np.all(clonal.survival(MONTHS, model, 0.5) < base)


def test_linear_predictor_by_hand() -> None:
    """Catches an effect applied to the wrong covariate or added instead of multiplied
    (e.g. ``b_das + [dasatinib]``): eta of four hand-made patients, one per Sokal
    group and TKI, equals the sum written out by hand."""
    params = load_params([CLONAL])
    cohort = sample_cohort(params.cohort, 4, rng=stream("cohort", seed=5, replicate=0))
    cohort = dataclasses.replace(
        cohort,
        sokal_group=np.array([0, 1, 2, 0], dtype=np.int8),
        tki_years=np.array([5.0, 7.0, 4.0, 5.0]),
        dmr_years=np.array([3.0, 2.0, 5.0, 3.0]),
        prior_ifn=np.array([False, True, False, False]),
        male=np.array([False, False, True, True]),
        tki=np.array([0, 1, 2, 2], dtype=np.int8),
        depth_log=np.array([4.5, 5.0, 4.0, 4.5]),
    )
    effects = dataclasses.replace(
        params.model.effects,
        sokal_intermediate=0.1,
        sokal_high=0.2,
        tki_per_year=-0.03,
        dmr_per_year=-0.05,
        prior_ifn=-0.7,
        male=0.11,
        tki_ref_years=5.0,
        dmr_ref_years=3.0,
        nilotinib=0.3,
        dasatinib=0.4,
        depth_per_log=-0.5,
        depth_ref_log=4.5,
    )
    expected = [
        0.0,  # the reference patient
        0.1 - 0.03 * 2 - 0.05 * -1 - 0.7 + 0.3 - 0.5 * 0.5,
        0.2 - 0.03 * -1 - 0.05 * 2 + 0.11 + 0.4 - 0.5 * -0.5,
        0.11 + 0.4,
    ]
    np.testing.assert_allclose(linear_predictor(cohort, effects), expected, atol=1e-12)


@pytest.mark.statistical
def test_residual_levels_are_log_normal() -> None:
    """Catches a wrong residual-disease spread (e.g. ``median ** e^(sigma Z)``, whose
    median is right): log residual levels have median log(median) and SD sigma, within
    4 SE (SE of a normal median 1.2533 sigma / sqrt(n); of an SD sigma / sqrt(2 n))."""
    from tfrsim.disease.course import residual_levels

    n, median, sigma = 40_000, 0.002, 0.8
    logs = np.log(residual_levels(n, median, sigma, rng=stream("disease", seed=3, replicate=0)))
    assert abs(np.median(logs) - np.log(median)) < 4 * 1.2533 * sigma / np.sqrt(n)
    assert abs(np.std(logs) - sigma) < 4 * sigma / np.sqrt(2 * n)


def test_simulate_course_takes_its_stream_by_keyword() -> None:
    """Catches the disease stream accepted by position (a caller passing another
    stage's stream in the wrong slot): ``rng`` is keyword-only, and the model name and
    parameters may be passed by keyword."""
    from tfrsim.disease.registry import simulate_course

    params = load_params([CLONAL])
    cohort = sample_cohort(params.cohort, 3, rng=stream("cohort", seed=5, replicate=0))
    rng = stream("disease", seed=5, replicate=0)
    with pytest.raises(TypeError):
        simulate_course(cohort, "clonal", params.model, rng)  # type: ignore[misc]
    course = simulate_course(cohort, name="clonal", params=params.model, rng=rng)
    assert len(course) == 3


@pytest.mark.parametrize(("sokal_high", "warned"), [(0.06, False), (1.0, True)])
def test_clone_truncation_warns_only_when_it_matters(
    sokal_high: float, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Catches a warning on every posterior draw that takes theta a little above 8
    (P(K > 32) ~ 1e-10, nothing truncated in practice) and a silent truncation where
    it matters: theta0 = 8 with Sokal high at exp(1.0) gives theta 21.7 and
    P(K > 32) = 0.012 per such patient (scipy), which is warned with the expected
    number of truncated patients; exp(0.06) gives theta 8.5, which is not."""
    from scipy import stats

    params, cohort = _cohort(
        ["cohort.sokal_shares={low: 0.0, intermediate: 0.0, high: 1.0}", "cohort.n_patients=2000"]
    )
    cohort = dataclasses.replace(
        cohort, **{f.name: getattr(cohort, f.name)[:2000] for f in dataclasses.fields(cohort)}
    )
    # Every patient is Sokal high; every other effect off, so theta = 8 exp(sokal_high).
    effects = CovariateEffects(
        sokal_intermediate=0.0,
        sokal_high=sokal_high,
        tki_per_year=0.0,
        dmr_per_year=0.0,
        prior_ifn=0.0,
        male=0.0,
        tki_ref_years=5.0,
        dmr_ref_years=3.0,
    )
    model = dataclasses.replace(params.model, theta0=8.0, effects=effects)
    with caplog.at_level("WARNING", logger="tfrsim.disease.clonal"):
        course = clonal.simulate_clonal(cohort, model, rng=stream("disease", seed=4, replicate=0))
    messages = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert bool(messages) == warned
    assert course.n_clones.max() <= clonal.MAX_CLONES
    if warned:
        expected = 2000 * stats.poisson.sf(clonal.MAX_CLONES, 8.0 * np.exp(1.0))
        assert f"expected {expected:.2g} truncated patients" in messages[0]
