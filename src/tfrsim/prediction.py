"""Predict a stop trial from its design, with calibrated parameter uncertainty.

For each stored parameter draw (:mod:`tfrsim.draws`) the trial's design is simulated
once at a large size ``n_large`` (its own named random streams: replicate = position
of the draw), giving

* the draw's **expectation** of each quantity (KM MRFS at months, median relapse
  month among relapsers, shares of relapses by/after a month), with Monte-Carlo error
  of order 1/sqrt(n_large); and
* ``n_large // n_trial`` independent **trial-sized cohorts** (consecutive blocks of
  the same patients: patients are independent, so each block is a cohort of the
  stated size), whose statistics are draws from the prediction distribution of the
  trial given the draw's parameters.

Two 95 % intervals per quantity:

* ``param_lower``/``param_upper`` — for the model's expectation, from parameter
  uncertainty alone. The spread of the draws' expectations also holds Monte-Carlo
  error; its variance is estimated (within-draw variance of the cohort statistics ×
  n_trial / n_large, averaged over draws), reported as ``sd_mc`` and subtracted: the
  percentile interval is shrunk about its median by sqrt(1 − var_mc / var_total).
* ``pi_lower``/``pi_upper`` — a prediction interval for the estimate a trial of the
  stated size would report: percentiles of the pooled cohort statistics of every draw
  (parameter uncertainty and sampling together). ``sd_combined`` is their SD.

Vectorised: one grouped Kaplan–Meier over all cohorts (:func:`grouped_survival_at`),
the large cohorts through :func:`tfrsim.analysis.survival_at`.
"""

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis import survival_at
from tfrsim.analysis.descriptive import interpolated_median
from tfrsim.draws import PosteriorDraws, apply_values, draw_rows
from tfrsim.execution import simulate, simulation_threads
from tfrsim.study import StudyParams

#: Default simulated patients per draw (the expectation's Monte-Carlo SD of an MRFS
#: near 50 % is then about 1.1 points, reported and subtracted).
N_LARGE = 2000
#: Timing quantities besides MRFS: (name, month).
TIMING: tuple[tuple[str, float], ...] = (
    ("median_relapse_month", float("nan")),
    ("share_of_relapses_by", 6.0),
    ("share_of_relapses_after", 24.0),
)
#: Columns of :attr:`TrialPrediction.table`.
TABLE_COLUMNS: tuple[str, ...] = (
    "quantity",
    "month",
    "expectation",
    "param_lower",
    "param_upper",
    "pi_lower",
    "pi_upper",
    "sd_param",
    "sd_mc",
    "sd_combined",
)


def grouped_survival_at(
    durations: NDArray[np.float64],
    events: NDArray[np.bool_],
    groups: NDArray[np.int64],
    n_groups: int,
    months: Sequence[float] | NDArray[np.float64],
) -> NDArray[np.float64]:
    """Kaplan–Meier survival of every group at ``months``, in one vectorised pass.

    Same convention as :func:`tfrsim.analysis.survival_at` (right-continuous, last value
    carried forward). Within a group, sorted by time with events before censorings at
    a tied time, the product of (1 − 1/at-risk) over successive events equals the KM
    factor (1 − d/n) at each time.

    Returns
    -------
    float array, shape (n_groups, len(months))
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    g = np.asarray(groups, dtype=np.int64)
    m = np.asarray(months, dtype=float)
    order = np.lexsort((~e, t, g))
    t, e, g = t[order], e[order], g[order]
    sizes = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(t.size) - starts[g]
    at_risk = sizes[g] - rank
    # The last at risk relapsing sets survival to 0: counted apart, so that the
    # cumulative sums stay finite across groups.
    zero = e & (at_risk == 1)
    log_factor = np.where(e & ~zero, np.log1p(-1.0 / np.maximum(at_risk, 2)), 0.0)
    cum = np.cumsum(log_factor)
    zeros = np.cumsum(zero)
    # Cumulative sums restarted at each group: subtract the totals before the group.
    before = np.concatenate([[0.0], cum])[starts]
    zeros_before = np.concatenate([[0], zeros])[starts]
    span = float(max(t.max(initial=0.0), m.max(initial=0.0))) + 1.0
    key = g * span + t
    query = np.arange(n_groups)[:, None] * span + m[None, :]
    pos = np.searchsorted(key, query.ravel(), side="right").reshape(query.shape)
    last = np.maximum(pos - 1, 0)
    inside = pos - 1 >= starts[:, None]
    value = np.where(inside, cum[last] - before[:, None], 0.0)
    dead = np.where(inside, zeros[last] - zeros_before[:, None], 0) > 0
    return np.asarray(np.where(dead, 0.0, np.exp(value)), dtype=float)


@dataclass(frozen=True)
class DrawSimulation:
    """One draw simulated: its expectation and its trial-sized cohorts."""

    expectation: NDArray[np.float64]  # (q,) quantities
    curve: NDArray[np.float64]  # (g,) KM MRFS on the grid
    cohorts: NDArray[np.float64]  # (c, q)
    cohort_curves: NDArray[np.float64]  # (c, g)


def _timing(relapses: NDArray[np.float64]) -> list[float]:
    n = max(relapses.size, 1)
    return [
        interpolated_median(relapses),
        float(np.sum(relapses <= 6.0) / n) if relapses.size else float("nan"),
        float(np.sum(relapses > 24.0) / n) if relapses.size else float("nan"),
    ]


def _simulate_draw(
    params: StudyParams, months: NDArray[np.float64], grid: NDArray[np.float64], n_trial: int
) -> DrawSimulation:
    patients = simulate(params).patients
    t = patients["duration_months"].to_numpy(dtype=float)
    e = patients["event"].to_numpy(dtype=bool)
    both = np.concatenate([months, grid])
    large = survival_at(t, e, both)
    expectation = np.concatenate([large[: months.size], _timing(t[e])])
    n_cohorts = t.size // n_trial
    used = n_cohorts * n_trial
    groups = np.arange(used) // n_trial
    km = grouped_survival_at(t[:used], e[:used], groups, n_cohorts, both)
    # Timing statistics per cohort (a loop over cohorts, not patients).
    timing = np.array(
        [
            _timing(t[c * n_trial : (c + 1) * n_trial][e[c * n_trial : (c + 1) * n_trial]])
            for c in range(n_cohorts)
        ]
    )
    cohorts = np.concatenate([km[:, : months.size], timing], axis=1)
    return DrawSimulation(
        expectation=expectation,
        curve=large[months.size :],
        cohorts=cohorts,
        cohort_curves=km[:, months.size :],
    )


@dataclass(frozen=True)
class TrialPrediction:
    """A trial predicted with parameter uncertainty.

    Attributes
    ----------
    design : StudyParams
        The trial's design (its ``cohort.n_patients`` is the stated size).
    n_trial, n_large, n_draws, n_cohorts : int
        Stated size, simulated patients per draw, draws used, trial-sized cohorts per
        draw.
    seed : int
    table : pandas.DataFrame
        :data:`TABLE_COLUMNS`, one row per quantity (MRFS at each month, then
        :data:`TIMING`).
    grid : float array (g,)
        Months of the curve.
    curve : dict
        ``expectation``, ``param_lower``, ``param_upper``, ``pi_lower``,
        ``pi_upper`` on ``grid`` (the same definitions as the table).
    draw_indices : list of int
        Stored draws used, in order.
    """

    design: StudyParams
    n_trial: int
    n_large: int
    n_draws: int
    n_cohorts: int
    seed: int
    table: pd.DataFrame
    grid: NDArray[np.float64]
    curve: dict[str, NDArray[np.float64]]
    draw_indices: list[int]


def _bands(
    expectations: NDArray[np.float64], cohorts: NDArray[np.float64], ratio: float
) -> dict[str, NDArray[np.float64]]:
    """Both intervals from draws' expectations (d, q) and cohorts (d, c, q)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # A quantity undefined in every draw (no relapse) gives all-NaN slices.
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(expectations, axis=0)
        total_var = np.nanvar(expectations, axis=0, ddof=1)
        within = np.nanvar(cohorts, axis=1, ddof=1) if cohorts.shape[1] > 1 else None
        mc_var = np.nanmean(within, axis=0) * ratio if within is not None else np.zeros_like(mean)
        param_var = np.maximum(total_var - mc_var, 0.0)
        shrink = np.sqrt(np.where(total_var > 0, param_var / total_var, 0.0))
        centre = np.nanmedian(expectations, axis=0)
        lo, hi = np.nanpercentile(expectations, [2.5, 97.5], axis=0)
        pooled = cohorts.reshape(-1, cohorts.shape[-1])
        pi_lo, pi_hi = np.nanpercentile(pooled, [2.5, 97.5], axis=0)
        return {
            "expectation": mean,
            "param_lower": centre - (centre - lo) * shrink,
            "param_upper": centre + (hi - centre) * shrink,
            "pi_lower": pi_lo,
            "pi_upper": pi_hi,
            "sd_param": np.sqrt(param_var),
            "sd_mc": np.sqrt(mc_var),
            "sd_combined": np.nanstd(pooled, axis=0, ddof=1),
        }


def predict_trial(
    design: StudyParams,
    draws: PosteriorDraws,
    *,
    months: Sequence[float] | None = None,
    n_trial: int | None = None,
    n_large: int = N_LARGE,
    n_draws: int | None = None,
    seed: int | None = None,
    grid: Sequence[float] | NDArray[np.float64] | None = None,
    threads: int | None = None,
) -> TrialPrediction:
    """Predict one trial from its design under every parameter draw.

    Parameters
    ----------
    design : StudyParams
        The trial (cohort, schedule, assay, rule, follow-up; the model whose fitted
        parameters the draws replace).
    draws : PosteriorDraws
    months : sequence of float, optional
        MRFS months (default: the design's milestones); must lie within follow-up.
    n_trial : int, optional
        Size of the trial for the prediction interval (default: the design's
        ``cohort.n_patients``).
    n_large : int, default :data:`N_LARGE`
        Simulated patients per draw (at least ``n_trial``).
    n_draws : int, optional
        Draws used (default all stored ones, in order; otherwise a deterministic
        sample with replacement).
    seed : int, optional
        Root seed (default the design's); draw at position ``p`` uses replicate ``p``.
    grid : sequence of float, optional
        Months of the curve (default 0 to follow-up by half months).
    threads : int, optional
        Draws simulated side by side (default: the CPUs available); never changes
        results.

    Returns
    -------
    TrialPrediction
    """
    n_trial = int(n_trial or design.cohort.n_patients)
    n_large = max(int(n_large), n_trial)
    seed = design.seed if seed is None else int(seed)
    horizon = design.follow_up.followup_months
    months_arr = np.asarray(
        sorted(months if months is not None else design.analysis.milestones_months), dtype=float
    )
    if months_arr.size and months_arr.max() > horizon:
        raise ValueError(
            f"months {months_arr.tolist()} go beyond follow-up ({horizon:g}); lengthen it"
        )
    grid_arr = (
        np.asarray(grid, dtype=float)
        if grid is not None
        else np.linspace(0.0, horizon, round(horizon * 2) + 1)
    )
    rows = list(draw_rows(draws.n_draws, int(n_draws or draws.n_draws), seed))
    base = dataclasses.replace(
        design, seed=seed, cohort=dataclasses.replace(design.cohort, n_patients=n_large)
    )

    def one(position: int) -> DrawSimulation:
        model = apply_values(design.model, draws.draw(rows[position]))
        params = dataclasses.replace(base, model=model, replicate=position)
        return _simulate_draw(params, months_arr, grid_arr, n_trial)

    workers = max(1, threads or simulation_threads())
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sims = list(pool.map(one, range(len(rows))))
    else:
        sims = [one(p) for p in range(len(rows))]
    ratio = n_trial / n_large
    expectations = np.array([s.expectation for s in sims])
    cohorts = np.array([s.cohorts for s in sims])
    bands = _bands(expectations, cohorts, ratio)
    quantities = [("mrfs", float(m)) for m in months_arr] + list(TIMING)
    table = pd.DataFrame(
        {
            "quantity": [q for q, _ in quantities],
            "month": [m for _, m in quantities],
            **{k: bands[k] for k in TABLE_COLUMNS[2:]},
        }
    )
    curve_bands = _bands(
        np.array([s.curve for s in sims]), np.array([s.cohort_curves for s in sims]), ratio
    )
    return TrialPrediction(
        design=design,
        n_trial=n_trial,
        n_large=n_large,
        n_draws=len(rows),
        n_cohorts=n_large // n_trial,
        seed=seed,
        table=table,
        grid=grid_arr,
        curve={k: curve_bands[k] for k in ("expectation", *TABLE_COLUMNS[3:7])},
        draw_indices=rows,
    )


def score_published(prediction: TrialPrediction, published: pd.DataFrame) -> pd.DataFrame:
    """Published MRFS points against the prediction interval.

    ``published`` has columns month, survival, lower, upper (probabilities; NaN where no
    CI). Returns them with the predicted row at the same month and ``z`` (published −
    expectation, over ``sd_combined``) and ``inside`` (within the 95 % prediction
    interval). Months without a predicted row are dropped.
    """
    t = prediction.table[prediction.table["quantity"] == "mrfs"]
    merged = published[["month", "survival", "lower", "upper"]].merge(t, on="month", how="inner")
    merged = merged.rename(
        columns={"survival": "published", "lower": "published_lower", "upper": "published_upper"}
    )
    merged["z"] = (merged["published"] - merged["expectation"]) / merged["sd_combined"]
    merged["inside"] = (merged["published"] >= merged["pi_lower"]) & (
        merged["published"] <= merged["pi_upper"]
    )
    return merged


def prediction_record(prediction: TrialPrediction, draws: PosteriorDraws) -> dict[str, Any]:
    """The settings and provenance of a prediction (JSON-ready, no times or paths)."""
    prov: Mapping[str, Any] = draws.provenance
    return {
        "trial": prediction.design.trial_name,
        "model": prediction.design.model_name,
        "n_trial": prediction.n_trial,
        "n_large": prediction.n_large,
        "n_draws": prediction.n_draws,
        "cohorts_per_draw": prediction.n_cohorts,
        "seed": prediction.seed,
        "follow_up_months": prediction.design.follow_up.followup_months,
        "draws": {
            "model": draws.model,
            "parameters": list(draws.parameters),
            "method": prov.get("method"),
            "seed": prov.get("seed"),
            "fixed_at_estimate": prov.get("fixed_at_estimate", []),
            "model_yaml_sha256": prov.get("model_yaml_sha256"),
            "tfrsim_version": prov.get("tfrsim_version"),
        },
    }
