"""A predicted trial: expected MRFS with its parameter band and prediction band."""

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MultipleLocator, PercentFormatter

from tfrsim.plots.calibration import draw_pass_fail
from tfrsim.plots.figure import new_axes_mm
from tfrsim.plots.style import (
    COLUMN_MM,
    PUBLISHED_COLOUR,
    SIMULATED_COLOUR,
    SMALL_PT,
    apply_axes_style,
    styled,
)
from tfrsim.plots.survival import x_step_for


@styled
def plot_prediction(
    grid: np.ndarray,
    curve: Mapping[str, np.ndarray],
    *,
    n_trial: int,
    published: pd.DataFrame | None = None,
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """Predicted MRFS: the expectation, its 95 % interval from parameter uncertainty
    (dark band), the 95 % prediction interval for a trial of ``n_trial`` (light band)
    and, if given, published points with their 95 % CIs, marked inside / outside the
    prediction interval (column ``inside``).

    ``curve`` holds ``expectation``, ``param_lower``, ``param_upper``, ``pi_lower``,
    ``pi_upper`` on ``grid``; ``published`` columns month, published,
    published_lower, published_upper, inside.
    """
    ax = ax if ax is not None else new_axes_mm(COLUMN_MM, 65.0)
    ax.fill_between(
        grid,
        curve["pi_lower"],
        curve["pi_upper"],
        step="post",
        color=SIMULATED_COLOUR,
        alpha=0.15,
        lw=0,
        label=f"95% prediction interval, trial of n = {n_trial}",
    )
    ax.fill_between(
        grid,
        curve["param_lower"],
        curve["param_upper"],
        step="post",
        color=SIMULATED_COLOUR,
        alpha=0.4,
        lw=0,
        label="95% interval of the expectation (parameters)",
    )
    ax.step(
        grid,
        curve["expectation"],
        where="post",
        color=SIMULATED_COLOUR,
        lw=1.2,
        label="expected MRFS",
    )
    right = float(grid[-1])
    if published is not None and len(published):
        month = published["month"].to_numpy(dtype=float)
        value = published["published"].to_numpy(dtype=float)
        lower = published["published_lower"].to_numpy(dtype=float)
        upper = published["published_upper"].to_numpy(dtype=float)
        yerr = np.clip(np.nan_to_num(np.vstack([value - lower, upper - value])), 0, None)
        ax.errorbar(
            month,
            value,
            yerr=yerr,
            fmt="none",
            ecolor=PUBLISHED_COLOUR,
            elinewidth=0.8,
            capsize=1.5,
            zorder=3,
        )
        inside = published["inside"].to_numpy(dtype=bool)
        draw_pass_fail(ax, month, value, inside, always_fail_marker=False)
        ax.plot([], [], color=PUBLISHED_COLOUR, lw=0.8, label="published 95% CI")
        right = max(right, float(month.max()))
    ax.set_xlim(-0.03 * right, right * 1.05 if right > 0 else 1.0)
    ax.set_ylim(0.0, 1.05)
    ax.yaxis.set_major_locator(MultipleLocator(0.25))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.xaxis.set_major_locator(MultipleLocator(x_step_for(right if right > 0 else 1.0)))
    ax.set_xlabel("Months since stopping the TKI")
    ax.set_ylabel("MRFS (%)")
    if title:
        ax.set_title(title, loc="left")
    ax.grid(axis="y", lw=0.3, alpha=0.4)
    apply_axes_style(ax)
    ax.legend(loc="upper right", fontsize=SMALL_PT)
    return ax
