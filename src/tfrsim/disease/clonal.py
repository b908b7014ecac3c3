"""Clonal reactivation model (DESIGN §4).

Patient *i* carries ``K_i ~ Poisson(theta_i)`` reactivatable clones,
``theta_i = theta0 * exp(eta_i)``. Clone *j* leaves quiescence after
``L ~ Exponential(alpha_j)``, ``alpha_j = alpha0 * exp(sigma_alpha * Z)``, then grows
from ``c0`` % IS at rate ``r_j = r0 * exp(sigma_r * Z')``, crossing MMR (0.1 % IS) at
``D_j = L_j + log(0.1 / c0) / r_j``. The latent relapse month is ``min_j D_j``.

Because clone delays are i.i.d. and independent of ``K_i``, Poisson thinning gives
the population curve in closed form, ``S(t | x) = exp(-theta(x) * F(t))`` with ``F``
the CDF of one clone's delay ``D`` (:func:`clone_delay_cdf`): proportional hazards in
``x`` by construction, so Cox is the correctly specified model.
"""

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from tfrsim import checks as c
from tfrsim.cohort.sample import Cohort
from tfrsim.disease.course import Course, first_crossing, linear_predictor, residual_levels
from tfrsim.disease.params import MMR_PCT, CovariateEffects, check_course_levels
from tfrsim.disease.registry import DiseaseModel, register_model

log = logging.getLogger(__name__)

#: Most reactivatable clones a patient can carry. Truncating Poisson(theta) here drops
#: P(K > 32) < 1e-9 of the mass for theta <= 8 (theta0 ~ 1 with any covariates here).
MAX_CLONES = 32
#: Largest mean clone count accepted for theta0 (P(Poisson(8) > 32) < 1e-9); patients
#: whose covariates push theta above it are truncated, with a logged warning once the
#: truncated mass matters (:data:`TRUNCATION_WARN`).
MAX_MEAN_CLONES = 8.0
#: Warn when a patient's P(K > MAX_CLONES) exceeds this (reached at theta ~ 11.5);
#: below it no study of up to 10^6 patients expects a truncated count (ASSUMPTION).
TRUNCATION_WARN = 1e-6


def check_theta0(value: float) -> float:
    """A mean clone count the simulator can draw without truncating Poisson(theta)."""
    theta0 = c.positive("theta0", value, "clones per patient")
    if theta0 > MAX_MEAN_CLONES:
        raise c.ConfigError(
            "theta0",
            f"must be <= {MAX_MEAN_CLONES:g} clones per patient: the simulator draws at "
            f"most {MAX_CLONES} clones per patient, which truncates Poisson(theta) above that",
            theta0,
        )
    return theta0


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
    effects : CovariateEffects
        Covariate effects on ``log theta`` (proportional hazards by construction).
    plateau_pct : float, default 100
        Level at which a regrowing clone saturates (% IS); far above every
        detection threshold, it only keeps trajectories finite.
    """

    theta0: float
    latency_rate_per_month: float
    latency_sigma: float
    growth_rate_per_month: float
    growth_sigma: float
    initial_pct: float
    residual_median_pct: float
    residual_sigma: float
    effects: CovariateEffects
    plateau_pct: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta0", check_theta0(self.theta0))
        for name in ("latency_rate_per_month", "growth_rate_per_month"):
            object.__setattr__(self, name, c.positive(name, getattr(self, name), "per month"))
        for name in ("latency_sigma", "growth_sigma"):
            object.__setattr__(self, name, c.non_negative(name, getattr(self, name)))
        check_course_levels(self)


def poisson_inverse_cdf(
    u: NDArray[np.float64], mean: NDArray[np.float64], k_max: int
) -> NDArray[np.int64]:
    """Smallest ``k`` with ``P(Poisson(mean) <= k) >= u``, capped at ``k_max``.

    A vectorised recurrence over ``k`` (pmf_k = pmf_{k-1} * mean / k): equal to
    ``scipy.stats.poisson.ppf`` below the cap and ~50x faster for small means.
    """
    pmf = np.exp(-mean)
    cdf = pmf.copy()
    k = np.zeros(u.shape, dtype=np.int64)
    for j in range(1, k_max + 1):
        k += cdf < u  # P(K <= j - 1) < u  <=>  K >= j
        pmf = pmf * mean / j
        cdf += pmf
    return k


def draw_clones(
    cohort: Cohort,
    params: Any,
    *,
    count_rng: np.random.Generator,
    clone_rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Clone counts and per-clone latency and growth of the clonal-family models.

    ``params`` has ``theta0``, ``effects``, ``latency_rate_per_month``,
    ``latency_sigma``, ``growth_rate_per_month`` and ``growth_sigma``.

    Returns
    -------
    n_clones : int64, (n,)
    clone_patient : int64, (m,)
        Patient of each clone, sorted.
    latency_month, rate_per_month : float, (m,)
        Month each clone leaves quiescence, and its growth rate.
    """
    n = len(cohort)
    theta = params.theta0 * np.exp(linear_predictor(cohort, params.effects))
    if n and theta.max() > MAX_MEAN_CLONES:
        # Rare (a posterior draw or covariates far out): only those patients are scored.
        # scipy.stats here only: a default run does not import it (import time).
        from scipy import stats

        high = theta[theta > MAX_MEAN_CLONES]
        lost = stats.poisson.sf(MAX_CLONES, high)
        if lost.max() > TRUNCATION_WARN:
            log.warning(
                "%d patient(s) have a mean clone count above %g (max %.1f): counts above %d "
                "are truncated (expected %.2g truncated patients)",
                high.size,
                MAX_MEAN_CLONES,
                theta.max(),
                MAX_CLONES,
                float(lost.sum()),
            )
    # Counts by inverse CDF and clone draws on a fixed (patient, clone slot) grid: a
    # small change of any parameter moves each draw a little instead of reshuffling
    # the stream, so a calibration objective under common random numbers is smooth;
    # and patient i's draws do not depend on how many patients follow.
    n_clones = poisson_inverse_cdf(count_rng.random(n), theta, MAX_CLONES)
    # The grid holds 96 uniforms per patient, of which ~4 are used: single precision
    # halves its cost (benchmarks/README.md). numpy draws k / 2^24; the midpoint
    # (k + 1/2) / 2^24 keeps every uniform inside (0, 1), so no latency or growth rate
    # is 0 or infinite (normal tails beyond 5.4 SD, probability 6e-8, are cut).
    slots = clone_rng.random((n, MAX_CLONES, 3), dtype=np.float32)
    clone_patient, slot = np.nonzero(np.arange(MAX_CLONES) < n_clones[:, None])
    u = slots[clone_patient, slot].T.astype(np.float64) + 2.0**-25
    # Per clone: latency-rate normal, growth-rate normal, exponential latency.
    alpha = params.latency_rate_per_month * np.exp(params.latency_sigma * special.ndtri(u[0]))
    rate = params.growth_rate_per_month * np.exp(params.growth_sigma * special.ndtri(u[1]))
    latency = -np.log1p(-u[2]) / alpha
    return n_clones, clone_patient.astype(np.int64), latency, rate


def simulate_clonal(cohort: Cohort, params: ClonalParams, *, rng: np.random.Generator) -> Course:
    """Simulate the latent course of every patient under the clonal model.

    Parameters
    ----------
    cohort : Cohort
        Patients at stop.
    params : ClonalParams
        Model parameters.
    rng : numpy.random.Generator
        The disease stream.

    Returns
    -------
    Course
    """
    n = len(cohort)
    count_rng, clone_rng, residual_rng = rng.spawn(3)
    n_clones, clone_patient, latency, rate = draw_clones(
        cohort, params, count_rng=count_rng, clone_rng=clone_rng
    )
    crossing = latency + np.log(MMR_PCT / params.initial_pct) / rate
    residual = residual_levels(
        n, params.residual_median_pct, params.residual_sigma, rng=residual_rng
    )
    return Course(
        relapse_month=first_crossing(clone_patient, crossing, n),
        n_clones=n_clones,
        residual_pct=residual,
        clone_patient=clone_patient,
        clone_onset_month=latency,
        clone_rate_per_month=rate,
        initial_pct=params.initial_pct,
        plateau_pct=params.plateau_pct,
    )


def clone_delay_cdf(
    months: ArrayLike, params: ClonalParams, n_growth: int = 2000, n_latency: int = 96
) -> NDArray[np.float64]:
    """CDF ``F(t)`` of one clone's delay from stop to crossing MMR.

    ``F(t) = E[(1 - exp(-alpha (t - g)))_+]`` with growth time ``g = log(0.1/c0) / r``.
    The expectation over the log-normal latency rate ``alpha`` is a Gauss–Hermite sum
    (the integrand is smooth in ``log alpha``); over the growth rate it is a midpoint
    rule on ``n_growth`` equiprobable quantiles, because the integrand has a kink
    where ``t = g`` that spoils Gauss–Hermite. Error ~4e-5 at sigma_alpha = 2 and ~3e-4
    at the calibrated 4.7 (against a fine reference); far below the statistical
    tests' tolerances. NumPy's ``hermegauss`` overflows above ~350 nodes.

    Parameters
    ----------
    months : array_like
        Months after stopping.
    params : ClonalParams
    n_growth, n_latency : int
        Quadrature sizes.

    Returns
    -------
    numpy.ndarray
        ``F`` at ``months``, same shape.
    """
    t = np.asarray(months, dtype=float)
    x, w = np.polynomial.hermite_e.hermegauss(n_latency)
    w = w / w.sum()  # probabilists' Hermite: weights of a standard normal
    alpha = params.latency_rate_per_month * np.exp(params.latency_sigma * x)
    z = special.ndtri((np.arange(n_growth) + 0.5) / n_growth)
    rate = params.growth_rate_per_month * np.exp(params.growth_sigma * z)
    growth = np.log(MMR_PCT / params.initial_pct) / rate
    wait = np.maximum(t[..., None] - growth, 0.0)  # (..., n_growth)
    p = -np.expm1(-wait[..., None] * alpha)  # (..., n_growth, n_latency)
    return np.asarray(p @ w, dtype=float).mean(axis=-1)


def survival(months: ArrayLike, params: ClonalParams, eta: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Closed-form latent relapse-free survival ``S(t | eta) = exp(-theta0 e^eta F(t))``."""
    theta = params.theta0 * np.exp(np.asarray(eta, dtype=float))
    return np.asarray(np.exp(-theta * clone_delay_cdf(months, params)), dtype=float)


register_model(
    DiseaseModel("clonal", ClonalParams, simulate_clonal, survival, recovery="proportional_hazards")
)
