"""Kaplan–Meier MRFS curves with censor marks, a number-at-risk panel and overlays.

Layout (a new figure when ``ax`` is None: one journal column, :data:`KM_WIDTH_MM`)::

    title
    [legend: groups with n / events, CI band, published]      (above the plot)
    +--------------------------------------------+
    | curves (y in %), censor marks, P / HR text |  (optional inset: months 0-12)
    +--------------------------------------------+
    Number at risk          (own Axes, x shared with the curves)
    All patients   300  150  ...
    Sokal low      100   60  ...

Choices (documented here, used below)
-------------------------------------
* **Truncation.** With the patient table, each group's curve stops at the last
  month with at least ``max(min_at_risk, ceil(MIN_AT_RISK_SHARE * n_group))``
  patients at risk (default 5 patients or 1 %): the tail beyond rests on a handful
  of patients and its steps are noise (Pocock, Clayton & Altman 2002, Lancet
  359:1686, "curtail the plot when few patients remain at risk").
* **Censor marks.** A vertical tick on the curve at each censoring time. With many
  patients ticks fuse into a bar, so censoring times are pooled into bins of width
  ``x_end / CENSOR_BINS`` and one tick is drawn per bin that holds any censoring
  (at the first censoring time of the bin). Small cohorts (every censoring time in
  its own bin) therefore get one tick per distinct censoring time.
* **At-risk table.** Counts at the x ticks (regular steps to the end of follow-up)
  when the patient table is given, computed as in :func:`tfrsim.analysis.fit_km`
  (``duration_months >= month``); otherwise the ``km.at_risk`` months, dropping a
  month closer than ``0.6`` tick steps to the previous one so numbers cannot
  overlap.
"""

import logging
import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MultipleLocator, PercentFormatter

from tfrsim.analysis.columns import group_mask, sokal_codes
from tfrsim.plots.figure import new_figure_mm
from tfrsim.plots.style import (
    COLUMN_MM,
    PUBLISHED_COLOUR,
    SMALL_PT,
    abbreviates,
    apply_axes_style,
    count_text,
    format_hr,
    format_p,
    group_colour,
    group_label,
    group_linestyle,
    mm,
    styled,
    text_width_pt,
)

if TYPE_CHECKING:
    from tfrsim.analysis.km import KMResult

logger = logging.getLogger(__name__)

PUBLISHED_COLUMNS: tuple[str, ...] = ("month", "survival", "lower", "upper", "label")
#: Artist id of every text of the at-risk table and of its Axes (lets callers and
#: tests find them).
AT_RISK_GID: str = "at-risk"
#: Artist id of the censor marks (one Line2D per group).
CENSOR_GID: str = "censor-marks"
#: Artist id of the P / HR annotation.
STATS_GID: str = "km-stats"
#: Artist id of the optional early-months inset.
INSET_GID: str = "km-inset"
#: Figure size of a new KM figure: one journal column; the curve panel height
#: (ASSUMPTION: 55 mm reads well with 7-pt text) plus the table rows.
KM_WIDTH_MM, KM_PLOT_MM = COLUMN_MM, 55.0
#: Height of one at-risk table row and of a block header, in mm (ASSUMPTION:
#: 7-pt text is 2.5 mm tall; 3.2 mm leaves a gap).
_ROW_MM, _HEADER_MM = 3.2, 3.6
#: Height of one 6-pt legend line in mm (6 pt x 1.2 leading + 0.3 em spacing).
_LEGEND_LINE_MM = 3.2
#: Truncation: at least this many patients, or this share of the group, at risk.
MIN_AT_RISK: int = 5
MIN_AT_RISK_SHARE: float = 0.01
#: Censoring times are pooled into this many bins over the x range (one tick per
#: occupied bin; ASSUMPTION: a 3-pt tick every ~1 mm at 89 mm stays legible).
CENSOR_BINS: int = 80
#: Candidate x tick steps in months; the smallest giving at most
#: :data:`MAX_X_INTERVALS` intervals to the end of follow-up is used.
X_STEPS: tuple[float, ...] = (1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0)
MAX_X_INTERVALS: int = 9
#: Rows the at-risk panel can show (block titles).
AT_RISK_ROWS: dict[str, str] = {
    "at_risk": "Number at risk",
    "events": "Cumulative events",
    "censored": "Cumulative censored",
}

CiMode = Literal["overall", "groups", "none"]


class LogRankLike(Protocol):
    """What :func:`plot_km` reads from a log-rank result (``LogRankResult``)."""

    @property
    def p(self) -> float: ...


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
            capsize=1.5,
            markersize=3.5,
            elinewidth=0.8,
            zorder=4,
            label=_published_label(str(label)),
        )


def _published_label(label: str, width: int = 40) -> str:
    """Legend entry of published points, wrapped so it cannot widen the figure."""
    return textwrap.fill(f"published ({label})", width=width, subsequent_indent="  ")


def x_step_for(x_end: float) -> float:
    """Tick step (months) of an axis from 0 to ``x_end`` (see :data:`X_STEPS`)."""
    for step in X_STEPS:
        if x_end / step <= MAX_X_INTERVALS:
            return step
    return X_STEPS[-1] * math.ceil(x_end / (X_STEPS[-1] * MAX_X_INTERVALS))


def _group_members(patients: pd.DataFrame, group: str) -> np.ndarray:
    if group == "all":
        return np.ones(len(patients), dtype=bool)
    column = patients["sokal_group"]
    if sokal_codes(column) is not None:  # the codes, not a string per row (10^6: 40 ms)
        return group_mask(column, group)
    return (column.astype("string") == group).fillna(False).to_numpy(bool)


def _durations_events(patients: pd.DataFrame, group: str) -> tuple[np.ndarray, np.ndarray]:
    mask = _group_members(patients, group)
    d = patients["duration_months"].to_numpy(dtype=float)[mask]
    e = patients["event"].to_numpy(dtype=bool)[mask]
    return d, e


def truncation_month(durations: np.ndarray, min_at_risk: int = MIN_AT_RISK) -> float:
    """Last month with at least ``max(min_at_risk, ceil(1 % of n))`` patients at risk.

    That is the k-th largest duration. A group smaller than the threshold is kept
    whole (its small n shows in the legend).
    """
    n = durations.size
    if n == 0:
        return 0.0
    k = max(min_at_risk, math.ceil(MIN_AT_RISK_SHARE * n))
    ordered = np.sort(durations)[::-1]
    return float(ordered[k - 1] if n >= k else ordered[0])


def censor_mark_months(censored: np.ndarray, x_end: float, bins: int = CENSOR_BINS) -> np.ndarray:
    """Months of the censor ticks: the first censoring time of each occupied bin.

    Parameters
    ----------
    censored : float array
        Censoring times of one group.
    x_end : float
        Right end of the x axis; bins are ``x_end / bins`` months wide.
    bins : int
        Number of bins over ``[0, x_end]``.
    """
    times = np.sort(np.asarray(censored, dtype=float))
    if times.size == 0 or x_end <= 0:
        return times
    index = np.floor(times / (x_end / bins)).astype(int)
    first = np.r_[True, index[1:] != index[:-1]]
    return times[first]


def _step_value(curve: pd.DataFrame, months: np.ndarray, column: str = "survival") -> np.ndarray:
    times = curve["month"].to_numpy(dtype=float)
    idx = np.clip(np.searchsorted(times, months, side="right") - 1, 0, None)
    return curve[column].to_numpy(dtype=float)[idx]


def _truncate(curve: pd.DataFrame, end: float) -> pd.DataFrame:
    """Rows up to ``end``, the last step extended to ``end``."""
    kept = curve[curve["month"] <= end]
    if len(kept) and kept["month"].iloc[-1] < end:
        tail = kept.iloc[[-1]].assign(month=end)
        kept = pd.concat([kept, tail], ignore_index=True)
    return kept


def _table_columns(
    km: "KMResult", patients: pd.DataFrame | None, ticks: np.ndarray, step: float
) -> np.ndarray:
    if patients is not None:
        return ticks
    months = np.unique(km.at_risk["month"].to_numpy(dtype=float))
    months = months[months <= ticks[-1] + 1e-9]
    kept: list[float] = []
    for m in months:
        if not kept or m - kept[-1] >= 0.6 * step:
            kept.append(float(m))
    return np.asarray(kept)


def _table_values(
    km: "KMResult",
    patients: pd.DataFrame | None,
    group: str,
    quantity: str,
    months: np.ndarray,
) -> list[int | None]:
    if patients is None:
        rows = km.at_risk[km.at_risk["group"] == group].set_index("month")["at_risk"]
        return [int(rows[m]) if m in rows.index else None for m in months]
    d, e = _durations_events(patients, group)
    if quantity == "at_risk":
        return [int((d >= m).sum()) for m in months]
    if quantity == "events":
        return [int(((d <= m) & e).sum()) for m in months]
    return [int(((d <= m) & ~e).sum()) for m in months]


def _draw_table(
    table_ax: Axes,
    km: "KMResult",
    patients: pd.DataFrame | None,
    groups: list[str],
    rows: Sequence[str],
    months: np.ndarray,
) -> None:
    """Blocks of rows (one per quantity), one row per group, numbers at ``months``."""
    values = {
        (quantity, group): _table_values(km, patients, group, quantity, months)
        for quantity in rows
        for group in groups
    }
    abbreviate = abbreviates(v for row in values.values() for v in row)
    labels: list[tuple[float, str, str, bool]] = []  # (y, text, colour, header)
    first_counts: list[str] = []  # the counts of the first column, under the row labels
    y = 0.0
    for quantity in rows:
        labels.append((y, AT_RISK_ROWS[quantity], "black", True))
        y -= _HEADER_MM / _ROW_MM
        for group in groups:
            colour = group_colour(group)
            labels.append((y, group_label(group), colour, False))
            row = values[quantity, group]
            for i, (month, value) in enumerate(zip(months, row, strict=True)):
                # Blank after the first 0 at risk: the group has no follow-up left.
                if value is None or (quantity == "at_risk" and 0 in row[:i]):
                    continue
                text = count_text(value, abbreviate)
                if i == 0:
                    first_counts.append(text)
                table_ax.text(
                    float(month),
                    y,
                    text,
                    ha="center",
                    va="center",
                    color=colour,
                    fontsize=SMALL_PT + 0.5,
                    gid=AT_RISK_GID,
                    clip_on=False,
                )
            y -= 1.0
    table_ax.set_ylim(y + 0.5, 0.5)
    table_ax.set_yticks([])
    for spine in table_ax.spines.values():
        spine.set_visible(False)
    table_ax.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    # Row labels right-aligned left of the axes, clear of the widest count centred on
    # the first column (at most the left edge): half its width plus a 3 pt gap, at least
    # 10 pt. A fixed 10 pt ran "All patients" into a five-digit count (n = 5 x 10^4).
    offset = max(10.0, text_width_pt(first_counts, SMALL_PT + 0.5) / 2.0 + 3.0)
    for y_row, text, colour, header in labels:
        table_ax.annotate(
            text,
            xy=(0.0, y_row),
            xycoords=("axes fraction", "data"),
            xytext=(-offset, 0.0),
            textcoords="offset points",
            ha="right",
            va="center",
            color=colour,
            fontsize=SMALL_PT + 0.5,
            fontweight="bold" if header else "normal",
            gid=AT_RISK_GID,
            annotation_clip=False,
        )


def _stats_text(
    logrank: "LogRankLike | float | None",
    hazard_ratio: tuple[float, float, float] | None,
    hazard_ratio_label: str,
    level: int,
) -> str:
    lines = []
    if logrank is not None:
        p = float(logrank) if isinstance(logrank, int | float) else float(logrank.p)
        text = format_p(p)
        lines.append(f"Log-rank P {text}" if text.startswith("<") else f"Log-rank P = {text}")
    if hazard_ratio is not None:
        hr, lo, hi = hazard_ratio
        value = format_hr(hr, lo, hi).replace("(", f"({level}% CI ")
        lines.append(f"{hazard_ratio_label} {value}")
    return "\n".join(lines)


def _new_km_axes(n_table_rows: int, n_blocks: int, legend_lines: int) -> tuple[Axes, Axes | None]:
    table_mm = n_table_rows * _ROW_MM + n_blocks * _HEADER_MM
    # Title, tick labels and axis label (ASSUMPTION: 18 mm) and the legend above.
    extra_mm = 18.0 + legend_lines * _LEGEND_LINE_MM
    if n_table_rows == 0:
        _, ax = new_figure_mm(KM_WIDTH_MM, KM_PLOT_MM + extra_mm)
        return ax, None
    _, axes = new_figure_mm(
        KM_WIDTH_MM,
        KM_PLOT_MM + extra_mm + table_mm,
        nrows=2,
        sharex=True,
        gridspec_kw={"height_ratios": [KM_PLOT_MM, table_mm]},
    )
    return axes[0], axes[1]


def _attach_table_axes(ax: Axes, n_table_rows: int, n_blocks: int) -> Axes:
    """An Axes below a caller's ``ax``, same width, height in mm at the current size."""
    fig = ax.get_figure(root=True)
    assert fig is not None
    height_in = ax.get_position().height * fig.get_figheight()
    table_in = mm(n_table_rows * _ROW_MM + n_blocks * _HEADER_MM)
    gap_in = mm(11.0)  # below the x tick labels and axis label
    frac = table_in / max(height_in, 1e-6)
    table_ax = ax.inset_axes((0.0, -(gap_in / max(height_in, 1e-6)) - frac, 1.0, frac), sharex=ax)
    return table_ax


@styled
def plot_km(
    km: "KMResult",
    *,
    ax: Axes | None = None,
    at_risk: bool = True,
    published: pd.DataFrame | None = None,
    title: str | None = None,
    patients: pd.DataFrame | None = None,
    logrank: "LogRankLike | float | None" = None,
    hazard_ratio: tuple[float, float, float] | None = None,
    hazard_ratio_label: str = "HR",
    ci: CiMode = "overall",
    censor_marks: bool = True,
    min_at_risk: int = MIN_AT_RISK,
    table_rows: Sequence[str] = ("at_risk",),
    inset_months: float | None = None,
    x_step: float | None = None,
    legend_loc: str = "above",
    inset_bounds: tuple[float, float, float, float] = (0.62, 0.42, 0.36, 0.26),
) -> Axes:
    """Plot Kaplan–Meier MRFS by group, with censor marks and a number-at-risk panel.

    Parameters
    ----------
    km : KMResult
        Result of :func:`tfrsim.analysis.fit_km`.
    ax : matplotlib.axes.Axes, optional
        Axes of the curves; a new one-column figure (curves + table panel) when
        None. With a given ``ax`` the table panel is an inset Axes below it.
    at_risk : bool
        Draw the table panel (its own Axes, gid :data:`AT_RISK_GID`, sharing x).
        Once a count reaches 100,000 the table's counts are abbreviated
        (:func:`count_text`).
    published : pandas.DataFrame, optional
        Published MRFS to overlay, columns ``month`` (months), ``survival``,
        ``lower``, ``upper`` (probabilities; bounds may be NaN) and ``label``; one
        legend entry ``"published (label)"`` per label.
    title : str, optional
        Axes title, human text (see :func:`tfrsim.plots.style.trial_title`);
        defaults to "Molecular relapse-free survival".
    patients : pandas.DataFrame, optional
        The patient table the KM was fitted on (``duration_months``, ``event``,
        ``sokal_group``). Enables censor marks, n / events in the legend,
        truncation where few remain at risk, x ticks to the end of follow-up with
        at-risk counts at every tick, and the ``events`` / ``censored`` rows.
    logrank : LogRankResult or float, optional
        Log-rank test (or its P) printed on the panel.
    hazard_ratio : (hr, lower, upper), optional
        A hazard ratio and its CI printed on the panel as
        ``"<hazard_ratio_label> hr (95% CI lower–upper)"``.
    hazard_ratio_label : str, default "HR"
        E.g. ``"HR Sokal high vs low"``.
    ci : {"overall", "groups", "none"}, default "overall"
        Pointwise CI band of the "all" curve only (or the first group), of every
        group, or none.
    censor_marks : bool, default True
        Ticks at censoring times (needs ``patients``; thinned, see module notes).
    min_at_risk : int, default 5
        Truncation threshold (with ``patients``; see module notes).
    table_rows : sequence of {"at_risk", "events", "censored"}, default ("at_risk",)
        Blocks of the table panel; "events" / "censored" need ``patients``.
    inset_months : float, optional
        Add an inset of months 0–``inset_months`` (e.g. 12) at the lower right.
    x_step : float, optional
        Tick step in months; chosen from :data:`X_STEPS` when None.
    legend_loc : str, default "above"
        "above": one column between the title and the plot, never over the data
        (an MRFS legend with n / events and P / HR is too tall for the panel);
        or a matplotlib ``loc`` inside the axes (e.g. "best"). The P / HR text is the
        legend's title (gid :data:`STATS_GID`).
    inset_bounds : (x, y, width, height)
        Axes-fraction bounds of the inset (``inset_months``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the curves (x months, y MRFS in %, data in probabilities).
        Nothing is shown or saved.
    """
    unknown = [r for r in table_rows if r not in AT_RISK_ROWS]
    if unknown:
        raise ValueError(f"table_rows must be among {list(AT_RISK_ROWS)}; got {unknown}")
    if ci not in ("overall", "groups", "none"):
        raise ValueError(f"ci must be 'overall', 'groups' or 'none'; got {ci!r}")
    if patients is None:
        table_rows = [r for r in table_rows if r == "at_risk"]
    if published is not None:
        published = _check_published(published)
    curves = km.curves
    groups = list(dict.fromkeys(curves["group"]))
    level = round(100 * (1 - km.alpha))
    show_table = at_risk and bool(groups) and bool(table_rows)
    if patients is None and not len(km.at_risk):
        show_table = False
    n_rows = len(groups) * len(table_rows) if show_table else 0
    n_blocks = len(table_rows) if show_table else 0
    table_ax: Axes | None = None
    if ax is None:
        legend_lines = 0
        if legend_loc == "above":
            legend_lines = len(groups) + (ci != "none") + (censor_marks and patients is not None)
            legend_lines += (logrank is not None) + (hazard_ratio is not None)
            if published is not None:
                legend_lines += sum(
                    _published_label(str(v)).count("\n") + 1 for v in published["label"].unique()
                )
        ax, table_ax = _new_km_axes(n_rows, n_blocks, legend_lines)
    elif show_table:
        table_ax = _attach_table_axes(ax, n_rows, n_blocks)

    # End of follow-up: the longest duration (or curve), and published points.
    ends = [float(curves["month"].max()) if len(curves) else 0.0]
    if patients is not None and len(patients):
        ends.append(float(patients["duration_months"].max()))
    elif len(km.at_risk):
        ends.append(float(km.at_risk["month"].max()))
    if published is not None and len(published):
        ends.append(float(published["month"].max()))
    x_end = max(ends) if max(ends) > 0 else 1.0
    step = x_step if x_step is not None else x_step_for(x_end)
    # Ticks up to the end of follow-up, the axis a little beyond (no empty step).
    ticks = np.arange(0.0, step * math.floor(x_end / step + 1e-9) + step / 2, step)
    right = x_end * 1.02

    ci_groups = {"overall": groups[:1] if "all" not in groups else ["all"]}.get(
        ci, groups if ci == "groups" else []
    )
    handles: list[Any] = []
    for group in groups:
        curve = curves[curves["group"] == group]
        label = group_label(group)
        end = float(curve["month"].max()) if len(curve) else 0.0
        d = e = None
        if patients is not None:
            d, e = _durations_events(patients, group)
            n_events = int(e.sum())
            label = f"{label}: n = {d.size}, {n_events} event{'s' if n_events != 1 else ''}"
            end = min(end, truncation_month(d, min_at_risk)) if d.size else end
            # The curve of a group reaching 0 ends at its last event anyway.
            end = max(end, float(curve["month"].max()) if curve["survival"].min() == 0 else end)
        shown = _truncate(curve, end) if patients is not None else curve
        colour, style = group_colour(group), group_linestyle(group)
        (line,) = ax.step(
            shown["month"].to_numpy(dtype=float),
            shown["survival"].to_numpy(dtype=float),
            where="post",
            color=colour,
            linestyle=style,
            lw=1.2 if group == "all" else 1.0,
            label=label,
            zorder=3,
        )
        handles.append(line)
        if group in ci_groups:
            ax.fill_between(
                shown["month"].to_numpy(dtype=float),
                shown["lower"].to_numpy(dtype=float),
                shown["upper"].to_numpy(dtype=float),
                step="post",
                color=colour,
                alpha=0.12 if group == "all" else 0.15,
                linewidth=0,
                zorder=1,
            )
        if censor_marks and d is not None and e is not None:
            months = censor_mark_months(d[~e], right)
            months = months[months <= end]
            ax.plot(
                months,
                _step_value(curve, months),
                linestyle="none",
                marker="|",
                markersize=3.5,
                markeredgewidth=0.6,
                color=colour,
                gid=CENSOR_GID,
                zorder=3,
            )
    if ci_groups:
        what = "all patients" if ci_groups == ["all"] else "each group"
        if ci == "overall" and ci_groups != ["all"]:
            what = group_label(ci_groups[0])
        handles.append(Patch(color="black", alpha=0.15, lw=0, label=f"{level}% CI ({what})"))
    if censor_marks and patients is not None:
        handles.append(
            Line2D([], [], color="black", marker="|", ls="none", markersize=3.5, label="censored")
        )
    if published is not None:
        _draw_published(ax, published)
        handles.extend(ax.containers[-published["label"].nunique() :])

    ax.set_xlim(0.0, right)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.set_ylim(0.0, 1.02)
    ax.yaxis.set_major_locator(MultipleLocator(0.25))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("Months since stopping the TKI")
    ax.set_ylabel("MRFS (%)")
    ax.set_title(title if title is not None else "Molecular relapse-free survival", loc="left")
    ax.grid(axis="y", lw=0.3, alpha=0.4)
    apply_axes_style(ax)
    if inset_months is not None:
        inset = _draw_inset(ax, curves, groups, inset_months, published, inset_bounds)
        # A transparent stand-in the "best" legend placement avoids (it ignores Axes).
        ax.add_patch(
            Rectangle(inset_bounds[:2], *inset_bounds[2:], transform=ax.transAxes, alpha=0.0)
        )
        inset.set_gid(INSET_GID)
    # The P / HR text is the legend's title: one block, placed clear of the data.
    stats = _stats_text(logrank, hazard_ratio, hazard_ratio_label, level)
    if handles or stats:
        kwargs: dict[str, Any] = {"fontsize": SMALL_PT, "title_fontsize": SMALL_PT}
        if legend_loc == "above":
            kwargs |= {"loc": "lower left", "bbox_to_anchor": (0.0, 1.0)}
        else:
            kwargs |= {"loc": legend_loc}
        legend = ax.legend(
            handles=handles,
            title=stats or None,
            alignment="left",
            **kwargs,
        )
        legend.get_title().set_gid(STATS_GID)
        if legend_loc == "above":
            # The title goes above the legend: pad by the legend's height (in points;
            # fonts are fixed, so the height does not depend on the layout).
            fig = ax.get_figure(root=True)
            assert fig is not None
            height_px = legend.get_window_extent().height
            pad = height_px * 72.0 / fig.dpi + 3.0
            ax.set_title(ax.get_title(loc="left"), loc="left", pad=pad)
    if table_ax is not None:
        table_ax.set_gid(AT_RISK_GID)
        months = _table_columns(km, patients, ticks, step)
        _draw_table(table_ax, km, patients, groups, table_rows, months)
        # A shared x axis would show the curve ticks' labels on the table too.
        ax.tick_params(axis="x", labelbottom=True)
    logger.debug("plotted KM curves for groups %s", groups)
    return ax


def _draw_inset(
    ax: Axes,
    curves: pd.DataFrame,
    groups: list[str],
    months: float,
    published: pd.DataFrame | None,
    bounds: tuple[float, float, float, float],
) -> Axes:
    """Months 0–``months`` of every curve in an inset (opaque, over the curves)."""
    inset = ax.inset_axes(bounds, zorder=5)
    inset.set_gid(INSET_GID)
    for group in groups:
        curve = _truncate(curves[curves["group"] == group], months)
        inset.step(
            curve["month"].to_numpy(dtype=float),
            curve["survival"].to_numpy(dtype=float),
            where="post",
            color=group_colour(group),
            linestyle=group_linestyle(group),
            lw=0.8,
        )
    if published is not None:
        early = published[published["month"] <= months]
        inset.plot(early["month"], early["survival"], "o", color=PUBLISHED_COLOUR, ms=2.0)
    inset.grid(axis="y", lw=0.3, alpha=0.4)
    inset.set_xlim(0.0, months * 1.04)  # a point at the last month stays whole
    inset.set_ylim(0.0, 1.02)
    inset.xaxis.set_major_locator(MultipleLocator(x_step_for(months) if months > 6 else 1.0))
    inset.yaxis.set_major_locator(MultipleLocator(0.5))
    inset.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    inset.tick_params(labelsize=SMALL_PT - 0.5, length=1.5, pad=1.0, width=0.4)
    inset.set_title(f"Months 0–{months:g}", fontsize=SMALL_PT, pad=1.5)
    for name in ("top", "right"):
        inset.spines[name].set_visible(True)
    for spine in inset.spines.values():
        spine.set_linewidth(0.4)
    return inset
