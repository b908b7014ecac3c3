"""Hydra structured-config schemas (the shape of ``conf/``).

These are plain mutable dataclasses because Hydra must be able to override them on
the command line; they carry types, not scientific values: the values live in the
YAML files under ``conf/`` next to their sources. They are converted once into the
frozen parameters of :mod:`tfrsim.config.params` by
:func:`tfrsim.config.translate.to_params`.

OmegaConf reads the annotations at run time: no ``from __future__ import
annotations``, no ``Union``.
"""

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass
class LogNormalConfig:
    median: float = MISSING
    sigma: float = MISSING


@dataclass
class ClinicalConfig:
    spleen_nonpalpable: float = MISSING
    spleen_cm: LogNormalConfig = field(default_factory=LogNormalConfig)
    platelets: LogNormalConfig = field(default_factory=LogNormalConfig)
    blasts_zero: float = MISSING
    blasts_pct: LogNormalConfig = field(default_factory=LogNormalConfig)


@dataclass
class EligibilityConfig:
    min_imatinib_years: float = 0.0
    min_dmr_years: float = 0.0
    min_depth: str = "MR4"
    min_age_years: float = 18.0
    max_age_years: float = 90.0


@dataclass
class CohortConfig:
    n_patients: int = MISSING
    mode: str = MISSING
    sokal_shares: dict[str, float] = field(default_factory=dict)
    age_mean_years: float = MISSING
    age_sd_years: float = MISSING
    male_fraction: float = MISSING
    prior_ifn_fraction: float = MISSING
    imatinib_years: LogNormalConfig = field(default_factory=LogNormalConfig)
    dmr_years: LogNormalConfig = field(default_factory=LogNormalConfig)
    depth_shares: dict[str, float] = field(default_factory=dict)
    clinical: ClinicalConfig = field(default_factory=ClinicalConfig)
    eligibility: EligibilityConfig = field(default_factory=EligibilityConfig)


@dataclass
class ScheduleSegmentConfig:
    until_month: float = MISSING
    every_months: float = MISSING


@dataclass
class ScheduleConfig:
    segments: list[ScheduleSegmentConfig] = field(default_factory=list)
    jitter_days: float = 0.0
    missed_visit_prob: float = 0.0


@dataclass
class AssayConfig:
    abl_median_copies: float = MISSING
    abl_sigma_log10: float = MISSING
    noise_sd_log10: float = MISSING
    min_bcr_copies: int = 1


@dataclass
class RuleConfig:
    name: str = MISSING
    mmr_threshold_pct: float = 0.1
    mr4_threshold_pct: float = 0.01
    rise_log10: float = 1.0
    event_at: str = "confirming"


@dataclass
class MonitoringConfig:
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    assay: AssayConfig = field(default_factory=AssayConfig)
    rule: RuleConfig = field(default_factory=RuleConfig)


@dataclass
class FollowUpConfig:
    followup_months: float = MISSING
    accrual_months: float = 0.0
    dropout_rate_per_month: float = 0.0


@dataclass
class TrialConfig:
    """Identity of the study; its cohort, monitoring and follow-up are top-level."""

    name: str = MISSING
    description: str = ""
    citation: str = ""


@dataclass
class CovariateEffectsConfig:
    sokal_intermediate: float = MISSING
    sokal_high: float = MISSING
    imatinib_per_year: float = MISSING
    dmr_per_year: float = MISSING
    prior_ifn: float = MISSING
    male: float = MISSING
    imatinib_ref_years: float = MISSING
    dmr_ref_years: float = MISSING


@dataclass
class ClonalModelConfig:
    name: str = "clonal"
    theta0: float = MISSING
    latency_rate_per_month: float = MISSING
    latency_sigma: float = MISSING
    growth_rate_per_month: float = MISSING
    growth_sigma: float = MISSING
    initial_pct: float = MISSING
    residual_median_pct: float = MISSING
    residual_sigma: float = MISSING
    plateau_pct: float = 100.0
    effects: CovariateEffectsConfig = field(default_factory=CovariateEffectsConfig)
    # Where fitted values came from (written by tfrsim-calibrate); not used to simulate.
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class MixtureCureModelConfig:
    name: str = "mixture_cure"
    cure_logit0: float = MISSING
    weibull_shape: float = MISSING
    weibull_scale_months: float = MISSING
    growth_rate_per_month: float = MISSING
    initial_pct: float = MISSING
    residual_median_pct: float = MISSING
    residual_sigma: float = MISSING
    plateau_pct: float = 100.0
    effects: CovariateEffectsConfig = field(default_factory=CovariateEffectsConfig)


@dataclass
class AnalysisConfig:
    milestones_months: list[float] = field(default_factory=list)
    at_risk_months: list[float] = field(default_factory=list)
    cox_covariates: list[str] = field(default_factory=list)
    alpha: float = 0.05
    ph_test: bool = True


@dataclass
class OutputConfig:
    figures: bool = True
    print_summary: bool = True
    # visits.parquet: one row per test (large: patients x visits).
    visits: bool = False
    # Patients whose tests are kept for the trajectories figure (the first ones).
    trajectory_patients: int = 400


@dataclass
class Config:
    seed: int = 0
    replicate: int = 0
    trial: TrialConfig = field(default_factory=TrialConfig)
    cohort: CohortConfig = field(default_factory=CohortConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    follow_up: FollowUpConfig = field(default_factory=FollowUpConfig)
    # Each model group option brings its own schema (ClonalModelConfig, ...).
    model: Any = MISSING
    analysis: AnalysisConfig = MISSING
    output: OutputConfig = field(default_factory=OutputConfig)
    # Patients simulated and written per chunk (memory bound; never changes results).
    chunk_size: int = 100_000
