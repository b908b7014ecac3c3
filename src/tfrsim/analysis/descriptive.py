"""Descriptive statistics of what the monitoring saw (no model fitting)."""

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


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
        Median month of relapse among patients who relapsed (NaN if none).
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
        median_relapse_month=float(np.median(relapse_months)) if len(relapse_months) else np.nan,
        relapses_after_month_27=_share(relapse_months > 27),
    )
