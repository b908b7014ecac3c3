"""Simulation-based check of the Laplace intervals, at tiny sizes (the full check is
benchmarks/sbc_laplace.py; its coverage is reported in docs/calibration.md)."""

import numpy as np
import pandas as pd
import pytest

from tfrsim.calibration.sbc import coverage, sbc_repetition, synthetic_targets, true_curves
from tfrsim.calibration.targets import load_targets
from tfrsim.config.compose import CALIBRATION_TRIALS, load_params, trial_designs


@pytest.mark.sbc
def test_sbc_pipeline_tiny() -> None:
    """Catches a broken honesty check: synthetic targets at the trials' stated sizes,
    a fit, a Laplace step and coverage rows for every parameter and target milestone,
    with coverage proportions and Clopper-Pearson limits that bracket them."""
    truth = load_params(["model=calibrated"]).model
    template = load_targets()
    designs = trial_designs(CALIBRATION_TRIALS)
    synthetic = synthetic_targets(truth, template, designs, seed=3)
    assert [(m.trial, m.month) for m in synthetic.milestones] == [
        (m.trial, m.month) for m in template.milestones
    ]
    assert all(0 < m.se < 0.2 for m in synthetic.milestones)
    curves = true_curves(truth, template, designs, n=600, seed=7)
    rows = sbc_repetition(
        truth,
        ["theta0"],
        template,
        designs,
        curves,
        rep=0,
        n_per_trial=300,
        max_evaluations=6,
        curve_draws=3,
    )
    table = pd.DataFrame(rows)
    if (table["kind"] == "failure").any():
        pytest.skip(f"Laplace refused at this tiny size: {table['name'].iloc[0]}")
    assert set(table["kind"]) == {"parameter", "curve"}
    assert (table["kind"] == "curve").sum() == len(template.milestones)
    assert np.all(table["lower"] <= table["upper"])
    cov = coverage(table)
    assert np.all((cov["lower"] <= cov["coverage"]) & (cov["coverage"] <= cov["upper"]))
