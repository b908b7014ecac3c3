"""Drawing a run's figures and saving them (the only place run results meet plots)."""

from pathlib import Path
from typing import TYPE_CHECKING

from tfrsim.files import atomic_path
from tfrsim.reference import TRIALS, published_for_plot

if TYPE_CHECKING:
    from tfrsim.execution import StudyResult


def write_figures(
    folder: Path,
    result: "StudyResult",
    *,
    formats: tuple[str, ...] = ("png",),
    dpi: int = 300,
) -> list[Path]:
    """Draw and save the run's figures (the only place results meet matplotlib)."""
    from tfrsim.plots import close_figure, plot_forest, plot_km, plot_trajectories

    name = result.params.trial_name
    published = published_for_plot(name) if name in TRIALS else None
    axes = {
        "km.png": plot_km(
            result.analysis.km,
            published=published,
            title=f"{name}: MRFS by Sokal group (n = {len(result.patients)})",
        ),
        "forest.png": plot_forest(result.analysis.cox, title=f"{name}: Cox model"),
        "trajectories.png": plot_trajectories(
            result.visits,
            result.patients,
            mmr_pct=result.params.monitoring.rule.mmr_threshold_pct,
            title=f"{name}: measured BCR-ABL1, rule {result.params.monitoring.rule.name}",
        ),
    }
    paths = []
    for filename, ax in axes.items():
        figure = ax.get_figure(root=True)
        if figure is None:  # pragma: no cover - plot functions always draw on a figure
            raise RuntimeError(f"the axes for {filename} belong to no figure")
        for fmt in formats:
            path = folder / Path(filename).with_suffix(f".{fmt}")
            # The temporary name has no suffix, so the format is explicit.
            with atomic_path(path) as tmp:
                figure.savefig(tmp, format=fmt, dpi=dpi)
            paths.append(path)
        close_figure(figure)
    return paths
