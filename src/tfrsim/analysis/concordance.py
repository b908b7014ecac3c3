"""Harrell's concordance of a risk score with censored times, as R's ``coxph``.

R's ``coxph`` reports ``concordancefit(y, linear.predictors, reverse=TRUE,
timefix=FALSE)`` (``R/coxph.R``, ``R/concordance.R``, ``src/concordance3.c`` of
therneau/survival, ``timewt="n"``). A pair is *comparable* when the shorter time is an
event; a subject censored at the time of an event counts as outliving it. Two events
at the same time are not comparable (``tied.y``, or ``tied.xy`` if their scores are
also equal). Among comparable pairs: *concordant* when the event has the higher risk
score, *discordant* when lower, *tied.x* when equal (counted 1/2):
``C = (concordant + tied.x / 2) / (concordant + discordant + tied.x)``.
Its standard error is R's infinitesimal-jackknife one: ``sqrt(sum_i dfbeta_i^2)``
with ``dfbeta_i = ((C_i - D_i) - (C_i + D_i + T_i) s) / (2 N)``, where ``C_i, D_i,
T_i`` count the concordant, discordant and tied.x pairs that subject ``i`` is in,
``s`` is Somers' d and ``N`` the number of comparable pairs.

Counting is a bottom-up merge sort written with numpy (one stable sort and a few
cumulative sums per level, ``log2 n`` levels): ``O(n log n)``, no loop over patients.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.jsonsafe import json_safe

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class ConcordanceResult:
    """Harrell's C of a risk score (higher score = earlier event).

    Attributes
    ----------
    concordance : float
        Probability-scale concordance in [0, 1] (0.5 = no discrimination).
    se : float
        Infinitesimal-jackknife standard error of ``concordance`` (R's ``std``).
    concordant, discordant, tied_risk, tied_time, tied_both : int
        Pair counts (R's ``concordant``, ``discordant``, ``tied.x``, ``tied.y``,
        ``tied.xy``).
    n : int
        Subjects.
    lower, upper : float
        Normal ``1 - alpha`` CI of ``concordance`` (``C -+ z se``, clipped to [0, 1]).
    alpha : float
        1 - confidence level.
    """

    concordance: float
    se: float
    concordant: int
    discordant: int
    tied_risk: int
    tied_time: int
    tied_both: int
    n: int
    lower: float = float("nan")
    upper: float = float("nan")
    alpha: float = 0.05

    def to_frame(self) -> pd.DataFrame:
        """One-row table of every field."""
        return pd.DataFrame([self.summary()])

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return json_safe(
            {
                "concordance": self.concordance,
                "se": self.se,
                "concordant": self.concordant,
                "discordant": self.discordant,
                "tied_risk": self.tied_risk,
                "tied_time": self.tied_time,
                "tied_both": self.tied_both,
                "n": self.n,
                "lower": self.lower,
                "upper": self.upper,
                "alpha": self.alpha,
            }
        )


def _group_bounds(keys: IntArray) -> tuple[IntArray, IntArray]:
    """For sorted ``keys``: first index and one-past-last index of each row's run."""
    n = keys.size
    idx = np.arange(n)
    new = np.r_[True, keys[1:] != keys[:-1]]
    lo = np.maximum.accumulate(np.where(new, idx, 0))
    last = np.r_[keys[1:] != keys[:-1], True]
    hi = np.minimum.accumulate(np.where(last, idx + 1, n)[::-1])[::-1]
    return lo, hi


def _ordered_pair_counts(rank: IntArray, event: NDArray[np.bool_]) -> tuple[IntArray, ...]:
    """Per position ``i``: over pairs ``(a, i)`` with ``a < i`` and ``event[a]``, the
    counts with ``rank[a] >, <, == rank[i]``; and over pairs ``(i, b)`` with
    ``b > i`` (``event[i]``), the counts with ``rank[b] <, >, == rank[i]``.

    Returns ``later_gt, later_lt, later_eq, earlier_lt, earlier_gt, earlier_eq``.
    """
    n = rank.size
    n_ranks = int(rank.max()) + 1 if n else 1
    pos = np.arange(n, dtype=np.int64)
    out = [np.zeros(n, dtype=np.int64) for _ in range(6)]
    perm = pos.copy()
    block = 1
    while block < n:
        key = (pos // (2 * block)) * n_ranks + rank
        perm = perm[np.argsort(key[perm], kind="stable")]  # runs: timsort merges
        ks = key[perm]
        left = ((perm // block) % 2) == 0
        lo, hi = _group_bounds(ks)
        ps, pe = _group_bounds(ks // n_ranks)
        left_events = np.r_[0, np.cumsum(left & event[perm])]
        right_all = np.r_[0, np.cumsum(~left)]
        r = ~left
        i = perm[r]
        out[0][i] += left_events[pe[r]] - left_events[hi[r]]
        out[1][i] += left_events[lo[r]] - left_events[ps[r]]
        out[2][i] += left_events[hi[r]] - left_events[lo[r]]
        le = left & event[perm]
        i = perm[le]
        out[3][i] += right_all[lo[le]] - right_all[ps[le]]
        out[4][i] += right_all[pe[le]] - right_all[hi[le]]
        out[5][i] += right_all[hi[le]] - right_all[lo[le]]
        block *= 2
    return tuple(out)


def concordance_index(
    durations: Array, events: NDArray[np.bool_], risk: Array, *, alpha: float = 0.05
) -> ConcordanceResult:
    """Harrell's C and its standard error, as R's ``coxph(...)$concordance``.

    Parameters
    ----------
    durations : float array, (n,)
        Follow-up (months).
    events : bool array, (n,)
        Event flags.
    risk : float array, (n,)
        Risk score, higher = earlier event (a Cox linear predictor ``x @ beta``).
        Scores are compared exactly (equal floats are tied).
    alpha : float, default 0.05
        1 - confidence level of the normal CI.

    Returns
    -------
    ConcordanceResult
        NaN concordance and SE when no pair is comparable.
    """
    t = np.asarray(durations, dtype=float).reshape(-1)
    e = np.asarray(events, dtype=bool).reshape(-1)
    score = np.asarray(risk, dtype=float).reshape(-1)
    if not (t.size == e.size == score.size):
        raise ValueError("durations, events and risk must have the same length")
    if not np.isfinite(score).all() or not np.isfinite(t).all():
        raise ValueError("durations and risk must be finite")
    # Time ascending; at a tied time events first (censored subjects outlive them);
    # tied events by decreasing score, so a non-comparable tied-event pair is always
    # counted below as concordant or tied (and then removed exactly).
    order = np.lexsort((-score, ~e, t))
    ts, es, ss = t[order], e[order], score[order]
    rank = np.unique(ss, return_inverse=True)[1].astype(np.int64).reshape(-1)
    lg, ll, leq, el, eg, eeq = _ordered_pair_counts(rank, es)
    conc_i = lg + el
    disc_i = ll + eg
    tied_i = leq + eeq
    # Pairs of events at the same time: each event x was paired with every other
    # event of its time; those pairs are not comparable.
    time_id = np.unique(ts, return_inverse=True)[1].astype(np.int64).reshape(-1)
    ev_key = (time_id * (int(rank.max()) + 1) + rank)[es]
    sorted_key = np.sort(ev_key)
    same_time = np.searchsorted(sorted_key, (time_id[es] + 1) * (int(rank.max()) + 1), "left")
    same_time -= np.searchsorted(sorted_key, time_id[es] * (int(rank.max()) + 1), "left")
    same_both = np.searchsorted(sorted_key, ev_key, "right") - np.searchsorted(
        sorted_key, ev_key, "left"
    )
    wrong_tied = same_both - 1
    wrong_conc = same_time - same_both
    conc_i[es] -= wrong_conc
    tied_i[es] -= wrong_tied
    concordant = int(conc_i.sum() // 2)
    discordant = int(disc_i.sum() // 2)
    tied_risk = int(tied_i.sum() // 2)
    tied_both = int(wrong_tied.sum() // 2)
    tied_time = int(wrong_conc.sum() // 2)
    pairs = concordant + discordant + tied_risk
    if pairs == 0:
        return ConcordanceResult(
            np.nan, np.nan, 0, 0, 0, tied_time, tied_both, int(t.size), alpha=alpha
        )
    somers = (concordant - discordant) / pairs
    dfbeta = ((conc_i - disc_i) - (conc_i + disc_i + tied_i) * somers) / (2.0 * pairs)
    c_index = (somers + 1.0) / 2.0
    se = float(np.sqrt(np.sum(dfbeta**2)))
    from scipy.stats import norm  # lazy: fast config translation

    z = float(norm.ppf(1.0 - alpha / 2.0))
    return ConcordanceResult(
        concordance=c_index,
        se=se,
        lower=max(c_index - z * se, 0.0),
        upper=min(c_index + z * se, 1.0),
        alpha=alpha,
        concordant=concordant,
        discordant=discordant,
        tied_risk=tied_risk,
        tied_time=tied_time,
        tied_both=tied_both,
        n=int(t.size),
    )
