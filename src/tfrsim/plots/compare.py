"""Figure of a paired scenario comparison (:func:`tfrsim.ensemble.compare`)."""

import textwrap

import pandas as pd
from matplotlib.axes import Axes

from tfrsim.plots.figure import new_axes_mm
from tfrsim.plots.style import OKABE_ITO, publication_style


def plot_comparison(
    table: pd.DataFrame,
    *,
    group: str = "all",
    label_a: str = "A",
    label_b: str = "B",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """MRFS difference (B - A, percentage points) at each milestone, with the paired
    CI (thick) beside the unpaired CI the same replicates would give (thin).

    Parameters
    ----------
    table : pandas.DataFrame
        :attr:`tfrsim.ensemble.Comparison.table`.
    group : str, default "all"
        KM group to show.
    label_a, label_b : str
        Scenario names for the axis label.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = table[(table["estimand"] == "mrfs") & (table["group"] == group)].sort_values("month")
    with publication_style():
        if ax is None:
            ax = new_axes_mm(89, 62)
        x = range(len(rows))
        d = 100 * rows["difference"].to_numpy(float)
        for offset, kind, colour, width in (
            (-0.12, "paired", OKABE_ITO["blue"], 2.2),
            (0.12, "unpaired", OKABE_ITO["vermillion"], 1.0),
        ):
            lower = 100 * rows[f"{kind}_lower"].to_numpy(float)
            upper = 100 * rows[f"{kind}_upper"].to_numpy(float)
            ax.errorbar(
                [i + offset for i in x],
                d,
                yerr=[d - lower, upper - d],
                fmt="o",
                ms=3,
                lw=width,
                capsize=2,
                color=colour,
                label=f"{kind} 95% CI",
            )
        ax.axhline(0, color="0.5", lw=0.6, ls="--")
        ax.set_xticks(list(x), [f"{m:g}" for m in rows["month"]])
        ax.set_xlabel("Months since stopping the TKI")
        ax.set_ylabel(f"MRFS difference, {label_b} − {label_a}\n(percentage points)")
        n = int(rows["n"].max()) if len(rows) else 0
        # Below the axes: inside, the legend would sit on the (wide) unpaired bars.
        ax.legend(
            frameon=False,
            title=f"{n} paired replicates",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
        )
        if title:
            wrapped = "\n".join(textwrap.fill(line, 60) for line in title.splitlines())
            ax.set_title(wrapped, loc="left", fontsize="small")
    return ax
