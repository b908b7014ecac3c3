"""Fit statistics of a Cox model (Efron ties): log-likelihoods, LR test, AIC, C.

The numbers R's ``summary(coxph(...))`` prints: ``loglik`` (at 0 and at the fit),
the likelihood-ratio test ``2 (l(beta) - l(0))`` on ``p`` df, ``AIC = -2 l(beta) + 2p``
(``stats::AIC`` of a ``coxph``) and the concordance of the linear predictor with its
standard error (:mod:`tfrsim.analysis.concordance`).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tfrsim.analysis.concordance import ConcordanceResult, concordance_index
from tfrsim.analysis.efron import _efron_terms, _Ties, prepare
from tfrsim.analysis.pvalues import chi2_sf, log10_p_chi2
from tfrsim.jsonsafe import json_safe


@dataclass(frozen=True)
class CoxFitStatistics:
    """Likelihood-based statistics and concordance of a fitted Cox model.

    Attributes
    ----------
    loglik : float
        Log partial likelihood (Efron) at the fitted coefficients.
    loglik_null : float
        Log partial likelihood at ``beta = 0``.
    lr_statistic : float
        ``2 (loglik - loglik_null)`` (chi-squared on ``df``).
    df : int
        Number of coefficients ``p``.
    p, log10_p : float
        Upper-tail chi-squared p-value of the LR test and its log10.
    aic : float
        ``-2 loglik + 2 p``.
    concordance : ConcordanceResult
        Harrell's C of ``x @ coef`` (R's ``coxph`` concordance, with SE).
    n, n_events : int
    """

    loglik: float
    loglik_null: float
    lr_statistic: float
    df: int
    p: float
    log10_p: float
    aic: float
    concordance: ConcordanceResult
    n: int
    n_events: int

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of every statistic (concordance as ``concordance``,
        ``concordance_se``)."""
        return json_safe(
            {
                "loglik": self.loglik,
                "loglik_null": self.loglik_null,
                "lr_statistic": self.lr_statistic,
                "df": self.df,
                "p": self.p,
                "log10_p": self.log10_p,
                "aic": self.aic,
                "concordance": self.concordance.concordance,
                "concordance_se": self.concordance.se,
                "n": self.n,
                "n_events": self.n_events,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One-row table of :meth:`summary`."""
        return pd.DataFrame([self.summary()])


def cox_loglik(
    durations: ArrayLike, events: ArrayLike, x: ArrayLike, coef: ArrayLike, *, ties: Any = None
) -> float:
    """Efron log partial likelihood at ``coef`` (invariant to centring ``x``).

    Parameters
    ----------
    durations : float array, (n,)
        Months.
    events : bool array, (n,)
    x : float array, (n, p)
    coef : float array, (p,)
        Log hazard ratios.
    ties : optional
        :func:`tfrsim.analysis.efron.prepare` of the same data.
    """
    prepared: _Ties = ties if ties is not None else _prepare(durations, events, x)
    return float(_efron_terms(prepared, np.asarray(coef, dtype=float), second=False)[0])


def _prepare(durations: ArrayLike, events: ArrayLike, x: ArrayLike) -> _Ties:
    xm = np.asarray(x, dtype=float)
    if xm.ndim == 1:
        xm = xm[:, None]
    return prepare(xm, np.asarray(durations, dtype=float), np.asarray(events, dtype=bool))


def cox_fit_statistics(
    durations: ArrayLike,
    events: ArrayLike,
    x: ArrayLike,
    coef: ArrayLike,
    *,
    ties: _Ties | None = None,
    logliks: tuple[float, float] | None = None,
    threads: int = 1,
) -> CoxFitStatistics:
    """Log-likelihoods, LR test, AIC and concordance of a fitted Cox model.

    Parameters
    ----------
    durations : float array, (n,)
        Follow-up (months).
    events : bool array, (n,)
        Event flags; at least one.
    x : float array, (n, p)
        Design matrix of the fit.
    coef : float array, (p,)
        Fitted log hazard ratios (e.g. :func:`tfrsim.analysis.efron.fit_efron`).
    ties : optional
        :func:`tfrsim.analysis.efron.prepare` of the same data (saves sorting it again).
    logliks : (float, float), optional
        Log partial likelihoods at ``coef`` and at 0 already computed on ``ties``
        (:attr:`~tfrsim.analysis.efron.EfronFit.loglik` and ``loglik_null``: the same
        numbers, not computed again).
    threads : int, default 1
        Threads of the concordance (:func:`~tfrsim.analysis.concordance.concordance_index`).

    Returns
    -------
    CoxFitStatistics
    """
    xm = np.asarray(x, dtype=float)
    if xm.ndim == 1:
        xm = xm[:, None]
    beta = np.asarray(coef, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    t = np.asarray(durations, dtype=float).reshape(-1)
    if not e.any():
        raise ValueError("cox_fit_statistics needs at least one event; got none")
    if ties is None:
        ties = _prepare(t, e, xm)
    if logliks is not None:
        loglik, null = logliks
    else:
        loglik = cox_loglik(t, e, xm, beta, ties=ties)
        null = cox_loglik(t, e, xm, np.zeros_like(beta), ties=ties)
    lr = 2.0 * (loglik - null)
    p = int(beta.size)
    return CoxFitStatistics(
        loglik=loglik,
        loglik_null=null,
        lr_statistic=lr,
        df=p,
        p=float(chi2_sf(lr, p)),
        log10_p=float(log10_p_chi2(lr, p)),
        aic=-2.0 * loglik + 2.0 * p,
        concordance=concordance_index(t, e, xm @ beta, threads=threads),
        n=int(t.size),
        n_events=int(e.sum()),
    )
