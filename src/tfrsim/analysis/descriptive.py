"""Descriptive statistics of what the monitoring saw (no model fitting)."""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis.estimands import estimand
from tfrsim.analysis.registry import Analysis, register_analysis
from tfrsim.jsonsafe import json_safe


@dataclass(frozen=True)
class ObservationSummary:
    """How relapses and weak positives showed up in the tests.

    Attributes
    ----------
    n_with_positive : int
        Patients with at least one positive test (up to relapse or end of follow-up).
    fluctuation_fraction : float
        Among them, the share who never relapsed ("fluctuation without relapse");
        NaN if nobody tested positive.
    nonrelapsers_with_positive : float
        Among patients who never relapsed, the share with a positive test (the way
        STIM2 reported fluctuations: about a third, DESIGN §4); NaN if all relapsed.
    median_relapse_month : float
        Median month of relapse among patients who relapsed, as a grouped-data median
        (:func:`interpolated_median`); NaN if none.
    relapses_after_month_27 : float
        Share of observed relapses after month 27 (TWISTER saw none; Ross, Blood 2013).
    """

    n_with_positive: int
    fluctuation_fraction: float
    nonrelapsers_with_positive: float
    median_relapse_month: float
    relapses_after_month_27: float

    def to_dict(self) -> dict[str, float]:
        """Plain-Python mapping (for JSON)."""
        return {k: float(v) for k, v in asdict(self).items()}


def _share(mask: pd.Series) -> float:
    return float(mask.mean()) if len(mask) else float("nan")


def summarise_observation(patients: pd.DataFrame) -> ObservationSummary:
    """Summarise the tests of a patient table (columns ``n_positive``, ``event``,
    ``duration_months``)."""
    positive = patients["n_positive"] > 0
    event = patients["event"].astype(bool)
    relapse_months = patients.loc[event, "duration_months"]
    return ObservationSummary(
        n_with_positive=int(positive.sum()),
        fluctuation_fraction=_share(~event[positive]),
        nonrelapsers_with_positive=_share(positive[~event]),
        median_relapse_month=interpolated_median(relapse_months.to_numpy(dtype=float)),
        relapses_after_month_27=_share(relapse_months > 27),
    )


def detection_delay(patients: pd.DataFrame) -> dict[str, float]:
    """How late the monitoring saw the relapses that really happened.

    The delay of a detected relapse is the observed relapse month (``duration_months``
    of an event) minus the latent month the disease crossed MMR (``relapse_month``);
    events without a latent relapse (a rule fired on residual disease) are counted
    apart.

    Returns
    -------
    dict
        ``n_detected_relapses``, ``n_events_without_relapse``, and the mean, median,
        25th and 75th percentiles of the delay (``delay_*_months``; NaN if none).
    """
    event = patients["event"].to_numpy(dtype=bool)
    latent = patients["relapse_month"].to_numpy(dtype=float)
    real = event & np.isfinite(latent)
    delay = patients["duration_months"].to_numpy(dtype=float)[real] - latent[real]
    q = np.percentile(delay, [25, 50, 75]) if delay.size else np.full(3, np.nan)
    return {
        "n_detected_relapses": int(real.sum()),
        "n_events_without_relapse": int((event & ~np.isfinite(latent)).sum()),
        "delay_mean_months": float(delay.mean()) if delay.size else float("nan"),
        "delay_median_months": float(q[1]),
        "delay_q25_months": float(q[0]),
        "delay_q75_months": float(q[2]),
    }


def interpolated_median(values: NDArray[np.float64]) -> float:
    """Median of grid-valued ``values`` by linear interpolation of their CDF.

    The grouped-data median: a relapse dated at a visit happened since the previous
    one, so the empirical CDF is taken at the distinct values (and 0) and the month
    where it crosses 1/2 is interpolated linearly between them. Unlike a raw median of
    visit months it moves continuously with the model, and it is the statistic the
    calibration fits to STIM1's published 2.5 months.
    """
    if values.size == 0:
        return float("nan")
    grid, counts = np.unique(values, return_counts=True)
    cdf = np.cumsum(counts) / values.size
    x = np.concatenate([[0.0], grid])
    y = np.concatenate([[0.0], cdf])
    return float(np.interp(0.5, y, x))


@dataclass(frozen=True)
class ObservationResult:
    """The ``observation`` analysis: what the monitoring saw, and how late.

    Attributes
    ----------
    n_events : int
        Relapses the rule detected.
    n_latent_relapses : int
        Patients whose disease crossed MMR at some time (latent, before censoring).
    summary_ : ObservationSummary
        Positives, fluctuation and relapse timing.
    delay : dict
        Detection delay (see :func:`detection_delay`).
    """

    n_events: int
    n_latent_relapses: int
    summary_: ObservationSummary
    delay: dict[str, float] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """No table of its own (its numbers are in ``summary.json``)."""
        return {}

    def summary(self) -> dict[str, Any]:
        """``n_events``, ``n_latent_relapses`` and ``observation`` (a mapping)."""
        return {
            "n_events": self.n_events,
            "n_latent_relapses": self.n_latent_relapses,
            "observation": json_safe({**self.summary_.to_dict(), **self.delay}),
        }

    def estimands(self) -> list[dict[str, Any]]:
        """``n_events``, detection delay (median with quartiles, mean), detected
        relapses, the median relapse month and the share of non-relapsers with a
        positive test."""
        d, s = self.delay, self.summary_
        return [
            estimand("observation", "n_events", value=self.n_events),
            estimand(
                "observation",
                "detection_delay",
                value=d["delay_median_months"],
                lower=d["delay_q25_months"],
                upper=d["delay_q75_months"],
            ),
            estimand("observation", "detection_delay_mean", value=d["delay_mean_months"]),
            estimand("observation", "n_detected_relapses", value=d["n_detected_relapses"]),
            estimand("observation", "median_relapse_month", value=s.median_relapse_month),
            estimand(
                "observation", "nonrelapsers_with_positive", value=s.nonrelapsers_with_positive
            ),
        ]


def observe_summary(patients: pd.DataFrame, params: object = None) -> ObservationResult:
    """Run the ``observation`` analysis on a patient table."""
    return ObservationResult(
        n_events=int(patients["event"].sum()),
        n_latent_relapses=int(patients["relapse_month"].notna().sum()),
        summary_=summarise_observation(patients),
        delay=detection_delay(patients),
    )


register_analysis(Analysis("observation", observe_summary))
