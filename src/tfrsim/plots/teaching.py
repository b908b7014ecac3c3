"""Plots for the teaching notebooks: one group's MRFS from several results, overlaid."""

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.axes import Axes

from tfrsim.plots.figure import new_axes
from tfrsim.plots.style import group_label
from tfrsim.plots.survival import _check_published, _draw_published

if TYPE_CHECKING:
    from tfrsim.analysis.km import KMResult

logger = logging.getLogger(__name__)


def plot_km_comparison(
    kms: Mapping[str, "KMResult"],
    *,
    group: str = "all",
    ax: Axes | None = None,
    ci: bool = True,
    published: pd.DataFrame | None = None,
    title: str | None = None,
) -> Axes:
    """Overlay one group's Kaplan–Meier MRFS from several results (e.g. scenarios).

    Parameters
    ----------
    kms : mapping of str to KMResult
        Legend label -> result of :func:`tfrsim.analysis.fit_km`, drawn in order with
        matplotlib's colour cycle.
    group : str, default "all"
        Group drawn from every result: ``"all"`` or a Sokal group.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    ci : bool, default True
        Shade each curve's pointwise confidence interval.
    published : pandas.DataFrame, optional
        Published MRFS to overlay, as for :func:`tfrsim.plots.plot_km`.
    title : str, optional
        Axes title; defaults to "Molecular relapse-free survival (<group>)".

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: months since stopping on x, MRFS probability on y.

    Raises
    ------
    ValueError
        If ``kms`` is empty or a result has no curve for ``group``.
    """
    if not kms:
        raise ValueError("`kms` must hold at least one KMResult; got an empty mapping")
    missing = [label for label, km in kms.items() if not (km.curves["group"] == group).any()]
    if missing:
        raise ValueError(
            f"`group` {group!r} has no curve in result(s) {missing}; "
            "use 'all' or a Sokal group present in every result"
        )
    if ax is None:
        ax = new_axes(7.0, 4.5)
    right = 0.0
    for label, km in kms.items():
        curve = km.curves[km.curves["group"] == group]
        month = curve["month"].to_numpy(dtype=float)
        (line,) = ax.step(month, curve["survival"].to_numpy(dtype=float), where="post", label=label)
        if ci:
            ax.fill_between(
                month,
                curve["lower"].to_numpy(dtype=float),
                curve["upper"].to_numpy(dtype=float),
                step="post",
                color=line.get_color(),
                alpha=0.12,
                linewidth=0,
            )
        right = max(right, float(month.max()))
    if published is not None:
        _draw_published(ax, _check_published(published))
        right = max(right, float(published["month"].max()))
    ax.set_xlim(0.0, (right if right > 0 else 1.0) * 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("Months since stopping the TKI")
    ax.set_ylabel("MRFS (probability)")
    ax.set_title(
        title if title is not None else f"Molecular relapse-free survival ({group_label(group)})"
    )
    legend_title = (
        f"shaded: {round(100 * (1 - next(iter(kms.values())).alpha))}% CI" if ci else None
    )
    ax.legend(loc="upper right", fontsize=8, title=legend_title, title_fontsize=8)
    logger.debug("compared %d KM curves of group %s", len(kms), group)
    return ax
