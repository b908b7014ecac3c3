"""Kaplan–Meier estimates of molecular-relapse-free survival (MRFS).

The curves are lifelines' ``KaplanMeierFitter`` numbers (product-limit estimate as
``exp(cumsum(log(n - d) - log n))``, exponential Greenwood interval, lifelines'
conventions at S = 1 and S = 0), computed here from the event counts on the
distinct-time grid (:func:`km_table`) instead of by lifelines: its per-fit pandas
work cost ~10 ms per curve whatever the size (17 ms on a loaded machine), 40 % of an
``experiment=power`` sweep (cProfile of one job of 40 replicates x 200 patients,
2 December 2026: 2.3 s of 5.8 s, four curves per replicate; numpy: ~0.3 ms per
curve), and importing lifelines is start-up time for every run. The tests compare
the tables with lifelines'.
"""

import logging
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
from tfrsim.analysis.grid import unique_inverse
from tfrsim.analysis.params import AnalysisParams
from tfrsim.analysis.registry import Analysis, register_analysis
from tfrsim.analysis.survfit import CI_TRANSFORMS, CITransform, km_estimate
from tfrsim.jsonsafe import records

logger = logging.getLogger(__name__)

CURVE_COLUMNS: tuple[str, ...] = ("group", "month", "survival", "lower", "upper")
AT_RISK_COLUMNS: tuple[str, ...] = ("group", "month", "at_risk")


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier MRFS overall (group ``"all"``) and by non-empty Sokal group.

    Parameters
    ----------
    curves : pandas.DataFrame
        Step-function table, one row per group and distinct observed month, columns
        ``group`` (str), ``month`` (float, months since stop), ``survival``,
        ``lower``, ``upper`` (probabilities in [0, 1]; pointwise ``1 - alpha`` CI,
        exponential Greenwood). Each group starts at month 0 with survival 1; the
        value holds from ``month`` up to the next row (right-continuous).
    at_risk : pandas.DataFrame
        Columns ``group``, ``month`` (float), ``at_risk`` (int): patients with
        ``duration_months >= month``, one row per group and at-risk month.
    milestones : pandas.DataFrame
        Columns as ``curves``, one row per group and milestone month: the step
        value (and CI) at that month. NaN where the month lies beyond the last
        observed duration of the group and the curve has not reached 0.
    alpha : float
        1 - confidence level of the intervals.
    ci_transform : str
        Transform of the pointwise intervals (``log-log``, ``log`` or ``plain``).
    """

    curves: pd.DataFrame
    at_risk: pd.DataFrame
    milestones: pd.DataFrame
    alpha: float
    ci_transform: str = "log-log"

    def to_frame(self) -> pd.DataFrame:
        """Return the tidy curve table (a copy of :attr:`curves`)."""
        return self.curves.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """``km.csv``, ``at_risk.csv`` and ``milestones.csv``; the curve tables carry
        their interval convention in a ``ci_transform`` column."""
        return {
            "km": self.curves.assign(ci_transform=self.ci_transform),
            "at_risk": self.at_risk,
            "milestones": self.milestones.assign(ci_transform=self.ci_transform),
        }

    def summary(self) -> dict[str, Any]:
        """``milestones`` (list of {group, month, survival, lower, upper}) and
        ``km_ci_transform``."""
        return {
            "milestones": records(self.milestones, list(CURVE_COLUMNS)),
            "km_ci_transform": self.ci_transform,
        }

    def estimands(self) -> list[dict[str, Any]]:
        """One ``mrfs`` row per group and milestone (value = survival, with its CI)."""
        return [
            estimand(
                "km",
                "mrfs",
                group=m["group"],
                month=m["month"],
                value=m["survival"],
                lower=m["lower"],
                upper=m["upper"],
            )
            for m in self.milestones.to_dict("records")
        ]


def _check_months(months: tuple[float, ...], argument: str) -> np.ndarray:
    values = np.asarray(months, dtype=float).reshape(-1)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(f"{argument} must be finite months >= 0, got {list(months)}")
    return values


def _counts(
    durations: np.ndarray, events: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct times, (weighted) rows leaving and events at each."""
    times, inverse = unique_inverse(np.asarray(durations, dtype=float))
    inverse = inverse.reshape(-1)
    w = np.ones(inverse.size) if weights is None else np.asarray(weights, dtype=float)
    e = np.asarray(events, dtype=bool).reshape(-1)
    removed = np.bincount(inverse, weights=w, minlength=times.size)
    observed = np.bincount(inverse[e], weights=w[e], minlength=times.size)
    return times, removed, observed


def km_table(
    times: np.ndarray, removed: np.ndarray, observed: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """lifelines' Kaplan–Meier table from the counts at each distinct time.

    Parameters
    ----------
    times : float array, (K,)
        Distinct durations (months), ascending, all >= 0.
    removed, observed : float arrays, (K,)
        Patients (or weights) leaving, and events, at each time.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    month, survival, lower, upper : float arrays
        lifelines' ``survival_function_`` and exponential-Greenwood
        ``confidence_interval_`` on its timeline: month 0 (the entry of every patient)
        and each distinct time. As lifelines: the variance term of a time where every
        patient at risk relapses is 0 (not infinite), so the limits are 0 once the
        curve is 0, and 1 where the curve is 1.
    """
    from tfrsim.analysis.pvalues import norm_ppf

    if times.size == 0 or times[0] > 0.0:  # lifelines' timeline starts at entry (0)
        times = np.r_[0.0, times]
        removed, observed = np.r_[0.0, removed], np.r_[0.0, observed]
    at_risk = removed.sum() - np.r_[0.0, np.cumsum(removed)[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_survival = np.cumsum(np.log(at_risk - observed) - np.log(at_risk))
        term = observed / (at_risk * (at_risk - observed))
        variance = np.cumsum(np.where(np.isinf(term), 0.0, term))
        survival = np.exp(log_survival)
        v = np.log(survival)
        half = norm_ppf(1 - alpha / 2) * np.sqrt(variance) / v
        lower = np.exp(-np.exp(np.log(-v) - half))
        upper = np.exp(-np.exp(np.log(-v) + half))
    # lifelines' ``fillna(1.0)``: 0/0 where the curve is 1 (no variance yet).
    lower, upper = np.where(np.isnan(lower), 1.0, lower), np.where(np.isnan(upper), 1.0, upper)
    return times, survival, lower, upper


def _curve_arrays(
    durations: np.ndarray,
    events: np.ndarray,
    alpha: float,
    ci_transform: CITransform = "log-log",
    collapsed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier step table for one group, starting at (0, 1): month, survival,
    lower, upper.

    ``ci_transform`` other than lifelines' ``"log-log"`` replaces the limits by R's
    (:func:`tfrsim.analysis.survfit.km_estimate`). ``collapsed``: the group's
    :func:`~tfrsim.analysis.columns.collapse` rows with their counts (the same event
    table as one row per patient, far fewer rows).
    """
    counts = _counts(durations, events) if collapsed is None else _counts(*collapsed)
    month, survival, lower, upper = km_table(*counts, alpha=alpha)
    if ci_transform != "log-log":
        if ci_transform not in CI_TRANSFORMS:
            raise ValueError(
                f"ci_transform must be one of {list(CI_TRANSFORMS)}, got {ci_transform!r}"
            )
        limits = km_estimate(durations, events, alpha=alpha, ci_transform=ci_transform)
        values = limits.at(month)
        lower, upper = values["lower"].to_numpy(), values["upper"].to_numpy()
    # A relapse recorded at month 0 makes the table start below 1; it must still
    # start at (0, 1) so a step plot shows the drop at 0.
    if month[0] != 0.0 or survival[0] != 1.0:
        month, survival = np.r_[0.0, month], np.r_[1.0, survival]
        lower, upper = np.r_[1.0, lower], np.r_[1.0, upper]
    return month, survival, lower, upper


def _curve(
    durations: np.ndarray,
    events: np.ndarray,
    alpha: float,
    ci_transform: CITransform = "log-log",
    collapsed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """:func:`_curve_arrays` as a table (columns month, survival, lower, upper)."""
    arrays = _curve_arrays(durations, events, alpha, ci_transform, collapsed)
    return pd.DataFrame(dict(zip(("month", "survival", "lower", "upper"), arrays, strict=True)))


def _step_values(
    curve: tuple[np.ndarray, ...], months: np.ndarray, last_duration: float
) -> tuple[np.ndarray, ...]:
    """Right-continuous step values (survival, lower, upper) of ``curve`` at ``months``."""
    idx = np.searchsorted(curve[0], months, side="right") - 1
    survival = curve[1][idx]
    # Beyond the last follow-up the KM curve is undefined unless it already reached
    # 0, so report NaN rather than carrying the last value forward.
    beyond = (months > last_duration) & (survival > 0)
    return tuple(np.where(beyond, np.nan, values[idx]) for values in curve[1:])


def fit_km(
    data: pd.DataFrame, params: AnalysisParams, *, ci_transform: CITransform | None = None
) -> KMResult:
    """Kaplan–Meier MRFS overall and by Sokal group.

    Parameters
    ----------
    data : pandas.DataFrame
        Patient table (``duration_months``, ``event``, ``sokal_group``), one row
        per patient.
    params : AnalysisParams
        Uses ``alpha``, ``milestones_months`` and ``at_risk_months``.
    ci_transform : {"log-log", "log", "plain"}, optional
        Pointwise CI transform with Greenwood variance: ``"log-log"`` (lifelines'
        default, exponential Greenwood), ``"log"`` (R ``survfit``'s default) or
        ``"plain"``; default ``params.ci_transform``.

    Returns
    -------
    KMResult
        Curves, numbers at risk and milestone estimates; empty Sokal groups are
        omitted.
    """
    check_survival_columns(data)
    milestones = _check_months(params.milestones_months, "params.milestones_months")
    risk_months = _check_months(params.at_risk_months, "params.at_risk_months")
    durations, events = durations_events(data)
    transform: CITransform = ci_transform or params.ci_transform  # type: ignore[assignment]

    # Per table: the group label of each row and the columns' pieces, one per group.
    curves: dict[str, list[np.ndarray]] = {c: [] for c in CURVE_COLUMNS}
    stones: dict[str, list[np.ndarray]] = {c: [] for c in CURVE_COLUMNS}
    at_risk: dict[str, list[np.ndarray]] = {c: [] for c in AT_RISK_COLUMNS}
    groups = list(iter_groups(data))
    rows = collapse(durations, events, [mask for _, mask in groups])
    for (group, mask), collapsed in zip(groups, rows, strict=True):
        times, flags, weights = collapsed
        d, e = (durations[mask], events[mask]) if transform != "log-log" else (times, flags)
        curve = _curve_arrays(d, e, params.alpha, transform, collapsed)
        values = (milestones, *_step_values(curve, milestones, float(times.max())))
        # Patients with duration >= month, from the distinct durations and their counts.
        counts = ((times[np.newaxis, :] >= risk_months[:, np.newaxis]) @ weights).astype(np.int64)
        for table, columns in ((curves, curve), (stones, values), (at_risk, (risk_months, counts))):
            table["group"].append(np.full(columns[0].size, group, dtype=object))
            for name, column in zip(list(table)[1:], columns, strict=True):
                table[name].append(np.asarray(column))
        logger.debug(
            "KM group %s: %d patients, %d events", group, int(weights.sum()), weights[flags].sum()
        )

    return KMResult(
        curves=_stack(curves),
        at_risk=_stack(at_risk).astype({"at_risk": "int64"}),
        milestones=_stack(stones),
        alpha=params.alpha,
        ci_transform=transform,
    )


def _stack(pieces: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """One table from each column's pieces (group labels as str objects)."""
    if not pieces["group"]:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "group" else float) for c in pieces})
    return pd.DataFrame({c: np.concatenate(parts) for c, parts in pieces.items()})


def survival_at(
    durations: np.ndarray, events: np.ndarray, months: "list[float] | np.ndarray"
) -> np.ndarray:
    """Kaplan–Meier survival of one sample at ``months`` (no CI; lifelines' numbers).

    Parameters
    ----------
    durations : float array, shape (n,)
        Months to relapse or censoring.
    events : bool array, shape (n,)
        Relapse observed.
    months : sequence of float
        Where to evaluate the step function (right-continuous). Beyond the last
        observed time the last value is carried forward (lifelines' convention),
        unlike :func:`fit_km`'s milestones, which are NaN there: callers keep
        ``months`` within follow-up (the calibration extends follow-up to its last
        target month).

    Returns
    -------
    numpy.ndarray
        Survival probabilities, shape ``(len(months),)``.
    """
    grid, survival, _, _ = km_table(*_counts(durations, events))
    # Right-continuous step value (lifelines' ``asof``); NaN before month 0.
    idx = np.searchsorted(grid, np.asarray(months, dtype=float), side="right") - 1
    return np.where(idx >= 0, survival[np.clip(idx, 0, None)], np.nan)


register_analysis(Analysis("km", fit_km, columns=("sokal_group",)))
