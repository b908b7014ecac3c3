"""Measured BCR-ABL1 over time for a few patients, relapsers and non-relapsers."""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from tfrsim.plots.figure import new_axes_mm
from tfrsim.plots.style import COLUMN_MM, OKABE_ITO, SMALL_PT, apply_axes_style, styled

#: Colours of relapsers and non-relapsers (Okabe–Ito vermillion and blue).
RELAPSE_COLOUR = OKABE_ITO["vermillion"]
REMISSION_COLOUR = OKABE_ITO["blue"]
#: MR4.5 = 0.0032 % IS: the usual detection limit of a good sample (ross2018_enestfreedom).
MR45_PCT = 0.0032


@styled
def plot_trajectories(
    visits: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    n_each: int = 5,
    mmr_pct: float = 0.1,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Plot measured BCR-ABL1 (% IS, log scale) of relapsers and non-relapsers.

    Positive tests are filled markers joined by lines; undetectable tests are open
    markers drawn at the sample's own detection limit (one copy in its ABL1 copies);
    the thin dotted line is the true level the assay sampled.

    Parameters
    ----------
    visits : pandas.DataFrame
        Tests (columns patient_id, month, true_pct, measured_pct, detected,
        sensitivity_mr), e.g. ``StudyResult.visits``.
    patients : pandas.DataFrame
        Patient table (columns patient_id, event).
    n_each : int, default 5
        Relapsers and non-relapsers to show: the first ones (by ``patient_id``) that
        have tests in ``visits`` — a fixed, reproducible choice.
    mmr_pct : float, default 0.1
        The MMR line (% IS).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    if n_each < 1:
        raise ValueError(f"`n_each` must be >= 1; got {n_each}")
    ax = ax if ax is not None else new_axes_mm(COLUMN_MM * 1.35, 75.0)
    tested = patients[patients["patient_id"].isin(visits["patient_id"].unique())]
    chosen = {
        True: tested.loc[tested["event"], "patient_id"].head(n_each).tolist(),
        False: tested.loc[~tested["event"], "patient_id"].head(n_each).tolist(),
    }
    for relapsed, ids in chosen.items():
        colour = RELAPSE_COLOUR if relapsed else REMISSION_COLOUR
        for pid in ids:
            v = visits[visits["patient_id"] == pid].sort_values("month")
            limit = 100.0 * 10.0 ** (-v["sensitivity_mr"].to_numpy())
            shown = np.where(v["detected"], v["measured_pct"], limit)
            ax.plot(v["month"], shown, color=colour, alpha=0.55, lw=1.0)
            ax.plot(v["month"], v["true_pct"], color=colour, alpha=0.35, lw=0.8, ls=":")
            det = v["detected"].to_numpy()
            ax.scatter(v["month"][det], shown[det], color=colour, s=6, zorder=3)
            ax.scatter(
                v["month"][~det], shown[~det], facecolors="none", edgecolors=colour, s=6, zorder=3
            )
    ax.axhline(mmr_pct, color="black", lw=1.0, ls="--")
    ax.axhline(MR45_PCT, color="grey", lw=1.0, ls="-.")
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 200.0)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("Months since stopping the TKI")
    ax.set_ylabel("BCR-ABL1 (% IS, log scale)")
    ax.set_title(title or "Measured BCR-ABL1 after stopping the TKI", loc="left")
    handles = [
        Line2D([], [], color=RELAPSE_COLOUR, marker="o", label=f"relapsed ({len(chosen[True])})"),
        Line2D(
            [], [], color=REMISSION_COLOUR, marker="o", label=f"no relapse ({len(chosen[False])})"
        ),
        Line2D(
            [],
            [],
            color="grey",
            marker="o",
            mfc="none",
            ls="none",
            label="undetectable (at sample's limit)",
        ),
        Line2D([], [], color="grey", ls=":", label="true level"),
        Line2D([], [], color="black", ls="--", label=f"MMR ({mmr_pct:g} % IS)"),
        Line2D([], [], color="grey", ls="-.", label=f"MR4.5 ({MR45_PCT:g} % IS)"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=SMALL_PT, frameon=True, framealpha=0.9)
    apply_axes_style(ax)
    return ax
