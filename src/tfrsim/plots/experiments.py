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
from tfrsim.plots.figure import new_axes_mm, new_figure_mm
from tfrsim.plots.style import (
    COLUMN_MM,
    DOUBLE_COLUMN_MM,
    SMALL_PT,
    apply_axes_style,
    code_label,
    covariate_label,
    group_colour,
    group_label,
    group_linestyle,
    schedule_label,
    styled,
)

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


#: With fewer replicates than this, the 2.5 and 97.5 percentiles are interpolated
#: between the most extreme replicates (1 / 0.025 = 40), so the band is close to
#: their range and is labelled so.
MIN_REPLICATES_FOR_PERCENTILES: int = 40


def replicates_note(n: int) -> str:
    """What the band / bars of a replicate summary are, in words (``n`` replicates).

    The summaries (:mod:`tfrsim.sweep.experiments`) give the mean and the 2.5–97.5 %
    percentiles of the replicate estimates: a 95 % interval of one simulated study's
    estimate, not a CI of the mean.
    """
    if n <= 1:
        return "one replicate (no interval)"
    what = f"mean of {n} replicates; band: 95% interval of single-study estimates"
    if n < MIN_REPLICATES_FOR_PERCENTILES:
        what += f" (≈ range, only {n} replicates)"
    return what


def _ordered(present: pd.Index, preferred: tuple[str, ...]) -> list[str]:
    names = [str(v) for v in present]
    return [v for v in preferred if v in names] + sorted(v for v in names if v not in preferred)


@styled
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
    ax = ax if ax is not None else new_axes_mm(COLUMN_MM, 65.0)
    rows = summary[summary["month"] == month]
    present = [str(v) for v in rows["group"].unique()]
    for group in _ordered(pd.Index(present), ("all", *SOKAL_GROUPS)):
        g = rows[rows["group"] == group].sort_values("tki_years")
        colour = group_colour(str(group))
        x = g["tki_years"].to_numpy(dtype=float)
        ax.plot(
            x,
            100 * g["mean"],
            marker="o",
            ms=3.0,
            color=colour,
            ls=group_linestyle(str(group)),
            label=group_label(str(group)),
        )
        if int(g["n_replicates"].max()) > 1:
            # Only the overall group gets a band: four overlapping bands read as one.
            alpha = 0.15 if group == "all" or len(present) == 1 else 0.0
            ax.fill_between(
                x, 100 * g["band_lower"], 100 * g["band_upper"], color=colour, alpha=alpha, lw=0
            )
    ax.set_xlabel(code_label("tki_years"))
    ax.set_ylabel(f"MRFS at {month:g} months (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    apply_axes_style(ax)
    return ax


@styled
def figure_stop_timing(summary: pd.DataFrame) -> Figure:
    """One panel per milestone month (see :func:`plot_stop_timing`)."""
    months = sorted(summary["month"].dropna().unique())
    fig, grid = new_figure_mm(DOUBLE_COLUMN_MM, 70.0, ncols=len(months), squeeze=False)
    axes = list(grid[0])
    for month, ax in zip(months, axes, strict=True):
        plot_stop_timing(summary, month, ax=ax)
        ax.set_title(f"{month:g} months", loc="left")
    axes[0].legend(fontsize=SMALL_PT, loc="lower right")
    n = int(summary["n_replicates"].max())
    fig.suptitle(f"MRFS by time on imatinib before stopping\n{replicates_note(n)}")
    return fig


@styled
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
    ax = ax if ax is not None else new_axes_mm(COLUMN_MM, 70.0)
    rows = summary[summary["estimand"] == estimand]
    if month is not None:
        rows = rows[rows["month"] == month]
    grid = rows.pivot_table(index="schedule", columns="rule", values="mean", aggfunc="mean")
    grid = grid.reindex(
        index=_ordered(grid.index, SCHEDULE_ORDER), columns=_ordered(grid.columns, RULE_ORDER)
    )
    values = grid.to_numpy(dtype=float) * (100 if estimand == "mrfs" else 1)
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(
        range(grid.shape[1]), [code_label(str(c)) for c in grid.columns], rotation=30, ha="right"
    )
    ax.set_yticks(range(grid.shape[0]), [schedule_label(str(i)) for i in grid.index])
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            # viridis is dark at the low end and light at the high end.
            light = float(np.asarray(image.norm(np.asarray([v])))[0]) > 0.6
            colour = "black" if light else "white"
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", color=colour, fontsize=SMALL_PT)
    label = (
        f"observed MRFS at {month:g} months (%)"
        if estimand == "mrfs" and month is not None
        else "median detection delay (months)"
    )
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(label)
    ax.set_xlabel("Relapse rule")
    ax.set_ylabel("Visit schedule")
    apply_axes_style(ax)
    return ax


@styled
def figure_monitoring(summary: pd.DataFrame, month: float = 12.0) -> Figure:
    """Observed MRFS at ``month`` and detection delay, schedule x rule."""
    fig, axes = new_figure_mm(DOUBLE_COLUMN_MM, 75.0, ncols=2)
    months = summary.loc[summary["estimand"] == "mrfs", "month"].dropna().unique()
    shown = month if month in months else float(sorted(months)[0])
    plot_monitoring(summary, "mrfs", month=shown, ax=axes[0])
    plot_monitoring(summary, "detection_delay", ax=axes[1])
    axes[0].set_title(f"Observed MRFS at {shown:g} months", loc="left")
    axes[1].set_title("Delay: observed relapse − latent loss of MMR", loc="left")
    n = int(summary["n_replicates"].max())
    what = "one replicate" if n <= 1 else f"mean of {n} replicates"
    fig.suptitle(f"Same patients, other monitoring ({what})")
    return fig


@styled
def plot_power(summary: pd.DataFrame, *, alpha: float = 0.05, ax: Axes | None = None) -> Axes:
    """Share of replicates detecting each covariate against cohort size, 95 % Wilson CI.

    Covariates are dodged along x (a few percent apart on the log axis) and drawn
    as points with error bars joined by lines, so intervals never overlap.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`tfrsim.sweep.experiments.summarise_power`.
    alpha : float, default 0.05
        Test level (drawn as a reference line).
    ax : matplotlib.axes.Axes, optional
    """
    ax = ax if ax is not None else new_axes_mm(COLUMN_MM, 70.0)
    covariates = sorted(str(c) for c in summary["covariate"].unique())
    # Dodge: factors symmetric around 1 on the log axis (ASSUMPTION: 4 % apart).
    offsets = 1.04 ** (np.arange(len(covariates)) - (len(covariates) - 1) / 2)
    for covariate, factor in zip(covariates, offsets, strict=True):
        g = summary[summary["covariate"].astype(str) == covariate].sort_values("n_patients")
        x = g["n_patients"].to_numpy(dtype=float) * factor
        power = 100 * g["power"].to_numpy(dtype=float)
        yerr = np.vstack(
            [power - 100 * g["lower"].to_numpy(float), 100 * g["upper"].to_numpy(float) - power]
        )
        ax.errorbar(
            x,
            power,
            yerr=np.clip(yerr, 0, None),
            marker="o",
            ms=3.0,
            lw=0.9,
            elinewidth=0.8,
            capsize=1.5,
            label=covariate_label(covariate),
        )
    ax.axhline(80, color="grey", ls="--", lw=0.6)
    ax.axhline(100 * alpha, color="grey", ls=":", lw=0.6)
    ax.set_xscale("log")
    sizes = sorted(summary["n_patients"].unique())
    ax.set_xticks(sizes, [str(int(n)) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("Patients in the trial")
    ax.set_ylabel(f"Replicates with P < {alpha:g} (%)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_PT, loc="upper left")
    n = int(summary["n_replicates"].max())
    what = "1 replicate" if n == 1 else f"{n} replicates"
    ax.set_title(f"Cox power ({what} per size; bars: 95% Wilson CI)", loc="left")
    apply_axes_style(ax)
    return ax


def figure_power(summary: pd.DataFrame) -> Figure:
    """The power figure (see :func:`plot_power`)."""
    ax = plot_power(summary)
    fig = ax.get_figure(root=True)
    if not isinstance(fig, Figure):  # pragma: no cover - plot_power always draws on one
        raise RuntimeError("the power axes belong to no figure")
    return fig
