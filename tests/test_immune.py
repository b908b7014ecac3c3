"""Immune-control model (model v2) against its closed forms (SE-derived tolerances).

With n patients an empirical survival proportion has SE sqrt(S (1 - S) / n); every
statistical check allows 4 SE (a correct model fails with probability < 1e-4 per
check), while each bug named in a docstring moves S by many SE at n = 60,000.
"""

import dataclasses

import numpy as np
import pytest

from tfrsim.checks import ConfigError
from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params
from tfrsim.disease import clonal, immune
from tfrsim.disease.clonal import ClonalParams
from tfrsim.disease.course import first_crossing
from tfrsim.disease.params import MMR_PCT
from tfrsim.random import stream

N = 60_000
MONTHS = np.array([1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 60.0, 156.0])
#: A parameter set where every mechanism matters: many controlled patients with
#: several clones, ceilings spread across detection and MMR, escapes within follow-up.
TEST_OVERRIDES = [
    "model=immune",
    "model.control_probability=0.5",
    "model.ceiling_median_pct=0.005",
    "model.ceiling_sigma=1.5",
    "model.escape_rate_per_month=0.05",
    "model.latency_sigma=1.5",
    "model.theta0=3.0",
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
            "cohort.tki_years={median: 5.0, sigma: 0.0}",
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


def _first_above(course, model, level: float) -> np.ndarray:
    assert course.clone_ceiling_pct is not None
    assert course.clone_escape_month is not None
    t = immune.level_crossing(
        level,
        course.clone_onset_month,
        course.clone_rate_per_month,
        model.initial_pct,
        course.clone_ceiling_pct,
        course.clone_escape_month,
    )
    return first_crossing(course.clone_patient, t, len(course))


def _single_clone_patients(course, model):  # type: ignore[no-untyped-def]
    """Single-clone patients: their indices, clone rows, ceiling, escape, growth rate,
    month the clone reaches the ceiling, and whether it is held there before escape
    (more than 1,000 of them)."""
    assert course.clone_ceiling_pct is not None
    assert course.clone_escape_month is not None
    single = np.flatnonzero(course.n_clones == 1)
    owner = np.searchsorted(course.clone_patient, single)
    ceiling = course.clone_ceiling_pct[owner]
    escape = course.clone_escape_month[owner]
    rate = course.clone_rate_per_month[owner]
    reach = course.clone_onset_month[owner] + np.log(ceiling / model.initial_pct) / rate
    held = np.isfinite(ceiling) & (ceiling > model.initial_pct) & (reach < escape - 0.01)
    assert held.sum() > 1000
    return single, owner, ceiling, escape, rate, reach, held


def test_latent_mmr_loss_matches_closed_form() -> None:
    """S(t) = (1-q) e^{-theta F0} + q E_{E,c}[e^{-theta F_held(t; E, c)}] at MMR.

    Catches: the hold not added to the MMR-crossing time (too many early relapses),
    the hold applied to patients whose ceiling is above MMR, escapes drawn per clone
    instead of per patient (several clones then end control at the earliest of their
    escapes: more relapses than the patient-level mixture), or a wrong quadrature.
    """
    model, cohort = _cohort()
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=6, replicate=0))
    _assert_survival(course.relapse_month, immune.survival(MONTHS, model), MONTHS)


def test_patient_level_escape_differs_from_per_clone_independence() -> None:
    """The mixture over (E, c) is not the per-clone product exp(-theta E[F_held]).

    Catches: a closed form that treats a patient's clones as independent given only
    the control state (the phase-1 formula), which the patient-level escape breaks:
    the two differ by far more than the simulation test's tolerance here.
    """
    model, _ = _cohort()
    months = np.array([24.0, 60.0])
    mixture = immune.survival(months, model)
    # Per-clone independence: one clone's held CDF averaged over E and c, then e^{-theta F}.
    small = dataclasses.replace(model, theta0=1e-6)
    free = immune.survival(months, dataclasses.replace(small, control_probability=0.0))
    f_free = -np.log(free) / small.theta0
    f_avg = (
        -np.log(immune.survival(months, small)) / small.theta0
        - (1 - model.control_probability) * f_free
    ) / model.control_probability
    q = model.control_probability
    product = (1 - q) * np.exp(-model.theta0 * f_free) + q * np.exp(-model.theta0 * f_avg)
    se = np.sqrt(mixture * (1 - mixture) / N)
    assert np.all(np.abs(mixture - product) > 8 * se)


def test_latent_first_positive_matches_closed_form() -> None:
    """First month any clone exceeds a detection level d = 0.003 % IS (~MR4.5).

    Catches: the hold counted for patients whose ceiling is above d (their clones pass
    d before being held), or the ceiling compared with MMR instead of d.
    """
    model, cohort = _cohort()
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=7, replicate=0))
    level = 0.003
    first = _first_above(course, model, level)
    _assert_survival(first, immune.survival(MONTHS, model, level_pct=level), MONTHS)


def test_ceiling_respected_and_course_consistent_with_crossing_times() -> None:
    """The course a test samples holds a controlled clone at its patient's ceiling
    until the patient's escape month, then lets it grow from there.

    Catches: Course.bcr_abl_pct ignoring the ceiling (a controlled clone grows through
    it), holding for the wrong duration, holding a clone that reaches the ceiling
    only after the escape, or not resuming growth after escape; and crossing times
    inconsistent with the sampled levels.
    """
    model, cohort = _cohort(extra=("model.oscillation_log10=0",))
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=8, replicate=0))
    single, owner, ceiling, escape, rate, reach, held = _single_clone_patients(course, model)
    rows = single[held]
    months = np.full((len(course), 3), np.nan)
    e, r_, c_ = escape[held], reach[held], ceiling[held]
    months[rows] = np.c_[r_ + 0.5 * (e - r_), e - 1e-9, e + 1.0]
    level = course.bcr_abl_pct(months)[rows] - course.residual_pct[rows, None]
    np.testing.assert_allclose(level[:, 0], c_, rtol=1e-9)
    np.testing.assert_allclose(level[:, 1], c_, rtol=1e-6)
    grown = np.minimum(c_ * np.exp(rate[held]), model.plateau_pct)
    np.testing.assert_allclose(level[:, 2], grown, rtol=1e-9)
    # A clone reaching the ceiling after the escape is never held.
    late = np.isfinite(ceiling) & (reach > escape + 0.01) & (ceiling < 1.0)
    assert late.sum() > 100
    rows = single[late]
    months = np.full((len(course), 1), np.nan)
    months[rows, 0] = reach[late] + 0.5
    free = model.initial_pct * np.exp(
        rate[late] * (reach[late] + 0.5 - course.clone_onset_month[owner][late])
    )
    level = course.bcr_abl_pct(months)[rows, 0] - course.residual_pct[rows]
    np.testing.assert_allclose(level, np.minimum(free, model.plateau_pct), rtol=1e-9)
    # Level at the latent crossing of MMR equals MMR (single-clone patients).
    t = _first_above(course, model, MMR_PCT)[single]
    at = np.full((len(course), 1), np.nan)
    at[single] = t[:, None]
    ok = np.isfinite(t)
    np.testing.assert_allclose(
        (course.bcr_abl_pct(at)[single, 0] - course.residual_pct[single])[ok], MMR_PCT, rtol=1e-6
    )


def test_oscillation_follows_its_formula_and_never_raises_the_burden() -> None:
    """A controlled single-clone patient, from the month T its clone reaches the
    ceiling c until escape E, sits at c 10^(-A (1 - cos(2 pi (t - T) / P)) / 2)
    (hand formula, here at random months in [T, E)); before T and after E the
    oscillation plays no part, so the crossing times of MMR stay consistent with the
    sampled levels.

    Catches: the oscillation starting at stop instead of at T (it would delay first
    positives), a wrong phase (starting at a trough), the period or depth misapplied
    (e.g. natural log for log10), or the oscillation raising the level above the
    ceiling.
    """
    amplitude, period = 1.7, 5.0
    model, cohort = _cohort(
        extra=(f"model.oscillation_log10={amplitude}", f"model.oscillation_period_months={period}")
    )
    course = immune.simulate_immune(cohort, model, rng=stream("disease", seed=12, replicate=0))
    single, owner, ceiling, escape, rate, reach, held = _single_clone_patients(course, model)
    rows = single[held]
    r_, e_, c_ = reach[held], escape[held], ceiling[held]
    u = np.random.default_rng(0).random(rows.size)
    t = r_ + u * np.minimum(e_ - r_ - 1e-6, 40.0)
    months = np.full((len(course), 2), np.nan)
    months[rows] = np.c_[t, r_ - 0.01]
    level = course.bcr_abl_pct(months)[rows] - course.residual_pct[rows, None]
    expected = c_ * 10 ** (-amplitude * (1 - np.cos(2 * np.pi * (t - r_) / period)) / 2)
    np.testing.assert_allclose(level[:, 0], expected, rtol=1e-6)
    assert np.all(level[:, 0] <= c_ * (1 + 1e-9))
    # Half a period after T the burden is at its trough, A logs below the ceiling.
    months[rows] = np.c_[r_ + period / 2, r_ + period]
    ok = r_ + period < e_
    level = course.bcr_abl_pct(months)[rows] - course.residual_pct[rows, None]
    np.testing.assert_allclose(level[ok, 0], c_[ok] * 10**-amplitude, rtol=1e-6)
    np.testing.assert_allclose(level[ok, 1], c_[ok], rtol=1e-6)
    # Just before T the clone is still rising freely (no oscillation before T).
    before = model.initial_pct * np.exp(
        rate[held] * (r_ - 0.01 - course.clone_onset_month[owner][held])
    )
    months[rows] = np.c_[r_ - 0.01, r_ - 0.01]
    level = course.bcr_abl_pct(months)[rows, 0] - course.residual_pct[rows]
    np.testing.assert_allclose(level, before, rtol=1e-9)
    # The latent MMR crossing is unchanged by the oscillation and matches the levels.
    mmr = _first_above(course, model, MMR_PCT)[single]
    at = np.full((len(course), 1), np.nan)
    at[single] = mmr[:, None]
    fine = np.isfinite(mmr)
    np.testing.assert_allclose(
        (course.bcr_abl_pct(at)[single, 0] - course.residual_pct[single])[fine], MMR_PCT, rtol=1e-6
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


def test_without_control_the_survival_is_the_clonal_one() -> None:
    """With q = 0 the closed form is the v1 clonal one, exactly.

    Catches: a drift between the two models' quadratures or growth-time definitions.
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
        effects=model.effects,
    )
    np.testing.assert_allclose(
        immune.survival(MONTHS, free), clonal.survival(MONTHS, v1), atol=1e-12
    )


def test_control_gives_rule_events_without_mmr_loss() -> None:
    """Under the STIM rule, some events come from controlled clones (a >= 1-log rise
    that never loses MMR), and loss of MMR gives clearly more remission.

    (MRFS at 24 months: escapes make the two rules converge later, by design.)

    Catches: a course whose every positive run ends in MMR loss (the v1 behaviour:
    43 of 20,000 STIM events without MMR loss) or a ceiling not seen by the assay.
    """
    from tfrsim.analysis import survival_at
    from tfrsim.calibration.statistics import no_mmr_loss_events
    from tfrsim.execution import simulate

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


def test_ceiling_may_lie_anywhere_below_100_percent() -> None:
    """Catches a narrowed or widened range of the immune ceiling: any level in
    (0, 100) % IS is a valid ceiling (99.5 % included), 0 and 100 % are not (an open
    interval: 100 % IS is a full relapse, not control)."""
    model = load_params(["model=immune"]).model
    for ok in (1e-4, 50.0, 99.5):
        assert dataclasses.replace(model, ceiling_median_pct=ok).ceiling_median_pct == ok
    for bad in (0.0, 100.0, 120.0):
        with pytest.raises(ConfigError, match="ceiling_median_pct"):
            dataclasses.replace(model, ceiling_median_pct=bad)
