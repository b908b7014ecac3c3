"""The one translation point: Hydra config -> validated, frozen :class:`StudyParams`.

Every rule a value must obey is checked here, before any work starts, and a broken
rule raises :class:`~tfrsim.config.checks.ConfigError` naming the field, the rule
and the value.
"""

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from tfrsim.cohort.distributions import lognormal_mass, normal_mass
from tfrsim.cohort.sample import MIN_YEARS_TO_DMR, min_imatinib_years
from tfrsim.config import checks as c
from tfrsim.config import schema as s
from tfrsim.config.params import (
    COX_COVARIATES,
    DEPTHS,
    MMR_PCT,
    SOKAL_GROUPS,
    AnalysisParams,
    AssayParams,
    ClinicalParams,
    ClonalParams,
    CohortParams,
    CovariateEffects,
    EligibilityParams,
    FollowUpParams,
    LogNormalParams,
    MixtureCureParams,
    MonitoringParams,
    RuleParams,
    ScheduleParams,
    ScheduleSegment,
    StudyParams,
)
from tfrsim.disease import immune
from tfrsim.disease.clonal import MAX_CLONES, MAX_MEAN_CLONES
from tfrsim.disease.registry import MODELS
from tfrsim.monitoring.rules import RULES
from tfrsim.monitoring.schedule import DAYS_PER_MONTH

#: Below this probability an eligibility filter is taken to leave no patient.
MIN_ELIGIBLE_MASS = 1e-9


def to_params(cfg: DictConfig | s.Config) -> StudyParams:
    """Validate a composed configuration and freeze it into :class:`StudyParams`.

    Parameters
    ----------
    cfg : omegaconf.DictConfig or Config
        A configuration composed by Hydra (``conf/config.yaml`` + overrides).

    Returns
    -------
    StudyParams

    Raises
    ------
    ConfigError
        If a value breaks a rule; the message names the field, the rule and the value.
    """
    obj: Any = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
    follow_up = _follow_up(obj.follow_up)
    return StudyParams(
        trial_name=obj.trial.name,
        seed=c.non_negative_int("seed", obj.seed),
        replicate=c.non_negative_int("replicate", obj.replicate),
        cohort=_cohort(obj.cohort),
        follow_up=follow_up,
        monitoring=_monitoring(obj.monitoring),
        analysis=_analysis(obj.analysis, follow_up),
        model_name=_model_name(obj.model),
        model=_model(obj.model),
        chunk_size=c.positive_int("chunk_size", obj.chunk_size),
    )


def _lognormal(field: str, cfg: s.LogNormalConfig, unit: str) -> LogNormalParams:
    return LogNormalParams(
        median=c.positive(f"{field}.median", cfg.median, unit),
        sigma=c.non_negative(f"{field}.sigma", cfg.sigma, "(log scale)"),
    )


def _cohort(cfg: s.CohortConfig) -> CohortParams:
    f = "cohort"
    e = cfg.eligibility
    eligibility = EligibilityParams(
        min_imatinib_years=c.non_negative(
            f"{f}.eligibility.min_imatinib_years", e.min_imatinib_years, "years"
        ),
        min_dmr_years=c.non_negative(f"{f}.eligibility.min_dmr_years", e.min_dmr_years, "years"),
        min_depth=c.one_of(f"{f}.eligibility.min_depth", e.min_depth, DEPTHS),
        min_age_years=c.non_negative(f"{f}.eligibility.min_age_years", e.min_age_years, "years"),
        max_age_years=c.positive(f"{f}.eligibility.max_age_years", e.max_age_years, "years"),
    )
    if eligibility.max_age_years <= eligibility.min_age_years:
        raise c.ConfigError(
            f"{f}.eligibility.max_age_years",
            f"must exceed min_age_years ({eligibility.min_age_years:g})",
            eligibility.max_age_years,
        )
    clinical = cfg.clinical
    params = CohortParams(
        n_patients=c.positive_int(f"{f}.n_patients", cfg.n_patients),
        mode=c.one_of(f"{f}.mode", cfg.mode, ("trial", "population")),
        sokal_shares=c.shares(f"{f}.sokal_shares", cfg.sokal_shares, SOKAL_GROUPS),
        age_mean_years=c.positive(f"{f}.age_mean_years", cfg.age_mean_years, "years"),
        age_sd_years=c.non_negative(f"{f}.age_sd_years", cfg.age_sd_years, "years"),
        male_fraction=c.fraction(f"{f}.male_fraction", cfg.male_fraction),
        prior_ifn_fraction=c.fraction(f"{f}.prior_ifn_fraction", cfg.prior_ifn_fraction),
        imatinib_years=_lognormal(f"{f}.imatinib_years", cfg.imatinib_years, "years"),
        dmr_years=_lognormal(f"{f}.dmr_years", cfg.dmr_years, "years"),
        depth_shares=c.shares(f"{f}.depth_shares", cfg.depth_shares, DEPTHS),
        clinical=ClinicalParams(
            spleen_nonpalpable=c.fraction(
                f"{f}.clinical.spleen_nonpalpable", clinical.spleen_nonpalpable
            ),
            spleen_cm=_lognormal(f"{f}.clinical.spleen_cm", clinical.spleen_cm, "cm"),
            platelets=_lognormal(f"{f}.clinical.platelets", clinical.platelets, "10^9/L"),
            blasts_zero=c.fraction(f"{f}.clinical.blasts_zero", clinical.blasts_zero),
            blasts_pct=_lognormal(f"{f}.clinical.blasts_pct", clinical.blasts_pct, "%"),
        ),
        eligibility=eligibility,
    )
    _check_eligible(params)
    return params


def _check_eligible(p: CohortParams) -> None:
    """Refuse eligibility filters that leave (almost) no patient."""
    e = p.eligibility
    hint = "no patient would be eligible; relax the filter or move the distribution"
    if lognormal_mass(p.imatinib_years, e.min_imatinib_years) < MIN_ELIGIBLE_MASS:
        raise c.ConfigError(
            "cohort.eligibility.min_imatinib_years",
            f"leaves no patient under imatinib_years {p.imatinib_years}",
            e.min_imatinib_years,
            hint,
        )
    if lognormal_mass(p.dmr_years, e.min_dmr_years) < MIN_ELIGIBLE_MASS:
        raise c.ConfigError(
            "cohort.eligibility.min_dmr_years",
            f"leaves no patient under dmr_years {p.dmr_years}",
            e.min_dmr_years,
            hint,
        )
    # A patient needs min_dmr_years of deep response after MIN_YEARS_TO_DMR of imatinib.
    if lognormal_mass(p.imatinib_years, min_imatinib_years(e)) < MIN_ELIGIBLE_MASS:
        raise c.ConfigError(
            "cohort.eligibility.min_dmr_years",
            f"leaves no patient: a deep response starts at least {MIN_YEARS_TO_DMR:g} year "
            f"into imatinib, and imatinib_years is {p.imatinib_years}",
            e.min_dmr_years,
            hint,
        )
    eligible_depth = sum(v for k, v in p.depth_shares.items() if DEPTHS[k] >= DEPTHS[e.min_depth])
    if eligible_depth <= 0:
        raise c.ConfigError(
            "cohort.eligibility.min_depth",
            f"leaves no patient under depth_shares {p.depth_shares}",
            e.min_depth,
            hint,
        )
    age_mass = normal_mass(p.age_mean_years, p.age_sd_years, e.min_age_years, e.max_age_years)
    if age_mass < MIN_ELIGIBLE_MASS:
        raise c.ConfigError(
            "cohort.eligibility.min_age_years",
            f"with max_age_years {e.max_age_years:g} leaves no patient under "
            f"age ~ Normal({p.age_mean_years:g}, {p.age_sd_years:g})",
            e.min_age_years,
            hint,
        )


def _follow_up(cfg: s.FollowUpConfig) -> FollowUpParams:
    return FollowUpParams(
        followup_months=c.positive("follow_up.followup_months", cfg.followup_months, "months"),
        accrual_months=c.non_negative("follow_up.accrual_months", cfg.accrual_months, "months"),
        dropout_rate_per_month=c.non_negative(
            "follow_up.dropout_rate_per_month",
            cfg.dropout_rate_per_month,
            "per month",
            "a rate cannot be negative; use 0 for no dropout",
        ),
    )


def _monitoring(cfg: s.MonitoringConfig) -> MonitoringParams:
    return MonitoringParams(
        schedule=_schedule(cfg.schedule), assay=_assay(cfg.assay), rule=_rule(cfg.rule)
    )


def _schedule(cfg: s.ScheduleConfig) -> ScheduleParams:
    f = "monitoring.schedule"
    if not cfg.segments:
        raise c.ConfigError(f"{f}.segments", "must have at least one segment", list(cfg.segments))
    segments = []
    previous = 0.0
    for i, seg in enumerate(cfg.segments):
        g = f"{f}.segments[{i}]"
        until = c.positive(f"{g}.until_month", seg.until_month, "months")
        every = c.positive(f"{g}.every_months", seg.every_months, "months")
        if until <= previous:
            raise c.ConfigError(
                f"{g}.until_month",
                f"must increase along the schedule (previous {previous:g})",
                until,
            )
        segments.append(ScheduleSegment(until_month=until, every_months=every))
        previous = until
    jitter = c.non_negative(f"{f}.jitter_days", cfg.jitter_days, "days")
    shortest_days = min(seg.every_months for seg in segments) * DAYS_PER_MONTH
    if jitter >= shortest_days / 2:
        raise c.ConfigError(
            f"{f}.jitter_days",
            f"must be below half the shortest visit interval ({shortest_days / 2:.1f} days), "
            "so that visits keep their order",
            jitter,
        )
    return ScheduleParams(
        segments=tuple(segments),
        jitter_days=jitter,
        missed_visit_prob=c.fraction(f"{f}.missed_visit_prob", cfg.missed_visit_prob),
    )


def _assay(cfg: s.AssayConfig) -> AssayParams:
    f = "monitoring.assay"
    return AssayParams(
        abl_median_copies=c.positive(f"{f}.abl_median_copies", cfg.abl_median_copies, "copies"),
        abl_sigma_log10=c.non_negative(f"{f}.abl_sigma_log10", cfg.abl_sigma_log10, "(log10)"),
        noise_sd_log10=c.non_negative(f"{f}.noise_sd_log10", cfg.noise_sd_log10, "(log10)"),
        min_bcr_copies=c.positive_int(f"{f}.min_bcr_copies", cfg.min_bcr_copies),
    )


def _rule(cfg: s.RuleConfig) -> RuleParams:
    f = "monitoring.rule"
    return RuleParams(
        name=c.one_of(f"{f}.name", cfg.name, RULES),
        mmr_threshold_pct=c.in_range(
            f"{f}.mmr_threshold_pct",
            cfg.mmr_threshold_pct,
            0.0,
            100.0,
            "percent IS",
            "did you pass a fraction? MMR is 0.1 (% IS)",
        ),
        mr4_threshold_pct=c.in_range(
            f"{f}.mr4_threshold_pct",
            cfg.mr4_threshold_pct,
            0.0,
            100.0,
            "percent IS",
            "did you pass a fraction? MR4 is 0.01 (% IS)",
        ),
        rise_log10=c.positive(f"{f}.rise_log10", cfg.rise_log10, "(log10)"),
        event_at=c.one_of(f"{f}.event_at", cfg.event_at, ("confirming", "first")),
    )


def _months(field: str, values: Sequence[float]) -> tuple[float, ...]:
    out = tuple(c.non_negative(f"{field}[{i}]", v, "months") for i, v in enumerate(values))
    if list(out) != sorted(set(out)):
        raise c.ConfigError(field, "must be strictly increasing", list(values))
    return out


def _analysis(cfg: s.AnalysisConfig, follow_up: FollowUpParams) -> AnalysisParams:
    milestones = _months("analysis.milestones_months", cfg.milestones_months)
    for i, m in enumerate(milestones):
        if m > follow_up.followup_months:
            raise c.ConfigError(
                f"analysis.milestones_months[{i}]",
                f"must not exceed the follow-up of every patient "
                f"(follow_up.followup_months = {follow_up.followup_months:g})",
                m,
                "lengthen follow-up or drop the milestone",
            )
    covariates = tuple(cfg.cox_covariates)
    for i, name in enumerate(covariates):
        c.one_of(f"analysis.cox_covariates[{i}]", name, COX_COVARIATES)
    return AnalysisParams(
        milestones_months=milestones,
        at_risk_months=_months("analysis.at_risk_months", cfg.at_risk_months),
        cox_covariates=covariates,
        alpha=c.in_range("analysis.alpha", cfg.alpha, 0.0, 1.0, "(1 - confidence level)"),
        ph_test=bool(cfg.ph_test),
    )


def _model_name(cfg: Any) -> str:
    name = getattr(cfg, "name", None)
    if name not in MODELS:
        raise c.ConfigError("model.name", f"must be a registered model {sorted(MODELS)}", name)
    return str(name)


def _theta0(value: float) -> float:
    theta0 = c.positive("model.theta0", value, "clones per patient")
    if theta0 > MAX_MEAN_CLONES:
        raise c.ConfigError(
            "model.theta0",
            f"must be <= {MAX_MEAN_CLONES:g} clones per patient: the simulator draws at most "
            f"{MAX_CLONES} clones per patient, which truncates Poisson(theta) above that",
            theta0,
        )
    return theta0


def _effects(cfg: s.CovariateEffectsConfig) -> CovariateEffects:
    f = "model.effects"
    return CovariateEffects(
        sokal_intermediate=c.finite(f"{f}.sokal_intermediate", cfg.sokal_intermediate),
        sokal_high=c.finite(f"{f}.sokal_high", cfg.sokal_high),
        imatinib_per_year=c.finite(f"{f}.imatinib_per_year", cfg.imatinib_per_year),
        dmr_per_year=c.finite(f"{f}.dmr_per_year", cfg.dmr_per_year),
        prior_ifn=c.finite(f"{f}.prior_ifn", cfg.prior_ifn),
        male=c.finite(f"{f}.male", cfg.male),
        imatinib_ref_years=c.non_negative(f"{f}.imatinib_ref_years", cfg.imatinib_ref_years),
        dmr_ref_years=c.non_negative(f"{f}.dmr_ref_years", cfg.dmr_ref_years),
    )


def _course_levels(cfg: Any) -> dict[str, float]:
    """Checks shared by every model that draws a BCR-ABL course."""
    initial = c.in_range(
        "model.initial_pct",
        cfg.initial_pct,
        0.0,
        MMR_PCT,
        "percent IS",
        "a clone must start below MMR (0.1 % IS)",
    )
    plateau = c.finite("model.plateau_pct", cfg.plateau_pct)
    if plateau <= MMR_PCT:
        raise c.ConfigError("model.plateau_pct", f"must exceed MMR ({MMR_PCT} % IS)", plateau)
    return {
        "initial_pct": initial,
        "residual_median_pct": c.in_range(
            "model.residual_median_pct", cfg.residual_median_pct, 0.0, 100.0, "percent IS"
        ),
        "residual_sigma": c.non_negative("model.residual_sigma", cfg.residual_sigma),
        "plateau_pct": plateau,
    }


def _model(cfg: Any) -> ClonalParams | MixtureCureParams | immune.ImmuneParams:
    if isinstance(cfg, immune.ImmuneModelConfig):
        return immune.params_from_config(cfg)
    if isinstance(cfg, s.ClonalModelConfig):
        return ClonalParams(
            theta0=_theta0(cfg.theta0),
            latency_rate_per_month=c.positive(
                "model.latency_rate_per_month", cfg.latency_rate_per_month, "per month"
            ),
            latency_sigma=c.non_negative("model.latency_sigma", cfg.latency_sigma),
            growth_rate_per_month=c.positive(
                "model.growth_rate_per_month", cfg.growth_rate_per_month, "per month"
            ),
            growth_sigma=c.non_negative("model.growth_sigma", cfg.growth_sigma),
            effects=_effects(cfg.effects),
            **_course_levels(cfg),
        )
    if isinstance(cfg, s.MixtureCureModelConfig):
        return MixtureCureParams(
            cure_logit0=c.finite("model.cure_logit0", cfg.cure_logit0),
            weibull_shape=c.positive("model.weibull_shape", cfg.weibull_shape),
            weibull_scale_months=c.positive(
                "model.weibull_scale_months", cfg.weibull_scale_months, "months"
            ),
            growth_rate_per_month=c.positive(
                "model.growth_rate_per_month", cfg.growth_rate_per_month, "per month"
            ),
            effects=_effects(cfg.effects),
            **_course_levels(cfg),
        )
    raise c.ConfigError(
        "model",
        f"must come from a model config group option ({sorted(MODELS)})",
        type(cfg).__name__,
    )
