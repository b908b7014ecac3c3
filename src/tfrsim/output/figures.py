"""Drawing a run's figures and saving them (the only place run results meet plots)."""

import math
from pathlib import Path
from typing import TYPE_CHECKING

from tfrsim.reference import TRIALS, published_for_plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tfrsim.execution import StudyResult


def _sokal_high_hr(result: "StudyResult") -> tuple[float, float, float] | None:
    """Cox HR (95 % CI) of Sokal high vs low, for the KM panel, when estimated."""
    if "cox" not in result.analysis.outputs:
        return None
    table = result.analysis.cox.table
    row = table[table["covariate"] == "sokal_high"]
    if row.empty:
        return None
    hr, lower, upper = (float(row[c].iloc[0]) for c in ("hr", "lower", "upper"))
    return (hr, lower, upper) if all(map(math.isfinite, (hr, lower, upper))) else None


def draw_figures(result: "StudyResult") -> dict[str, "Figure"]:
    """Draw the run's figures: ``km``, ``forest`` (when the Cox model ran) and
    ``trajectories``.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Figures by file stem; close them with :func:`tfrsim.plots.close_figure`.
    """
    from tfrsim.plots import plot_forest, plot_km, plot_trajectories
    from tfrsim.plots.forest import sokal_counts
    from tfrsim.plots.style import trial_title

    name = result.params.trial_name
    title = trial_title(name)
    published = published_for_plot(name) if name in TRIALS else None
    outputs = result.analysis.outputs
    axes = {}
    if "km" in outputs:
        axes["km"] = plot_km(
            result.analysis.km,
            published=published,
            title=f"{title}: MRFS by Sokal group",
            patients=result.patients,
            logrank=result.analysis.logrank if "logrank" in outputs else None,
            hazard_ratio=_sokal_high_hr(result),
            hazard_ratio_label="HR Sokal high vs low",
        )
    if "cox" in outputs:
        axes["forest"] = plot_forest(
            result.analysis.cox,
            title=f"{title}: Cox model",
            counts=sokal_counts(result.patients),
        )
    rule = result.params.monitoring.rule
    axes["trajectories"] = plot_trajectories(
        result.visits,
        result.patients,
        mmr_pct=rule.mmr_threshold_pct,
        title=f"{title}: measured BCR-ABL1 ({rule.name.replace('_', ' ')} rule)",
    )
    figures: dict[str, Figure] = {}
    for stem, ax in axes.items():
        figure = ax.get_figure(root=True)
        if figure is None:  # pragma: no cover - plot functions always draw on a figure
            raise RuntimeError(f"the axes for {stem} belong to no figure")
        figures[stem] = figure
    return figures


def save_figures(
    folder: Path, figures: dict[str, "Figure"], *, formats: tuple[str, ...], dpi: int
) -> list[Path]:
    """Save drawn figures as ``folder/<stem>.<format>`` for every format (atomically)."""
    from tfrsim.plots.style import save_figure

    paths: list[Path] = []
    for stem, figure in figures.items():
        paths.extend(save_figure(figure, folder / stem, formats, dpi))
    return paths


def close_figures(figures: dict[str, "Figure"]) -> None:
    """Release drawn figures (pyplot keeps them otherwise)."""
    from tfrsim.plots import close_figure

    for figure in figures.values():
        close_figure(figure)


def write_figures(
    folder: Path,
    result: "StudyResult",
    *,
    formats: tuple[str, ...] = ("png",),
    dpi: int = 300,
) -> list[Path]:
    """Draw and save the run's figures (see :func:`draw_figures`), each in every
    format of ``formats``.

    Returns
    -------
    list of Path
        The files written.
    """
    figures = draw_figures(result)
    try:
        return save_figures(folder, figures, formats=formats, dpi=dpi)
    finally:
        close_figures(figures)
