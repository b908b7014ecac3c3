"""Published MRFS points over the simulated curves (calibration and reproduction)."""

from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from tfrsim.plots.figure import new_axes


class TrialReproductionLike(Protocol):
    """What :func:`plot_reproduction` reads (a ``calibration.report.TrialReproduction``)."""

    @property
    def trial(self) -> str: ...
    @property
    def n_trial(self) -> int: ...
    @property
    def months(self) -> np.ndarray: ...
    @property
    def survival(self) -> np.ndarray: ...
    @property
    def band_lower(self) -> np.ndarray: ...
    @property
    def band_upper(self) -> np.ndarray: ...


#: Marker colour of published points.
PUBLISHED_COLOUR = "#1a1a1a"
CURVE_COLOUR = "#2471a3"


def plot_reproduction(
    trial: TrialReproductionLike,
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """One trial: simulated MRFS, the 95 % band for a trial-sized cohort, published points.

    Parameters
    ----------
    trial : TrialReproduction
        From :func:`tfrsim.calibration.report.reproduce` (``.trials[name]``).
    table : pandas.DataFrame
        ``Reproduction.table``; its ``mrfs`` rows of this trial give the published
        points and intervals.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = ax if ax is not None else new_axes(6.0, 4.0)
    ax.fill_between(
        trial.months,
        trial.band_lower,
        trial.band_upper,
        step="post",
        color=CURVE_COLOUR,
        alpha=0.2,
        label=f"95% of simulated trials of n = {trial.n_trial}",
    )
    ax.step(
        trial.months,
        trial.survival,
        where="post",
        color=CURVE_COLOUR,
        lw=1.8,
        label="simulated (large cohort)",
    )
    pts = table[(table["trial"] == trial.trial) & (table["quantity"] == "mrfs")]
    yerr = np.vstack([pts["published"] - pts["lower"], pts["upper"] - pts["published"]])
    ax.errorbar(
        pts["month"],
        pts["published"],
        yerr=yerr,
        fmt="o",
        color=PUBLISHED_COLOUR,
        capsize=3,
        label="published (95% CI or ±1.96 SE)",
    )
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(0.0, float(trial.months[-1]) * 1.02)
    ax.set_xlabel("Months since stopping imatinib")
    ax.set_ylabel("MRFS (probability)")
    ax.set_title(title or trial.trial.upper())
    ax.legend(loc="upper right", fontsize="small")
    return ax
