"""The calibration objective scores what it claims to score.

Targets are made here from simulations at known parameters ``p*`` (same seed and size
as the objective's, so common random numbers make them exact), with the simulated
curves read by an independent Kaplan–Meier written below. Then:

* at ``p*`` every milestone residual is 0 and the objective is at its minimum: moving
  any fitted parameter up or down raises it;
* the objective equals an independent sum of its terms (milestones read at the right
  month, the median term, the hinge penalties on the right side);
* a term that cannot be computed is never dropped.
"""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from tfrsim.analysis.descriptive import interpolated_median
from tfrsim.calibration.objective import (
    EARLY_SHARE_SCALE,
    EFFECT_PRIORS,
    LATE_SHARE_SCALE,
    NAN_TERM_PENALTY,
    Objective,
    binomial_deviance,
    fittable,
    natural_value,
    search_scale,
    search_value,
    trial_params,
    with_parameters,
)
from tfrsim.calibration.targets import (
    MilestoneTarget,
    RestartMix,
    Targets,
    TimingTargets,
    load_targets,
)
from tfrsim.config.compose import load_params, trial_designs
from tfrsim.disease.clonal import ClonalParams
from tfrsim.execution import simulate

N = 1500
SEED = 9
#: Milestone months per trial, several between visits (a wrong month shows there).
MONTHS = {"stim1": [2.0, 5.0, 6.0, 12.5, 24.0], "twister": [3.0, 8.0, 24.0]}
NAMES = ["theta0", "latency_rate_per_month", "latency_sigma", "growth_rate_per_month"]
SE = 0.05


def km_at(durations: np.ndarray, events: np.ndarray, month: float) -> float:
    """Product-limit estimate at ``month`` (right-continuous), written independently."""
    s = 1.0
    for t in np.unique(durations[events & (durations <= month)]):
        at_risk = np.sum(durations >= t)
        s *= 1 - np.sum(events & (durations == t)) / at_risk
    return s


@pytest.fixture(scope="module")
def setting() -> tuple[ClonalParams, dict, dict]:
    model = load_params(["model=clonal_calibrated"]).model  # the v1 fit: exact PH
    assert isinstance(model, ClonalParams)
    designs = trial_designs(("stim1", "twister"), ["model=clonal_calibrated"])
    return model, designs, _simulate_trials(model, designs)


def _simulate_trials(model: ClonalParams, designs: dict) -> dict:
    """Patients of every trial in MONTHS, at the objective's size and seed."""
    return {
        trial: simulate(
            dataclasses.replace(
                trial_params(designs[trial], N, SEED, max(MONTHS[trial])), model=model
            )
        ).patients
        for trial in MONTHS
    }


def _targets(patients: dict, timing: dict[str, float] | None = None) -> Targets:
    milestones = []
    for trial, months in MONTHS.items():
        d = patients[trial]["duration_months"].to_numpy()
        e = patients[trial]["event"].to_numpy()
        for m in months:
            s = km_at(d, e, m)
            milestones.append(MilestoneTarget(trial, m, s, SE, np.nan, np.nan, "test", "test"))
    relapses = patients["stim1"].loc[patients["stim1"]["event"], "duration_months"].to_numpy()
    base = {
        "stim1_median_relapse_month": interpolated_median(relapses),
        "stim1_median_relapse_se": 0.5,
        "twister_late_after_month": 27.0,
        "twister_max_late_share": 1.0,  # hinges inactive unless a test sets them
        "twister_early_by_month": 4.0,
        "twister_min_early_share": 0.0,
    }
    timing_targets = TimingTargets(**{**base, **(timing or {})})
    return Targets(tuple(milestones), timing_targets, load_targets().fluctuation)


def _objective(model: ClonalParams, designs: dict, targets: Targets) -> Objective:
    return Objective(targets, model, NAMES, n_per_trial=N, seed=SEED, designs=designs)


def test_synthetic_targets_have_their_minimum_at_the_generating_parameters(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches a milestone read at the wrong month (or from the wrong trial) and a
    residual of the wrong quantity: with targets made at p*, every residual at p* is 0,
    and moving each fitted parameter by ±0.1 on its search scale raises the objective."""
    model, designs, patients = setting
    objective = _objective(model, designs, _targets(patients))
    start = objective.start()
    at_truth = objective.evaluate(start)
    res = at_truth.residuals
    # Hinge rows (TWISTER timing) carry their penalty in `term`, not a residual.
    np.testing.assert_allclose(res.loc[res["residual"].notna(), "residual"], 0.0, atol=1e-9)
    assert at_truth.objective == pytest.approx(0.0, abs=1e-12)
    for i, name in enumerate(NAMES):
        for step in (-0.1, 0.1):
            x = start.copy()
            x[i] += step
            assert objective(x) > at_truth.objective + 1e-3, (name, step)


def _uncensored_covariance(survival: list[float], se: list[float]) -> np.ndarray:
    """Covariance of milestones (months increasing): SE_s SE_t times the correlation of
    an empirical survival function, Cov = S(t)(1 - S(s))/n over sqrt(Var Var)."""
    k = len(survival)
    c = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            a, b = (i, j) if i <= j else (j, i)  # a: the earlier month
            sa, sb = survival[a], survival[b]
            rho = min(np.sqrt(sb * (1 - sa) / (sa * (1 - sb))), 0.99) if a != b else 1.0
            c[i, j] = rho * se[i] * se[j]
    return c


def test_objective_equals_an_independent_sum_of_its_terms(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches a term dropped, double counted, scaled by the wrong SE or read at the
    wrong month, and a trial's milestones scored as independent: away from p*, the
    objective equals, per trial, r' C^-1 r over its milestones (r = KM(month) - target,
    C their covariance as estimates from one cohort) plus the median term, each
    recomputed here from the patients the objective simulates; with
    ``correlated=False`` it is the plain sum of (r / SE)^2."""
    model, designs, patients = setting
    targets = _targets(patients)
    objective = _objective(model, designs, targets)
    independent = Objective(
        targets, model, NAMES, n_per_trial=N, seed=SEED, designs=designs, correlated=False
    )
    x = objective.start() + np.array([0.2, 0.0, 0.0, 0.0])  # theta0 x e^0.2: more relapses
    moved = dataclasses.replace(model, theta0=model.theta0 * np.exp(0.2))
    expected = expected_independent = 0.0
    for trial in MONTHS:
        p = dataclasses.replace(objective.trials[trial], model=moved)
        sim = simulate(p).patients
        d, e = sim["duration_months"].to_numpy(), sim["event"].to_numpy()
        ms = sorted((t for t in targets.milestones if t.trial == trial), key=lambda t: t.month)
        r = []
        for m in ms:
            now = km_at(d, e, m.month)
            # More clones, more relapses: the curve moves down at every milestone.
            assert now <= m.survival + 1e-12
            r.append(now - m.survival)
            expected_independent += ((now - m.survival) / m.se) ** 2
        cov = _uncensored_covariance([m.survival for m in ms], [m.se for m in ms])
        expected += float(np.asarray(r) @ np.linalg.solve(cov, np.asarray(r)))
        if trial == "stim1":
            median = interpolated_median(d[e])
            t = targets.timing
            median_term = ((median - t.stim1_median_relapse_month) / t.stim1_median_relapse_se) ** 2
            expected += median_term
            expected_independent += median_term
    ev = objective.evaluate(x)
    assert ev.objective == pytest.approx(expected, rel=1e-9)
    assert independent(x) == pytest.approx(expected_independent, rel=1e-9)
    # Five milestones of one curve moved together carry far less than five terms' worth.
    assert ev.objective < 0.8 * expected_independent
    assert ev.objective > 1.0  # the move is large enough to matter
    mrfs = ev.residuals[ev.residuals["quantity"] == "mrfs"]
    # Residual = (simulated - published) / SE: negative when the curve moved down.
    assert (mrfs["residual"] <= 1e-12).all()
    assert (mrfs["residual"] < 0).any()


@pytest.mark.parametrize("which", ["late", "early"])
def test_timing_hinges_penalise_only_the_wrong_side(setting, which: str) -> None:  # type: ignore[no-untyped-def]
    """Catches a hinge on the wrong side (penalising a TWISTER late-relapse share below
    its maximum, or an early share above its minimum) or with the wrong scale: with the
    bound just past the simulated share the penalty is ((excess) / scale)^2, with the
    bound just short of it the penalty is 0."""
    model, designs, patients = setting
    relapses = patients["twister"].loc[patients["twister"]["event"], "duration_months"]
    late = float(np.mean(relapses > 27.0))
    early = float(np.mean(relapses <= 4.0))
    assert 0.0 < early < 1.0
    plain = _objective(model, designs, _targets(patients))
    x0 = plain.start()  # the shares above are those of p*
    reference = plain.evaluate(x0).objective
    gap = 0.02
    if which == "late":
        violated = {"twister_max_late_share": late - gap}
        satisfied = {"twister_max_late_share": late + gap}
        penalty = (gap / LATE_SHARE_SCALE) ** 2
    else:
        violated = {"twister_min_early_share": early + gap}
        satisfied = {"twister_min_early_share": early - gap}
        penalty = (gap / EARLY_SHARE_SCALE) ** 2
    hit = _objective(model, designs, _targets(patients, violated)).evaluate(x0).objective
    ok = _objective(model, designs, _targets(patients, satisfied)).evaluate(x0).objective
    assert hit == pytest.approx(reference + penalty, rel=1e-9)
    assert ok == pytest.approx(reference, abs=1e-12)


def test_a_term_that_cannot_be_computed_is_never_dropped(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches ``np.nansum`` silently dropping a NaN term: when no simulated STIM1
    patient relapses (no clones, no detectable residual disease) the median relapse
    month is NaN, and the objective must be at least NAN_TERM_PENALTY (finite), not the
    sum of the other terms."""
    model, designs, patients = setting
    names = ["theta0", "residual_median_pct"]
    objective = Objective(
        _targets(patients), model, names, n_per_trial=N, seed=SEED, designs=designs
    )
    # No clones and no detectable residual disease: nobody relapses.
    x = np.log([1e-9, 1e-12])
    ev = objective.evaluate(x)
    median = ev.residuals.query("quantity == 'median_relapse_month'")["simulated"]
    assert median.isna().all()
    assert np.isfinite(ev.objective)
    assert ev.objective >= NAN_TERM_PENALTY


@pytest.mark.parametrize(("k", "n", "p"), [(12, 64, 0.3), (0, 10, 0.2), (10, 10, 0.4), (3, 7, 0.9)])
def test_binomial_deviance_is_the_likelihood_ratio(k: int, n: int, p: float) -> None:
    """Catches a wrong restart-mix deviance (a wrong observed share, a term dropped at
    k = 0 or k = n, 1 - p mistyped): it equals 2 [log L(k/n) - log L(p)] of the binomial
    likelihood, computed by scipy (exact up to rounding)."""
    expected = 2 * (stats.binom.logpmf(k, n, k / n) - stats.binom.logpmf(k, n, p))
    assert binomial_deviance(k, n, p) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_effect_priors_follow_their_published_estimates() -> None:
    """Catches a prior of the wrong sign or spread: each prior is recomputed by hand from
    the published figures its comment cites (objective.EFFECT_PRIORS), to the rounding
    of the stated values. Every listed effect protects against relapse (prior IFN,
    longer TKI, longer deep response, deeper response): all means are negative."""
    z = 2 * 1.959964  # a 95 % CI spans 2 z standard errors
    ifn_mean, ifn_sd = EFFECT_PRIORS["prior_ifn"]  # sHR 0.53 [0.28, 1.01]
    assert ifn_mean == pytest.approx(np.log(0.53), abs=1e-9)
    assert ifn_sd == pytest.approx(np.log(1.01 / 0.28) / z, rel=1e-3)
    dmr_mean, dmr_sd = EFFECT_PRIORS["dmr_per_year"]  # sHR 2.06 [1.27, 3.35] over 3.5 y
    assert dmr_mean == pytest.approx(-np.log(2.06) / 3.5, abs=0.005)
    assert dmr_sd == pytest.approx(np.log(3.35 / 1.27) / z / 3.5, abs=0.001)
    # EURO-SKI (-0.07 to -0.10 per year) and spain2018 (about -0.27 per year) both
    # within 2 sd of the TKI prior, as its comment claims.
    tki_mean, tki_sd = EFFECT_PRIORS["tki_per_year"]
    for published in (-0.07, -0.10, -0.27):
        assert abs(published - tki_mean) <= 2 * tki_sd
    # ENESTfreedom: -log S of 0.681 vs 1.050 over a 0.75-log depth gap.
    depth_mean = EFFECT_PRIORS["depth_per_log"][0]
    assert depth_mean == pytest.approx(-np.log(np.log(0.350) / np.log(0.506)) / 0.75, abs=0.005)
    for mean, sd in EFFECT_PRIORS.values():
        assert mean < 0
        assert 0 < sd < np.inf


@pytest.mark.parametrize("model_name", ["clonal", "immune", "mixture_cure"])
def test_search_scale_round_trips(model_name: str) -> None:
    """Catches a parameter mapped to the wrong scale: for every fittable parameter of a
    registered model, the search value maps back to the model's own value, log-scale
    values are logarithms, logit-scale values are logits and raw values are unchanged
    (checked against numpy's log and a hand-written logit)."""
    model = load_params([f"model={model_name}"]).model
    names = fittable(model)
    values = np.array([search_value(model, n) for n in names])
    for name, x in zip(names, values, strict=True):
        value = (
            getattr(model.effects, name[8:])
            if name.startswith("effects.")
            else getattr(model, name)
        )
        assert natural_value(model, name, x) == pytest.approx(value, rel=1e-12, abs=1e-15)
        scale = search_scale(model, name)
        if scale == "log":
            expected = np.log(value)
        elif scale == "logit":
            expected = np.log(value / (1 - value))
        else:
            expected = value
        assert x == pytest.approx(expected, rel=1e-12, abs=1e-15), (name, scale)
    same, moved = (with_parameters(model, names, values + d) for d in (0.0, 0.1))
    for name in names:
        before = natural_value(model, name, search_value(model, name))
        assert natural_value(model, name, search_value(same, name)) == pytest.approx(before)
        after = natural_value(model, name, search_value(moved, name))
        assert after != pytest.approx(before, rel=1e-6), name


def test_priors_and_restart_mix_enter_the_objective(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches a prior or the restart-mix term left out, scaled wrongly or read from the
    wrong share, and a wrong evaluation count: with the four effects fitted and the
    restart mix on, one evaluation adds ((value - mean) / sd)^2 per prior (none for an
    effect without a published prior, here ``male``) and the
    binomial deviance (scipy) of 12 of 64 restarts at the simulated share of STIM-rule
    relapses without MMR loss (read two-sided here; the one-sided reading has its own
    test); the count goes from 0 to 1."""
    model, designs, patients = setting
    priors = [f"effects.{name}" for name in EFFECT_PRIORS]
    two_sided = RestartMix(12, 64, ("stim1", "stim2"), "spain2018")
    objective = Objective(
        dataclasses.replace(_targets(patients), restart_mix=two_sided),
        model,
        [*NAMES, *priors, "effects.male"],
        n_per_trial=N,
        seed=SEED,
        designs=designs,
        extra_targets=("restart_mix",),
    )
    assert objective.n_evaluations == 0
    x = objective.start()
    x[len(NAMES) :] += 0.3  # every effect 0.3 above its starting value
    ev = objective.evaluate(x)
    assert objective.n_evaluations == 1
    res = ev.residuals.set_index("quantity")
    assert "effects.male" not in res.index  # fitted, but without a published prior
    expected = float(ev.residuals["term"].sum())
    for name in priors:
        mean, sd = EFFECT_PRIORS[name[8:]]
        value = getattr(model.effects, name[8:]) + 0.3
        assert res.loc[name, "term"] == pytest.approx(((value - mean) / sd) ** 2, rel=1e-9)
    stim = ev.statistics["stim1"]  # stim2 is not among this test's trials
    # Counted among the events of the STIM rule itself: STIM1's events before its
    # protocol amendment (two consecutive positives, conf/trial/stim1.yaml) are not.
    assert 0 < stim.events_without_mmr_loss < stim.rule_events < stim.n_events
    share = stim.events_without_mmr_loss / stim.rule_events
    row = res.loc["restart_share_no_mmr_loss"]
    assert row["simulated"] == pytest.approx(share, rel=1e-12)
    deviance = 2 * (stats.binom.logpmf(12, 64, 12 / 64) - stats.binom.logpmf(12, 64, share))
    assert row["term"] == pytest.approx(deviance, rel=1e-9)
    assert ev.objective == pytest.approx(expected, rel=1e-12)


def test_a_one_sided_restart_mix_charges_only_a_share_below_it(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches the one-sided restart mix charged on the wrong side or not at all: with
    0 of 64 restarts without MMR loss as a lower bound, any simulated share costs
    nothing; read two-sided, the same share costs the binomial deviance (scipy) of 0
    of 64, which is positive because the simulated share is."""
    model, designs, patients = setting
    terms = {}
    for one_sided in (True, False):
        mix = RestartMix(0, 64, ("stim1",), "test", one_sided=one_sided)
        targets = dataclasses.replace(_targets(patients), restart_mix=mix)
        objective = Objective(
            targets, model, NAMES, N, SEED, designs, extra_targets=("restart_mix",)
        )
        row = objective.evaluate(objective.start()).residuals.set_index("quantity")
        terms[one_sided] = row.loc["restart_share_no_mmr_loss"]
    share = terms[False]["simulated"]
    assert share > 0
    assert terms[True]["term"] == 0.0
    deviance = -2 * stats.binom.logpmf(0, 64, share)
    assert terms[False]["term"] == pytest.approx(deviance, rel=1e-9)


def test_objective_rejects_what_it_cannot_fit(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches a bad request accepted silently (an unknown parameter, an unknown extra
    target, a target trial without a design): each raises ValueError naming it."""
    model, designs, patients = setting
    targets = _targets(patients)
    with pytest.raises(ValueError, match="no_such"):
        Objective(targets, model, ["no_such"], n_per_trial=10, seed=1, designs=designs)
    with pytest.raises(ValueError, match="no_such"):
        Objective(
            targets,
            model,
            NAMES,
            n_per_trial=10,
            seed=1,
            designs=designs,
            extra_targets=("restart_mix", "no_such"),
        )
    with pytest.raises(ValueError, match="twister"):
        Objective(
            targets, model, NAMES, n_per_trial=10, seed=1, designs={"stim1": designs["stim1"]}
        )


def test_calibration_leaves_a_start_at_zero_on_the_search_scale(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches scipy's default Nelder–Mead simplex in the calibration: it moves each
    coordinate by 5 % of its value, so a parameter starting at 1 (0 on the log search
    scale) gets a vertex 0.00025 away; under common random numbers the objective is
    flat over such a step, the simplex meets its tolerance at once and the fit "converges"
    where it started. Targets are made at theta0 = exp(-0.3) with the objective's own
    seed and size (so the minimum is exactly there); the fit starts at theta0 = 1."""
    from tfrsim.calibration.fit import calibrate

    model, designs, _ = setting
    truth = with_parameters(model, ["theta0"], np.array([-0.3]))
    patients = _simulate_trials(truth, designs)
    start = with_parameters(model, ["theta0"], np.array([0.0]))
    fit = calibrate(
        _targets(patients),
        start,
        ["theta0"],
        n_per_trial=N,
        seed=SEED,
        max_evaluations=40,
        designs=designs,
        restarts=0,
        progress=False,
    )
    # Half the distance from the start is far outside any Monte-Carlo flat spot.
    assert abs(fit.estimate[0] - (-0.3)) < 0.15, fit.estimate


def test_milestone_correlation_matches_simulated_cohorts() -> None:
    """Catches a wrong milestone correlation (the ratio inverted, S in place of 1 - S,
    no square root): the correlation of the empirical survival of 100 uncensored
    exponential patients at months 3, 6, 12 and 36, over 4,000 simulated cohorts, must
    match :func:`milestone_correlation` at the true survival within 4 SE of a sample
    correlation ((1 - rho^2) / sqrt(cohorts))."""
    from tfrsim.calibration.objective import milestone_correlation

    rng = np.random.default_rng(5)
    months = np.array([3.0, 6.0, 12.0, 36.0])
    rate, n, cohorts = 0.04, 100, 4000
    times = rng.exponential(1 / rate, size=(cohorts, n))
    survival = (times[:, :, None] > months).mean(axis=1)  # (cohorts, months)
    empirical = np.corrcoef(survival, rowvar=False)
    truth = np.exp(-rate * months)
    expected = milestone_correlation(truth)
    se = (1 - expected**2) / np.sqrt(cohorts)
    off = ~np.eye(months.size, dtype=bool)
    assert np.all(np.abs(empirical - expected)[off] <= 4 * se[off] + 1e-12), (
        np.round(empirical, 3),
        np.round(expected, 3),
    )
