"""Immune-control model (model v2) against its closed forms (SE-derived tolerances).

With n patients an empirical survival proportion has SE sqrt(S (1 - S) / n); every
statistical check allows 4 SE (a correct model fails with probability < 1e-4 per
check), while each bug named in a docstring moves S by many SE at n = 60,000.
"""

import dataclasses

import numpy as np

from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params
from tfrsim.config.params import MMR_PCT, ClonalParams
from tfrsim.disease import clonal, immune
from tfrsim.disease.course import first_crossing
from tfrsim.random import stream

N = 60_000
MONTHS = np.array([1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 60.0, 156.0])
#: A parameter set where every mechanism matters: many controlled clones, ceilings
#: spread across detection and MMR, escapes within the follow-up.
TEST_OVERRIDES = [
    "model=immune",
    "model.control_probability=0.5",
    "model.ceiling_median_pct=0.005",
    "model.ceiling_sigma=1.5",
    "model.escape_rate_per_month=0.05",
    "model.latency_sigma=1.5",
]
#: Strong, long control with ceilings between detection and MMR (rule contrast test).
RULE_OVERRIDES = [
    "model=immune",
    "model.control_probability=0.5",
    "model.escape_rate_per_month=0.005",
    "model.ceiling_median_pct=0.03",
    "model.ceiling_sigma=0.3",
]


def _cohort(depth: str = "MR4.5", extra: tuple[str, ...] = ()):
    """Every patient at the reference covariates (eta = 0 at MR4.5) but ``depth``."""
    shares = {"MR4": 0.0, "MR4.5": 0.0, "MR5": 0.0, depth: 1.0}
    params = load_params(
        [
            *TEST_OVERRIDES,
            *extra,
            f"cohort.n_patients={N}",
            "cohort.sokal_shares={low: 1.0, intermediate: 0.0, high: 0.0}",
            "cohort.male_fraction=0",
            "cohort.prior_ifn_fraction=0",
            "cohort.imatinib_years={median: 5.0, sigma: 0.0}",
            "cohort.dmr_years={median: 3.0, sigma: 0.0}",
            "cohort.eligibility.min_depth=MR4",
            "cohort.depth_shares={" + ",".join(f"{k}: {v}" for k, v in shares.items()) + "}",
        ]
    )
    cohort = sample_cohort(params.cohort, N, rng=stream("cohort", seed=5, replicate=0))
    assert isinstance(params.model, immune.ImmuneParams)
    return params.model, cohort


def _assert_survival(latent: np.ndarray, expected: np.ndarray, months: np.ndarray) -> None:
    empirical = np.array([np.mean(~(latent <= t)) for t in months])  # NaN = never
    se = np.sqrt(expected * (1 - expected) / latent.size)
    np.testing.assert_array_less(np.abs(empirical - expected), 4 * se + 1e-12)


def test_latent_mmr_loss_matches_closed_form() -> None:
    """S(t) = exp(-theta F(t)), F = (1-p) F0 + p (F0 * Exp(lambda)), at MMR.

    Catches: the hold not added to the MMR-crossing time (too many early relapses),
    the hold added to clones whose ceiling is above MMR, control drawn per patient
    instead of per clone, or a wrong hypo-exponential convolution.
    """
    model, cohort = _cohort()
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=6, replicate=0))
    _assert_survival(course.relapse_month, immune.survival(MONTHS, model), MONTHS)


def test_latent_first_positive_matches_closed_form() -> None:
    """First month any clone exceeds a detection level d = 0.003 % IS (~MR4.5).

    Catches: the hold counted for clones whose ceiling is above d (they pass d before
    being held), or the ceiling compared with MMR instead of d.
    """
    model, cohort = _cohort()
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=7, replicate=0))
    level = 0.003
    first = first_crossing(
        course.clone_patient, immune.clone_level_crossing(course, level), len(course)
    )
    _assert_survival(first, immune.survival(MONTHS, model, level_pct=level), MONTHS)


def test_ceiling_respected_and_course_consistent_with_crossing_times() -> None:
    """The course a test samples holds each controlled clone at its ceiling.

    Catches: Course.bcr_abl_pct ignoring the ceiling (a controlled clone grows through
    it), holding for the wrong duration, or not resuming growth after escape; and
    crossing times inconsistent with the sampled levels.
    """
    model, cohort = _cohort()
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=8, replicate=0))
    assert course.clone_ceiling_pct is not None
    assert course.clone_escape_month is not None
    single = np.flatnonzero(course.n_clones == 1)
    owner = np.searchsorted(course.clone_patient, single)
    ceiling = course.clone_ceiling_pct[owner]
    escape = course.clone_escape_month[owner]
    ok = np.isfinite(ceiling) & (ceiling > model.initial_pct) & np.isfinite(escape)
    rows, clones = single[ok], owner[ok]
    reach = (
        course.clone_onset_month[clones]
        + np.log(ceiling[ok] / model.initial_pct) / course.clone_rate_per_month[clones]
    )
    months = np.full((len(course), 3), np.nan)
    months[rows] = np.c_[reach + 0.5 * (escape[ok] - reach), escape[ok] - 1e-9, escape[ok] + 1.0]
    level = course.bcr_abl_pct(months)[rows] - course.residual_pct[rows, None]
    np.testing.assert_allclose(level[:, 0], ceiling[ok], rtol=1e-9)
    np.testing.assert_allclose(level[:, 1], ceiling[ok], rtol=1e-6)
    grown = np.minimum(ceiling[ok] * np.exp(course.clone_rate_per_month[clones]), model.plateau_pct)
    np.testing.assert_allclose(level[:, 2], grown, rtol=1e-9)
    # Level at the crossing time of MMR equals MMR (single-clone patients).
    t = immune.clone_level_crossing(course, MMR_PCT)[owner]
    at = np.full((len(course), 1), np.nan)
    at[single] = t[:, None]
    np.testing.assert_allclose(
        course.bcr_abl_pct(at)[single, 0] - course.residual_pct[single], MMR_PCT, rtol=1e-6
    )


def test_depth_effect_on_clone_count_and_residual() -> None:
    """MR4 and MR5 cohorts follow exp(-theta0 e^{beta (d - 4.5)} F) and residual
    medians 10^{gamma (d - 4.5)} apart.

    Catches: depth at stop ignored by the course (the v1 bug: HR 0.98 per log), the
    sign of the depth effect reversed, or the residual level not scaled with depth.
    """
    months = np.array([3.0, 24.0])
    for depth, log in (("MR4", 4.0), ("MR5", 5.0)):
        model, cohort = _cohort(depth)
        course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=9, replicate=0))
        eta = model.effects.depth_per_log * (log - model.effects.depth_ref_log)
        _assert_survival(course.relapse_month, immune.survival(months, model, eta), months)
        median = float(np.median(course.residual_pct))
        expected = model.residual_median_pct * 10 ** (-model.residual_depth_slope * (log - 4.5))
        # Median of N log-normal draws: SE of log median ~ 1.25 sigma / sqrt(N).
        tol = 4 * 1.2533 * model.residual_sigma / np.sqrt(N)
        assert abs(np.log(median / expected)) < tol
    deeper = immune.survival(24.0, model, model.effects.depth_per_log * 0.5)
    shallower = immune.survival(24.0, model, model.effects.depth_per_log * -0.5)
    assert deeper > shallower


def test_without_control_the_delay_cdf_is_the_clonal_one() -> None:
    """With q = 0, F_d at MMR equals the v1 clonal delay CDF; the hypo-exponential
    form is continuous where the latency rate equals the escape rate.

    Catches: a drift between the two models' quadratures, and the catastrophic
    cancellation of (e^{-a s} - e^{-l s}) / (l - a) at a = l.
    """
    model, _ = _cohort()
    free = dataclasses.replace(model, control_probability=0.0)
    v1 = ClonalParams(
        theta0=model.theta0,
        latency_rate_per_month=model.latency_rate_per_month,
        latency_sigma=model.latency_sigma,
        growth_rate_per_month=model.growth_rate_per_month,
        growth_sigma=model.growth_sigma,
        initial_pct=model.initial_pct,
        residual_median_pct=model.residual_median_pct,
        residual_sigma=model.residual_sigma,
        plateau_pct=model.plateau_pct,
        effects=load_params([]).model.effects,  # unused by clone_delay_cdf
    )
    np.testing.assert_allclose(
        immune.clone_delay_cdf(MONTHS, free), clonal.clone_delay_cdf(MONTHS, v1), atol=1e-12
    )
    np.testing.assert_allclose(
        immune.survival(MONTHS, free), clonal.survival(MONTHS, v1), atol=1e-12
    )
    s = np.array([0.5, 5.0, 50.0])
    lam = 0.05
    near = immune._hypoexponential_cdf(s, np.full(3, lam * (1 + 1e-9)), lam)
    exact = 1 - np.exp(-lam * s) * (1 + lam * s)  # Erlang(2, lam)
    np.testing.assert_allclose(near, exact, rtol=1e-6)
    # Monte Carlo of L + E against the closed form (4 SE).
    rng = np.random.default_rng(0)
    a = 0.3
    draws = rng.exponential(1 / a, N) + rng.exponential(1 / lam, N)
    cdf = immune._hypoexponential_cdf(s, np.full(3, a), lam)
    empirical = np.array([np.mean(draws <= x) for x in s])
    np.testing.assert_array_less(np.abs(empirical - cdf), 4 * np.sqrt(cdf * (1 - cdf) / N))


def test_control_gives_rule_events_without_mmr_loss() -> None:
    """Under the STIM rule, some events come from controlled clones (a >= 1-log rise
    that never loses MMR), and loss of MMR gives clearly more remission.

    (MRFS at 24 months: escapes make the two rules converge later, by design.)

    Catches: a course whose every positive run ends in MMR loss (the v1 behaviour:
    43 of 20,000 STIM events without MMR loss) or a ceiling not seen by the assay.
    """
    from tfrsim.analysis import survival_at
    from tfrsim.calibration.immune_fit import no_mmr_loss_events
    from tfrsim.pipeline import simulate

    out = {}
    for rule in ("stim", "loss_of_mmr"):
        params = load_params(
            [
                *RULE_OVERRIDES,
                "trial=stim1",
                "cohort.n_patients=8000",
                "seed=3",
                f"monitoring.rule.name={rule}",
            ]
        )
        out[rule] = simulate(params).patients
    k, n = no_mmr_loss_events(out["stim"])
    share = k / n
    se = np.sqrt(0.05 * 0.95 / n)
    assert share > 0.05 + 4 * se
    rf = {
        r: survival_at(p["duration_months"].to_numpy(), p["event"].to_numpy(), [24.0])[0]
        for r, p in out.items()
    }
    # Same patients, so the difference has SE below sqrt(2) x the binomial SE.
    assert rf["loss_of_mmr"] - rf["stim"] > 4 * np.sqrt(0.25 / 8000) * np.sqrt(2)
