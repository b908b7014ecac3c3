"""Survival analysis of a simulated TFR study (the only user of lifelines).

Kaplan–Meier MRFS overall and by Sokal group, a log-rank test across Sokal
groups and a Cox proportional-hazards model. Time is in months.
"""

from tfrsim.analysis.bundle import AnalysisResult, analyse
from tfrsim.analysis.covariates import VALID_COVARIATES
from tfrsim.analysis.cox import CoxResult, fit_cox
from tfrsim.analysis.descriptive import ObservationSummary, summarise_observation
from tfrsim.analysis.km import KMResult, fit_km, survival_at
from tfrsim.analysis.logrank import LogRankResult, logrank_by_group

__all__ = [
    "VALID_COVARIATES",
    "AnalysisResult",
    "CoxResult",
    "KMResult",
    "LogRankResult",
    "ObservationSummary",
    "analyse",
    "fit_cox",
    "fit_km",
    "logrank_by_group",
    "summarise_observation",
    "survival_at",
]
