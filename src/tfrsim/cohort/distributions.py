"""Truncated distributions sampled by inverse CDF (vectorised, one uniform per draw)."""

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import special

if TYPE_CHECKING:
    from tfrsim.cohort.params import LogNormalParams


def _norm_cdf(z: NDArray[np.float64] | float) -> NDArray[np.float64]:
    return np.asarray(special.ndtr(z), dtype=float)


def _norm_ppf(p: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(special.ndtri(p), dtype=float)


def lognormal_mass(dist: "LogNormalParams", lo: float, hi: float = np.inf) -> float:
    """Probability that a log-normal variable lies in ``[lo, hi]``."""
    if dist.sigma == 0:
        return float(lo <= dist.median <= hi)
    z_lo = (np.log(lo) - np.log(dist.median)) / dist.sigma if lo > 0 else -np.inf
    z_hi = (np.log(hi) - np.log(dist.median)) / dist.sigma if np.isfinite(hi) else np.inf
    return float(_norm_cdf(z_hi) - _norm_cdf(z_lo))


def truncated_lognormal(
    u: NDArray[np.float64],
    dist: "LogNormalParams",
    lo: float = 0.0,
    hi: "float | NDArray[np.float64]" = np.inf,
) -> NDArray[np.float64]:
    """Map uniforms ``u`` to a log-normal truncated to ``[lo, hi]``.

    ``hi`` may be an array (one upper bound per draw, e.g. a patient's own limit).
    """
    if dist.sigma == 0:
        return np.minimum(np.full(u.shape, dist.median), hi)
    log_median = np.log(dist.median)
    z_lo = (np.log(lo) - log_median) / dist.sigma if lo > 0 else -np.inf
    with np.errstate(divide="ignore"):
        z_hi = (np.log(np.asarray(hi, dtype=float)) - log_median) / dist.sigma
    p_lo, p_hi = _norm_cdf(z_lo), _norm_cdf(z_hi)
    # Clip away from 0 and 1 so ndtri stays finite.
    p = np.clip(p_lo + u * (p_hi - p_lo), 1e-15, 1 - 1e-15)
    return np.asarray(np.exp(log_median + dist.sigma * _norm_ppf(p)), dtype=float)


def normal_mass(mean: float, sd: float, lo: float, hi: float) -> float:
    """Probability that a normal variable lies in ``[lo, hi]``."""
    if sd == 0:
        return float(lo <= mean <= hi)
    return float(_norm_cdf((hi - mean) / sd) - _norm_cdf((lo - mean) / sd))


def truncated_normal(
    u: NDArray[np.float64], mean: float, sd: float, lo: float, hi: float
) -> NDArray[np.float64]:
    """Map uniforms ``u`` to a normal truncated to ``[lo, hi]``."""
    if sd == 0:
        return np.full(u.shape, mean)
    p_lo, p_hi = _norm_cdf((lo - mean) / sd), _norm_cdf((hi - mean) / sd)
    p = np.clip(p_lo + u * (p_hi - p_lo), 1e-15, 1 - 1e-15)
    return mean + sd * _norm_ppf(p)


def categorical(u: NDArray[np.float64], probs: NDArray[np.float64]) -> NDArray[np.int8]:
    """Map uniforms ``u`` to category codes ``0..len(probs)-1``."""
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # guard against rounding: every u < 1 gets a category
    return np.searchsorted(cum, u, side="right").astype(np.int8)
