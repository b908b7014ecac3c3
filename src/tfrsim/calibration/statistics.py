"""Trial-level statistics of a simulated cohort, as the trials reported them."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis import survival_at
from tfrsim.analysis.descriptive import interpolated_median


@dataclass(frozen=True)
class TrialStatistics:
    """What one simulated trial shows.

    Attributes
    ----------
    months : float array, shape (k,)
        Milestone months.
    survival : float array, shape (k,)
        Kaplan–Meier MRFS at ``months``.
    median_relapse_month : float
        Median month of relapse among relapsers, interpolated on the cumulative
        distribution of relapse months so that it varies continuously with the model
        (a raw median of visit months jumps from one visit to the next).
    median_relapse_se : float
        Its standard error, ``sqrt(1 / (4 m)) / f`` with ``m`` relapses and ``f`` the
        density of relapse months near the median (share within ±1 month, / 2).
    share_relapses_after : dict
        Month -> share of relapses after that month.
    share_relapses_by : dict
        Month -> share of relapses at or before that month.
    n_events : int
    """

    months: NDArray[np.float64]
    survival: NDArray[np.float64]
    median_relapse_month: float
    median_relapse_se: float
    share_relapses_after: dict[float, float]
    share_relapses_by: dict[float, float]
    n_events: int


def trial_statistics(
    patients: pd.DataFrame,
    months: list[float],
    after: tuple[float, ...] = (),
    by: tuple[float, ...] = (),
) -> TrialStatistics:
    """Compute the reported statistics of one simulated trial."""
    relapses = patients.loc[patients["event"], "duration_months"].to_numpy(dtype=float)
    median = interpolated_median(relapses)
    n = max(relapses.size, 1)
    return TrialStatistics(
        months=np.asarray(months, dtype=float),
        survival=survival_at(
            patients["duration_months"].to_numpy(dtype=float),
            patients["event"].to_numpy(dtype=bool),
            months,
        ),
        median_relapse_month=median,
        median_relapse_se=_median_se(relapses, median),
        share_relapses_after={m: float(np.sum(relapses > m) / n) for m in after},
        share_relapses_by={m: float(np.sum(relapses <= m) / n) for m in by},
        n_events=int(relapses.size),
    )


def _median_se(values: NDArray[np.float64], median: float) -> float:
    """Asymptotic SE of a median, with the density estimated within ±1 month of it."""
    if values.size == 0:
        return float("nan")
    density = np.mean(np.abs(values - median) <= 1.0) / 2.0
    return float(np.sqrt(0.25 / values.size) / density) if density > 0 else float("inf")
