"""Reproduction of the published curves: table, replicate bands and acceptance."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis import survival_at
from tfrsim.calibration.objective import trial_params, with_model
from tfrsim.calibration.statistics import TrialStatistics, trial_statistics
from tfrsim.calibration.targets import Targets
from tfrsim.execution import simulate
from tfrsim.study import StudyParams

#: z of a two-sided 95 % interval.
Z95 = 1.959964


@dataclass(frozen=True)
class TrialReproduction:
    """One trial simulated at the calibrated model.

    Attributes
    ----------
    trial : str
    n_trial : int
        Size of the published trial (the band is for cohorts of this size).
    months : float array, shape (g,)
        Month grid of the curve and band.
    survival : float array, shape (g,)
        KM MRFS of the large simulated cohort.
    band_lower, band_upper : float arrays, shape (g,)
        2.5 % and 97.5 % points of KM MRFS across replicate cohorts of ``n_trial``.
    statistics : TrialStatistics
        Milestones and timing of the large cohort.
    """

    trial: str
    n_trial: int
    months: NDArray[np.float64]
    survival: NDArray[np.float64]
    band_lower: NDArray[np.float64]
    band_upper: NDArray[np.float64]
    statistics: TrialStatistics


@dataclass(frozen=True)
class Reproduction:
    """Every calibration trial reproduced; ``table`` compares with the publications.

    ``table`` columns: trial, quantity, month, published, lower, upper (published 95 %
    interval: the CI, or ±1.96 SE where the SE is binomial), se, simulated, residual
    (in SE units), inside (bool), acceptance (the rule applied), mc_se (Monte-Carlo SE
    of a simulated milestone).
    """

    trials: dict[str, TrialReproduction]
    table: pd.DataFrame
    n_patients: int
    n_replicates: int

    @property
    def accepted(self) -> bool:
        """Every acceptance check holds."""
        return bool(self.table["inside"].all())


def reproduce_trial(
    trial: str,
    design: StudyParams,
    model: Any,
    targets: Targets,
    *,
    n_patients: int,
    n_replicates: int,
    seed: int,
    months: NDArray[np.float64],
) -> TrialReproduction:
    """Simulate one trial: a large cohort for the curve, trial-sized cohorts for a band."""
    last = max(targets.months(trial) or [0.0])
    params = trial_params(design, n_patients, seed, last)
    params = with_model(params, model)
    stats_months = targets.months(trial)
    t = targets.timing
    large = simulate(params).patients
    statistics = trial_statistics(
        large, stats_months, after=(t.twister_late_after_month,), by=(t.twister_early_by_month,)
    )
    n_trial = _published_size(trial)
    # Replicates are consecutive blocks of one cohort from another seed: patients are
    # independent, so each block is a trial-sized cohort.
    reps = simulate(
        dataclasses.replace(
            params,
            seed=seed + 1,
            cohort=dataclasses.replace(params.cohort, n_patients=n_trial * n_replicates),
        )
    ).patients
    replicate = reps["patient_id"].to_numpy() // n_trial
    curves = np.array(
        [
            survival_at(g["duration_months"].to_numpy(float), g["event"].to_numpy(bool), months)
            for _, g in reps.groupby(replicate)
        ]
    )
    return TrialReproduction(
        trial=trial,
        n_trial=n_trial,
        months=months,
        survival=survival_at(
            large["duration_months"].to_numpy(float), large["event"].to_numpy(bool), months
        ),
        band_lower=np.percentile(curves, 2.5, axis=0),
        band_upper=np.percentile(curves, 97.5, axis=0),
        statistics=statistics,
    )


def _published_size(trial: str) -> int:
    from tfrsim.reference import trial_facts

    return int(trial_facts(trial)["n_patients"]["value"])


def reproduce(
    model: Any,
    targets: Targets,
    designs: Mapping[str, StudyParams],
    *,
    trials: Sequence[str] = ("stim1", "stim2", "twister"),
    n_patients: int = 20_000,
    n_replicates: int = 200,
    seed: int = 1,
) -> Reproduction:
    """Reproduce every trial and check the acceptance criteria.

    Acceptance: each simulated milestone inside the published 95 % CI (or within
    1.96 SE where the SE is binomial); STIM1 median relapse month among relapsers in
    [2, 3.5]; TWISTER share of relapses after month 27 at most 12 %.
    """
    out: dict[str, TrialReproduction] = {}
    rows = []
    for trial in trials:
        horizon = max(targets.months(trial) or [24.0])
        grid = np.linspace(0.0, horizon, int(horizon) * 2 + 1)
        rep = reproduce_trial(
            trial,
            designs[trial],
            model,
            targets,
            n_patients=n_patients,
            n_replicates=n_replicates,
            seed=seed,
            months=grid,
        )
        out[trial] = rep
        s = rep.statistics
        for m in (m for m in targets.milestones if m.trial == trial):
            sim = float(s.survival[np.searchsorted(s.months, m.month)])
            has_ci = m.se_basis == "ci95"
            lower = m.lower if has_ci else m.survival - Z95 * m.se
            upper = m.upper if has_ci else m.survival + Z95 * m.se
            rows.append(
                (
                    trial,
                    "mrfs",
                    m.month,
                    m.survival,
                    lower,
                    upper,
                    m.se,
                    sim,
                    (sim - m.survival) / m.se,
                    lower <= sim <= upper,
                    "inside published 95% CI" if has_ci else "within 1.96 binomial SE",
                )
            )
        t = targets.timing
        if trial == "stim1":
            med = s.median_relapse_month
            rows.append(
                (
                    trial,
                    "median_relapse_month",
                    np.nan,
                    t.stim1_median_relapse_month,
                    2.0,
                    3.5,
                    t.stim1_median_relapse_se,
                    med,
                    (med - t.stim1_median_relapse_month) / t.stim1_median_relapse_se,
                    2.0 <= med <= 3.5,
                    "between 2 and 3.5 months",
                )
            )
        if trial == "twister":
            late = s.share_relapses_after[t.twister_late_after_month]
            rows.append(
                (
                    trial,
                    "share_relapses_after_27",
                    27.0,
                    0.0,
                    0.0,
                    t.twister_max_late_share,
                    np.nan,
                    late,
                    np.nan,
                    late <= t.twister_max_late_share,
                    "at most 12 %",
                )
            )
    table = pd.DataFrame(
        rows,
        columns=[
            "trial",
            "quantity",
            "month",
            "published",
            "lower",
            "upper",
            "se",
            "simulated",
            "residual",
            "inside",
            "acceptance",
        ],
    )
    # Monte-Carlo SE of each simulated milestone (binomial at the simulated size): how
    # far the simulated value could move with another seed.
    mrfs = table["quantity"] == "mrfs"
    table["mc_se"] = np.where(
        mrfs, np.sqrt(table["simulated"] * (1 - table["simulated"]) / n_patients), np.nan
    )
    return Reproduction(trials=out, table=table, n_patients=n_patients, n_replicates=n_replicates)
