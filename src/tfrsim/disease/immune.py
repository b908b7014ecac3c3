"""Clonal reactivation with immune control (model v2; DESIGN §4 "Version 2").

Patient *i* carries ``K_i ~ Poisson(theta_i)`` reactivatable clones,
``log theta_i = log theta0 + eta_i`` with ``eta_i`` the covariate effects *including
depth at stop* (``beta_depth * (depth_log - depth_ref)``). Clone *j* leaves quiescence
after ``L ~ Exponential(alpha_j)`` (``alpha_j`` log-normal) and grows from ``c0``
(% IS) at rate ``r_j`` (log-normal) per month.

Immune control (Clapp et al. Cancer Res 2015; Hähnel et al. Cancer Res 2020) is a
property of the *patient's* immune system: with probability ``q`` patient *i* controls
leukaemia up to a ceiling ``c_i = max(c0, C_i)``, ``C_i ~ LogNormal(ceiling_median,
ceiling_sigma)``. Each of a controlled patient's clones is held at ``c_i`` from the
month it reaches it, ``L + log(c_i / c0) / r``, for ``E ~ Exponential(lambda)`` months
(its own escape from control, e.g. an immune-evasive subclone), then grows again at
``r``. The first month clone *j* exceeds a level ``d > c0`` is

    T_d = L + log(d / c0) / r + E * 1[patient controlled and c_i < d],

so the MMR-crossing delay is ``D = T_0.1``; the latent relapse month is ``min_j D_j``.
Given the patient's control state, delays are i.i.d. and independent of ``K_i``, so
Poisson thinning gives, for the latent first time any clone exceeds ``d``,

    S_d(t | x) = (1 - p_d) exp(-theta(x) F0_d(t)) + p_d exp(-theta(x) FH_d(t)),

``p_d = q P(C < d)``, ``F0_d(t) = E[A(t - g_d)]``, ``FH_d(t) = E[H(t - g_d)]``,
``g_d = log(d / c0) / r``, ``A(s) = 1 - exp(-alpha s)`` (s > 0) the latency CDF and
``H(s)`` the CDF of ``L + E`` (hypo-exponential, closed form); expectations over
``alpha`` and ``r`` are numerical (:func:`level_delay_cdf`). ``d = 0.1``: latent MMR
loss; ``d`` near the detection limit: latent first positive (of a clone). The mixture
over control states makes hazards only approximately proportional in ``x``.

On top of the clones sits a persistent residual level
``m_i = m0 * 10 ** (-gamma * (depth_log - depth_ref)) * exp(sigma_m Z)``: a deeper
response at stop means less residual disease.

Every number in ``conf/model/immune.yaml`` cites its source or says ASSUMPTION.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from omegaconf import MISSING
from scipy import special

from tfrsim.cohort.sample import Cohort
from tfrsim.config import checks as c
from tfrsim.config.params import MMR_PCT
from tfrsim.disease.clonal import MAX_CLONES, MAX_MEAN_CLONES, poisson_inverse_cdf
from tfrsim.disease.course import Course, first_crossing

#: Uniform draws per clone slot: latency rate, growth rate, latency, escape time.
DRAWS_PER_CLONE = 4


@dataclass(frozen=True)
class ImmuneEffects:
    """Covariate effects on ``log theta`` (log clone-count ratios = log hazard ratios).

    ``eta = b_int [Sokal int] + b_high [Sokal high] + b_tki (tki_years - tki_ref)
    + b_dmr (dmr_years - dmr_ref) + b_ifn [prior IFN] + b_male [male]
    + b_depth (depth_log - depth_ref)``.

    Parameters
    ----------
    sokal_intermediate, sokal_high : float
        Sokal intermediate / high versus low.
    imatinib_per_year : float
        Per year of imatinib (TKI) before stop (1/year).
    dmr_per_year : float
        Per year of deep molecular response before stop (1/year).
    prior_ifn, male : float
        Prior interferon; male sex.
    depth_per_log : float
        Per log10 of depth at stop (MR4 = 4, MR4.5 = 4.5, MR5 = 5); negative: deeper
        responses carry fewer reactivatable clones.
    imatinib_ref_years, dmr_ref_years, depth_ref_log : float
        Centring (years, years, log10 reduction).
    """

    sokal_intermediate: float
    sokal_high: float
    imatinib_per_year: float
    dmr_per_year: float
    prior_ifn: float
    male: float
    depth_per_log: float
    imatinib_ref_years: float
    dmr_ref_years: float
    depth_ref_log: float


@dataclass(frozen=True)
class ImmuneParams:
    """Clonal reactivation with immune control (see the module docstring).

    Parameters
    ----------
    theta0 : float
        Mean number of reactivatable clones at the reference covariates.
    latency_rate_per_month, latency_sigma : float
        Median per-clone reactivation rate (1/month) and its log-scale SD.
    growth_rate_per_month, growth_sigma : float
        Median per-clone growth rate (1/month; doubling ``ln 2 / r`` months) and its
        log-scale SD.
    initial_pct : float
        Level of a clone when it leaves quiescence (% IS).
    control_probability : float
        Probability ``q`` that a reactivated clone comes under immune control.
    ceiling_median_pct, ceiling_sigma : float
        Log-normal control ceiling of a controlled clone (% IS; log-scale SD).
    escape_rate_per_month : float
        Rate ``lambda`` at which a held clone escapes control (1/month); mean hold
        ``1 / lambda`` months.
    residual_median_pct, residual_sigma : float
        Persistent residual disease at the reference depth (% IS; log-scale SD).
    residual_depth_slope : float
        ``gamma``: log10 residual level lost per log10 of depth at stop.
    plateau_pct : float
        Saturation level of a growing clone (% IS); keeps trajectories finite.
    effects : ImmuneEffects
    """

    theta0: float
    latency_rate_per_month: float
    latency_sigma: float
    growth_rate_per_month: float
    growth_sigma: float
    initial_pct: float
    control_probability: float
    ceiling_median_pct: float
    ceiling_sigma: float
    escape_rate_per_month: float
    residual_median_pct: float
    residual_sigma: float
    residual_depth_slope: float
    plateau_pct: float
    effects: ImmuneEffects


def linear_predictor(cohort: Cohort, effects: ImmuneEffects) -> NDArray[np.float64]:
    """Log relative clone count ``eta`` of each patient (0 at the reference)."""
    return np.asarray(
        effects.sokal_intermediate * (cohort.sokal_group == 1)
        + effects.sokal_high * (cohort.sokal_group == 2)
        + effects.imatinib_per_year * (cohort.imatinib_years - effects.imatinib_ref_years)
        + effects.dmr_per_year * (cohort.dmr_years - effects.dmr_ref_years)
        + effects.prior_ifn * cohort.prior_ifn
        + effects.male * cohort.male
        + effects.depth_per_log * (cohort.depth_log - effects.depth_ref_log),
        dtype=float,
    )


def residual_median(params: ImmuneParams, depth_log: ArrayLike) -> NDArray[np.float64]:
    """Median residual level (% IS) at depth ``depth_log`` (log10 reduction)."""
    shift = np.asarray(depth_log, dtype=float) - params.effects.depth_ref_log
    return np.asarray(params.residual_median_pct * 10.0 ** (-params.residual_depth_slope * shift))


def simulate_immune(cohort: Cohort, params: ImmuneParams, *, rng: np.random.Generator) -> Course:
    """Simulate the latent course of every patient under the immune-control model.

    Parameters
    ----------
    cohort : Cohort
        Patients at stop.
    params : ImmuneParams
    rng : numpy.random.Generator
        The disease stream.

    Returns
    -------
    Course
        With per-clone ceilings (``inf`` for uncontrolled clones) and escape months.
    """
    n = len(cohort)
    theta = np.minimum(
        params.theta0 * np.exp(linear_predictor(cohort, params.effects)), MAX_MEAN_CLONES
    )
    count_rng, clone_rng, residual_rng, control_rng = rng.spawn(4)
    # Inverse-CDF counts and a fixed (patient, slot) grid of clone draws, as in
    # clonal.py: common random numbers make the calibration objective smooth.
    n_clones = poisson_inverse_cdf(count_rng.random(n), theta, MAX_CLONES)
    slots = clone_rng.random((n, MAX_CLONES, DRAWS_PER_CLONE))
    clone_patient, slot = np.nonzero(np.arange(MAX_CLONES) < n_clones[:, None])
    u = slots[clone_patient, slot].T
    alpha = params.latency_rate_per_month * np.exp(params.latency_sigma * special.ndtri(u[0]))
    rate = params.growth_rate_per_month * np.exp(params.growth_sigma * special.ndtri(u[1]))
    onset = -np.log1p(-u[2]) / alpha
    # Immune control and its ceiling belong to the patient; escape to each clone.
    v = control_rng.random((n, 2)).T
    patient_ceiling = np.where(
        v[0] < params.control_probability,
        np.maximum(
            params.ceiling_median_pct * np.exp(params.ceiling_sigma * special.ndtri(v[1])),
            params.initial_pct,
        ),
        np.inf,
    )
    ceiling = patient_ceiling[clone_patient]
    controlled = np.isfinite(ceiling)
    hold = np.where(controlled, -np.log1p(-u[3]) / params.escape_rate_per_month, 0.0)
    with np.errstate(invalid="ignore"):
        reach = onset + np.log(ceiling / params.initial_pct) / rate
    escape = np.where(controlled, reach + hold, np.inf)
    crossing = onset + np.log(MMR_PCT / params.initial_pct) / rate
    crossing = crossing + np.where(ceiling < MMR_PCT, hold, 0.0)
    depth = cohort.depth_log
    residual = residual_median(params, depth) * np.exp(
        params.residual_sigma * residual_rng.standard_normal(n)
    )
    return Course(
        relapse_month=first_crossing(clone_patient, crossing, n),
        n_clones=n_clones,
        residual_pct=residual,
        clone_patient=clone_patient,
        clone_onset_month=onset,
        clone_rate_per_month=rate,
        initial_pct=params.initial_pct,
        plateau_pct=params.plateau_pct,
        clone_ceiling_pct=ceiling,
        clone_escape_month=escape,
    )


def clone_level_crossing(course: Course, level_pct: float) -> NDArray[np.float64]:
    """Month each clone first exceeds ``level_pct`` (> initial level), shape (m,).

    ``T_d = onset + log(d / c0) / r + hold * 1[ceiling < d]``, from the arrays of the
    course (held time = escape month - month the ceiling is reached).
    """
    rate = course.clone_rate_per_month
    t = course.clone_onset_month + np.log(level_pct / course.initial_pct) / rate
    if course.clone_ceiling_pct is None or course.clone_escape_month is None:
        return np.asarray(t)
    ceiling = course.clone_ceiling_pct
    below = ceiling < level_pct
    with np.errstate(invalid="ignore"):
        reach = course.clone_onset_month + np.log(ceiling / course.initial_pct) / rate
        held = np.where(below, course.clone_escape_month - reach, 0.0)
    return np.asarray(t + held)


def _hypoexponential_cdf(s: NDArray[np.float64], a: NDArray[np.float64], lam: float) -> Any:
    """``P(L + E <= s)``, ``L ~ Exp(a)``, ``E ~ Exp(lam)``; 0 for ``s <= 0``.

    ``1 - exp(-a s) - a (exp(-a s) - exp(-lam s)) / (lam - a)``, written as
    ``a * exp(-min(a, lam) s) * s * phi(|lam - a| s)`` with ``phi(x) = (1 - e^-x) / x``
    so that it stays exact when ``a`` is close to ``lam`` or either is extreme.
    """
    s = np.maximum(s, 0.0)
    diff = np.abs(lam - a)
    x = diff * s
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(x > 1e-8, -np.expm1(-x) / np.where(x > 0, x, 1.0), 1.0 - x / 2)
    low = np.minimum(a, lam)
    value = -np.expm1(-a * s) - a * np.exp(-low * s) * s * phi
    return np.clip(value, 0.0, 1.0)


def control_share(params: ImmuneParams, level_pct: float) -> float:
    """``p_d = q P(C < d)``: share of patients whose clones are held below ``level_pct``."""
    if params.ceiling_sigma == 0:
        below = float(params.ceiling_median_pct < level_pct)
    else:
        z = np.log(level_pct / params.ceiling_median_pct) / params.ceiling_sigma
        below = float(special.ndtr(z))
    return params.control_probability * below


def level_delay_cdf(
    months: ArrayLike,
    params: ImmuneParams,
    level_pct: float = MMR_PCT,
    held: bool = False,
    n_growth: int = 2000,
    n_latency: int = 96,
) -> NDArray[np.float64]:
    """CDF of the first month one clone exceeds ``level_pct``, free or held.

    ``F0_d(t) = E[A(t - g)]`` (``held=False``) or ``FH_d(t) = E[H(t - g)]``
    (``held=True``: the clone is held below ``d`` for an Exponential(lambda) time).
    The expectation over the log-normal latency rate is a Gauss–Hermite sum, over the
    growth rate a midpoint rule on ``n_growth`` equiprobable quantiles (the integrand
    has a kink at ``t = g``), as in :func:`tfrsim.disease.clonal.clone_delay_cdf`.

    Parameters
    ----------
    months : array_like
        Months after stopping.
    params : ImmuneParams
    level_pct : float, default 0.1 (MMR)
        Level (% IS), above the initial clone level.
    held : bool, default False
        Clone of a controlled patient whose ceiling is below ``level_pct``.
    n_growth, n_latency : int
        Quadrature sizes.

    Returns
    -------
    numpy.ndarray
        Same shape as ``months``.
    """
    if level_pct <= params.initial_pct:
        raise ValueError(f"level_pct must exceed initial_pct ({params.initial_pct} % IS)")
    t = np.asarray(months, dtype=float)
    x, w = np.polynomial.hermite_e.hermegauss(n_latency)
    w = w / w.sum()
    alpha = params.latency_rate_per_month * np.exp(params.latency_sigma * x)
    z = special.ndtri((np.arange(n_growth) + 0.5) / n_growth)
    rate = params.growth_rate_per_month * np.exp(params.growth_sigma * z)
    growth = np.log(level_pct / params.initial_pct) / rate
    wait = np.maximum(t[..., None] - growth, 0.0)[..., None]  # (..., n_growth, 1)
    if held:
        p = _hypoexponential_cdf(wait, alpha, params.escape_rate_per_month)
    else:
        p = -np.expm1(-wait * alpha)
    return np.asarray((p @ w).mean(axis=-1), dtype=float)


def clone_delay_cdf(months: ArrayLike, params: ImmuneParams) -> NDArray[np.float64]:
    """CDF of an uncontrolled clone's MMR-crossing delay ``L + log(0.1 / c0) / r``."""
    return level_delay_cdf(months, params, MMR_PCT)


def survival(
    months: ArrayLike, params: ImmuneParams, eta: ArrayLike = 0.0, level_pct: float = MMR_PCT
) -> NDArray[np.float64]:
    """Latent probability that no clone has exceeded ``level_pct`` by each month.

    ``(1 - p_d) exp(-theta F0_d(t)) + p_d exp(-theta FH_d(t))`` with
    ``theta = theta0 e^eta`` and ``p_d = q P(C < d)`` (module docstring): at MMR the
    latent relapse-free survival; at a detection level the latent "no clone yet
    above it" curve.
    """
    theta = params.theta0 * np.exp(np.asarray(eta, dtype=float))
    free = np.exp(-theta * level_delay_cdf(months, params, level_pct))
    p = control_share(params, level_pct)
    if p == 0:
        return np.asarray(free, dtype=float)
    held = np.exp(-theta * level_delay_cdf(months, params, level_pct, held=True))
    return np.asarray((1 - p) * free + p * held, dtype=float)


# ---------------------------------------------------------------------------------
# Configuration (Hydra schema and translation), kept here so the model is one file.


@dataclass
class ImmuneEffectsConfig:
    """Hydra schema of :class:`ImmuneEffects` (values live in conf/model/immune.yaml)."""

    sokal_intermediate: float = MISSING
    sokal_high: float = MISSING
    imatinib_per_year: float = MISSING
    dmr_per_year: float = MISSING
    prior_ifn: float = MISSING
    male: float = MISSING
    depth_per_log: float = MISSING
    imatinib_ref_years: float = MISSING
    dmr_ref_years: float = MISSING
    depth_ref_log: float = MISSING


@dataclass
class ImmuneModelConfig:
    """Hydra schema of :class:`ImmuneParams` (``model=immune``)."""

    name: str = "immune"
    theta0: float = MISSING
    latency_rate_per_month: float = MISSING
    latency_sigma: float = MISSING
    growth_rate_per_month: float = MISSING
    growth_sigma: float = MISSING
    initial_pct: float = MISSING
    control_probability: float = MISSING
    ceiling_median_pct: float = MISSING
    ceiling_sigma: float = MISSING
    escape_rate_per_month: float = MISSING
    residual_median_pct: float = MISSING
    residual_sigma: float = MISSING
    residual_depth_slope: float = MISSING
    plateau_pct: float = 100.0
    effects: ImmuneEffectsConfig = field(default_factory=ImmuneEffectsConfig)
    # Where fitted values came from; not used to simulate.
    provenance: dict[str, Any] = field(default_factory=dict)


def _effects_from_config(cfg: Any) -> ImmuneEffects:
    f = "model.effects"
    return ImmuneEffects(
        sokal_intermediate=c.finite(f"{f}.sokal_intermediate", cfg.sokal_intermediate),
        sokal_high=c.finite(f"{f}.sokal_high", cfg.sokal_high),
        imatinib_per_year=c.finite(f"{f}.imatinib_per_year", cfg.imatinib_per_year),
        dmr_per_year=c.finite(f"{f}.dmr_per_year", cfg.dmr_per_year),
        prior_ifn=c.finite(f"{f}.prior_ifn", cfg.prior_ifn),
        male=c.finite(f"{f}.male", cfg.male),
        depth_per_log=c.finite(f"{f}.depth_per_log", cfg.depth_per_log),
        imatinib_ref_years=c.non_negative(f"{f}.imatinib_ref_years", cfg.imatinib_ref_years),
        dmr_ref_years=c.non_negative(f"{f}.dmr_ref_years", cfg.dmr_ref_years),
        depth_ref_log=c.positive(f"{f}.depth_ref_log", cfg.depth_ref_log),
    )


def params_from_config(cfg: Any) -> ImmuneParams:
    """Validate an ``ImmuneModelConfig`` into :class:`ImmuneParams`.

    Raises
    ------
    ConfigError
        Naming the field, the rule and the value.
    """
    initial = c.in_range("model.initial_pct", cfg.initial_pct, 0.0, MMR_PCT, "percent IS")
    plateau = c.finite("model.plateau_pct", cfg.plateau_pct)
    if plateau <= MMR_PCT:
        raise c.ConfigError("model.plateau_pct", f"must exceed MMR ({MMR_PCT} % IS)", plateau)
    theta0 = c.positive("model.theta0", cfg.theta0, "clones per patient")
    if theta0 > MAX_MEAN_CLONES:
        raise c.ConfigError("model.theta0", f"must be <= {MAX_MEAN_CLONES:g}", theta0)
    return ImmuneParams(
        theta0=theta0,
        latency_rate_per_month=c.positive(
            "model.latency_rate_per_month", cfg.latency_rate_per_month, "per month"
        ),
        latency_sigma=c.non_negative("model.latency_sigma", cfg.latency_sigma),
        growth_rate_per_month=c.positive(
            "model.growth_rate_per_month", cfg.growth_rate_per_month, "per month"
        ),
        growth_sigma=c.non_negative("model.growth_sigma", cfg.growth_sigma),
        initial_pct=initial,
        control_probability=c.fraction("model.control_probability", cfg.control_probability),
        ceiling_median_pct=c.in_range(
            "model.ceiling_median_pct", cfg.ceiling_median_pct, 0.0, 100.0, "percent IS"
        ),
        ceiling_sigma=c.non_negative("model.ceiling_sigma", cfg.ceiling_sigma),
        escape_rate_per_month=c.positive(
            "model.escape_rate_per_month", cfg.escape_rate_per_month, "per month"
        ),
        residual_median_pct=c.in_range(
            "model.residual_median_pct", cfg.residual_median_pct, 0.0, 100.0, "percent IS"
        ),
        residual_sigma=c.non_negative("model.residual_sigma", cfg.residual_sigma),
        residual_depth_slope=c.finite("model.residual_depth_slope", cfg.residual_depth_slope),
        plateau_pct=plateau,
        effects=_effects_from_config(cfg.effects),
    )
