"""Forest plot of Cox hazard ratios with a table: term, n/events, HR (95% CI), P.

Rows top to bottom follow the model terms; the Sokal indicators are preceded by
their reference level ("Sokal low (ref)", drawn at HR 1 without an interval), so
with the Sokal terms first (the default model) term ``k`` still sits at
``y = n_terms - 1 - k``.
"""

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

from tfrsim.analysis.columns import group_mask, sokal_codes
from tfrsim.cohort.params import SOKAL_GROUPS
from tfrsim.plots.figure import new_axes_mm
from tfrsim.plots.style import (
    SMALL_PT,
    abbreviates,
    apply_axes_style,
    count_text,
    covariate_label,
    format_hr,
    format_p,
    styled,
    text_width_pt,
)

if TYPE_CHECKING:
    from tfrsim.analysis.cox import CoxResult

logger = logging.getLogger(__name__)

#: Text shown in place of an estimate that does not exist (dropped term, failed fit).
NOT_ESTIMATED: str = "not estimated"
#: Artist id of the column headers and cells of the table.
TABLE_GID: str = "forest-table"
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
#: Right-hand columns: the first starts this far right of the axes, each next one
#: after the widest text of the previous plus a gap (points; ASSUMPTION: legible gaps
#: at 6.5 pt).
_FIRST_DX_PT, _GAP_PT = 6.0, 8.0
_ROW_MM = 4.5
#: The HR cell of a reference level.
REFERENCE_CELL: str = "1 (reference)"


def sokal_counts(patients: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Patients and events per Sokal level, keyed like the Cox terms (``sokal_low``).

    Parameters
    ----------
    patients : pandas.DataFrame
        Patient table (``sokal_group``, ``event``).

    Returns
    -------
    dict
        ``{"sokal_<group>": (n, events)}`` for every non-empty group; the
        ``counts`` argument of :func:`plot_forest`.
    """
    out: dict[str, tuple[int, int]] = {}
    column = patients["sokal_group"]
    coded = sokal_codes(column) is not None  # compare codes, not a string per row
    groups = column if coded else column.astype("string")
    events = patients["event"].to_numpy(dtype=bool)
    for group in SOKAL_GROUPS:
        if coded:
            mask = group_mask(column, group)
        else:
            mask = (groups == group).fillna(False).to_numpy(dtype=bool)
        if mask.any():
            out[f"sokal_{group}"] = (int(mask.sum()), int(events[mask].sum()))
    return out


def _rows(terms: list[str], reference: bool) -> list[tuple[str, int | None]]:
    """(term, index in the table or None for a reference row), top to bottom."""
    rows: list[tuple[str, int | None]] = []
    for i, term in enumerate(terms):
        if (
            reference
            and term.startswith("sokal_")
            and not any(t.startswith("sokal_") for t, _ in rows)
        ):
            rows.append((f"sokal_{SOKAL_GROUPS[0]}", None))
        rows.append((term, i))
    return rows


def _label(term: str, is_reference: bool, reference: bool) -> str:
    if is_reference:
        return f"Sokal {term[len('sokal_') :]} (ref)"
    if reference and term.startswith("sokal_") and term[len("sokal_") :] in SOKAL_GROUPS:
        return f"Sokal {term[len('sokal_') :]}"
    return covariate_label(term)


def _cell(ax: Axes, text: str, x: float, y: float, dx: float, **kw: object) -> None:
    ax.annotate(
        text,
        xy=(x, y),
        xycoords=("axes fraction", "data"),
        xytext=(dx, 0.0),
        textcoords="offset points",
        va="center",
        fontsize=SMALL_PT + 0.5,
        annotation_clip=False,
        gid=TABLE_GID,
        **kw,  # type: ignore[arg-type]
    )


@styled
def plot_forest(
    cox: "CoxResult",
    *,
    ax: Axes | None = None,
    title: str | None = None,
    counts: Mapping[str, tuple[int, int]] | None = None,
    reference: bool = True,
    p_column: bool = True,
) -> Axes:
    """Forest plot: one row per Cox term with a table of n/events, HR (95% CI) and P.

    Parameters
    ----------
    cox : CoxResult
        Result of :func:`tfrsim.analysis.fit_cox`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure (120 mm wide) is created when None.
    title : str, optional
        Axes title; defaults to "Cox proportional-hazards model" (with a
        "not converged" note when the fit did not converge).
    counts : mapping of term to (n, events), optional
        E.g. :func:`sokal_counts`; adds an "n/events" column (blank for terms
        not in the mapping, such as continuous covariates). The model's total
        ``n`` / events is shown under the axis in any case.
    reference : bool, default True
        Insert the reference level row "Sokal low (ref)" before the Sokal terms
        (and label the indicators "Sokal intermediate", "Sokal high").
    p_column : bool, default True
        Add the Wald P column.

    Returns
    -------
    matplotlib.axes.Axes
        Log-scaled HR on x, a dashed line at HR = 1, rows on y (first term at the
        top); the table texts have gid :data:`TABLE_GID`; terms without an
        estimate read "not estimated".
    """
    table = cox.table
    terms = [str(c) for c in table["covariate"]]
    rows = _rows(terms, reference)
    n_rows = len(rows)
    if ax is None:
        # ASSUMPTION: 120 mm (a 1.5-column width) leaves room for the table columns.
        ax = new_axes_mm(120.0, 22.0 + _ROW_MM * max(n_rows, 1))
    level = round(100 * (1 - cox.alpha))
    ax.set_xscale("log")
    finite = table[["hr", "lower", "upper"]].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    lo = float(np.clip(finite.min(), _HR_FLOOR, 1.0)) if finite.size else 0.25
    hi = float(np.clip(finite.max(), 1.0, _HR_CEIL)) if finite.size else 4.0
    # Margins on the log scale: room for the markers.
    lo, hi = lo / 1.5, hi * 1.5
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([t for t in _HR_TICKS if lo <= t <= hi]))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=0.7)

    with_n = counts is not None
    y_positions = np.arange(n_rows)[::-1].astype(float)
    estimates = table[["hr", "lower", "upper"]].to_numpy(dtype=float)
    p_values = table["p"].to_numpy(dtype=float) if "p" in table else np.full(len(table), np.nan)
    # The cells' texts first, so each column starts clear of the previous one's widest
    # text (a fixed 42 pt ran "499592/286354" into the HR column at 10^6 patients).
    shown_counts = {t: counts[t] for t, _ in rows if t in counts} if counts is not None else {}
    abbreviate = abbreviates(c for pair in shown_counts.values() for c in pair)
    n_cells = {
        t: f"{count_text(n, abbreviate)}/{count_text(e, abbreviate)}"
        for t, (n, e) in shown_counts.items()
    }
    hr_cells = {
        index: format_hr(*estimates[index])
        for _, index in rows
        if index is not None and np.isfinite(estimates[index][0])
    }
    hr_header, size = f"HR ({level}% CI)", SMALL_PT + 0.5
    n_dx = _FIRST_DX_PT
    hr_dx = n_dx
    if with_n:
        hr_dx += _GAP_PT + max(
            text_width_pt(list(n_cells.values()), size),
            text_width_pt(["n/events"], size, bold=True),
        )
    p_dx = (
        hr_dx
        + _GAP_PT
        + max(
            text_width_pt([*hr_cells.values(), REFERENCE_CELL], size),
            text_width_pt([hr_header], size, bold=True),
        )
    )
    for y, (term, index) in zip(y_positions, rows, strict=True):
        if term in n_cells:
            _cell(ax, n_cells[term], 1.0, y, n_dx, ha="left")
        if index is None:  # reference level: HR 1 by definition
            ax.plot([1.0], [y], marker="D", color="black", markersize=3.0, mfc="white")
            _cell(ax, REFERENCE_CELL, 1.0, y, hr_dx, ha="left", color="dimgrey")
            continue
        hr, lower, upper = estimates[index]
        if not np.isfinite(hr):
            ax.text(
                1.0,
                y,
                NOT_ESTIMATED,
                ha="center",
                va="center",
                color="grey",
                fontstyle="italic",
                fontsize=SMALL_PT + 0.5,
            )
            continue
        shown = float(np.clip(hr, lo, hi))
        left = float(np.clip(lower, lo, hi)) if np.isfinite(lower) else lo
        right = float(np.clip(upper, lo, hi)) if np.isfinite(upper) else hi
        ax.plot([left, right], [y, y], color="black", linewidth=1.0)
        ax.plot([shown], [y], marker="s", color="black", markersize=4)
        if not (np.isfinite(upper) and upper <= hi):
            ax.annotate("", xy=(hi, y), xytext=(right / 1.2, y), arrowprops={"arrowstyle": "->"})
        if not (np.isfinite(lower) and lower >= lo):
            ax.annotate("", xy=(lo, y), xytext=(left * 1.2, y), arrowprops={"arrowstyle": "->"})
        _cell(ax, hr_cells[index], 1.0, y, hr_dx, ha="left")
        if p_column:
            _cell(ax, format_p(float(p_values[index])), 1.0, y, p_dx, ha="left")
    if n_rows == 0:
        ax.text(0.5, 0.5, "no covariates", transform=ax.transAxes, ha="center", va="center")
    labels = [_label(term, index is None, reference) for term, index in rows]
    ax.set_yticks(y_positions, labels)
    ax.set_ylim(-0.7, max(n_rows, 1) - 0.3)
    # Column headers just above the axes, aligned with their columns.
    top = max(n_rows, 1) - 0.3
    headers = [("Term", 0.0, -4.0, "right")]
    if with_n:
        headers.append(("n/events", 1.0, n_dx, "left"))
    headers.append((hr_header, 1.0, hr_dx, "left"))
    if p_column:
        headers.append(("P", 1.0, p_dx, "left"))
    for text, x, dx, ha in headers:
        ax.annotate(
            text,
            xy=(x, top),
            xycoords=("axes fraction", "data"),
            xytext=(dx, 4.0),
            textcoords="offset points",
            ha=ha,
            va="bottom",
            fontsize=SMALL_PT + 0.5,
            fontweight="bold",
            annotation_clip=False,
            gid=TABLE_GID,
        )
    ax.set_xlabel(
        f"Hazard ratio of molecular relapse ({level}% CI, log scale)\n"
        f"n = {cox.n} patients, {cox.n_events} events"
    )
    ax.set_ylabel("")
    ax.tick_params(axis="y", length=0)
    default = "Cox proportional-hazards model"
    if not cox.converged:
        default += " (not converged)"
    ax.set_title(title if title is not None else default, loc="left", pad=14.0)
    apply_axes_style(ax)
    ax.tick_params(axis="y", length=0)
    logger.debug("forest plot of %d terms (converged=%s)", n_rows, cox.converged)
    return ax
