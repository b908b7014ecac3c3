"""p-values that do not underflow: base-10 logarithms from the test statistic.

At 10^6 patients a chi-squared statistic of a few thousand is common and its p-value
(``chi2.sf``) underflows to 0.0. The log survival function of scipy stays finite far
beyond (``chi2.logsf(1e5, 1)`` is about -5e4), so p-values are carried as
``log10 p`` and only formatted at the end.
"""

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2, norm

#: Below this p-value the formatter prints a bound ("p < 1e-300"). ASSUMPTION: 1e-300
#: is near the smallest normal double (2.2e-308), the point where printing a float p
#: stops being meaningful for readers.
FORMAT_FLOOR_LOG10: float = -300.0


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
    return np.asarray(chi2.logsf(statistic, df) / math.log(10.0), dtype=float)


def log10_p_normal(z: ArrayLike) -> NDArray[np.float64]:
    """log10 of the two-sided normal p-value ``2 P(Z >= |z|)``.

    Parameters
    ----------
    z : float or array
        Standard-normal statistic(s), e.g. coefficient / SE (dimensionless).
    """
    return np.asarray(
        (math.log(2.0) + norm.logsf(np.abs(np.asarray(z, dtype=float)))) / math.log(10.0),
        dtype=float,
    )


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
