"""p-values that do not underflow: base-10 logarithms from the test statistic.

At 10^6 patients a chi-squared statistic of a few thousand is common and its p-value
(``chi2.sf``) underflows to 0.0. The log survival function of scipy stays finite further,
but itself returns -inf beyond about ``p = 1e-308`` for df > 1, so the far tail is
computed here from the continued fraction of the upper incomplete gamma function.
p-values are carried as ``log10 p`` and only formatted at the end.

The normal, t and chi-squared functions of the analyses (:func:`norm_ppf`,
:func:`norm_sf`, :func:`t_ppf`, :func:`chi2_sf`) call the ``scipy.special`` functions that
``scipy.stats.norm``, ``t`` and ``chi2`` call (the same numbers, checked in the
tests), because importing ``scipy.stats`` costs 0.35-0.5 s, ~7 % of a default run at
10^6 patients and paid again by every process of a sweep (measured 2 December 2026),
and nothing else in a run needs it.
"""

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc, gammaln, log_ndtr, ndtr, ndtri, stdtrit

#: Below this p-value the formatter prints a bound ("p < 1e-300"). ASSUMPTION: 1e-300
#: is near the smallest normal double (2.2e-308), the point where printing a float p
#: stops being meaningful for readers.
FORMAT_FLOOR_LOG10: float = -300.0


#: Natural-log p-value below which the continued fraction replaces scipy's logsf.
#: ASSUMPTION: -500 is safely above where scipy's logsf breaks down (about -708,
#: the log of the smallest double), and there x/2 > df/2 + 1, where the fraction
#: converges fast.
_CF_BELOW_LN: float = -500.0
#: Continued-fraction terms. ASSUMPTION: for z > a + 1 the modified Lentz iteration
#: converges to machine precision within a few dozen terms (Numerical Recipes,
#: 3rd ed., section 6.2); 300 leaves a wide margin.
_CF_TERMS: int = 300


def _log_upper_gamma_q(a: NDArray[np.float64], z: NDArray[np.float64]) -> NDArray[np.float64]:
    """log of the regularised upper incomplete gamma ``Q(a, z)`` for ``z > a + 1``, by
    its continued fraction (modified Lentz; Numerical Recipes 3rd ed., eq. 6.2.7)."""
    tiny = 1e-300
    b = z + 1.0 - a
    c = np.full_like(z, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, _CF_TERMS + 1):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        h = h * d * c
    out: NDArray[np.float64] = -z + a * np.log(z) - gammaln(a) + np.log(h)
    return out


def norm_ppf(q: ArrayLike) -> NDArray[np.float64]:
    """Standard normal quantile, ``scipy.stats.norm.ppf`` (``scipy.special.ndtri``)."""
    return np.asarray(ndtri(np.asarray(q, dtype=float)), dtype=float)


def norm_sf(x: ArrayLike) -> NDArray[np.float64]:
    """Standard normal upper tail ``P(Z > x)``, ``scipy.stats.norm.sf``."""
    return np.asarray(ndtr(-np.asarray(x, dtype=float)), dtype=float)


def t_ppf(q: ArrayLike, df: ArrayLike) -> NDArray[np.float64]:
    """Student t quantile, ``scipy.stats.t.ppf`` (``scipy.special.stdtrit``; at
    ``q`` = 0 and 1 the ends of the support, as scipy.stats)."""
    p = np.asarray(q, dtype=float)
    inner = stdtrit(np.asarray(df, dtype=float), p)
    return np.asarray(np.where(p == 0.0, -np.inf, np.where(p == 1.0, np.inf, inner)))


def chi2_sf(statistic: ArrayLike, df: ArrayLike) -> float | NDArray[np.float64]:
    """Chi-squared upper tail ``P(X >= statistic)``, ``scipy.stats.chi2.sf``.

    Parameters
    ----------
    statistic : float or array
        Chi-squared statistic(s); below 0 (outside the support) the tail is 1, NaN
        stays NaN, as in scipy.stats.
    df : float or array
        Degrees of freedom (> 0).

    Returns
    -------
    float or numpy.ndarray
        A float for scalar inputs.
    """
    x = np.asarray(statistic, dtype=float)
    out = np.asarray(chdtrc(np.asarray(df, dtype=float), np.maximum(x, 0.0)), dtype=float)
    return float(out) if out.ndim == 0 else out


def log10_p_chi2(statistic: ArrayLike, df: ArrayLike) -> NDArray[np.float64]:
    """log10 of the upper-tail chi-squared p-value, ``log10 P(X >= statistic)``.

    Parameters
    ----------
    statistic : float or array
        Chi-squared statistic(s) (dimensionless, >= 0).
    df : float or array
        Degrees of freedom (> 0), broadcast against ``statistic``.

    Returns
    -------
    numpy.ndarray
        ``chi2.logsf(statistic, df) / ln 10``; finite where ``chi2.sf`` underflows.
    """
    x, k = np.broadcast_arrays(np.asarray(statistic, dtype=float), np.asarray(df, dtype=float))
    with np.errstate(divide="ignore"):  # log(0) = -inf where the tail underflows
        ln_p = np.asarray(np.log(chi2_sf(x, k)), dtype=float)  # scipy's chi2.logsf
    far = ~(ln_p > _CF_BELOW_LN) & np.isfinite(x) & (x / 2.0 > k / 2.0 + 1.0)
    if far.any():
        ln_p = ln_p.copy()
        ln_p[far] = _log_upper_gamma_q(k[far] / 2.0, x[far] / 2.0)
    return ln_p / math.log(10.0)


def log10_p_normal(z: ArrayLike) -> NDArray[np.float64]:
    """log10 of the two-sided normal p-value ``2 P(Z >= |z|)``.

    Parameters
    ----------
    z : float or array
        Standard-normal statistic(s), e.g. coefficient / SE (dimensionless).
    """
    log_sf = log_ndtr(-np.abs(np.asarray(z, dtype=float)))  # scipy's norm.logsf
    return np.asarray((math.log(2.0) + log_sf) / math.log(10.0), dtype=float)


def format_p(log10_p: float, *, digits: int = 2, floor_log10: float = FORMAT_FLOOR_LOG10) -> str:
    """Format a p-value given as ``log10 p``.

    Parameters
    ----------
    log10_p : float
        Base-10 logarithm of the p-value (<= 0), e.g. from :func:`log10_p_chi2`.
    digits : int, default 2
        Significant digits.
    floor_log10 : float, default -300
        At or below this, a bound ``"p < 1e-300"`` is returned.

    Returns
    -------
    str
        ``"p = 0.032"``, ``"p = 4.1e-12"``, ``"p < 1e-300"``; ``"p = NA"`` for NaN.
    """
    if math.isnan(log10_p):
        return "p = NA"
    if log10_p <= floor_log10:
        return f"p < 1e{int(floor_log10)}"
    if log10_p >= 0.0:
        return "p = 1"
    p = 10.0**log10_p
    if p >= 1e-3:
        return f"p = {p:.{digits}g}"
    exponent = math.floor(log10_p)
    mantissa = 10.0 ** (log10_p - exponent)
    if round(mantissa, digits - 1) >= 10.0:  # 9.96e-5 rounds to 1.0e-4
        mantissa, exponent = mantissa / 10.0, exponent + 1
    return f"p = {mantissa:.{digits - 1}f}e{exponent}"
