"""Replicate ensembles and paired scenario comparisons, in one process.

:func:`run_ensemble` simulates ``R`` independent replicates of one study (replicate
``r`` reseeded from ``(seed, r)`` through the named streams), analyses each and
returns every estimand per replicate in the one tidy schema
(:data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS` plus ``replicate``), with a
:meth:`EnsembleResult.reduce` to medians and 95 % bands (as starsim's
``MultiSim.reduce``).

:func:`compare` runs two configurations on the **same patients** (common random
numbers: same seed and replicates, so changing only the rule, the schedule or the
assay leaves cohort and latent course identical) and reports each estimand's
difference with a CI from the paired replicates, beside the unpaired CI the same
replicates would give if the scenarios had independent patients.
"""

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tfrsim.analysis.estimands import ESTIMAND_COLUMNS
from tfrsim.analysis.pvalues import t_ppf
from tfrsim.execution import run_study
from tfrsim.study import StudyParams

log = logging.getLogger(__name__)

#: Columns identifying one estimand across replicates.
KEY_COLUMNS: tuple[str, ...] = ("analysis", "estimand", "group", "covariate", "month")


def _replicates(params: StudyParams, replicates: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(replicates, int):
        if replicates < 1:
            raise ValueError(f"replicates must be >= 1; got {replicates}")
        return tuple(range(params.replicate, params.replicate + replicates))
    reps = tuple(int(r) for r in replicates)
    if not reps or len(set(reps)) != len(reps) or min(reps) < 0:
        raise ValueError(f"replicates must be distinct integers >= 0; got {list(replicates)}")
    return reps


@dataclass(frozen=True)
class EnsembleResult:
    """Every estimand of every replicate of one study.

    Attributes
    ----------
    params : StudyParams
        The study (its ``replicate`` is the first replicate's).
    replicates : tuple of int
        Replicate numbers simulated.
    estimands : pandas.DataFrame
        :data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS` plus ``replicate``, one
        row per replicate and estimand.
    n_patients : tuple of int
        Patients simulated in each replicate (in the order of ``replicates``).
    """

    params: StudyParams
    replicates: tuple[int, ...]
    estimands: pd.DataFrame
    n_patients: tuple[int, ...] = ()

    def reduce(self, level: float = 0.95) -> pd.DataFrame:
        """Across replicates, per estimand: ``n``, ``mean``, ``sd``, ``median`` and the
        central ``level`` interval of single-replicate values (``lower``, ``upper``),
        plus ``mean_lower``/``mean_upper``, the ``level`` CI of the mean (t)."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got {level}")
        tail = (1 - level) / 2
        grouped = self.estimands.groupby(list(KEY_COLUMNS), dropna=False, sort=False)["value"]
        out = grouped.agg(
            n="count",
            mean="mean",
            sd="std",
            median="median",
            lower=lambda v: v.quantile(tail),
            upper=lambda v: v.quantile(1 - tail),
        ).reset_index()
        half = _t_half_width(out["sd"].to_numpy(float), out["n"].to_numpy(float), level)
        out["mean_lower"] = out["mean"] - half
        out["mean_upper"] = out["mean"] + half
        return out


def _t_half_width(sd: np.ndarray, n: np.ndarray, level: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        q = t_ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        return np.where(n > 1, q * sd / np.sqrt(n), np.nan)


def run_ensemble(
    params: StudyParams, replicates: int | Sequence[int], *, progress: bool = False
) -> EnsembleResult:
    """Simulate and analyse ``replicates`` independent replicates of one study.

    Parameters
    ----------
    params : StudyParams
        The study; replicate numbers start at ``params.replicate`` when
        ``replicates`` is a count.
    replicates : int or sequence of int
        How many replicates, or which replicate numbers.
    progress : bool, default False
        Progress bar over replicates (only on a terminal).

    Returns
    -------
    EnsembleResult
    """
    reps = _replicates(params, replicates)
    frames, sizes = [], []
    for r in tqdm(reps, desc="replicates", unit="rep", disable=None if progress else True):
        result = run_study(dataclasses.replace(params, replicate=r), keep_visits=0)
        frames.append(result.analysis.to_frame().assign(replicate=r))
        sizes.append(len(result.patients))
    table = pd.concat(frames, ignore_index=True)[[*ESTIMAND_COLUMNS, "replicate"]]
    return EnsembleResult(params=params, replicates=reps, estimands=table, n_patients=tuple(sizes))


@dataclass(frozen=True)
class Comparison:
    """Scenario B minus scenario A on the same patients.

    Attributes
    ----------
    a, b : EnsembleResult
        The two ensembles (same seed and replicates).
    table : pandas.DataFrame
        One row per estimand (:data:`KEY_COLUMNS`): ``n`` replicates, ``mean_a``,
        ``mean_b``, ``difference`` (mean of B - A), ``paired_lower``/``paired_upper``
        (CI from the paired differences, t with n-1 df), ``unpaired_lower``/
        ``unpaired_upper`` (Welch CI from the two arms' spreads, as independent
        patients would give), ``sd_difference`` and ``correlation`` of the arms.
    level : float
        Confidence level of the intervals.
    """

    a: EnsembleResult
    b: EnsembleResult
    table: pd.DataFrame
    level: float


def compare(
    params_a: StudyParams,
    params_b: StudyParams,
    replicates: int | Sequence[int] = 20,
    *,
    estimands: Sequence[str] = ("mrfs",),
    level: float = 0.95,
    progress: bool = False,
) -> Comparison:
    """Paired comparison of two configurations of the same study.

    Parameters
    ----------
    params_a, params_b : StudyParams
        The two scenarios; they must share ``seed`` and ``replicate`` so that the
        replicates are paired (same patients where only observation differs).
    replicates : int or sequence of int, default 20
        Replicates per scenario.
    estimands : sequence of str, default ("mrfs",)
        Estimand names to compare (e.g. ``"mrfs"``, ``"hr"``, ``"n_events"``).
    level : float, default 0.95
        Confidence level.
    progress : bool, default False
        Progress bars.

    Returns
    -------
    Comparison
    """
    if (params_a.seed, params_a.replicate) != (params_b.seed, params_b.replicate):
        raise ValueError(
            "paired comparison needs the same seed and replicate in both scenarios; got "
            f"seed {params_a.seed}/{params_b.seed}, replicate "
            f"{params_a.replicate}/{params_b.replicate}"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    a = run_ensemble(params_a, replicates, progress=progress)
    b = run_ensemble(params_b, replicates, progress=progress)
    keys = [*KEY_COLUMNS, "replicate"]
    wanted = list(estimands)

    def pick(e: EnsembleResult) -> pd.DataFrame:
        frame = e.estimands[e.estimands["estimand"].isin(wanted)]
        return frame[[*keys, "value"]]

    pairs = pick(a).merge(pick(b), on=keys, suffixes=("_a", "_b"), how="inner")
    pairs["difference"] = pairs["value_b"] - pairs["value_a"]
    rows = []
    for key, g in pairs.groupby(list(KEY_COLUMNS), dropna=False, sort=False):
        g = g.dropna(subset=["value_a", "value_b"])
        n = len(g)
        d = g["difference"].to_numpy(float)
        va, vb = g["value_a"].to_numpy(float), g["value_b"].to_numpy(float)
        mean_d = float(d.mean()) if n else np.nan
        sd_d = float(d.std(ddof=1)) if n > 1 else np.nan
        half_p = float(_t_half_width(np.array([sd_d]), np.array([n]), level)[0])
        var_a = float(va.var(ddof=1)) if n > 1 else np.nan
        var_b = float(vb.var(ddof=1)) if n > 1 else np.nan
        se_u = np.sqrt((var_a + var_b) / n) if n > 1 else np.nan
        # Welch-Satterthwaite degrees of freedom for equal arm sizes.
        with np.errstate(invalid="ignore", divide="ignore"):
            df = (var_a + var_b) ** 2 * (n - 1) / (var_a**2 + var_b**2) if n > 1 else np.nan
            half_u = float(t_ppf(0.5 + level / 2, df) * se_u) if n > 1 else np.nan
            corr = float(np.corrcoef(va, vb)[0, 1]) if n > 2 else np.nan
        rows.append(
            {
                **dict(zip(KEY_COLUMNS, key, strict=True)),
                "n": n,
                "mean_a": float(va.mean()) if n else np.nan,
                "mean_b": float(vb.mean()) if n else np.nan,
                "difference": mean_d,
                "paired_lower": mean_d - half_p,
                "paired_upper": mean_d + half_p,
                "unpaired_lower": mean_d - half_u,
                "unpaired_upper": mean_d + half_u,
                "sd_difference": sd_d,
                "correlation": corr,
            }
        )
    return Comparison(a=a, b=b, table=pd.DataFrame(rows), level=level)
