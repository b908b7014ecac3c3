"""Kaplan–Meier estimates of molecular-relapse-free survival (MRFS)."""

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


def _curve(
    durations: np.ndarray,
    events: np.ndarray,
    alpha: float,
    ci_transform: CITransform = "log-log",
    collapsed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Kaplan–Meier step table for one group, starting at (0, 1).

    ``ci_transform`` other than lifelines' ``"log-log"`` replaces the limits by R's
    (:func:`tfrsim.analysis.survfit.km_estimate`). ``collapsed``: the group's
    :func:`~tfrsim.analysis.columns.collapse` rows, fitted with their counts as
    weights (the same event table as one row per patient, far fewer rows).
    """
    from lifelines import KaplanMeierFitter  # here, not at import: fast `tfrsim --help`

    if collapsed is None:
        kmf = KaplanMeierFitter(alpha=alpha).fit(durations, event_observed=events)
    else:
        times, flags, counts = collapsed
        kmf = KaplanMeierFitter(alpha=alpha).fit(times, event_observed=flags, weights=counts)
    ci = kmf.confidence_interval_survival_function_
    lower_col = next(c for c in ci.columns if "lower" in str(c))
    upper_col = next(c for c in ci.columns if "upper" in str(c))
    table = pd.DataFrame(
        {
            "month": kmf.survival_function_.index.to_numpy(dtype=float),
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float),
            "lower": ci[lower_col].to_numpy(dtype=float),
            "upper": ci[upper_col].to_numpy(dtype=float),
        }
    )
    if ci_transform != "log-log":
        if ci_transform not in CI_TRANSFORMS:
            raise ValueError(
                f"ci_transform must be one of {list(CI_TRANSFORMS)}, got {ci_transform!r}"
            )
        limits = km_estimate(durations, events, alpha=alpha, ci_transform=ci_transform)
        values = limits.at(table["month"].to_numpy())
        table["lower"] = values["lower"].to_numpy()
        table["upper"] = values["upper"].to_numpy()
    # A relapse recorded at month 0 makes lifelines start below 1; the table must
    # still start at (0, 1) so a step plot shows the drop at 0.
    if table["month"].iloc[0] != 0.0 or table["survival"].iloc[0] != 1.0:
        start = pd.DataFrame({"month": [0.0], "survival": [1.0], "lower": [1.0], "upper": [1.0]})
        table = pd.concat([start, table], ignore_index=True)
    return table


def _step_values(curve: pd.DataFrame, months: np.ndarray, last_duration: float) -> pd.DataFrame:
    """Right-continuous step value of ``curve`` at ``months``."""
    times = curve["month"].to_numpy()
    idx = np.searchsorted(times, months, side="right") - 1
    out = curve.iloc[idx][["survival", "lower", "upper"]].reset_index(drop=True)
    out.insert(0, "month", months)
    # Beyond the last follow-up the KM curve is undefined unless it already reached
    # 0, so report NaN rather than carrying the last value forward.
    beyond = (months > last_duration) & (out["survival"].to_numpy() > 0)
    out.loc[beyond, ["survival", "lower", "upper"]] = np.nan
    return out


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

    curves, at_risk, stones = [], [], []
    groups = list(iter_groups(data))
    rows = collapse(durations, events, [mask for _, mask in groups])
    for (group, mask), collapsed in zip(groups, rows, strict=True):
        times, flags, weights = collapsed
        d, e = (durations[mask], events[mask]) if transform != "log-log" else (times, flags)
        curve = _curve(d, e, params.alpha, transform, collapsed)
        curves.append(curve.assign(group=group))
        stones.append(_step_values(curve, milestones, float(times.max())).assign(group=group))
        # Patients with duration >= month, from the distinct durations and their counts.
        counts = ((times[np.newaxis, :] >= risk_months[:, np.newaxis]) @ weights).astype(np.int64)
        at_risk.append(pd.DataFrame({"group": group, "month": risk_months, "at_risk": counts}))
        logger.debug(
            "KM group %s: %d patients, %d events", group, int(weights.sum()), weights[flags].sum()
        )

    return KMResult(
        curves=_stack(curves, CURVE_COLUMNS),
        at_risk=_stack(at_risk, AT_RISK_COLUMNS).astype({"at_risk": "int64"}),
        milestones=_stack(stones, CURVE_COLUMNS),
        alpha=params.alpha,
        ci_transform=transform,
    )


def _stack(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c == "group" else float) for c in columns}
        )
    return pd.concat(frames, ignore_index=True)[list(columns)]


def survival_at(
    durations: np.ndarray, events: np.ndarray, months: "list[float] | np.ndarray"
) -> np.ndarray:
    """Kaplan–Meier survival of one sample at ``months`` (no CI; fast path).

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
    from lifelines import KaplanMeierFitter

    fitter = KaplanMeierFitter().fit(durations, event_observed=events)
    values = fitter.survival_function_at_times(np.asarray(months, dtype=float))
    return np.asarray(values, dtype=float)


register_analysis(Analysis("km", fit_km, columns=("sokal_group",)))
