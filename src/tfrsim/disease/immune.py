"""Clonal reactivation with immune control (model v2; DESIGN §4 "Version 2").

Patient *i* carries ``K_i ~ Poisson(theta_i)`` reactivatable clones,
``log theta_i = log theta0 + eta_i`` with ``eta_i`` the shared covariate effects
(:func:`tfrsim.disease.course.linear_predictor`, including depth at stop through
``effects.depth_per_log``). Clone *j* leaves quiescence after ``L ~ Exponential(alpha_j)``
(``alpha_j`` log-normal) and grows from ``c0`` (% IS) at rate ``r_j`` (log-normal).

Immune control is a property of the *patient* (an "immune window": Clapp et al. Cancer
Res 2015; Hähnel et al. Cancer Res 2020): with probability ``q`` patient *i* controls
its leukaemia up to a ceiling ``c_i = max(c0, C_i)``, ``C_i ~ LogNormal(ceiling_median,
ceiling_sigma)``, until the month ``E_i ~ Exponential(lambda)`` at which control fails
(one escape time per patient). Until ``E_i`` every clone that reaches ``c_i`` is held
there (and the patient's held clones together are capped at ``c_i``); from ``E_i`` on
every clone grows again at its own rate from where it was. Clone *j* of a controlled
patient therefore first exceeds a level ``d > c_i`` at

    T_d = max(L + log(d / c0) / r, E_i + log(d / c_i) / r),

and an uncontrolled patient's at ``L + log(d / c0) / r``. The latent relapse month is
``min_j T_0.1``. Given the patient's ``(E, c)`` the clone delays are i.i.d. and
independent of ``K_i``, so Poisson thinning gives

    S_d(t | x) = (1 - q) exp(-theta(x) F0_d(t))
                 + q E_{E, c}[exp(-theta(x) FH_d(t; E, c))],

``F0_d(t) = E[A(t - g_d)]``, ``FH_d(t; E, c) = E[1{t >= E + log(d / c) / r} A(t - g_d)]``
for ``c < d`` (``= F0_d`` for ``c >= d``), ``g_d = log(d / c0) / r``, ``A(s) = 1 -
exp(-alpha s_+)``; expectations over ``alpha``, ``r``, ``E`` and ``c`` by quadrature
(:func:`survival`). Because ``E`` is shared by a patient's clones the outer expectation
is not a product over clones: the mixture makes hazards only approximately
proportional in ``x`` (docs/model.md).

On top of the clones sits a persistent residual level
``m_i = m0 * 10 ** (-gamma * (depth_log - depth_ref)) * exp(sigma_m Z)``.

Every number in ``conf/model/immune.yaml`` cites its source or says ASSUMPTION.
"""

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from tfrsim import checks as c
from tfrsim.cohort.sample import Cohort
from tfrsim.disease.clonal import check_theta0, draw_clones
from tfrsim.disease.course import Course, first_crossing
from tfrsim.disease.params import MMR_PCT, CovariateEffects, check_course_levels
from tfrsim.disease.registry import DiseaseModel, register_model

log = logging.getLogger(__name__)

#: Uniform draws per patient: controlled or not, ceiling, escape month.
DRAWS_PER_PATIENT = 3


@dataclass(frozen=True)
class ImmuneParams:
    """Clonal reactivation with patient-level immune control (module docstring).

    Parameters
    ----------
    theta0 : float
        Mean number of reactivatable clones at the reference covariates.
    latency_rate_per_month, latency_sigma : float
        Median per-clone reactivation rate (1/month) and its log-scale SD.
    growth_rate_per_month, growth_sigma : float
        Median per-clone growth rate (1/month; doubling ``ln 2 / r``) and log-scale SD.
    initial_pct : float
        Level of a clone when it leaves quiescence (% IS).
    control_probability : float
        Probability ``q`` that a patient controls its leukaemia after stopping.
    ceiling_median_pct, ceiling_sigma : float
        Log-normal ceiling of a controlled patient (% IS; log-scale SD).
    escape_rate_per_month : float
        Rate ``lambda`` at which a controlled patient loses control (1/month; mean
        window ``1 / lambda`` months from stop).
    residual_median_pct, residual_sigma : float
        Persistent residual disease at the reference depth (% IS; log-scale SD).
    residual_depth_slope : float
        ``gamma``: log10 of residual level lost per log10 of depth at stop.
    effects : CovariateEffects
        Effects on ``log theta`` (``depth_per_log`` included).
    plateau_pct : float, default 100
        Saturation level of a growing clone (% IS); keeps trajectories finite.
    oscillation_log10 : float, default 0
        Depth ``A`` (log10) of the immune oscillation of a controlled patient: once its
        controlled burden has reached the ceiling, the ceiling falls ``A`` logs and
        comes back every ``oscillation_period_months`` (a cosine in log10; Clapp et al.
        Cancer Res 2015) until escape. 0: held flat at the ceiling.
    oscillation_period_months : float, default 6
        Period ``P`` of that oscillation (months).
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
    effects: CovariateEffects
    plateau_pct: float = 100.0
    oscillation_log10: float = 0.0
    oscillation_period_months: float = 6.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta0", check_theta0(self.theta0))
        object.__setattr__(
            self,
            "oscillation_log10",
            c.non_negative("oscillation_log10", self.oscillation_log10, "log10"),
        )
        object.__setattr__(
            self,
            "oscillation_period_months",
            c.positive("oscillation_period_months", self.oscillation_period_months, "months"),
        )
        for name in ("latency_rate_per_month", "growth_rate_per_month", "escape_rate_per_month"):
            object.__setattr__(self, name, c.positive(name, getattr(self, name), "per month"))
        for name in ("latency_sigma", "growth_sigma", "ceiling_sigma"):
            object.__setattr__(self, name, c.non_negative(name, getattr(self, name)))
        object.__setattr__(
            self, "control_probability", c.fraction("control_probability", self.control_probability)
        )
        object.__setattr__(
            self,
            "ceiling_median_pct",
            c.in_range("ceiling_median_pct", self.ceiling_median_pct, 0.0, 100.0, "percent IS"),
        )
        object.__setattr__(
            self,
            "residual_depth_slope",
            c.finite("residual_depth_slope", self.residual_depth_slope),
        )
        check_course_levels(self)


def residual_median(params: ImmuneParams, depth_log: ArrayLike) -> NDArray[np.float64]:
    """Median residual level (% IS) at depth ``depth_log`` (log10 reduction)."""
    shift = np.asarray(depth_log, dtype=float) - params.effects.depth_ref_log
    return np.asarray(params.residual_median_pct * 10.0 ** (-params.residual_depth_slope * shift))


def patient_control(
    params: ImmuneParams, u: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Ceiling (% IS) and escape month of each patient from uniforms ``u`` (3, n).

    ``inf`` for both where the patient is not controlled.
    """
    controlled = u[0] < params.control_probability
    level = params.ceiling_median_pct * np.exp(params.ceiling_sigma * special.ndtri(u[1]))
    ceiling = np.where(controlled, np.maximum(level, params.initial_pct), np.inf)
    escape = np.where(controlled, -np.log1p(-u[2]) / params.escape_rate_per_month, np.inf)
    return ceiling, escape


def level_crossing(
    level_pct: float,
    onset: NDArray[np.float64],
    rate: NDArray[np.float64],
    initial_pct: float,
    ceiling: NDArray[np.float64],
    escape: NDArray[np.float64],
) -> NDArray[np.float64]:
    """First month each clone exceeds ``level_pct`` (> ``initial_pct``).

    ``max(L + log(d / c0) / r, E + log(d / c) / r)`` where the clone's patient is
    controlled below ``d``; ``L + log(d / c0) / r`` otherwise.
    """
    free = onset + np.log(level_pct / initial_pct) / rate
    held = ceiling < level_pct
    with np.errstate(invalid="ignore", divide="ignore"):
        after = escape + np.log(level_pct / np.where(held, ceiling, level_pct)) / rate
    return np.asarray(np.where(held, np.maximum(free, after), free))


def control_cycle_month(
    clone_patient: NDArray[np.int64],
    onset: NDArray[np.float64],
    rate: NDArray[np.float64],
    initial_pct: float,
    ceiling: NDArray[np.float64],
    escape: NDArray[np.float64],
    n: int,
) -> NDArray[np.float64]:
    """Month each clone's patient first has a clone at its ceiling before escape.

    The earliest ``L + log(c / c0) / r`` among the patient's controlled clones that
    reach ``c`` before ``E`` (``inf`` if none): the start of the immune oscillation.
    Returned per clone (the patient's value, of ``n`` patients), shape of ``onset``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        reach = onset + np.log(ceiling / initial_pct) / rate
    reach = np.where(np.isfinite(ceiling) & (reach < escape), reach, np.inf)
    return first_crossing(clone_patient, reach, n)[clone_patient]


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
        With per-clone ceilings and escape months (those of the clone's patient).
    """
    n = len(cohort)
    count_rng, clone_rng, residual_rng, control_rng = rng.spawn(4)
    n_clones, clone_patient, onset, rate = draw_clones(
        cohort, params, count_rng=count_rng, clone_rng=clone_rng
    )
    patient_ceiling, patient_escape = patient_control(
        params, control_rng.random((n, DRAWS_PER_PATIENT)).T
    )
    ceiling = patient_ceiling[clone_patient]
    escape = patient_escape[clone_patient]
    crossing = level_crossing(MMR_PCT, onset, rate, params.initial_pct, ceiling, escape)
    cycle = control_cycle_month(clone_patient, onset, rate, params.initial_pct, ceiling, escape, n)
    residual = residual_median(params, cohort.depth_log) * np.exp(
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
        clone_cycle_month=cycle,
        oscillation_log10=params.oscillation_log10,
        oscillation_period_months=params.oscillation_period_months,
    )


def _latency_cdf_on_grid(
    months: NDArray[np.float64], params: ImmuneParams, growth: NDArray[np.float64], n_latency: int
) -> NDArray[np.float64]:
    """``E_alpha[1 - exp(-alpha (t - g)_+)]`` on the grid (t, g), shape (k, n_growth)."""
    x, w = np.polynomial.hermite_e.hermegauss(n_latency)
    w = w / w.sum()
    alpha = params.latency_rate_per_month * np.exp(params.latency_sigma * x)
    wait = np.maximum(months[:, None] - growth[None, :], 0.0)
    return np.asarray(-np.expm1(-wait[..., None] * alpha) @ w, dtype=float)


def survival(
    months: ArrayLike,
    params: ImmuneParams,
    eta: ArrayLike = 0.0,
    level_pct: float = MMR_PCT,
    *,
    n_growth: int = 2000,
    n_latency: int = 96,
    n_escape: int = 256,
    n_ceiling: int = 48,
) -> NDArray[np.float64]:
    """Latent probability that no clone has exceeded ``level_pct`` by each month.

    ``(1 - q) exp(-theta F0(t)) + q E_{E,c}[exp(-theta FH(t; E, c))]`` (module
    docstring) with ``theta = theta0 e^eta``: at MMR the latent relapse-free survival.
    Quadrature: Gauss–Hermite over the latency rate, midpoints of ``n_growth``
    equiprobable growth rates (``FH`` is a tail sum over the sorted rates above
    ``log(d / c) / (t - E)``), and midpoints of ``n_escape`` / ``n_ceiling``
    equiprobable escape months / ceilings. Tested against simulation
    (tests/test_immune.py).

    Parameters
    ----------
    months : array_like, shape (k,) or scalar
        Months after stopping.
    params : ImmuneParams
    eta : array_like, default 0
        Linear predictor; broadcast against ``months``.
    level_pct : float, default 0.1 (MMR)
        Level (% IS) above the initial clone level.

    Returns
    -------
    numpy.ndarray
        Shape of ``broadcast(months, eta)``.
    """
    if level_pct <= params.initial_pct:
        raise ValueError(f"level_pct must exceed initial_pct ({params.initial_pct} % IS)")
    t_b, theta_b = np.broadcast_arrays(
        np.asarray(months, dtype=float),
        params.theta0 * np.exp(np.asarray(eta, dtype=float)),
    )
    t, where = np.unique(t_b, return_inverse=True)
    where = where.reshape(t_b.shape)
    z = special.ndtri((np.arange(n_growth) + 0.5) / n_growth)  # ascending rates
    rate = params.growth_rate_per_month * np.exp(params.growth_sigma * z)
    growth = np.log(level_pct / params.initial_pct) / rate
    a = _latency_cdf_on_grid(t, params, growth, n_latency)  # (k, n_growth)
    free_s = np.exp(-theta_b * a.mean(axis=1)[where])
    q = params.control_probability
    ceiling = np.maximum(
        params.ceiling_median_pct
        * np.exp(params.ceiling_sigma * special.ndtri((np.arange(n_ceiling) + 0.5) / n_ceiling)),
        params.initial_pct,
    )
    below = ceiling < level_pct
    if q == 0 or not below.any():
        return np.asarray(free_s, dtype=float)
    # Tail sums over the sorted rates: tail[i, j] = sum_{j' >= j} a[i, j'] / n_growth.
    tail = np.concatenate([np.cumsum(a[:, ::-1], axis=1)[:, ::-1], np.zeros((t.size, 1))], axis=1)
    tail /= n_growth
    escape = -np.log1p(-(np.arange(n_escape) + 0.5) / n_escape) / params.escape_rate_per_month
    # FH(t; E, c), c < d: the clones with r >= log(d / c) / (t - E) (none while t <= E).
    room = t[:, None, None] - escape[None, :, None]  # (k, nE, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(room > 0, np.log(level_pct / ceiling[below]) / room, np.inf)
    index = np.searchsorted(rate, needed.ravel(), side="left").reshape(t.size, -1)
    held_f = np.take_along_axis(tail, index, axis=1).reshape(needed.shape)  # (k, nE, nc)
    held = np.exp(-theta_b[..., None, None] * held_f[where]).mean(axis=-2).sum(axis=-1)
    held_s = held / n_ceiling + (1.0 - below.mean()) * free_s
    return np.asarray((1 - q) * free_s + q * held_s, dtype=float)


# Every patient with a reactivatable clone relapses at some finite month (latency and
# growth are finite, control ends at a finite escape month): P(ever) = 1 - exp(-theta).
register_model(
    DiseaseModel("immune", ImmuneParams, simulate_immune, survival, recovery="poisson_clones")
)
