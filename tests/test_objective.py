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

from tfrsim.analysis.descriptive import interpolated_median
from tfrsim.calibration.objective import (
    EARLY_SHARE_SCALE,
    LATE_SHARE_SCALE,
    NAN_TERM_PENALTY,
    Objective,
    trial_params,
)
from tfrsim.calibration.targets import MilestoneTarget, Targets, TimingTargets, load_targets
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
    model = load_params([]).model
    assert isinstance(model, ClonalParams)
    designs = trial_designs(("stim1", "twister"))
    patients = {
        trial: simulate(
            dataclasses.replace(
                trial_params(designs[trial], N, SEED, max(MONTHS[trial])), model=model
            )
        ).patients
        for trial in MONTHS
    }
    return model, designs, patients


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


def test_objective_equals_an_independent_sum_of_its_terms(setting) -> None:  # type: ignore[no-untyped-def]
    """Catches a term dropped, double counted, scaled by the wrong SE or read at the
    wrong month: away from p*, the objective equals the sum of ((KM(month) - target) /
    SE)^2 over milestones plus the median term, each recomputed here from the patients
    the objective simulates."""
    model, designs, patients = setting
    targets = _targets(patients)
    objective = _objective(model, designs, targets)
    x = objective.start() + np.array([0.2, 0.0, 0.0, 0.0])  # theta0 x e^0.2: more relapses
    moved = dataclasses.replace(model, theta0=model.theta0 * np.exp(0.2))
    expected = 0.0
    for trial in MONTHS:
        p = dataclasses.replace(objective.trials[trial], model=moved)
        sim = simulate(p).patients
        d, e = sim["duration_months"].to_numpy(), sim["event"].to_numpy()
        for m in (t for t in targets.milestones if t.trial == trial):
            now = km_at(d, e, m.month)
            # More clones, more relapses: the curve moves down at every milestone.
            assert now <= m.survival + 1e-12
            expected += ((now - m.survival) / m.se) ** 2
        if trial == "stim1":
            median = interpolated_median(d[e])
            t = targets.timing
            expected += ((median - t.stim1_median_relapse_month) / t.stim1_median_relapse_se) ** 2
    ev = objective.evaluate(x)
    assert ev.objective == pytest.approx(expected, rel=1e-9)
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
