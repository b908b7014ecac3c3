"""Survival analysis of a simulated TFR study (the only user of lifelines).

Kaplan–Meier MRFS overall and by Sokal group, a log-rank test across Sokal
groups, a Cox proportional-hazards model and a summary of what the monitoring saw,
each a registered analysis (:mod:`tfrsim.analysis.registry`). Time is in months.
"""

from tfrsim.analysis import restricted  # noqa: F401  (registration)
from tfrsim.analysis.bundle import AnalysisResult, analyse
from tfrsim.analysis.covariates import VALID_COVARIATES
from tfrsim.analysis.cox import CoxResult, fit_cox
from tfrsim.analysis.descriptive import (
    ObservationResult,
    ObservationSummary,
    summarise_observation,
)
from tfrsim.analysis.estimands import ESTIMAND_COLUMNS, estimand
from tfrsim.analysis.km import KMResult, fit_km, survival_at
from tfrsim.analysis.logrank import LogRankResult, logrank_by_group
from tfrsim.analysis.params import AnalysisParams
from tfrsim.analysis.registry import ANALYSES, Analysis, register_analysis, register_lazy

# Opt-in analyses with heavy imports, registered without importing them.
register_lazy(
    "interval",
    "tfrsim.analysis.censoring",
    "fit_interval",
    columns=("previous_test_month", "relapse_month"),
)
register_lazy("cure", "tfrsim.analysis.censoring", "fit_cure", columns=("sokal_group",))

__all__ = [
    "ANALYSES",
    "ESTIMAND_COLUMNS",
    "VALID_COVARIATES",
    "Analysis",
    "AnalysisParams",
    "AnalysisResult",
    "CoxResult",
    "KMResult",
    "LogRankResult",
    "ObservationResult",
    "ObservationSummary",
    "analyse",
    "estimand",
    "fit_cox",
    "fit_km",
    "logrank_by_group",
    "register_analysis",
    "summarise_observation",
    "survival_at",
]
