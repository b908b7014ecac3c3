"""Validated, frozen parameters used by the pipeline stages.

These are the only parameter types the stages see. They are built once, from the
Hydra configuration, by :func:`tfrsim.config.translate.to_params`; no
``DictConfig`` travels past that point. All times are in months unless a field
name says otherwise (``*_years``).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfrsim.disease.immune import ImmuneParams

#: Sokal risk groups, in increasing order of risk (Sokal 1984 cut-offs 0.8 / 1.2).
SOKAL_GROUPS: tuple[str, ...] = ("low", "intermediate", "high")
#: Molecular-response depths a patient can have at stop, as log10 reductions.
#: MR4 = 0.01 %, MR4.5 = 0.0032 %, MR5 = 0.001 % IS (ross2018_enestfreedom).
DEPTHS: dict[str, float] = {"MR4": 4.0, "MR4.5": 4.5, "MR5": 5.0}
#: Covariates the Cox model accepts (columns of ``patients.parquet``);
#: ``sokal_group`` expands into indicators of intermediate and high versus low.
COX_COVARIATES: tuple[str, ...] = (
    "sokal_group",
    "imatinib_years",
    "dmr_years",
    "prior_ifn",
    "male",
    "age_years",
    "depth_log",
    "sokal_score",
    "elts_score",
)
#: Loss of major molecular response: BCR-ABL1 IS above 0.1 % (ross2018_enestfreedom).
MMR_PCT: float = 0.1


@dataclass(frozen=True)
class LogNormalParams:
    """A log-normal distribution given by its median and log-scale SD.

    Parameters
    ----------
    median : float
        Median of the (untruncated) distribution, in the unit of the quantity.
    sigma : float
        Standard deviation of the natural log of the quantity.
    """

    median: float
    sigma: float


@dataclass(frozen=True)
class ClinicalParams:
    """Distributions of the clinical variables at diagnosis (population mode).

    These are modelling assumptions, not data (``sampling_assumptions`` in the
    calibration reference); the defaults give a Sokal high-risk share near the
    23–25 % seen in unselected European registries (EUTOS PBR 2015; Pfirrmann 2020).

    Parameters
    ----------
    spleen_nonpalpable : float
        Probability that the spleen is not palpable (0 cm below the costal margin).
    spleen_cm : LogNormalParams
        Spleen size in cm below the costal margin, if palpable.
    platelets : LogNormalParams
        Platelet count, 10^9/L.
    blasts_zero : float
        Probability of 0 % peripheral blasts.
    blasts_pct : LogNormalParams
        Peripheral blasts in %, if any; truncated below 15 % (chronic phase).
    """

    spleen_nonpalpable: float
    spleen_cm: LogNormalParams
    platelets: LogNormalParams
    blasts_zero: float
    blasts_pct: LogNormalParams


@dataclass(frozen=True)
class EligibilityParams:
    """Protocol eligibility applied when sampling the cohort.

    Eligibility truncates the sampling distributions (inverse-CDF sampling on the
    eligible range), so a cohort always has exactly ``n_patients`` eligible
    patients. A filter whose eligible range has no probability mass is a
    configuration error.

    Parameters
    ----------
    min_imatinib_years, min_dmr_years : float
        Minimum imatinib duration and deep-molecular-response duration before stop.
    min_depth : str
        Minimum depth at stop, one of :data:`DEPTHS`.
    min_age_years, max_age_years : float
        Age range at diagnosis.
    """

    min_imatinib_years: float
    min_dmr_years: float
    min_depth: str
    min_age_years: float
    max_age_years: float


@dataclass(frozen=True)
class CohortParams:
    """How the patients of one study are sampled.

    Parameters
    ----------
    n_patients : int
        Number of eligible patients.
    mode : {"trial", "population"}
        ``"trial"`` draws the Sokal group from ``sokal_shares`` (clinical variables
        and scores are then not sampled, NaN); ``"population"`` samples age,
        spleen, platelets and blasts and derives the Sokal and ELTS scores.
    sokal_shares : dict
        Share of each Sokal group (trial mode); sums to 1.
    age_mean_years, age_sd_years : float
        Normal distribution of age at diagnosis, truncated to the eligible range.
    male_fraction, prior_ifn_fraction : float
        Bernoulli probabilities.
    imatinib_years, dmr_years : LogNormalParams
        Untruncated distributions of imatinib duration and deep-response duration
        before stop (years); truncated below by eligibility.
    depth_shares : dict
        Share of each depth at stop (keys of :data:`DEPTHS`), before eligibility.
    clinical : ClinicalParams
        Clinical-variable distributions (population mode).
    eligibility : EligibilityParams
        Protocol eligibility.
    """

    n_patients: int
    mode: str
    sokal_shares: dict[str, float]
    age_mean_years: float
    age_sd_years: float
    male_fraction: float
    prior_ifn_fraction: float
    imatinib_years: LogNormalParams
    dmr_years: LogNormalParams
    depth_shares: dict[str, float]
    clinical: ClinicalParams
    eligibility: EligibilityParams


@dataclass(frozen=True)
class CovariateEffects:
    """Log-linear covariate effects shared by the disease models.

    A coefficient multiplies the covariate in a linear predictor
    ``eta = b_int*[Sokal intermediate] + b_high*[Sokal high]
    + b_imatinib*(imatinib_years - ref) + b_dmr*(dmr_years - ref)
    + b_ifn*[prior IFN] + b_male*[male]``; Sokal low, the reference durations,
    no prior IFN and female define ``eta = 0``.

    Parameters
    ----------
    sokal_intermediate, sokal_high : float
        Effect of Sokal intermediate / high versus low.
    imatinib_per_year, dmr_per_year : float
        Effect per year of imatinib / deep molecular response.
    prior_ifn, male : float
        Effect of prior interferon, of male sex.
    imatinib_ref_years, dmr_ref_years : float
        Reference durations (covariate centring).
    """

    sokal_intermediate: float
    sokal_high: float
    imatinib_per_year: float
    dmr_per_year: float
    prior_ifn: float
    male: float
    imatinib_ref_years: float
    dmr_ref_years: float


@dataclass(frozen=True)
class ClonalParams:
    """Clonal reactivation model (DESIGN §4).

    Patient *i* carries ``K ~ Poisson(theta_i)`` residual clones with
    ``log theta_i = log theta0 + eta_i``. Each clone leaves quiescence after an
    exponential latency with rate ``alpha = alpha0 * exp(sigma_alpha * Z)`` per month,
    then grows exponentially from ``initial_pct`` (% IS) at rate
    ``r = r0 * exp(sigma_r * Z')`` per month. On top sits a persistent, non-growing
    residual level ``m_i ~ LogNormal(residual_median_pct, residual_sigma)``.

    Parameters
    ----------
    theta0 : float
        Mean number of reactivatable clones at the reference covariates.
    latency_rate_per_month : float
        Median per-clone reactivation rate alpha0 (1/month).
    latency_sigma : float
        Log-scale SD of the per-clone reactivation rate (heterogeneity).
    growth_rate_per_month : float
        Median per-clone exponential growth rate r0 (1/month); doubling time
        ``ln 2 / r0`` months.
    growth_sigma : float
        Log-scale SD of the per-clone growth rate.
    initial_pct : float
        Level of a clone when it leaves quiescence (% IS).
    residual_median_pct, residual_sigma : float
        Persistent residual disease (% IS): median and log-scale SD.
    plateau_pct : float
        Level at which a regrowing clone saturates (% IS); far above every
        detection threshold, it only keeps trajectories finite.
    effects : CovariateEffects
        Covariate effects on ``log theta`` (proportional hazards by construction).
    """

    theta0: float
    latency_rate_per_month: float
    latency_sigma: float
    growth_rate_per_month: float
    growth_sigma: float
    initial_pct: float
    residual_median_pct: float
    residual_sigma: float
    plateau_pct: float
    effects: CovariateEffects


@dataclass(frozen=True)
class MixtureCureParams:
    """Phenomenological mixture-cure model.

    ``P(cure | x) = logistic(cure_logit0 - eta_cure(x))`` and, if not cured, a
    Weibull latency to loss of MMR with shape ``k`` and scale
    ``scale_months * exp(-eta(x) / k)`` (proportional hazards within the uncured).
    The BCR-ABL course of an uncured patient is an exponential regrowth that
    crosses MMR at the latent relapse month.

    Parameters
    ----------
    cure_logit0 : float
        Log-odds of cure at the reference covariates.
    weibull_shape : float
        Weibull shape k (dimensionless).
    weibull_scale_months : float
        Weibull scale at the reference covariates (months).
    growth_rate_per_month, initial_pct, residual_median_pct, residual_sigma, plateau_pct
        As in :class:`ClonalParams`; used only to draw a BCR-ABL course.
    effects : CovariateEffects
        Covariate effects; the same linear predictor lowers the cure log-odds and
        raises the latency hazard.
    """

    cure_logit0: float
    weibull_shape: float
    weibull_scale_months: float
    growth_rate_per_month: float
    initial_pct: float
    residual_median_pct: float
    residual_sigma: float
    plateau_pct: float
    effects: CovariateEffects


@dataclass(frozen=True)
class ScheduleSegment:
    """Visits every ``every_months`` up to and including ``until_month``."""

    until_month: float
    every_months: float


@dataclass(frozen=True)
class ScheduleParams:
    """When molecular tests happen.

    Parameters
    ----------
    segments : tuple of ScheduleSegment
        Piecewise visit intervals, in increasing ``until_month``; the last interval
        continues to the end of follow-up.
    jitter_days : float
        Each visit moves by a uniform offset in ``[-jitter_days, +jitter_days]`` days.
    missed_visit_prob : float
        Probability that a planned visit has no test (independently per visit).
    """

    segments: tuple[ScheduleSegment, ...]
    jitter_days: float = 0.0
    missed_visit_prob: float = 0.0


@dataclass(frozen=True)
class AssayParams:
    """RQ-PCR measurement of BCR-ABL1 at a visit (DESIGN §5).

    ABL1 control copies per sample are log-normal; BCR-ABL1 copies are Poisson with
    mean ``true % IS / 100 * ABL1 copies``; a positive result carries multiplicative
    log-normal technical noise. An undetectable result carries its sensitivity, the
    MR level ``log10(ABL1 copies / min_bcr_copies)`` it could have shown (MR4.5 needs
    >= 32,000 ABL1 copies; Cross et al. 2015 via DESIGN §5).

    Parameters
    ----------
    abl_median_copies : float
        Median ABL1 copies per sample.
    abl_sigma_log10 : float
        SD of log10 ABL1 copies across samples.
    noise_sd_log10 : float
        SD of log10 technical noise of a positive result.
    min_bcr_copies : int
        BCR-ABL1 copies needed to call a sample positive.
    """

    abl_median_copies: float
    abl_sigma_log10: float
    noise_sd_log10: float
    min_bcr_copies: int = 1


@dataclass(frozen=True)
class RuleParams:
    """Relapse rule (see :mod:`tfrsim.monitoring.rules` for the registered names).

    Parameters
    ----------
    name : str
        Registered rule: ``loss_of_mmr``, ``loss_of_mmr_confirmed``, ``stim``,
        ``twister`` or ``loss_of_mr4``.
    mmr_threshold_pct : float
        Loss of MMR: a measured level above this (% IS).
    mr4_threshold_pct : float
        Loss of MR4: a measured level above this (% IS).
    rise_log10 : float
        Rise (log10) that confirms a positive test in the ``stim`` rule.
    event_at : {"confirming", "first"}
        Date the relapse at the test that completes the rule, or at the first test of
        a confirmed pair.
    """

    name: str
    mmr_threshold_pct: float = MMR_PCT
    mr4_threshold_pct: float = 0.01
    rise_log10: float = 1.0
    event_at: str = "confirming"


@dataclass(frozen=True)
class MonitoringParams:
    """How relapse is observed: visit schedule, assay and relapse rule."""

    schedule: ScheduleParams
    assay: AssayParams
    rule: RuleParams


@dataclass(frozen=True)
class FollowUpParams:
    """Censoring: staggered accrual, analysis cut-off and dropout.

    Patient *i* stops imatinib at ``entry_i ~ Uniform(0, accrual_months)`` (calendar
    months after the first stop); the analysis is ``followup_months`` after the last
    possible stop, so administrative censoring falls at
    ``followup_months + accrual_months - entry_i`` (every patient can be followed at
    least ``followup_months``).
    Dropout is exponential with ``dropout_rate_per_month``. A censored patient's
    duration is the last visit attended.
    """

    followup_months: float
    accrual_months: float
    dropout_rate_per_month: float


@dataclass(frozen=True)
class AnalysisParams:
    """What the analysis stage computes.

    Parameters
    ----------
    milestones_months : tuple of float
        Months at which MRFS is reported with its CI.
    at_risk_months : tuple of float
        Months of the at-risk table.
    cox_covariates : tuple of str
        Covariates of the Cox model; ``"sokal_group"`` expands to indicators of
        intermediate and high versus low.
    alpha : float
        1 - confidence level of every interval.
    ph_test : bool
        Whether to run the proportional-hazards test.
    """

    milestones_months: tuple[float, ...]
    at_risk_months: tuple[float, ...]
    cox_covariates: tuple[str, ...]
    alpha: float = 0.05
    ph_test: bool = True


@dataclass(frozen=True)
class StudyParams:
    """Everything one run needs, validated.

    Parameters
    ----------
    trial_name : str
        Label of the study (e.g. ``"stim1"``).
    seed, replicate : int
        Root seed and replicate number; every random stream derives from them.
    cohort, follow_up, monitoring, analysis
        Stage parameters.
    model_name : str
        Name of the registered disease model.
    model : ClonalParams, MixtureCureParams or ImmuneParams
        Parameters of that model.
    chunk_size : int
        Patients simulated at once (memory bound; does not change results).
    """

    trial_name: str
    seed: int
    replicate: int
    cohort: CohortParams
    follow_up: FollowUpParams
    monitoring: MonitoringParams
    analysis: AnalysisParams
    model_name: str
    model: "ClonalParams | MixtureCureParams | ImmuneParams"
    chunk_size: int = 100_000
