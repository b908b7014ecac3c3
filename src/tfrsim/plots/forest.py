"""Forest plot of Cox hazard ratios."""

import logging
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

from tfrsim.plots.figure import new_axes
from tfrsim.plots.style import covariate_label

if TYPE_CHECKING:
    from tfrsim.analysis.cox import CoxResult

logger = logging.getLogger(__name__)

#: Text shown in place of an estimate that does not exist (dropped term, failed fit).
NOT_ESTIMATED: str = "not estimated"
#: Limits of the HR axis; wider intervals (e.g. near-separation) are clipped and
#: marked with an arrow so one row cannot squash the others.
_HR_FLOOR, _HR_CEIL = 1e-2, 1e2
#: Candidate major ticks of the HR axis (plain numbers read better than 10^x).
_HR_TICKS: tuple[float, ...] = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    4.0,
    10.0,
    20.0,
    50.0,
    100.0,
)


def plot_forest(cox: "CoxResult", *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Plot hazard ratios with their CIs, one row per Cox model term.

    Parameters
    ----------
    cox : CoxResult
        Result of :func:`tfrsim.analysis.fit_cox`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    title : str, optional
        Axes title; defaults to "Cox proportional-hazards model" (with a
        "not converged" note when the fit did not converge).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: log-scaled HR on x, a dashed line at HR = 1, terms on
        y (first term at the top); terms without an estimate read "not estimated".
    """
    table = cox.table
    if ax is None:
        ax = new_axes(7.0, 1.2 + 0.45 * max(len(table), 1))
    level = round(100 * (1 - cox.alpha))
    ax.set_xscale("log")
    finite = table[["hr", "lower", "upper"]].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    lo = float(np.clip(finite.min(), _HR_FLOOR, 1.0)) if finite.size else 0.25
    hi = float(np.clip(finite.max(), 1.0, _HR_CEIL)) if finite.size else 4.0
    # Margins on the log scale: room for the markers and the right-hand labels.
    lo, hi = lo / 1.5, hi * 1.5
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([t for t in _HR_TICKS if lo <= t <= hi]))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)

    n_rows = len(table)
    y_positions = np.arange(n_rows)[::-1].astype(float)
    estimates = table[["hr", "lower", "upper"]].to_numpy(dtype=float)
    for y, (hr, lower, upper) in zip(y_positions, estimates, strict=True):
        if not np.isfinite(hr):
            ax.text(
                1.0,
                y,
                NOT_ESTIMATED,
                ha="center",
                va="center",
                color="grey",
                fontstyle="italic",
                fontsize=9,
            )
            continue
        shown = float(np.clip(hr, lo, hi))
        left = float(np.clip(lower, lo, hi)) if np.isfinite(lower) else lo
        right = float(np.clip(upper, lo, hi)) if np.isfinite(upper) else hi
        ax.plot([left, right], [y, y], color="black", linewidth=1.5)
        ax.plot([shown], [y], marker="s", color="black", markersize=6)
        if not (np.isfinite(upper) and upper <= hi):
            ax.annotate("", xy=(hi, y), xytext=(right / 1.2, y), arrowprops={"arrowstyle": "->"})
        if not (np.isfinite(lower) and lower >= lo):
            ax.annotate("", xy=(lo, y), xytext=(left * 1.2, y), arrowprops={"arrowstyle": "->"})
        ax.annotate(
            f"{hr:.2f} ({lower:.2f}–{upper:.2f})",
            xy=(1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(6.0, 0.0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            annotation_clip=False,
        )
    if n_rows == 0:
        ax.text(0.5, 0.5, "no covariates", transform=ax.transAxes, ha="center", va="center")
    ax.set_yticks(y_positions, [covariate_label(str(c)) for c in table["covariate"]])
    ax.set_ylim(-0.7, max(n_rows, 1) - 0.3)
    ax.set_xlabel(f"Hazard ratio of molecular relapse ({level}% CI, log scale)")
    ax.set_ylabel("Covariate")
    default = "Cox proportional-hazards model"
    if not cox.converged:
        default += " (not converged)"
    ax.set_title(title if title is not None else default)
    logger.debug("forest plot of %d terms (converged=%s)", n_rows, cox.converged)
    return ax
