"""Kaplan–Meier with R's confidence-interval transforms, RMST and median survival.

Each function reproduces R's survival package (therneau/survival):

* :func:`km_estimate` — ``survfit(Surv(t, e) ~ 1, conf.type=...)``: Greenwood
  standard error of ``log S`` and the ``survfit_confint`` intervals (``R/survfit.R``)
  for ``conf.type`` ``"log"`` (R's default), ``"log-log"`` (lifelines' default, the
  "exponential Greenwood" interval) and ``"plain"``.
* :func:`rmst` — restricted mean survival time to ``tau`` with the variance of R's
  ``survmean`` (``R/print.survfit.R``; Miller 1981, pp. 195-196), by group, and the
  difference of each group from a reference with a normal CI (survRM2's contrast).
* :func:`median_survival` — the median and its CI as ``print.survfit`` (the first time
  the curve, and the lower / upper limits, fall below 0.5; the mid-point of a flat
  stretch at exactly 0.5).

Time is in months.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from tfrsim.analysis.grid import unique_inverse
from tfrsim.analysis.pvalues import log10_p_normal, norm_ppf
from tfrsim.jsonsafe import json_safe

Array = NDArray[np.float64]
CITransform = Literal["log", "log-log", "plain"]
CI_TRANSFORMS: tuple[str, ...] = ("log", "log-log", "plain")
#: R's tolerance for "exactly 0.5" in the median (``.Machine$double.eps^.5``,
#: ``minmin`` in ``R/print.survfit.R``).
_HALF_TOLERANCE: float = float(np.finfo(float).eps ** 0.5)


@dataclass(frozen=True)
class KMEstimate:
    """Kaplan–Meier step function of one sample at every distinct observed time.

    Attributes
    ----------
    time : float array, (K,)
        Distinct durations (months), events and censorings, ascending (R's
        ``survfit`` ``time``).
    n_risk, n_event, n_censor : int arrays, (K,)
        At risk just before, events at, and censorings at each time.
    survival : float array, (K,)
        KM survival probability from ``time`` on (right-continuous).
    se_log : float array, (K,)
        Greenwood standard error of ``log S`` (R's ``std.err``); ``inf`` once the
        curve has reached 0.
    lower, upper : float arrays, (K,)
        Pointwise ``1 - alpha`` CI for ``survival`` (NaN where undefined, as R).
    ci_transform : str
        ``"log"``, ``"log-log"`` or ``"plain"``.
    alpha : float
        1 - confidence level.
    """

    time: Array
    n_risk: NDArray[np.int64]
    n_event: NDArray[np.int64]
    n_censor: NDArray[np.int64]
    survival: Array
    se_log: Array
    lower: Array
    upper: Array
    ci_transform: str
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, one row per distinct time (columns as the attributes)."""
        return pd.DataFrame(
            {
                "month": self.time,
                "n_risk": self.n_risk,
                "n_event": self.n_event,
                "n_censor": self.n_censor,
                "survival": self.survival,
                "se_log": self.se_log,
                "lower": self.lower,
                "upper": self.upper,
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: the table as lists plus ``ci_transform`` and ``alpha``."""
        table = self.to_frame()
        return json_safe(
            {
                "ci_transform": self.ci_transform,
                "alpha": self.alpha,
                **{c: table[c].tolist() for c in table.columns},
            }
        )

    def at(self, months: ArrayLike) -> pd.DataFrame:
        """Right-continuous values at ``months`` (1 before the first time; the last
        value carried forward beyond the last time)."""
        m = np.asarray(months, dtype=float).reshape(-1)
        idx = np.searchsorted(self.time, m, side="right") - 1
        before = idx < 0
        i = np.clip(idx, 0, None)
        out = {
            "month": m,
            "survival": np.where(before, 1.0, self.survival[i]),
            "lower": np.where(before, 1.0, self.lower[i]),
            "upper": np.where(before, 1.0, self.upper[i]),
        }
        return pd.DataFrame(out)


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(norm_ppf(1.0 - alpha / 2.0))


def confidence_interval(
    survival: ArrayLike, se_log: ArrayLike, *, alpha: float = 0.05, transform: str = "log-log"
) -> tuple[Array, Array]:
    """Pointwise CI of a survival probability, as R's ``survfit_confint``.

    Parameters
    ----------
    survival : float array
        Survival probabilities.
    se_log : float array
        Standard error of ``log(survival)`` (Greenwood for KM).
    alpha : float, default 0.05
        1 - confidence level.
    transform : {"log", "log-log", "plain"}
        ``log``: ``exp(log S -+ z se)``, upper capped at 1; ``log-log``:
        ``exp(-exp(log(-log S) -+ z se / log S))``, undefined (NaN) at S = 0 or 1
        unless se = 0; ``plain``: ``S -+ z se S`` clipped to [0, 1].

    Returns
    -------
    lower, upper : float arrays
    """
    z = _z(alpha)
    p = np.asarray(survival, dtype=float)
    se = np.asarray(se_log, dtype=float)
    zero_se = se == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if transform == "plain":
            half = se * p * z
            half = np.where(zero_se, 0.0, half)  # R: se/p with se = 0 is 0
            return np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        if transform == "log":
            xx = np.where(p == 0, np.nan, p)
            lower = np.where(zero_se, p, np.exp(np.log(xx) - z * se))
            upper = np.where(zero_se, p, np.minimum(np.exp(np.log(xx) + z * se), 1.0))
            return lower, upper
        if transform == "log-log":
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            half = z * se / np.log(xx)
            loglog = np.log(-np.log(xx))
            lower = np.where(zero_se, p, np.exp(-np.exp(loglog - half)))
            upper = np.where(zero_se, p, np.exp(-np.exp(loglog + half)))
            return lower, upper
    raise ValueError(f"transform must be one of {list(CI_TRANSFORMS)}, got {transform!r}")


def km_estimate(
    durations: ArrayLike,
    events: ArrayLike,
    *,
    alpha: float = 0.05,
    ci_transform: CITransform = "log-log",
) -> KMEstimate:
    """Kaplan–Meier estimate with Greenwood SE and R's CI transforms.

    Parameters
    ----------
    durations : float array, (n,)
        Months to event or censoring.
    events : bool array, (n,)
        Event observed.
    alpha : float, default 0.05
    ci_transform : {"log", "log-log", "plain"}, default "log-log"
        ``"log-log"`` is lifelines' (and this package's historical) interval; R's
        ``survfit`` default is ``"log"``.

    Returns
    -------
    KMEstimate
    """
    t = np.asarray(durations, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    if t.size != e.size or t.size == 0:
        raise ValueError("durations and events must be non-empty and of equal length")
    times, inverse = unique_inverse(t)
    n_event = np.bincount(inverse, weights=e, minlength=times.size).astype(np.int64)
    n_all = np.bincount(inverse, minlength=times.size).astype(np.int64)
    return _km_from_counts(times, n_event, n_all, alpha=alpha, ci_transform=ci_transform)


def _km_by_group(
    t: Array,
    e: NDArray[np.bool_],
    masks: Sequence[NDArray[np.bool_]],
    *,
    alpha: float = 0.05,
    ci_transform: CITransform = "log-log",
) -> list[KMEstimate]:
    """:func:`km_estimate` of each group ``t[mask], e[mask]``, from one sort of ``t``:
    each group's counts on the distinct times of all rows, times without rows dropped
    (the same counts, hence the same numbers, as sorting each group)."""
    times, inverse = unique_inverse(t)
    inverse = inverse.reshape(-1)
    out = []
    for mask in masks:
        idx = inverse[mask]
        n_all = np.bincount(idx, minlength=times.size).astype(np.int64)
        n_event = np.bincount(idx, weights=e[mask], minlength=times.size).astype(np.int64)
        seen = n_all > 0
        out.append(
            _km_from_counts(
                times[seen], n_event[seen], n_all[seen], alpha=alpha, ci_transform=ci_transform
            )
        )
    return out


def _km_from_counts(
    times: Array,
    n_event: NDArray[np.int64],
    n_all: NDArray[np.int64],
    *,
    alpha: float,
    ci_transform: CITransform,
) -> KMEstimate:
    """:func:`km_estimate` from the rows and events at each distinct time."""
    n_risk = (int(n_all.sum()) - np.r_[0, np.cumsum(n_all)[:-1]]).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_event / n_risk)
        # Greenwood: var(log S) = sum d / (n (n - d)); infinite once n = d.
        increment = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    se_log = np.sqrt(np.cumsum(increment))
    lower, upper = confidence_interval(survival, se_log, alpha=alpha, transform=ci_transform)
    return KMEstimate(
        time=times,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_all - n_event,
        survival=survival,
        se_log=se_log,
        lower=lower,
        upper=upper,
        ci_transform=ci_transform,
        alpha=alpha,
    )


def _groups(
    n: int, groups: ArrayLike | None, order: Sequence[Any] | None
) -> list[tuple[str, NDArray[np.bool_]]]:
    if groups is None:
        return [("all", np.ones(n, dtype=bool))]
    if isinstance(groups, pd.Categorical) and order is not None and len(groups) == n:
        # Codes, not a string per row (categories compared as str, as below).
        codes = np.asarray(groups.codes)
        names = [str(c) for c in groups.categories]
        if (codes >= 0).all() and len(set(names)) == len(names):
            found = [
                (str(g), codes == names.index(str(g)) if str(g) in names else np.zeros(n, bool))
                for g in order
            ]
            return [(g, m) for g, m in found if m.any()]
    labels = np.asarray(groups, dtype=object).reshape(-1)
    if labels.size != n:
        raise ValueError("groups must have one label per row")
    levels = list(order) if order is not None else sorted({str(v) for v in labels})
    as_str = labels.astype(str)
    out = [(str(g), as_str == str(g)) for g in levels]
    return [(g, m) for g, m in out if m.any()]


def _rmst_one(km: KMEstimate, tau: float) -> tuple[float, float]:
    """Area under the KM curve on [0, tau] and its SE (R's ``survmean``)."""
    keep = km.time <= tau
    times = np.r_[km.time[keep], tau]
    surv = np.r_[km.survival[keep], km.survival[keep][-1] if keep.any() else 1.0]
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(
            km.n_risk - km.n_event == 0, 0.0, km.n_event / (km.n_risk * (km.n_risk - km.n_event))
        )
    hh = np.r_[hh[keep], 0.0]
    start = min(0.0, float(km.time[0]))
    widths = np.diff(np.r_[start, times])
    rectangles = widths * np.r_[1.0, surv[:-1]]
    # Area from each time t_i (i < last) to tau: the rectangles after it.
    tail = np.cumsum(rectangles[::-1])[::-1]
    variance = float(np.sum(tail[1:] ** 2 * hh[:-1]))
    return float(rectangles.sum()), float(np.sqrt(variance))


@dataclass(frozen=True)
class RMSTResult:
    """Restricted mean survival time (months) to ``tau``, by group.

    Attributes
    ----------
    groups : tuple of str
        Group labels (``"all"`` without groups).
    rmst, se : float arrays
        RMST (months of MRFS up to ``tau``) and its SE (months).
    lower, upper : float arrays
        Normal ``1 - alpha`` CI (months).
    difference, difference_se, difference_lower, difference_upper : float arrays
        RMST of each group minus the reference group's (months; 0 for the reference),
        SE ``sqrt(se_g^2 + se_ref^2)`` and normal CI.
    p, log10_p : float arrays
        Two-sided z-test of zero difference (NaN for the reference).
    reference : str
    tau : float
        Horizon (months).
    alpha : float
    """

    groups: tuple[str, ...]
    rmst: Array
    se: Array
    lower: Array
    upper: Array
    difference: Array
    difference_se: Array
    difference_lower: Array
    difference_upper: Array
    p: Array
    log10_p: Array
    reference: str
    tau: float
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """One row per group with every per-group attribute and ``tau``."""
        return pd.DataFrame(
            {
                "group": list(self.groups),
                "tau": self.tau,
                "rmst": self.rmst,
                "se": self.se,
                "lower": self.lower,
                "upper": self.upper,
                "difference": self.difference,
                "difference_se": self.difference_se,
                "difference_lower": self.difference_lower,
                "difference_upper": self.difference_upper,
                "p": self.p,
                "log10_p": self.log10_p,
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: ``tau``, ``alpha``, ``reference`` and per-group records."""
        return json_safe(
            {
                "tau": self.tau,
                "alpha": self.alpha,
                "reference": self.reference,
                "groups": self.to_frame().drop(columns="tau").to_dict(orient="records"),
            }
        )


def rmst(
    durations: ArrayLike,
    events: ArrayLike,
    tau: float,
    *,
    groups: ArrayLike | None = None,
    order: Sequence[Any] | None = None,
    reference: str | None = None,
    alpha: float = 0.05,
) -> RMSTResult:
    """Restricted mean survival time to ``tau`` by group, and differences.

    Parameters
    ----------
    durations : float array, (n,)
        Months to event or censoring.
    events : bool array, (n,)
    tau : float
        Horizon (months, > 0). Beyond a group's last time its curve is carried flat
        (R's ``survmean``).
    groups : array of labels, optional
        One label per row (compared as str). None: one group ``"all"``.
    order : sequence, optional
        Group order (default: sorted labels); empty groups are left out.
    reference : str, optional
        Reference group of the differences (default: the first group).
    alpha : float, default 0.05

    Returns
    -------
    RMSTResult
    """
    t = np.asarray(durations, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number of months, got {tau}")
    z = _z(alpha)
    found = _groups(t.size, groups, order)
    if not found:
        raise ValueError("no non-empty group")
    names = tuple(g for g, _ in found)
    ref = names[0] if reference is None else str(reference)
    if ref not in names:
        raise ValueError(f"reference group {ref!r} not among the non-empty groups {list(names)}")
    curves = _km_by_group(t, e, [m for _, m in found])
    values = np.array([_rmst_one(km, float(tau)) for km in curves])
    est, se = values[:, 0], values[:, 1]
    i = names.index(ref)
    diff = est - est[i]
    diff_se = np.sqrt(se**2 + se[i] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        zstat = diff / diff_se
    is_ref = np.arange(len(names)) == i
    log10_p = np.where(is_ref, np.nan, log10_p_normal(zstat))
    return RMSTResult(
        groups=names,
        rmst=est,
        se=se,
        lower=est - z * se,
        upper=est + z * se,
        difference=diff,
        difference_se=np.where(is_ref, 0.0, diff_se),
        difference_lower=np.where(is_ref, 0.0, diff - z * diff_se),
        difference_upper=np.where(is_ref, 0.0, diff + z * diff_se),
        p=10.0**log10_p,
        log10_p=log10_p,
        reference=ref,
        tau=float(tau),
        alpha=alpha,
    )


def _first_below_half(y: Array, x: Array) -> float:
    """R's ``minmin``: the first ``x`` where ``y < 0.5`` (mid-point of a stretch at
    exactly 0.5 and the next lower value); NaN if never below."""
    keep = ~np.isnan(y) & (y < 0.5 + _HALF_TOLERANCE)
    if not keep.any():
        return float("nan")
    xs, ys = x[keep], y[keep]
    if abs(ys[0] - 0.5) < _HALF_TOLERANCE and (ys < ys[0]).any():
        return float((xs[0] + xs[np.argmax(ys < ys[0])]) / 2.0)
    return float(xs[0])


@dataclass(frozen=True)
class MedianResult:
    """Median MRFS (months) with CI, by group; NaN where not reached.

    Attributes
    ----------
    groups : tuple of str
    n, n_events : int arrays
    median, lower, upper : float arrays
        Median (months) and its ``1 - alpha`` CI (months) from the KM curve and its
        pointwise limits (``print.survfit``); NaN where the curve or limit never
        falls below 0.5.
    ci_transform : str
    alpha : float
    """

    groups: tuple[str, ...]
    n: NDArray[np.int64]
    n_events: NDArray[np.int64]
    median: Array
    lower: Array
    upper: Array
    ci_transform: str
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """One row per group: ``group, n, n_events, median, lower, upper``."""
        return pd.DataFrame(
            {
                "group": list(self.groups),
                "n": self.n,
                "n_events": self.n_events,
                "median": self.median,
                "lower": self.lower,
                "upper": self.upper,
            }
        )

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict with per-group records (None where not reached)."""
        return json_safe(
            {
                "ci_transform": self.ci_transform,
                "alpha": self.alpha,
                "groups": self.to_frame().to_dict(orient="records"),
            }
        )


def median_survival(
    durations: ArrayLike,
    events: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    order: Sequence[Any] | None = None,
    alpha: float = 0.05,
    ci_transform: CITransform = "log",
) -> MedianResult:
    """Median survival and CI by group, as R's ``print(survfit(..., conf.type=))``.

    Parameters
    ----------
    durations, events, groups, order
        As in :func:`rmst`.
    alpha : float, default 0.05
    ci_transform : {"log", "log-log", "plain"}, default "log" (R's default)

    Returns
    -------
    MedianResult
    """
    t = np.asarray(durations, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    found = _groups(t.size, groups, order)
    rows = []
    for km in _km_by_group(t, e, [m for _, m in found], alpha=alpha, ci_transform=ci_transform):
        rows.append(
            (
                _first_below_half(km.survival, km.time),
                _first_below_half(km.lower, km.time),
                _first_below_half(km.upper, km.time),
            )
        )
    values = np.array(rows, dtype=float).reshape(-1, 3)
    return MedianResult(
        groups=tuple(g for g, _ in found),
        n=np.array([int(m.sum()) for _, m in found], dtype=np.int64),
        n_events=np.array([int(e[m].sum()) for _, m in found], dtype=np.int64),
        median=values[:, 0],
        lower=values[:, 1],
        upper=values[:, 2],
        ci_transform=ci_transform,
        alpha=alpha,
    )
