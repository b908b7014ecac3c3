"""Phenomenological mixture-cure model: logistic cure fraction + Weibull latency.

``P(cure | x) = 1 / (1 + exp(-(cure_logit0 - eta(x))))``; an uncured patient relapses
(crosses MMR) after ``T ~ Weibull(k, scale * exp(-eta(x) / k))`` months, i.e. with a
hazard ``exp(eta)`` times the reference hazard. Population curve:
``S(t | x) = pi(x) + (1 - pi(x)) exp(-(t / scale(x))^k)``.

A baseline for comparison and for teaching; its BCR-ABL course (one clone that grows
at a fixed rate and crosses MMR exactly at ``T``) exists so that the same observation
model applies.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from tfrsim import checks as c
from tfrsim.cohort.sample import Cohort
from tfrsim.disease.course import Course, linear_predictor, residual_levels
from tfrsim.disease.params import MMR_PCT, CovariateEffects, check_course_levels
from tfrsim.disease.registry import DiseaseModel, register_model


@dataclass(frozen=True)
class MixtureCureParams:
    """Phenomenological mixture-cure model.

    ``P(cure | x) = logistic(cure_logit0 - eta(x))`` and, if not cured, a
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
    growth_rate_per_month, initial_pct, residual_median_pct, residual_sigma
        As in :class:`~tfrsim.disease.clonal.ClonalParams`; used only to draw a
        BCR-ABL course.
    effects : CovariateEffects
        Covariate effects; the same linear predictor lowers the cure log-odds and
        raises the latency hazard.
    plateau_pct : float, default 100
        Saturation level of a regrowing clone (% IS).
    """

    cure_logit0: float
    weibull_shape: float
    weibull_scale_months: float
    growth_rate_per_month: float
    initial_pct: float
    residual_median_pct: float
    residual_sigma: float
    effects: CovariateEffects
    plateau_pct: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cure_logit0", c.finite("cure_logit0", self.cure_logit0))
        object.__setattr__(self, "weibull_shape", c.positive("weibull_shape", self.weibull_shape))
        object.__setattr__(
            self,
            "weibull_scale_months",
            c.positive("weibull_scale_months", self.weibull_scale_months, "months"),
        )
        object.__setattr__(
            self,
            "growth_rate_per_month",
            c.positive("growth_rate_per_month", self.growth_rate_per_month, "per month"),
        )
        check_course_levels(self)


def cure_probability(params: MixtureCureParams, eta: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Probability of never relapsing at linear predictor ``eta``."""
    return np.asarray(special.expit(params.cure_logit0 - np.asarray(eta, dtype=float)))


def weibull_scale(params: MixtureCureParams, eta: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Weibull scale (months) of the uncured at linear predictor ``eta``."""
    return np.asarray(
        params.weibull_scale_months * np.exp(-np.asarray(eta, dtype=float) / params.weibull_shape)
    )


def simulate_mixture_cure(
    cohort: Cohort, params: MixtureCureParams, *, rng: np.random.Generator
) -> Course:
    """Simulate the latent course of every patient under the mixture-cure model.

    Parameters
    ----------
    cohort : Cohort
    params : MixtureCureParams
    rng : numpy.random.Generator
        The disease stream.

    Returns
    -------
    Course
    """
    n = len(cohort)
    eta = linear_predictor(cohort, params.effects)
    latent_rng, residual_rng = rng.spawn(2)  # patient-order draws, see clonal.py
    u = latent_rng.random((n, 2)).T
    cured = u[0] < cure_probability(params, eta)
    # Inverse CDF of the Weibull: T = scale * (-log(1 - U))^(1/k).
    latent = weibull_scale(params, eta) * (-np.log1p(-u[1])) ** (1.0 / params.weibull_shape)
    relapse = np.where(cured, np.nan, latent)
    residual = residual_levels(
        n, params.residual_median_pct, params.residual_sigma, rng=residual_rng
    )
    clone_patient = np.flatnonzero(~cured).astype(np.int64)
    # One clone per relapser, started so that it crosses MMR exactly at T.
    onset = (
        latent[clone_patient] - np.log(MMR_PCT / params.initial_pct) / params.growth_rate_per_month
    )
    return Course(
        relapse_month=relapse,
        n_clones=(~cured).astype(np.int64),
        residual_pct=residual,
        clone_patient=clone_patient,
        clone_onset_month=onset,
        clone_rate_per_month=np.full(clone_patient.size, params.growth_rate_per_month),
        initial_pct=params.initial_pct,
        plateau_pct=params.plateau_pct,
    )


def survival(
    months: ArrayLike, params: MixtureCureParams, eta: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """Closed-form relapse-free survival ``pi + (1 - pi) exp(-(t/scale)^k)``."""
    t = np.asarray(months, dtype=float)
    pi = cure_probability(params, eta)
    return np.asarray(
        pi + (1 - pi) * np.exp(-((t / weibull_scale(params, eta)) ** params.weibull_shape))
    )


register_model(
    DiseaseModel(
        "mixture_cure",
        MixtureCureParams,
        simulate_mixture_cure,
        survival,
        recovery="mixture_cure",
    )
)
