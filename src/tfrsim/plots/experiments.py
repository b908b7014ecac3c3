"""Figures of the experiment presets, drawn from their summaries
(:mod:`tfrsim.sweep.experiments`); never from raw simulations.

``plot_*`` functions draw one panel on ``ax`` (a new figure when None) and return the
Axes; ``figure_*`` functions assemble the preset's whole figure and return it (the
caller saves and closes it).
"""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tfrsim.cohort.params import SOKAL_GROUPS
from tfrsim.plots.figure import new_axes, new_figure_row
from tfrsim.plots.style import covariate_label, group_colour, group_label

#: Row and column order of the monitoring heatmaps: denser visits first; rules from
#: the most to the least sensitive trigger. Unknown names follow, sorted.
SCHEDULE_ORDER: tuple[str, ...] = ("monthly", "every_2_months", "every_3_months", "stim")
RULE_ORDER: tuple[str, ...] = (
    "loss_of_mr4",
    "twister",
    "stim",
    "loss_of_mmr",
    "loss_of_mmr_confirmed",
)


def _ordered(present: pd.Index, preferred: tuple[str, ...]) -> list[str]:
    names = [str(v) for v in present]
    return [v for v in preferred if v in names] + sorted(v for v in names if v not in preferred)


def plot_stop_timing(summary: pd.DataFrame, month: float, *, ax: Axes | None = None) -> Axes:
    """MRFS at ``month`` against imatinib years before stop, one line per KM group.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`tfrsim.sweep.experiments.summarise_stop_timing`.
    month : float
        Milestone month to show.
    ax : matplotlib.axes.Axes, optional
    """
    ax = ax if ax is not None else new_axes(5.0, 4.0)
    rows = summary[summary["month"] == month]
    present = [str(v) for v in rows["group"].unique()]
    for group in _ordered(pd.Index(present), ("all", *SOKAL_GROUPS)):
        g = rows[rows["group"] == group].sort_values("tki_years")
        colour = group_colour(str(group))
        x = g["tki_years"].to_numpy(dtype=float)
        ax.plot(x, 100 * g["mean"], marker="o", color=colour, label=group_label(str(group)))
        ax.fill_between(
            x, 100 * g["band_lower"], 100 * g["band_upper"], color=colour, alpha=0.15, lw=0
        )
    ax.set_xlabel("Imatinib before stopping (years, median)")
    ax.set_ylabel(f"MRFS at {month:g} months (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    return ax


def figure_stop_timing(summary: pd.DataFrame) -> Figure:
    """One panel per milestone month (see :func:`plot_stop_timing`)."""
    months = sorted(summary["month"].dropna().unique())
    fig, axes = new_figure_row(len(months), 4.2, 3.8)
    for month, ax in zip(months, axes, strict=True):
        plot_stop_timing(summary, month, ax=ax)
        ax.set_title(f"{month:g} months")
    axes[0].legend(fontsize="small", loc="lower right")
    n = int(summary["n_replicates"].max())
    fig.suptitle(f"MRFS by time on imatinib before stopping (mean and range of {n} replicates)")
    return fig


def plot_monitoring(
    summary: pd.DataFrame, estimand: str, *, month: float | None = None, ax: Axes | None = None
) -> Axes:
    """Heatmap schedule x rule of one estimand (mean across replicates).

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`tfrsim.sweep.experiments.summarise_monitoring`.
    estimand : {"mrfs", "detection_delay"}
    month : float, optional
        Milestone month (MRFS only).
    ax : matplotlib.axes.Axes, optional
    """
    ax = ax if ax is not None else new_axes(5.5, 4.0)
    rows = summary[summary["estimand"] == estimand]
    if month is not None:
        rows = rows[rows["month"] == month]
    grid = rows.pivot_table(index="schedule", columns="rule", values="mean", aggfunc="mean")
    grid = grid.reindex(
        index=_ordered(grid.index, SCHEDULE_ORDER), columns=_ordered(grid.columns, RULE_ORDER)
    )
    values = grid.to_numpy(dtype=float) * (100 if estimand == "mrfs" else 1)
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], rotation=30, ha="right")
    ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="white", fontsize="small")
    label = (
        f"observed MRFS at {month:g} months (%)"
        if estimand == "mrfs" and month is not None
        else "median detection delay (months)"
    )
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(label)
    ax.set_xlabel("relapse rule")
    ax.set_ylabel("visit schedule")
    return ax


def figure_monitoring(summary: pd.DataFrame, month: float = 12.0) -> Figure:
    """Observed MRFS at ``month`` and detection delay, schedule x rule."""
    fig, axes = new_figure_row(2, 5.6, 4.2)
    months = summary.loc[summary["estimand"] == "mrfs", "month"].dropna().unique()
    shown = month if month in months else float(sorted(months)[0])
    plot_monitoring(summary, "mrfs", month=shown, ax=axes[0])
    plot_monitoring(summary, "detection_delay", ax=axes[1])
    axes[0].set_title(f"Observed MRFS at {shown:g} months")
    axes[1].set_title("Delay: observed relapse - latent loss of MMR")
    n = int(summary["n_replicates"].max())
    fig.suptitle(f"Same patients, other monitoring (mean of {n} replicates)")
    return fig


def plot_power(summary: pd.DataFrame, *, alpha: float = 0.05, ax: Axes | None = None) -> Axes:
    """Share of replicates detecting each covariate against cohort size, with Wilson bands.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`tfrsim.sweep.experiments.summarise_power`.
    alpha : float, default 0.05
        Test level (drawn as a reference line).
    ax : matplotlib.axes.Axes, optional
    """
    ax = ax if ax is not None else new_axes(6.0, 4.2)
    for covariate, g in summary.groupby("covariate", sort=True):
        g = g.sort_values("n_patients")
        x = g["n_patients"].to_numpy(dtype=float)
        (line,) = ax.plot(x, 100 * g["power"], marker="o", label=covariate_label(str(covariate)))
        ax.fill_between(
            x, 100 * g["lower"], 100 * g["upper"], color=line.get_color(), alpha=0.15, lw=0
        )
    ax.axhline(80, color="grey", ls="--", lw=0.8)
    ax.axhline(100 * alpha, color="grey", ls=":", lw=0.8)
    ax.set_xscale("log")
    sizes = sorted(summary["n_patients"].unique())
    ax.set_xticks(sizes, [str(int(n)) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("patients in the trial")
    ax.set_ylabel(f"replicates with p < {alpha:g} (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    n = int(summary["n_replicates"].max())
    ax.set_title(f"Cox power (95 % Wilson CI, {n} replicates per size)")
    return ax


def figure_power(summary: pd.DataFrame) -> Figure:
    """The power figure (see :func:`plot_power`)."""
    ax = plot_power(summary)
    fig = ax.get_figure(root=True)
    if not isinstance(fig, Figure):  # pragma: no cover - plot_power always draws on one
        raise RuntimeError("the power axes belong to no figure")
    return fig
