"""Registered analyses ``interval`` and ``cure``: what the visit-dated analysis ignores.

``interval``: a relapse is only known to lie between two visits,
``(previous_test_month, duration_months]``; the Turnbull NPMLE and a parametric
mixture-cure Weibull are fitted to those intervals and set beside the visit-dated KM
and the latent truth the simulator knows (latent MMR loss, ``relapse_month``).

``cure``: TFR curves plateau, so a mixture-cure regression (logistic incidence on the
Sokal indicators, Weibull latency with the same covariates) summarises them better
than Cox; cure fraction by Sokal group with delta-method CIs.

Both are opt-in (``analysis.methods``): at 10^6 patients they cost more than the
simulation.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tfrsim.analysis.columns import check_survival_columns, durations_events
from tfrsim.analysis.cure import CureModelResult, fit_cure_model
from tfrsim.analysis.estimands import estimand
from tfrsim.analysis.interval import (
    IntervalCureResult,
    TurnbullResult,
    fit_interval_cure_weibull,
    fit_turnbull,
)
from tfrsim.analysis.params import AnalysisParams
from tfrsim.analysis.registry import Analysis, register_analysis
from tfrsim.analysis.survfit import km_estimate
from tfrsim.cohort.params import SOKAL_GROUPS


@dataclass(frozen=True)
class IntervalOutput:
    """Visit-dated KM, interval-censored estimates and the latent truth at milestones."""

    comparison: pd.DataFrame
    turnbull: TurnbullResult
    parametric: IntervalCureResult

    def tables(self) -> dict[str, pd.DataFrame]:
        """``interval.csv``: month, visit-dated KM, Turnbull (with its bounds),
        cure-Weibull (with CI), latent truth."""
        return {"interval": self.comparison}

    def summary(self) -> dict[str, Any]:
        """``interval``: the comparison records and the cure-Weibull fit."""
        return {
            "interval": {
                "comparison": self.comparison.to_dict("records"),
                "cure_weibull": {
                    "cure_fraction": self.parametric.cure_fraction,
                    "scale_months": self.parametric.scale,
                    "shape": self.parametric.shape,
                    "converged": self.parametric.converged,
                },
                "turnbull_converged": self.turnbull.converged,
            }
        }

    def estimands(self) -> list[dict[str, Any]]:
        """``mrfs_turnbull``, ``mrfs_cure_weibull`` (with CI) and ``mrfs_latent`` at
        each milestone."""
        rows = []
        for r in self.comparison.to_dict("records"):
            rows.append(
                estimand("interval", "mrfs_turnbull", month=r["month"], value=r["turnbull"])
            )
            rows.append(
                estimand(
                    "interval",
                    "mrfs_cure_weibull",
                    month=r["month"],
                    value=r["cure_weibull"],
                    lower=r["cure_weibull_lower"],
                    upper=r["cure_weibull_upper"],
                )
            )
            rows.append(estimand("interval", "mrfs_latent", month=r["month"], value=r["latent"]))
        return rows


def interval_bounds(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right]`` of each patient: the relapse between the previous and the
    dating test, or right-censored at the last test (``right = inf``)."""
    durations, events = durations_events(data)
    previous = data["previous_test_month"].to_numpy(dtype=float)
    left = np.where(events, np.nan_to_num(previous, nan=0.0), durations)
    right = np.where(events, durations, np.inf)
    return left, right


def fit_interval(data: pd.DataFrame, params: AnalysisParams) -> IntervalOutput:
    """Turnbull and cure-Weibull on the visit intervals, at ``params.milestones_months``."""
    check_survival_columns(data)
    months = np.asarray(params.milestones_months, dtype=float)
    left, right = interval_bounds(data)
    turnbull = fit_turnbull(left, right, months)
    parametric = fit_interval_cure_weibull(left, right, months, alpha=params.alpha)
    durations, events = durations_events(data)
    km = km_estimate(durations, events, alpha=params.alpha).at(months)
    latent = data["relapse_month"].to_numpy(dtype=float)
    # The simulator's truth: the share whose disease has not crossed MMR by month t
    # (NaN = never), for every patient (no censoring of the latent course).
    truth = np.array([np.mean(~(latent <= m)) for m in months])
    comparison = pd.DataFrame(
        {
            "month": months,
            "km_visit_dated": km["survival"].to_numpy(float),
            "turnbull": turnbull.survival,
            "turnbull_min": turnbull.survival_min,
            "turnbull_max": turnbull.survival_max,
            "cure_weibull": parametric.survival,
            "cure_weibull_lower": parametric.lower,
            "cure_weibull_upper": parametric.upper,
            "latent": truth,
        }
    )
    return IntervalOutput(comparison=comparison, turnbull=turnbull, parametric=parametric)


@dataclass(frozen=True)
class CureOutput:
    """Mixture-cure regression on the Sokal indicators (incidence and latency)."""

    result: CureModelResult

    def tables(self) -> dict[str, pd.DataFrame]:
        """``cure.csv`` (coefficients) and ``cure_by_group.csv``."""
        return {"cure": self.result.to_frame(), "cure_by_group": self.result.cure_by_group}

    def summary(self) -> dict[str, Any]:
        """``cure_model``: fit, coefficients and cure fraction by Sokal group."""
        return {"cure_model": self.result.summary()}

    def estimands(self) -> list[dict[str, Any]]:
        """``cure_fraction`` per Sokal group (value, CI) and ``cure_coef`` per term."""
        rows = [
            estimand(
                "cure",
                "cure_fraction",
                group=r["group"],
                value=r["cure_fraction"],
                lower=r["lower"],
                upper=r["upper"],
            )
            for r in self.result.cure_by_group.to_dict("records")
        ]
        rows += [
            estimand(
                "cure",
                "cure_coef",
                covariate=r["parameter"],
                value=r["estimate"],
                lower=r["lower"],
                upper=r["upper"],
                p=r["p"],
                log10_p=r["log10_p"],
            )
            for r in self.result.to_frame().to_dict("records")
        ]
        return rows


def fit_cure(data: pd.DataFrame, params: AnalysisParams) -> CureOutput:
    """Mixture-cure regression with Sokal indicators in incidence and latency."""
    check_survival_columns(data)
    durations, events = durations_events(data)
    labels = data["sokal_group"].astype(str).to_numpy()
    present = [g for g in SOKAL_GROUPS if (labels == g).any()]
    others = present[1:]
    x = np.column_stack([(labels == g).astype(float) for g in others]) if others else None
    names = [f"sokal_{g}" for g in others]
    profiles = {g: [1.0 if g == o else 0.0 for o in others] for g in present}
    # Weibull latency needs durations > 0: a relapse at month 0 cannot be dated.
    keep = durations > 0
    result = fit_cure_model(
        durations[keep],
        events[keep],
        None if x is None else x[keep],
        None if x is None else x[keep],
        incidence_names=names,
        latency_names=names,
        profiles=profiles,
        alpha=params.alpha,
    )
    return CureOutput(result)


register_analysis(
    Analysis("interval", fit_interval, columns=("previous_test_month", "relapse_month"))
)
register_analysis(Analysis("cure", fit_cure, columns=("sokal_group",)))
