"""Kaplan–Meier MRFS curves with an at-risk table and published overlays."""

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from tfrsim.plots.figure import new_axes
from tfrsim.plots.style import PUBLISHED_COLOUR, group_colour, group_label

if TYPE_CHECKING:
    from tfrsim.analysis.km import KMResult

logger = logging.getLogger(__name__)

PUBLISHED_COLUMNS: tuple[str, ...] = ("month", "survival", "lower", "upper", "label")
#: Artist id of every text of the at-risk table (lets callers and tests find them).
AT_RISK_GID: str = "at-risk"
#: Layout of the at-risk table below the axes, in points: it starts below the
#: x tick labels and axis label, one row per group.
_TABLE_TOP_PT, _ROW_PT, _FONT_SIZE = 42.0, 11.0, 8.0
#: Row labels end this far left of the axes, clear of a count centred on month 0.
_LABEL_DX_PT = -16.0


def _check_published(published: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in PUBLISHED_COLUMNS if c not in published.columns]
    if missing:
        raise ValueError(
            f"published is missing column(s) {missing}; expected {list(PUBLISHED_COLUMNS)}"
        )
    values = published["survival"].to_numpy(dtype=float)
    if np.any((values < 0) | (values > 1)):
        raise ValueError(
            "published['survival'] must be probabilities in [0, 1], "
            f"got values in [{np.nanmin(values):g}, {np.nanmax(values):g}]"
        )
    return published


def _draw_published(ax: Axes, published: pd.DataFrame) -> None:
    markers = ("o", "s", "^", "D", "v")
    for i, (label, rows) in enumerate(published.groupby("label", sort=False)):
        s = rows["survival"].to_numpy(dtype=float)
        # A missing bound has no bar on that side rather than dropping the point.
        below = np.nan_to_num(s - rows["lower"].to_numpy(dtype=float), nan=0.0)
        above = np.nan_to_num(rows["upper"].to_numpy(dtype=float) - s, nan=0.0)
        ax.errorbar(
            rows["month"].to_numpy(dtype=float),
            s,
            yerr=np.vstack([below.clip(min=0), above.clip(min=0)]),
            fmt=markers[i % len(markers)],
            color=PUBLISHED_COLOUR,
            ecolor=PUBLISHED_COLOUR,
            capsize=3,
            markersize=5,
            zorder=4,
            label=f"published ({label})",
        )


def _cell(
    ax: Axes,
    text: str,
    xy: tuple[float, float],
    xycoords: str | tuple[str, str],
    offset: tuple[float, float],
    *,
    ha: str,
    colour: str = "black",
    bold: bool = False,
) -> None:
    """One text of the at-risk table, placed ``offset`` points from ``xy``."""
    ax.annotate(
        text,
        xy=xy,
        xycoords=xycoords,
        xytext=offset,
        textcoords="offset points",
        annotation_clip=False,
        fontsize=_FONT_SIZE,
        fontweight="bold" if bold else "normal",
        ha=ha,
        va="top",
        color=colour,
        gid=AT_RISK_GID,
    )


def _draw_at_risk(ax: Axes, at_risk: pd.DataFrame, groups: list[str]) -> None:
    months = np.unique(at_risk["month"].to_numpy(dtype=float))
    ax.set_xticks(months)
    corner = (0.0, 0.0)
    _cell(
        ax, "Number at risk", corner, "axes fraction", (0.0, -_TABLE_TOP_PT), ha="right", bold=True
    )
    for row, group in enumerate(groups):
        y = -_TABLE_TOP_PT - _ROW_PT * (row + 1)
        colour = group_colour(group)
        _cell(
            ax,
            group_label(group),
            corner,
            "axes fraction",
            (_LABEL_DX_PT, y),
            ha="right",
            colour=colour,
        )
        counts = at_risk[at_risk["group"] == group]
        for month, n in zip(counts["month"], counts["at_risk"], strict=True):
            # x in data units (aligned with the tick), y in axes units (below the axis).
            _cell(
                ax,
                f"{int(n)}",
                (float(month), 0.0),
                ("data", "axes fraction"),
                (0.0, y),
                ha="center",
                colour=colour,
            )


def plot_km(
    km: "KMResult",
    *,
    ax: Axes | None = None,
    at_risk: bool = True,
    published: pd.DataFrame | None = None,
    title: str | None = None,
) -> Axes:
    """Plot Kaplan–Meier MRFS by group with pointwise CI bands.

    Parameters
    ----------
    km : KMResult
        Result of :func:`tfrsim.analysis.fit_km`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    at_risk : bool
        Draw the numbers at risk (rows: groups, columns: ``km.at_risk`` months,
        aligned with the x ticks) below the axes.
    published : pandas.DataFrame, optional
        Published MRFS to overlay, columns ``month`` (months), ``survival``,
        ``lower``, ``upper`` (probabilities; bounds may be NaN) and ``label``; one
        legend entry ``"published (label)"`` per label.
    title : str, optional
        Axes title; defaults to "Molecular relapse-free survival".

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on. Nothing is shown or saved.
    """
    if ax is None:
        ax = new_axes(7.0, 5.0)
    curves = km.curves
    groups = list(dict.fromkeys(curves["group"]))
    level = round(100 * (1 - km.alpha))
    for group in groups:
        curve = curves[curves["group"] == group]
        month = curve["month"].to_numpy(dtype=float)
        colour = group_colour(group)
        ax.step(
            month,
            curve["survival"].to_numpy(dtype=float),
            where="post",
            color=colour,
            label=group_label(group),
        )
        ax.fill_between(
            month,
            curve["lower"].to_numpy(dtype=float),
            curve["upper"].to_numpy(dtype=float),
            step="post",
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
    x_max = [float(curves["month"].max()) if len(curves) else 0.0]
    if published is not None:
        _draw_published(ax, _check_published(published))
        x_max.append(float(published["month"].max()))
    if at_risk and len(km.at_risk):
        _draw_at_risk(ax, km.at_risk, groups)
        x_max.append(float(km.at_risk["month"].max()))
    right = max(x_max) if max(x_max) > 0 else 1.0
    ax.set_xlim(0.0, right * 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("Months since stopping imatinib")
    ax.set_ylabel("MRFS (probability)")
    ax.set_title(title if title is not None else "Molecular relapse-free survival")
    if groups or published is not None:
        ax.legend(loc="upper right", fontsize=8, title=f"shaded: {level}% CI", title_fontsize=8)
    logger.debug("plotted KM curves for groups %s", groups)
    return ax
