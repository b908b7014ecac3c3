"""Writing a run's files: atomically, never over an earlier run (no drawing here).

Every file is written to a temporary file in the same folder and renamed into
place, so a crash leaves either the old state or the complete new file, never a
half-written one. ``summary.json`` is written last: its presence marks a run as
complete (a resumed sweep skips such jobs).

``patients.parquet`` has one row group per random block (:data:`BLOCK_SIZE`
patients), whether the table is written at once (:func:`write_run`) or streamed
chunk by chunk (:func:`write_study`), so its bytes do not depend on the chunk size.
"""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tfrsim._version import __version__
from tfrsim.execution import StudyResult, run_study
from tfrsim.files import atomic_path, write_text
from tfrsim.jsonsafe import json_safe
from tfrsim.output.figures import write_figures
from tfrsim.random import BLOCK_SIZE
from tfrsim.study import StudyParams

#: What Hydra itself puts in a run folder before the job starts.
HYDRA_OWN = {".hydra"}
#: Written last: a run folder holding it is complete.
COMPLETE_MARKER: str = "summary.json"
#: Written by a sweep job that failed, instead of the results.
ERROR_FILE: str = "error.json"
#: Files of a run, in the order they are written (figures/ aside).
RUN_FILES: tuple[str, ...] = (
    "config.yaml",
    "patients.parquet",
    "visits.parquet",
    "km.csv",
    "at_risk.csv",
    "milestones.csv",
    "cox.csv",
    "ph_test.csv",
    COMPLETE_MARKER,
)


#: Keys a complete ``summary.json`` must hold (validated before a run counts as done).
SUMMARY_KEYS: tuple[str, ...] = ("tfrsim_version", "trial", "n_patients", "estimands")


class IncompleteResultError(ValueError):
    """A run's completion marker is missing, empty, truncated or not a tfrsim summary."""


def read_summary(run_dir: Path) -> dict[str, Any]:
    """Read and validate a run's ``summary.json`` (its completion marker).

    Raises
    ------
    IncompleteResultError
        Naming the file and what is wrong with it (missing, not JSON, truncated,
        missing keys).
    """
    path = run_dir / COMPLETE_MARKER
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IncompleteResultError(f"{path} does not exist") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise IncompleteResultError(f"{path} is not valid JSON (truncated?): {err}") from None
    if not isinstance(data, dict):
        raise IncompleteResultError(f"{path} does not hold a JSON object")
    missing = [k for k in SUMMARY_KEYS if k not in data]
    if missing:
        raise IncompleteResultError(f"{path} lacks {missing}: not a complete tfrsim summary")
    if not isinstance(data["estimands"], list):
        raise IncompleteResultError(f"{path}: `estimands` must be a list")
    return data


def is_complete(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a valid completion marker (see :func:`read_summary`)."""
    try:
        read_summary(run_dir)
    except IncompleteResultError:
        return False
    return True


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


def summary(result: StudyResult) -> dict[str, Any]:
    """The run's summary as JSON-ready data (no paths or times: reproducible bytes)."""
    p = result.params
    patients = result.patients
    return json_safe(
        {
            "tfrsim_version": __version__,
            "trial": p.trial_name,
            "model": p.model_name,
            "seed": p.seed,
            "replicate": p.replicate,
            "n_patients": len(patients),
            "rule": asdict(p.monitoring.rule),
            "schedule": asdict(p.monitoring.schedule),
            "assay": asdict(p.monitoring.assay),
            # Parameter uncertainty (uncertainty=posterior): which stored draw was used.
            **(
                {"uncertainty": p.uncertainty, "posterior_draw": p.posterior_draw}
                if p.uncertainty != "none"
                else {}
            ),
            **result.analysis.summary_dict(),
        }
    )


def _arrow(patients: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(patients, preserve_index=False)


def write_patients(path: Path, patients: pd.DataFrame) -> None:
    """Atomically write a whole patient table (one row group per random block)."""
    with atomic_path(path) as tmp:
        pq.write_table(_arrow(patients), tmp, row_group_size=BLOCK_SIZE)


class PatientsWriter:
    """Stream a patient table to Parquet chunk by chunk (a ``patients_sink``).

    Use as a context manager; the file appears (atomically) only when the block
    exits without error. Chunks must hold whole random blocks, as the pipeline's do.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None
        self._context: Any = None

    def __enter__(self) -> "PatientsWriter":
        self._context = atomic_path(self.path)
        self._tmp = self._context.__enter__()
        return self

    def __call__(self, patients: pd.DataFrame) -> None:
        table = _arrow(patients)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, table.schema)
        self._writer.write_table(table, row_group_size=BLOCK_SIZE)

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
        self._context.__exit__(*exc)


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
        A study simulated in memory (:func:`tfrsim.run_study` without a sink).
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
        The files written, ``summary.json`` last.
    """
    ensure_fresh(run_dir)
    write_text(run_dir / "config.yaml", resolved_config)
    write_patients(run_dir / "patients.parquet", result.patients)
    written = [run_dir / "config.yaml", run_dir / "patients.parquet"]
    return written + _write_results(run_dir, result, figures=figures, visits=visits)


def write_study(
    run_dir: Path,
    params: StudyParams,
    resolved_config: str,
    *,
    keep_visits: int | None = 400,
    figures: bool = True,
    visits: bool = False,
    progress: bool = False,
) -> StudyResult:
    """Run a study straight into ``run_dir``, streaming ``patients.parquet`` by chunk.

    Memory holds the per-visit arrays of one block and, of the patient table, only
    the columns the analysis needs (see :func:`tfrsim.pipeline.run_study`); the
    files are byte-identical to those of :func:`write_run` for the same study.

    Parameters
    ----------
    run_dir : Path
        The run folder (must be fresh).
    params : StudyParams
    resolved_config : str
        The resolved configuration as YAML.
    keep_visits : int or None, default 400
        Keep the tests of the first ``keep_visits`` patients (None: all).
    figures, visits : bool
        As in :func:`write_run`.
    progress : bool, default False
        Show a progress bar on a terminal.

    Returns
    -------
    StudyResult
        Its ``patients`` holds the retained columns only; the full table is on disk.
    """
    ensure_fresh(run_dir)
    write_text(run_dir / "config.yaml", resolved_config)
    with PatientsWriter(run_dir / "patients.parquet") as sink:
        result = run_study(params, keep_visits=keep_visits, progress=progress, patients_sink=sink)
    _write_results(run_dir, result, figures=figures, visits=visits)
    return result


def _write_results(
    run_dir: Path, result: StudyResult, *, figures: bool, visits: bool
) -> list[Path]:
    """Everything but the config and the patients; ``summary.json`` last."""
    tables = {f"{stem}.csv": table for stem, table in result.analysis.tables().items()}
    written: list[Path] = []
    if visits:
        with atomic_path(run_dir / "visits.parquet") as tmp:
            result.visits.to_parquet(tmp, index=False)
        written.append(run_dir / "visits.parquet")
    for name, table in tables.items():
        with atomic_path(run_dir / name) as tmp:
            table.to_csv(tmp, index=False)
        written.append(run_dir / name)
    if figures:
        out = result.params.output
        written.extend(
            write_figures(run_dir / "figures", result, formats=out.figure_formats, dpi=out.dpi)
        )
    # Last: its presence marks the run complete.
    write_text(run_dir / COMPLETE_MARKER, json.dumps(summary(result), indent=2) + "\n")
    written.append(run_dir / COMPLETE_MARKER)
    return written
