"""Log-rank comparison of MRFS across Sokal groups."""

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tfrsim.analysis.columns import (
    check_survival_columns,
    collapse,
    durations_events,
    iter_groups,
)
from tfrsim.analysis.estimands import estimand
from tfrsim.analysis.registry import WARNINGS_LOCK, Analysis, register_analysis
from tfrsim.jsonsafe import json_safe

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogRankResult:
    """Multivariate log-rank test of equal MRFS across the non-empty Sokal groups.

    Parameters
    ----------
    statistic : float
        Chi-squared test statistic (NaN when the test is not computable).
    p : float
        p-value against chi-squared with ``df`` degrees of freedom (NaN likewise).
    df : int
        Degrees of freedom, ``n_groups - 1`` (0 with fewer than two groups).
    n_groups : int
        Number of non-empty Sokal groups compared.
    note : str
        Why the test was not computed; empty when it was.
    """

    statistic: float
    p: float
    df: int
    n_groups: int
    note: str = ""

    def tables(self) -> dict[str, pd.DataFrame]:
        """``logrank.csv`` (one row)."""
        return {"logrank": self.to_frame()}

    def summary(self) -> dict[str, Any]:
        """``logrank``: {statistic, p, df}."""
        return {
            "logrank": {
                "statistic": json_safe(float(self.statistic)),
                "p": json_safe(float(self.p)),
                "df": int(self.df),
            }
        }

    def estimands(self) -> list[dict[str, Any]]:
        """One ``logrank`` row (statistic, p)."""
        return [estimand("logrank", "logrank", statistic=self.statistic, p=self.p)]

    def to_frame(self) -> pd.DataFrame:
        """Return a one-row DataFrame with every field."""
        return pd.DataFrame(
            [
                {
                    "statistic": self.statistic,
                    "p": self.p,
                    "df": self.df,
                    "n_groups": self.n_groups,
                    "note": self.note,
                }
            ]
        )


def logrank_by_group(data: pd.DataFrame) -> LogRankResult:
    """Test equality of MRFS across the non-empty Sokal groups.

    Parameters
    ----------
    data : pandas.DataFrame
        Patient table (``duration_months``, ``event``, ``sokal_group``).

    Returns
    -------
    LogRankResult
        The test, or NaN statistic and p with a ``note`` when it cannot be computed
        (fewer than two non-empty groups, no events); never raises for such data.
    """
    check_survival_columns(data)
    durations, events = durations_events(data)
    groups = list(iter_groups(data, include_all=False))
    n_groups = len(groups)
    df = max(n_groups - 1, 0)

    def not_computed(note: str) -> LogRankResult:
        logger.info("log-rank test not computed: %s", note)
        return LogRankResult(math.nan, math.nan, df, n_groups, note)

    if n_groups < 2:
        present = [g for g, _ in groups]
        return not_computed(
            f"log-rank test needs at least 2 non-empty Sokal groups, found {n_groups} {present}"
        )
    if not events.any():
        return not_computed("log-rank test needs at least one event, found none")

    # Each group's distinct (duration, event) rows weighted by their counts: the same
    # survival tables as one row per patient. Groups in order of first appearance, as
    # lifelines orders them from per-patient labels (the order of its matrices).
    groups.sort(key=lambda item: int(np.argmax(item[1])))
    rows = collapse(durations, events, [mask for _, mask in groups])
    labels = np.concatenate(
        [np.full(r[0].size, g, dtype=object) for (g, _), r in zip(groups, rows, strict=True)]
    )
    times, flags, counts = (np.concatenate(parts) for parts in zip(*rows, strict=True))
    from lifelines.statistics import multivariate_logrank_test  # not at import: fast CLI

    try:
        with WARNINGS_LOCK, warnings.catch_warnings():
            # A degenerate variance gives 0/0 inside lifelines; it is reported below
            # as a NaN statistic with a note instead of a RuntimeWarning.
            warnings.simplefilter("ignore", RuntimeWarning)
            test = multivariate_logrank_test(times, labels, flags, weights=counts)
    except Exception as exc:  # lifelines raises assorted errors on degenerate data
        return not_computed(f"log-rank test failed: {type(exc).__name__}: {exc}")
    statistic, p = float(test.test_statistic), float(test.p_value)
    if not math.isfinite(statistic):
        return not_computed(f"log-rank statistic is not finite ({statistic})")
    return LogRankResult(statistic, p, int(test.degrees_of_freedom), n_groups)


def _run_logrank(data: pd.DataFrame, params: object) -> LogRankResult:
    return logrank_by_group(data)


register_analysis(Analysis("logrank", _run_logrank, columns=("sokal_group",)))
