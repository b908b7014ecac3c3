"""Writing a run's files: atomically, never over an earlier run.

Every file is written to a temporary file in the same folder and renamed into
place, so a crash leaves either the old state or the complete new file, never a
half-written one.
"""

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from tfrsim._version import __version__
from tfrsim.pipeline import StudyResult
from tfrsim.reference import TRIALS, published_for_plot

#: What Hydra itself puts in a run folder before the job starts.
HYDRA_OWN = {".hydra"}


class RunDirNotEmptyError(FileExistsError):
    """The run folder already holds results; tfrsim refuses to overwrite them."""


def ensure_fresh(run_dir: Path) -> None:
    """Refuse to write into a folder that already holds anything but Hydra's own files.

    Raises
    ------
    RunDirNotEmptyError
        With the folder and what is in it, and how to proceed.
    """
    if not run_dir.exists():
        return
    found = sorted(
        p.name for p in run_dir.iterdir() if p.name not in HYDRA_OWN and not p.name.endswith(".log")
    )
    if found:
        shown = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
        raise RunDirNotEmptyError(
            f"run folder {run_dir} is not empty (it holds {shown}); tfrsim never overwrites "
            f"a run — choose another folder with hydra.run.dir=… or remove this one"
        )


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: Path, text: str) -> None:
    """Atomically write a UTF-8 text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _clean(value: Any) -> Any:
    """JSON-safe plain Python: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary(result: StudyResult) -> dict[str, Any]:
    """The run's summary as JSON-ready data (no paths or times: reproducible bytes)."""
    p = result.params
    patients = result.patients
    return _clean(
        {
            "tfrsim_version": __version__,
            "trial": p.trial_name,
            "model": p.model_name,
            "seed": p.seed,
            "replicate": p.replicate,
            "n_patients": len(patients),
            "n_events": int(patients["event"].sum()),
            "n_latent_relapses": int(patients["relapse_month"].notna().sum()),
            **result.analysis.summary_dict(),
        }
    )


def write_run(
    run_dir: Path,
    result: StudyResult,
    resolved_config: str,
    *,
    figures: bool = True,
    visits: bool = False,
) -> list[Path]:
    """Write every file of a run into ``run_dir``.

    Parameters
    ----------
    run_dir : Path
        The run folder (must be fresh, see :func:`ensure_fresh`).
    result : StudyResult
    resolved_config : str
        The resolved configuration as YAML.
    figures : bool, default True
        Also draw ``figures/km.png``, ``figures/forest.png`` and
        ``figures/trajectories.png``.
    visits : bool, default False
        Also write ``visits.parquet`` (the tests kept in ``result.visits``).

    Returns
    -------
    list of Path
        The files written.
    """
    ensure_fresh(run_dir)
    a = result.analysis
    tables: dict[str, pd.DataFrame] = {
        "km.csv": a.km.curves,
        "at_risk.csv": a.km.at_risk,
        "milestones.csv": a.km.milestones,
        "cox.csv": a.cox.table,
        "ph_test.csv": a.cox.ph_test,
    }
    written: list[Path] = []
    write_text(run_dir / "config.yaml", resolved_config)
    written.append(run_dir / "config.yaml")
    with atomic_path(run_dir / "patients.parquet") as tmp:
        result.patients.to_parquet(tmp, index=False)
    written.append(run_dir / "patients.parquet")
    if visits:
        with atomic_path(run_dir / "visits.parquet") as tmp:
            result.visits.to_parquet(tmp, index=False)
        written.append(run_dir / "visits.parquet")
    for name, table in tables.items():
        with atomic_path(run_dir / name) as tmp:
            table.to_csv(tmp, index=False)
        written.append(run_dir / name)
    write_text(run_dir / "summary.json", json.dumps(summary(result), indent=2) + "\n")
    written.append(run_dir / "summary.json")
    if figures:
        written.extend(write_figures(run_dir / "figures", result))
    return written


def write_figures(folder: Path, result: StudyResult) -> list[Path]:
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
        path = folder / filename
        figure = ax.get_figure(root=True)
        if figure is None:  # pragma: no cover - plot functions always draw on a figure
            raise RuntimeError(f"the axes for {filename} belong to no figure")
        # The temporary name has no .png suffix, so the format is explicit.
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=150)
        close_figure(figure)
        paths.append(path)
    return paths
