"""Published MRFS points over the simulated curves (calibration and reproduction)."""

from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MultipleLocator, PercentFormatter

from tfrsim.plots.figure import new_axes_mm
from tfrsim.plots.style import (
    COLUMN_MM,
    FAIL_COLOUR,
    PASS_COLOUR,
    PUBLISHED_COLOUR,
    SIMULATED_COLOUR,
    SMALL_PT,
    apply_axes_style,
    styled,
    trial_title,
)
from tfrsim.plots.survival import x_step_for


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


#: Artist ids of the pass / fail marks (published point inside / outside the band).
PASS_GID, FAIL_GID = "reproduction-pass", "reproduction-fail"


def band_contains(
    trial: TrialReproductionLike, months: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Whether each published value lies inside the simulated band at its month.

    The band is a step function of ``trial.months`` (right-continuous, as drawn).
    """
    grid = np.asarray(trial.months, dtype=float)
    idx = np.clip(np.searchsorted(grid, months, side="right") - 1, 0, grid.size - 1)
    lower = np.asarray(trial.band_lower, dtype=float)[idx]
    upper = np.asarray(trial.band_upper, dtype=float)[idx]
    return (values >= lower) & (values <= upper)


@styled
def plot_reproduction(
    trial: TrialReproductionLike,
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    marks: bool = True,
) -> Axes:
    """One trial: simulated MRFS, the 95 % band for a trial-sized cohort, published points.

    Published points inside the band are drawn as filled circles with a pass
    colour, points outside as crosses with a fail colour (colour and shape: both
    survive greyscale and colour-vision deficiencies). Axis margins keep points at
    the last month whole.

    Parameters
    ----------
    trial : TrialReproduction
        From :func:`tfrsim.calibration.report.reproduce` (``.trials[name]``).
    table : pandas.DataFrame
        ``Reproduction.table``; its ``mrfs`` rows of this trial give the published
        points and intervals.
    ax : matplotlib Axes, optional
        A new one-column figure when None.
    title : str, optional
        Defaults to the trial's published name (:func:`trial_title`).
    marks : bool, default True
        Mark published points inside / outside the simulated band (gids
        :data:`PASS_GID`, :data:`FAIL_GID`) and count them in the legend.

    Returns
    -------
    matplotlib Axes
    """
    ax = ax if ax is not None else new_axes_mm(COLUMN_MM, 65.0)
    ax.fill_between(
        trial.months,
        trial.band_lower,
        trial.band_upper,
        step="post",
        color=SIMULATED_COLOUR,
        alpha=0.2,
        lw=0,
        label=(
            f"95% prediction band, n = {trial.n_trial} (parameters + sampling)"
            if getattr(trial, "band", "sampling") != "sampling"
            else f"95% of simulated trials of n = {trial.n_trial}"
        ),
    )
    ax.step(
        trial.months,
        trial.survival,
        where="post",
        color=SIMULATED_COLOUR,
        lw=1.2,
        label="simulated (large cohort)",
    )
    pts = table[(table["trial"] == trial.trial) & (table["quantity"] == "mrfs")]
    month = pts["month"].to_numpy(dtype=float)
    value = pts["published"].to_numpy(dtype=float)
    yerr = np.vstack([value - pts["lower"].to_numpy(float), pts["upper"].to_numpy(float) - value])
    ax.errorbar(
        month,
        value,
        yerr=np.clip(np.nan_to_num(yerr), 0, None),
        fmt="none",
        ecolor=PUBLISHED_COLOUR,
        elinewidth=0.8,
        capsize=1.5,
        zorder=3,
    )
    if marks and len(pts):
        inside = band_contains(trial, month, value)
        draw_pass_fail(ax, month, value, inside, where=" band")
    else:
        ax.plot(month, value, "o", color=PUBLISHED_COLOUR, ms=4.0, zorder=4, label="published")
    ax.plot([], [], color=PUBLISHED_COLOUR, lw=0.8, label="published 95% CI (or ±1.96 SE)")
    right = max(float(trial.months[-1]), float(month.max()) if month.size else 0.0)
    # Margins: a point (and its marker) at the last month or at 0 / 100 % stays whole.
    ax.set_xlim(-0.03 * right, right * 1.05 if right > 0 else 1.0)
    ax.set_ylim(0.0, 1.05)
    ax.yaxis.set_major_locator(MultipleLocator(0.25))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.xaxis.set_major_locator(MultipleLocator(x_step_for(right if right > 0 else 1.0)))
    ax.set_xlabel("Months since stopping the TKI")
    ax.set_ylabel("MRFS (%)")
    ax.set_title(title or trial_title(trial.trial), loc="left")
    ax.grid(axis="y", lw=0.3, alpha=0.4)
    apply_axes_style(ax)
    # MRFS stays above ~25 %: the lower left is free of data.
    ax.legend(loc="lower left", fontsize=SMALL_PT)
    return ax


def draw_pass_fail(
    ax: Axes,
    month: np.ndarray,
    value: np.ndarray,
    inside: np.ndarray,
    *,
    where: str = "",
    always_fail_marker: bool = True,
) -> None:
    """Published points as pass (circle) / fail (cross) marks with counts in the legend.

    ``where`` names what a point is inside (" band", " the 95% PI", ...); the fail
    marker is drawn even without failures (an empty legend count) unless
    ``always_fail_marker`` is False.
    """
    ax.plot(
        month[inside],
        value[inside],
        "o",
        color=PASS_COLOUR,
        mec="black",
        mew=0.4,
        ms=4.0,
        zorder=4,
        gid=PASS_GID,
        label=f"published, inside{where} ({int(inside.sum())}/{inside.size})",
    )
    if always_fail_marker or (~inside).any():
        ax.plot(
            month[~inside],
            value[~inside],
            "X",
            color=FAIL_COLOUR,
            mec="black",
            mew=0.4,
            ms=5.0,
            zorder=4,
            gid=FAIL_GID,
            label=f"published, outside{where} ({int((~inside).sum())}/{inside.size})",
        )
