"""Score test of proportional hazards, as R's ``cox.zph`` (survival >= 3.0).

R's algorithm (``R/cox.zph.R`` and ``src/zph1.c`` of therneau/survival): the fitted
Cox model is extended by ``beta_j g(t) x_j`` terms, with ``g`` a transform of time
centred on its mean over the events, and the score test that their coefficients are 0
is computed at ``(beta_hat, 0)``. With ``U_k`` the score contribution and ``I_k`` the
information contribution (Efron ties) of distinct event time ``k``:

* ``u = sum_k g_k U_k`` (the score of the time-varying terms),
* the ``2p x 2p`` information ``[[sum I_k, sum g_k I_k], [sum g_k I_k, sum g_k^2 I_k]]``,
* per term (its columns ``J``): ``T = u_J' A^{-1} u_J`` with ``A`` the information
  restricted to all ``p`` fitted columns plus the ``J`` time-varying ones (the
  fitted-score part of the vector set to 0, as R does); df = ``|J|``;
* ``GLOBAL``: the same with every column, df = ``p``.

Unlike the pre-2019 test (:func:`tfrsim.analysis.efron.schoenfeld_ph_test`) this is
an exact score test, not an approximation based on the average variance. Every sum
is a per-time sum of risk-set cumulative sums: linear in the number of rows after one
sort.

Transforms (R's ``transform=``): ``"km"`` 1 - left-continuous Kaplan–Meier of all
rows at the event time; ``"rank"`` the average rank of the time among *all* rows
(censored included, as R's ``rank(times)``); ``"identity"`` months; ``"log"`` log months.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis.efron import _risk, _second_sums, _tied, _Ties, prepare
from tfrsim.analysis.pvalues import chi2_sf, log10_p_chi2
from tfrsim.jsonsafe import json_safe

Array = NDArray[np.float64]
ZphTransform = Literal["km", "rank", "identity", "log"]
ZPH_TRANSFORMS: tuple[str, ...] = ("km", "rank", "identity", "log")
ZPH_COLUMNS: tuple[str, ...] = ("term", "chisq", "df", "p", "log10_p")


@dataclass(frozen=True)
class ZphResult:
    """Proportional-hazards score tests per model term and globally.

    Attributes
    ----------
    terms : tuple of str
        Term names, in the order of the input mapping, then ``"GLOBAL"``.
    chisq : float array
        Score statistics (chi-squared, dimensionless), one per entry of ``terms``.
    df : int array
        Degrees of freedom: columns of the term; ``p`` for ``GLOBAL``.
    p : float array
        Upper-tail chi-squared p-values (may underflow to 0; see ``log10_p``).
    log10_p : float array
        log10 of ``p``, finite where ``p`` underflows.
    transform : str
        Time transform used (``km``, ``rank``, ``identity`` (months), ``log``).
    n, n_events : int
        Rows and events used.
    """

    terms: tuple[str, ...]
    chisq: Array
    df: NDArray[np.int64]
    p: Array
    log10_p: Array
    transform: str
    n: int
    n_events: int

    def to_frame(self) -> pd.DataFrame:
        """One row per term (``GLOBAL`` last): columns ``term, chisq, df, p, log10_p``."""
        return pd.DataFrame(
            {
                "term": list(self.terms),
                "chisq": self.chisq,
                "df": self.df,
                "p": self.p,
                "log10_p": self.log10_p,
            }
        )[list(ZPH_COLUMNS)]

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: ``transform``, ``n``, ``n_events`` and ``tests`` per term."""
        return json_safe(
            {
                "transform": self.transform,
                "n": self.n,
                "n_events": self.n_events,
                "tests": {
                    t: {"chisq": float(c), "df": int(d), "p": float(p), "log10_p": float(lp)}
                    for t, c, d, p, lp in zip(
                        self.terms, self.chisq, self.df, self.p, self.log10_p, strict=True
                    )
                },
            }
        )


def _event_time_transform(
    transform: str, durations: Array, events: NDArray[np.bool_], ties: _Ties
) -> Array:
    """``g`` at each distinct event time (K,), before centring (R's ``ttimes``)."""
    t_sorted = np.sort(durations)
    times = t_sorted[ties.first_event] if ties.first_event.size else np.empty(0)
    if transform == "identity":
        return times.astype(float)
    if transform == "log":
        return np.log(times)
    if transform == "rank":
        # R: rank(times) over all rows, ties averaged.
        below = np.searchsorted(t_sorted, times, side="left")
        tied = np.searchsorted(t_sorted, times, side="right") - below
        return (below + (tied + 1) / 2.0).astype(float)
    if transform == "km":
        # R: 1 - c(1, surv)[findInterval(times, km$time, left.open=TRUE) + 1], i.e.
        # 1 - S(t-): the KM product over event times strictly before t.
        at_risk = (durations.size - np.searchsorted(t_sorted, times, side="left")).astype(float)
        factors = 1.0 - ties.m / at_risk
        before = np.r_[1.0, np.cumprod(factors)[:-1]]
        return 1.0 - before
    raise ValueError(f"transform must be one of {list(ZPH_TRANSFORMS)}, got {transform!r}")


def _score_pieces(ties: _Ties, beta: Array, g: Array) -> tuple[Array, Array, Array, Array]:
    """``u = sum g_k U_k`` and ``sum I_k``, ``sum g_k I_k``, ``sum g_k^2 I_k`` (Efron)."""
    phi = np.exp(ties.x @ beta)
    w = phi[:, None] * ties.x
    r0, r1 = _risk(phi, ties), _risk(w, ties)
    d0, d1 = _tied(phi, ties), _tied(w, ties)
    st, f = ties.slot_time, ties.slot_frac
    inv = 1.0 / (r0[st] - f * d0[st])
    k = ties.start.size
    s0, s1 = np.bincount(st, inv, k), np.bincount(st, f * inv, k)
    inv2 = inv * inv
    t0, t1, t2 = (np.bincount(st, c * inv2, k) for c in (np.ones_like(f), f, f * f))
    x_events = _tied(ties.x * ties.event[:, None], ties)
    score_k = x_events - (r1 * s0[:, None] - d1 * s1[:, None])  # (K, p)
    u = g @ score_k
    r2, d2 = _second_sums(ties, phi, w)

    def information(weight: Array) -> Array:
        a, b0, b1, b2 = weight * s0, weight * t0, weight * t1, weight * t2
        rd = np.einsum("ka,kb->ab", r1 * b1[:, None], d1)
        out: Array = (
            np.einsum("k,kab->ab", a, r2)
            - np.einsum("k,kab->ab", weight * s1, d2)
            - np.einsum("ka,kb->ab", r1 * b0[:, None], r1)
            + rd
            + rd.T
            - np.einsum("ka,kb->ab", d1 * b2[:, None], d1)
        )
        return out

    return u, information(np.ones(k)), information(g), information(g * g)


def cox_zph(
    durations: Array,
    events: NDArray[np.bool_],
    x: Array,
    coef: Array,
    terms: Mapping[str, Sequence[int]] | None = None,
    *,
    transform: ZphTransform = "km",
    global_test: bool = True,
    ties: _Ties | None = None,
) -> ZphResult:
    """R's ``cox.zph(fit, transform=...)`` for a Cox model fitted with Efron ties.

    Parameters
    ----------
    durations : float array, (n,)
        Follow-up (months).
    events : bool array, (n,)
        Event flags (relapse observed).
    x : float array, (n, p)
        Design matrix the model was fitted on (no intercept).
    coef : float array, (p,)
        Fitted log hazard ratios (e.g. :func:`tfrsim.analysis.efron.fit_efron`).
        NaN marks a column that was not estimable (R's NA coefficient): it is
        dropped, with any term left without columns, as R's ``cox.zph`` does.
    terms : mapping, optional
        Term name -> column indices of ``x``; a multi-column term (the two Sokal
        indicators) is one test with that many df. Default: one term per column,
        named ``x0, x1, ...``.
    transform : {"km", "rank", "identity", "log"}, default "km"
        Time transform (R's default is ``"km"``).
    global_test : bool, default True
        Append the ``GLOBAL`` test of all columns.
    ties : optional
        :func:`tfrsim.analysis.efron.prepare` of the same ``x``, durations and events
        (saves sorting them again); ignored when a column is dropped (NaN coef).

    Returns
    -------
    ZphResult
        NaN statistic (and p) for a term whose information matrix is singular
        (e.g. a constant column).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=bool)
    beta = np.asarray(coef, dtype=float).reshape(-1)
    p = x.shape[1]
    if beta.size != p:
        raise ValueError(f"coef has {beta.size} entries but x has {p} columns")
    if not events.any():
        raise ValueError("cox_zph needs at least one event; got none")
    if terms is None:
        terms = {f"x{j}": [j] for j in range(p)}
    columns = {name: np.asarray(cols, dtype=np.intp).reshape(-1) for name, cols in terms.items()}
    for name, cols in columns.items():
        if cols.size == 0 or cols.min() < 0 or cols.max() >= p:
            raise ValueError(f"term {name!r} has column indices {cols.tolist()} outside 0..{p - 1}")
    keep = np.isfinite(beta)
    if not keep.all():
        new_index = np.cumsum(keep) - 1
        columns = {
            name: new_index[cols[keep[cols]]] for name, cols in columns.items() if keep[cols].any()
        }
        x, beta, p = x[:, keep], beta[keep], int(keep.sum())
        ties = None
    if ties is None:
        ties = prepare(x, durations, events)
    g = _event_time_transform(transform, durations, events, ties)
    g = g - (ties.m @ g) / ties.m.sum()  # R: gtime - mean(ttimes[event])
    u, info, info_g, info_gg = _score_pieces(ties, beta, g)

    def statistic(cols: NDArray[np.intp]) -> float:
        a = np.block([[info, info_g[:, cols]], [info_g[cols, :], info_gg[np.ix_(cols, cols)]]])
        vector = np.r_[np.zeros(p), u[cols]]
        try:
            return float(vector @ np.linalg.solve(a, vector))
        except np.linalg.LinAlgError:  # e.g. a constant column: no test (NaN)
            return float("nan")

    names = list(columns)
    stats = [statistic(c) for c in columns.values()]
    dfs = [int(c.size) for c in columns.values()]
    if global_test:
        names.append("GLOBAL")
        stats.append(statistic(np.arange(p)))
        dfs.append(p)
    chisq, df = np.asarray(stats, dtype=float), np.asarray(dfs, dtype=np.int64)
    return ZphResult(
        terms=tuple(names),
        chisq=chisq,
        df=df,
        p=np.asarray(chi2_sf(chisq, df), dtype=float),
        log10_p=log10_p_chi2(chisq, df),
        transform=transform,
        n=int(durations.size),
        n_events=int(events.sum()),
    )
