"""Summaries of the experiment presets (``conf/experiment/``) from their sweep tables.

Each experiment has a summary function (sweep table -> small tidy table across
replicates) and a figure (:mod:`tfrsim.plots.experiments`); :func:`write_experiment`
writes both into the sweep folder as ``<experiment>.csv`` and ``<experiment>.png``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tfrsim.analysis.pvalues import norm_ppf
from tfrsim.files import atomic_path

log = logging.getLogger(__name__)

#: Swept keys of the presets (columns of the sweep table).
IMATINIB_KEY = "cohort.tki_years.median"
SCHEDULE_KEY = "experiment/schedule"
RULE_KEY = "monitoring.rule.name"
SIZE_KEY = "n_patients"


def wilson_interval(
    k: np.ndarray, n: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials (``n >= 1``).
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray
        Bounds in [0, 1]; unlike the Wald interval, sensible at 0 and n successes.
    """
    k_ = np.asarray(k, dtype=float)
    n_ = np.asarray(n, dtype=float)
    if np.any(n_ < 1) or np.any((k_ < 0) | (k_ > n_)):
        raise ValueError(f"wilson_interval needs 0 <= k <= n and n >= 1; got k={k}, n={n}")
    z = float(norm_ppf(1 - alpha / 2))
    p = k_ / n_
    denom = 1 + z**2 / n_
    centre = (p + z**2 / (2 * n_)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n_ + z**2 / (4 * n_**2))
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def _done(table: pd.DataFrame, estimand: str, needed: tuple[str, ...]) -> pd.DataFrame:
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(
            f"the sweep table has no column(s) {missing}: was this sweep run with the "
            f"experiment's own sweep (see docs/sweeps.md)? columns are {list(table.columns)}"
        )
    return table[(table["status"] == "done") & (table["estimand"] == estimand)]


def _across_replicates(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean of ``value`` across replicates, with the 2.5-97.5 % range as a band."""
    # dropna=False: estimands without a month (the delay) keep their rows.
    grouped = rows.groupby(by, observed=True, sort=True, dropna=False)["value"]
    out = grouped.agg(
        mean="mean",
        band_lower=lambda v: np.nanpercentile(v, 2.5) if v.notna().any() else np.nan,
        band_upper=lambda v: np.nanpercentile(v, 97.5) if v.notna().any() else np.nan,
        n_replicates="count",
    )
    return out.reset_index()


def summarise_stop_timing(table: pd.DataFrame) -> pd.DataFrame:
    """MRFS by imatinib duration before stop, Sokal group and month, across replicates.

    Returns
    -------
    pandas.DataFrame
        Columns ``tki_years`` (the swept median), ``group``, ``month``, ``mean``
        (MRFS averaged over replicates), ``band_lower``, ``band_upper`` (2.5-97.5 %
        of the replicates) and ``n_replicates``.
    """
    rows = _done(table, "mrfs", (IMATINIB_KEY,))
    out = _across_replicates(rows, [IMATINIB_KEY, "group", "month"])
    return out.rename(columns={IMATINIB_KEY: "tki_years"})


def summarise_monitoring(table: pd.DataFrame) -> pd.DataFrame:
    """Observed MRFS (all patients) and detection delay by schedule and rule.

    Returns
    -------
    pandas.DataFrame
        Columns ``schedule``, ``rule``, ``estimand`` (``mrfs`` or
        ``detection_delay``: median delay in months between the latent loss of MMR
        and the observed relapse, among detected relapses), ``month`` (MRFS only),
        ``mean``, ``band_lower``, ``band_upper``, ``n_replicates``.
    """
    mrfs = _done(table, "mrfs", (SCHEDULE_KEY, RULE_KEY))
    mrfs = mrfs[mrfs["group"] == "all"]
    delay = _done(table, "detection_delay", (SCHEDULE_KEY, RULE_KEY))
    by = [SCHEDULE_KEY, RULE_KEY, "estimand", "month"]
    out = _across_replicates(pd.concat([mrfs, delay]), by)
    return out.rename(columns={SCHEDULE_KEY: "schedule", RULE_KEY: "rule"})


def summarise_power(table: pd.DataFrame) -> pd.DataFrame:
    """Share of replicates in which the Cox model detects each covariate.

    A covariate is detected when its Wald p-value is below the job's
    ``analysis.alpha``; a fit that failed or a term that could not be estimated
    counts as not detected (as a real trial would report it).

    Returns
    -------
    pandas.DataFrame
        Columns ``n_patients``, ``covariate``, ``n_replicates``, ``n_detected``,
        ``power`` and its 95 % Wilson interval ``lower``, ``upper``.
    """
    rows = _done(table, "hr", (SIZE_KEY, "alpha")).copy()
    rows["detected"] = rows["p"].to_numpy(dtype=float) < rows["alpha"].to_numpy(dtype=float)
    grouped = rows.groupby([SIZE_KEY, "covariate"], sort=True)["detected"]
    out = grouped.agg(n_replicates="size", n_detected="sum").reset_index()
    out["n_detected"] = out["n_detected"].astype(int)
    out["power"] = out["n_detected"] / out["n_replicates"]
    out["lower"], out["upper"] = wilson_interval(
        out["n_detected"].to_numpy(), out["n_replicates"].to_numpy()
    )
    return out


@dataclass(frozen=True)
class Experiment:
    """How to summarise and draw one experiment preset."""

    summarise: Callable[[pd.DataFrame], pd.DataFrame]
    plot: str  # name of the figure function in tfrsim.plots.experiments


#: Experiment presets with a summary and a figure (names of ``conf/experiment/*.yaml``).
EXPERIMENTS: dict[str, Experiment] = {
    "stop_timing": Experiment(summarise_stop_timing, "figure_stop_timing"),
    "monitoring": Experiment(summarise_monitoring, "figure_monitoring"),
    "power": Experiment(summarise_power, "figure_power"),
}


def write_experiment(name: str, table: pd.DataFrame, sweep_dir: Path) -> list[Path]:
    """Write ``<name>.csv`` (the summary) and ``<name>.png`` (the figure) into ``sweep_dir``.

    Raises
    ------
    KeyError
        If ``name`` is not in :data:`EXPERIMENTS` (the message lists them).
    """
    from tfrsim.plots import experiments as figures
    from tfrsim.plots.figure import close_figure
    from tfrsim.plots.style import DEFAULT_DPI, save_figure

    if name not in EXPERIMENTS:
        raise KeyError(
            f"unknown experiment {name!r}; experiments with a summary: {sorted(EXPERIMENTS)}"
        )
    spec = EXPERIMENTS[name]
    summary = spec.summarise(table)
    csv, png = sweep_dir / f"{name}.csv", sweep_dir / f"{name}.png"
    with atomic_path(csv) as tmp:
        summary.to_csv(tmp, index=False)
    fig = getattr(figures, spec.plot)(summary)
    save_figure(fig, png, ("png",), DEFAULT_DPI)
    close_figure(fig)
    return [csv, png]
