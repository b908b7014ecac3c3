"""Trial-level statistics of a simulated cohort, as the trials reported them."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis import survival_at


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
    share_relapses_after : dict
        Month -> share of relapses after that month.
    share_relapses_by : dict
        Month -> share of relapses at or before that month.
    n_events : int
    """

    months: NDArray[np.float64]
    survival: NDArray[np.float64]
    median_relapse_month: float
    share_relapses_after: dict[float, float]
    share_relapses_by: dict[float, float]
    n_events: int


def interpolated_median(values: NDArray[np.float64]) -> float:
    """Median of grid-valued ``values`` by linear interpolation of their CDF.

    The empirical CDF is evaluated at the distinct values (and 0) and the month where
    it crosses 1/2 is interpolated linearly between them.
    """
    if values.size == 0:
        return float("nan")
    grid, counts = np.unique(values, return_counts=True)
    cdf = np.cumsum(counts) / values.size
    x = np.concatenate([[0.0], grid])
    y = np.concatenate([[0.0], cdf])
    return float(np.interp(0.5, y, x))


def trial_statistics(
    patients: pd.DataFrame,
    months: list[float],
    after: tuple[float, ...] = (),
    by: tuple[float, ...] = (),
) -> TrialStatistics:
    """Compute the reported statistics of one simulated trial."""
    relapses = patients.loc[patients["event"], "duration_months"].to_numpy(dtype=float)
    n = max(relapses.size, 1)
    return TrialStatistics(
        months=np.asarray(months, dtype=float),
        survival=survival_at(
            patients["duration_months"].to_numpy(dtype=float),
            patients["event"].to_numpy(dtype=bool),
            months,
        ),
        median_relapse_month=interpolated_median(relapses),
        share_relapses_after={m: float(np.sum(relapses > m) / n) for m in after},
        share_relapses_by={m: float(np.sum(relapses <= m) / n) for m in by},
        n_events=int(relapses.size),
    )
