"""The EURO-SKI duration target of the calibration (``extra_targets=[duration_gain]``).

The objective reads the per-year gain from the model's closed form; here it is checked
against simulated latent relapse months of paired cohorts (same streams, imatinib
duration 7 vs 8 years, everything else at the reference), with a tolerance of 4
paired-difference SE.
"""

import dataclasses

import numpy as np
import pytest

from tfrsim.calibration.objective import Objective, duration_gain
from tfrsim.calibration.targets import load_targets
from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params, trial_designs
from tfrsim.disease.registry import simulate_course
from tfrsim.random import stream

N = 40_000
REFERENCE = [
    "cohort.sokal_shares={low: 1.0, intermediate: 0.0, high: 0.0}",
    "cohort.male_fraction=0",
    "cohort.prior_ifn_fraction=0",
    "cohort.dmr_years={median: 3.0, sigma: 0.0}",
    "cohort.eligibility.min_depth=MR4",
    "cohort.depth_shares={MR4: 0.0, MR4.5: 1.0, MR5: 0.0}",
]


def _latent_mrfs(model_option: str, years: float) -> np.ndarray:
    params = load_params(
        [
            f"model={model_option}",
            f"cohort.n_patients={N}",
            f"cohort.tki_years={{median: {years}, sigma: 0.0}}",
            *REFERENCE,
        ]
    )
    cohort = sample_cohort(params.cohort, N, rng=stream("cohort", seed=3, replicate=0))
    course = simulate_course(
        cohort, params.model_name, params.model, rng=stream("disease", seed=4, replicate=0)
    )
    return np.asarray(~(course.relapse_month <= 24.0), dtype=float)


@pytest.mark.parametrize("model_option", ["immune", "clonal"])
def test_duration_gain_matches_paired_simulation(model_option: str) -> None:
    """Bug caught: the gain read at the wrong month or the wrong durations, with the
    wrong sign (a year of imatinib lowering remission), or from the reference
    duration instead of 7 -> 8 years."""
    model = load_params([f"model={model_option}"]).model
    expected = duration_gain(model, 24.0, 7.0)
    diff = _latent_mrfs(model_option, 8.0) - _latent_mrfs(model_option, 7.0)
    se = diff.std(ddof=1) / np.sqrt(N)
    assert expected > 0
    assert abs(diff.mean() - expected) < 4 * se + 1e-12


def test_duration_term_grows_as_the_effect_moves_away_from_the_published_gain() -> None:
    """Bug caught: the term dropped from the objective, a residual with the wrong sign
    convention or scale (the reported z), or a term that does not grow with the
    distance to 2.5 points/year."""
    base = load_params(["model=immune"]).model
    designs = trial_designs(["stim1", "stim2", "twister"], ["model=immune"])
    target = load_targets().duration_gain
    terms = []
    for beta in (-0.05, -0.15, -0.40):
        model = dataclasses.replace(
            base, effects=dataclasses.replace(base.effects, tki_per_year=beta, tki_per_doubling=0.0)
        )
        objective = Objective(
            load_targets(), model, ["theta0"], 200, 1, designs, extra_targets=["duration_gain"]
        )
        table = objective.evaluate(objective.start()).residuals
        row = table[table["quantity"] == "mrfs_gain_per_imatinib_year"].iloc[0]
        gain = duration_gain(model, target.month, target.from_years)
        assert row["simulated"] == pytest.approx(gain)
        assert row["term"] == pytest.approx(((gain - target.gain) / target.se) ** 2)
        # The reported z has the sign of simulated - published (terms.csv).
        assert row["residual"] == pytest.approx((gain - target.gain) / target.se)
        terms.append((gain, row["term"]))
    gains = [g for g, _ in terms]
    assert gains[0] < gains[1] < gains[2]
    # The published gain (2.5 points) lies between the weakest and strongest effects.
    assert gains[0] < target.gain < gains[2]
