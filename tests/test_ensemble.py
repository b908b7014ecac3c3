"""Replicate ensembles and paired comparisons (tfrsim.ensemble, tfrsim-compare)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tfrsim.config.compose import load_params
from tfrsim.ensemble import compare, run_ensemble
from tfrsim.execution import run_study

SMALL = ["cohort.n_patients=150", "output.figures=false", "analysis.methods=[km,observation]"]


def test_ensemble_replicates_are_the_single_runs() -> None:
    """Replicate r of an ensemble is exactly ``tfrsim replicate=r`` (catches an
    ensemble that reuses one replicate's streams, or reseeds differently from the CLI)."""
    params = load_params(SMALL)
    ens = run_ensemble(params, 3)
    assert ens.replicates == (0, 1, 2)
    for r in ens.replicates:
        single = run_study(dataclasses.replace(params, replicate=r), keep_visits=0)
        expected = single.analysis.to_frame()
        got = ens.estimands[ens.estimands["replicate"] == r].drop(columns="replicate")
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)
    mrfs = ens.estimands[(ens.estimands["estimand"] == "mrfs") & (ens.estimands["month"] == 12)]
    assert mrfs.groupby("group")["value"].nunique().min() > 1  # replicates differ


def test_reduce_matches_hand_computation() -> None:
    """mean, sd, quantile band and t CI of the mean equal a hand computation (catches
    a band built from the wrong tail or a CI with z instead of t)."""
    params = load_params(SMALL)
    ens = run_ensemble(params, 5)
    red = ens.reduce()
    row = red[(red["estimand"] == "mrfs") & (red["group"] == "all") & (red["month"] == 12)]
    values = ens.estimands[
        (ens.estimands["estimand"] == "mrfs")
        & (ens.estimands["group"] == "all")
        & (ens.estimands["month"] == 12)
    ]["value"].to_numpy()
    assert row["n"].item() == 5
    assert row["mean"].item() == pytest.approx(values.mean())
    assert row["lower"].item() == pytest.approx(np.quantile(values, 0.025))
    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)
    assert row["mean_upper"].item() == pytest.approx(values.mean() + half)


def test_paired_ci_is_narrower_than_unpaired_for_a_rule_change() -> None:
    """Changing only the relapse rule keeps patients and latent course (common random
    numbers): the paired CI of the MRFS difference is narrower than the unpaired one,
    and the difference equals the mean of per-replicate differences (catches a
    comparison that pairs different replicates or reseeds one arm)."""
    base = load_params(SMALL)
    a = base
    b = dataclasses.replace(
        base,
        monitoring=dataclasses.replace(
            base.monitoring,
            rule=dataclasses.replace(base.monitoring.rule, name="loss_of_mr4"),
        ),
    )
    result = compare(a, b, 8)
    row = result.table[(result.table["group"] == "all") & (result.table["month"] == 12)].iloc[0]
    assert row["n"] == 8
    assert row["paired_upper"] - row["paired_lower"] < row["unpaired_upper"] - row["unpaired_lower"]
    assert row["correlation"] > 0.5
    # Loss of MR4 is a more sensitive trigger than the STIM rule: fewer in remission.
    assert row["difference"] < 0


def test_compare_refuses_unpaired_scenarios() -> None:
    """Different seeds cannot be paired: refused with a message naming the seeds."""
    a = load_params(SMALL)
    with pytest.raises(ValueError, match="same seed"):
        compare(a, dataclasses.replace(a, seed=a.seed + 1), 2)
