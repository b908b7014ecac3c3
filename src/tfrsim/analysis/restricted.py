"""Registered analyses ``rmst`` and ``median``: restricted mean MRFS and median MRFS.

Both overall (group ``all``) and by Sokal group (differences of RMST versus Sokal low),
from the KM estimate; conventions as R ``survival`` (``print(survfit, rmean=tau)``,
``print.survfit`` median with the configured CI transform).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tfrsim.analysis.columns import (
    check_survival_columns,
    durations_events,
    iter_groups,
    sokal_codes,
)
from tfrsim.analysis.estimands import estimand
from tfrsim.analysis.params import AnalysisParams
from tfrsim.analysis.registry import Analysis, register_analysis
from tfrsim.analysis.survfit import MedianResult, RMSTResult, median_survival, rmst


def _groups(data: pd.DataFrame) -> tuple[Any, list[str]]:
    """Sokal labels of the rows (the categorical itself when the column is one: its
    groups are then told apart by codes) and the non-empty groups, in risk order."""
    present = [g for g, _ in iter_groups(data, include_all=False)]
    column = data["sokal_group"]
    labels = column.array if sokal_codes(column) is not None else column.astype(str).to_numpy()
    return labels, present


@dataclass(frozen=True)
class RMSTOutput:
    """RMST overall and by Sokal group at each horizon (months)."""

    overall: tuple[RMSTResult, ...]
    by_group: tuple[RMSTResult, ...]

    def tables(self) -> dict[str, pd.DataFrame]:
        """``rmst.csv``: one row per horizon and group (``all`` first)."""
        frames = [r.to_frame() for r in (*self.overall, *self.by_group)]
        return {"rmst": pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()}

    def summary(self) -> dict[str, Any]:
        """``rmst``: list of per-horizon summaries (overall and by group)."""
        return {
            "rmst": [
                {"overall": o.summary(), "by_sokal_group": g.summary()}
                for o, g in zip(self.overall, self.by_group, strict=True)
            ]
        }

    def estimands(self) -> list[dict[str, Any]]:
        """``rmst`` per group and horizon (value, CI), and ``rmst_difference`` of each
        Sokal group versus low (value, CI, p)."""
        # From the result's arrays (one row per group), not through a table per result.
        rows = []
        for result in (*self.overall, *self.by_group):
            for i, group in enumerate(result.groups):
                rows.append(
                    estimand(
                        "rmst",
                        "rmst",
                        group=group,
                        month=result.tau,
                        value=result.rmst[i],
                        lower=result.lower[i],
                        upper=result.upper[i],
                    )
                )
        for result in self.by_group:
            for i, group in enumerate(result.groups):
                if group == result.reference:
                    continue
                rows.append(
                    estimand(
                        "rmst",
                        "rmst_difference",
                        group=group,
                        month=result.tau,
                        value=result.difference[i],
                        lower=result.difference_lower[i],
                        upper=result.difference_upper[i],
                        p=result.p[i],
                        log10_p=result.log10_p[i],
                    )
                )
        return rows


def fit_rmst(data: pd.DataFrame, params: AnalysisParams) -> RMSTOutput:
    """RMST at ``params.rmst_months`` (default: the last milestone)."""
    check_survival_columns(data)
    durations, events = durations_events(data)
    horizons = params.rmst_months or params.milestones_months[-1:]
    horizons = tuple(h for h in horizons if h > 0)
    labels, present = _groups(data)
    overall = tuple(rmst(durations, events, h, alpha=params.alpha) for h in horizons)
    by_group = tuple(
        rmst(
            durations,
            events,
            h,
            groups=labels,
            order=present,
            reference=present[0],
            alpha=params.alpha,
        )
        for h in horizons
    )
    return RMSTOutput(overall=overall, by_group=by_group)


@dataclass(frozen=True)
class MedianOutput:
    """Median MRFS (months) with CI, overall and by Sokal group."""

    result: MedianResult

    def tables(self) -> dict[str, pd.DataFrame]:
        """``median.csv``."""
        return {"median": self.result.to_frame()}

    def summary(self) -> dict[str, Any]:
        """``median_mrfs``: per-group records (None where not reached)."""
        return {"median_mrfs": self.result.summary()}

    def estimands(self) -> list[dict[str, Any]]:
        """``median_mrfs`` per group (value, CI; NaN where not reached)."""
        r = self.result
        return [
            estimand(
                "median",
                "median_mrfs",
                group=group,
                value=r.median[i],
                lower=r.lower[i],
                upper=r.upper[i],
            )
            for i, group in enumerate(r.groups)
        ]


def fit_median(data: pd.DataFrame, params: AnalysisParams) -> MedianOutput:
    """Median MRFS overall (``all``) and by Sokal group, CI by ``params.ci_transform``."""
    check_survival_columns(data)
    durations, events = durations_events(data)
    labels, present = _groups(data)
    if isinstance(labels, pd.Categorical):
        # "all" and the groups as one categorical (codes, no string per row).
        codes = np.asarray(labels.codes)
        both: Any = pd.Categorical.from_codes(
            np.r_[np.zeros(codes.size, dtype=codes.dtype), codes + 1],
            categories=pd.Index(["all", *labels.categories]),
        )
    else:
        groups = np.where(np.isin(labels, present), labels, "")
        everyone = np.full(len(durations), "all", dtype=object)
        both = np.concatenate([everyone, groups.astype(object)])
    result = median_survival(
        np.concatenate([durations, durations]),
        np.concatenate([events, events]),
        groups=both,
        order=["all", *present],
        alpha=params.alpha,
        ci_transform=params.ci_transform,  # type: ignore[arg-type]
    )
    return MedianOutput(result)


register_analysis(Analysis("rmst", fit_rmst, columns=("sokal_group",)))
register_analysis(Analysis("median", fit_median, columns=("sokal_group",)))
