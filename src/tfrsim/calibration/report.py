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
from tfrsim.draws import PosteriorDraws
from tfrsim.execution import simulate
from tfrsim.prediction import N_LARGE, predict_trial
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
        95 % band of KM MRFS for a trial of ``n_trial`` patients: with parameter
        draws, the prediction interval of :func:`tfrsim.prediction.predict_trial`
        (parameter uncertainty and sampling); without, the 2.5 % and 97.5 % points
        across replicate cohorts at the point estimate (sampling only).
    statistics : TrialStatistics
        Milestones and timing of the large cohort.
    band : str, default "sampling"
        What the band holds: ``"parameters + sampling"`` or ``"sampling"``.
    param_lower, param_upper : float arrays, shape (g,), optional
        With parameter draws, the 95 % interval of the expectation (parameter
        uncertainty alone).
    """

    trial: str
    n_trial: int
    months: NDArray[np.float64]
    survival: NDArray[np.float64]
    band_lower: NDArray[np.float64]
    band_upper: NDArray[np.float64]
    statistics: TrialStatistics
    band: str = "sampling"
    param_lower: NDArray[np.float64] | None = None
    param_upper: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class Reproduction:
    """Every calibration trial reproduced; ``table`` compares with the publications.

    ``table`` columns: trial, quantity, month, published, lower, upper (published 95 %
    interval: the CI, or ±1.96 SE where the SE is binomial), se, simulated, residual
    (in SE units), inside (bool), acceptance (the rule applied), mc_se (Monte-Carlo SE
    of a simulated milestone), band_lower, band_upper (the trial's 95 % band at the
    milestone: see :class:`TrialReproduction`), in_band (published point inside it).
    """

    trials: dict[str, TrialReproduction]
    table: pd.DataFrame
    n_patients: int
    n_replicates: int

    @property
    def band(self) -> str:
        """What the bands hold (``"parameters + sampling"`` or ``"sampling"``)."""
        return next(iter(self.trials.values())).band if self.trials else "sampling"

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
    draws: PosteriorDraws | None = None,
) -> TrialReproduction:
    """Simulate one trial: a large cohort for the curve, trial-sized cohorts for a band.

    With ``draws`` (the stored posterior draws of ``model``) the band is the 95 %
    prediction interval of :func:`tfrsim.prediction.predict_trial`, the machinery of
    ``tfrsim-predict``: each draw simulates its own trial-sized cohorts, so the band
    holds parameter uncertainty as well as sampling. Without, it is sampling alone.
    """
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
    survival = survival_at(
        large["duration_months"].to_numpy(float), large["event"].to_numpy(bool), months
    )
    if draws is not None:
        predicted = predict_trial(
            params,
            draws,
            months=[],
            n_trial=n_trial,
            n_large=max(N_LARGE, n_trial),
            seed=seed + 1,
            grid=months,
        )
        return TrialReproduction(
            trial=trial,
            n_trial=n_trial,
            months=months,
            survival=survival,
            band_lower=predicted.curve["pi_lower"],
            band_upper=predicted.curve["pi_upper"],
            statistics=statistics,
            band="parameters + sampling",
            param_lower=predicted.curve["param_lower"],
            param_upper=predicted.curve["param_upper"],
        )
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
        survival=survival,
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
    draws: PosteriorDraws | None = None,
) -> Reproduction:
    """Reproduce every trial and check the acceptance criteria.

    Acceptance: each simulated milestone inside the published 95 % CI (or within
    1.96 SE where the SE is binomial); STIM1 median relapse month among relapsers in
    [2, 3.5]; TWISTER share of relapses after month 27 at most 12 %.

    With ``draws`` (the model's stored posterior draws) each trial's band is the
    95 % prediction interval for a trial of its published size, parameter uncertainty
    included (:func:`reproduce_trial`); the table's ``band_lower``, ``band_upper`` and
    ``in_band`` give it at each published milestone (informative: acceptance is on
    the large-cohort curve).
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
            draws=draws,
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
    share = table["simulated"].where(mrfs).to_numpy(dtype=float)  # other rows: months
    table["mc_se"] = np.sqrt(share * (1 - share) / n_patients)
    bands: list[tuple[float, float, bool | None]] = []
    for trial, quantity, month, published in zip(
        table["trial"], table["quantity"], table["month"], table["published"], strict=True
    ):
        if quantity != "mrfs":
            bands.append((np.nan, np.nan, None))
            continue
        rep = out[str(trial)]
        at = max(int(np.searchsorted(rep.months, float(month), side="right")) - 1, 0)
        lo, hi = float(rep.band_lower[at]), float(rep.band_upper[at])
        bands.append((lo, hi, lo <= float(published) <= hi))
    table["band_lower"] = [b[0] for b in bands]
    table["band_upper"] = [b[1] for b in bands]
    table["in_band"] = pd.array([b[2] for b in bands], dtype="boolean")
    return Reproduction(trials=out, table=table, n_patients=n_patients, n_replicates=n_replicates)
