"""Writing a run's files: atomically, never over an earlier run (no drawing here).

Every file is written to a temporary file in the same folder and renamed into
place, so a crash leaves either the old state or the complete new file, never a
half-written one. ``summary.json`` is written last: its presence marks a run as
complete (a resumed sweep skips such jobs).

``patients.parquet`` has one row group per random block (:data:`BLOCK_SIZE`
patients), and ``visits.parquet`` one row group per random block's tests, whether the
table is written at once (:func:`write_run`) or streamed chunk by chunk
(:func:`write_study`), so their bytes do not depend on the chunk size.
"""

import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tfrsim._version import __version__
from tfrsim.execution import StudyResult, run_study
from tfrsim.files import TMP_SUFFIX, atomic_path, write_text
from tfrsim.jsonsafe import json_safe
from tfrsim.output.figures import close_figures, draw_figures, save_figures
from tfrsim.output.report import embed_figures, write_run_report
from tfrsim.random import BLOCK_SIZE
from tfrsim.study import StudyParams

log = logging.getLogger(__name__)

#: Lock file of a sweep job's folder: held by the process running the job.
LOCK_FILE: str = ".tfrsim.lock"
#: What Hydra itself (and tfrsim's job lock) puts in a run folder before the job starts.
HYDRA_OWN = {".hydra", LOCK_FILE}
#: Most tie-breaker suffixes (``-2``, ``-3``, ...) tried for a default run folder.
MAX_TIE_BREAK: int = 1000
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
    "report.html",
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

    #: A refused request: exit status 2 (:mod:`tfrsim.exits`).
    exit_code: int = 2


def claim_run_dir(run_dir: Path, *, tie_break: bool) -> tuple[Path, bool]:
    """Create a run's folder exclusively, before anything is written into it.

    Parameters
    ----------
    run_dir : Path
        The folder asked for.
    tie_break : bool
        True for a generated (default) name: if the folder exists — another run
        started in the same second with the same config — use ``NAME-2``, ``NAME-3``,
        ... (``mkdir`` is atomic: two runs never get the same folder). False for a
        folder the user named: an existing empty folder is used, a non-empty one
        refused.

    Returns
    -------
    (Path, bool)
        The folder and whether this call created it.

    Raises
    ------
    RunDirNotEmptyError
        If a named folder already holds results.
    NotADirectoryError
        If the path (or a parent) is a file.
    """
    parent = run_dir.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a parent of the run folder is a file", str(parent))
    parent.mkdir(parents=True, exist_ok=True)
    candidates = [run_dir]
    if tie_break:
        candidates += [run_dir.with_name(f"{run_dir.name}-{i}") for i in range(2, MAX_TIE_BREAK)]
    for candidate in candidates:
        try:
            candidate.mkdir()
        except FileExistsError:
            if not candidate.is_dir():
                raise NotADirectoryError(
                    errno.ENOTDIR, "the run folder is a file, not a folder", str(candidate)
                ) from None
            if tie_break:
                continue
            ensure_fresh(candidate)
            return candidate, False
        return candidate, True
    raise FileExistsError(errno.EEXIST, "no free run folder name", str(run_dir))


def clear_partial(run_dir: Path) -> list[str]:
    """Remove what an unfinished attempt left in ``run_dir`` (tfrsim's own files only).

    Only for folders without a complete result: the run's files (and any ``*.csv`` of
    a registered analysis), ``error.json``, the temporary files of interrupted atomic
    writes and the figures. Hydra's ``.hydra/``, logs and the job lock stay.

    Returns
    -------
    list of str
        What was removed, relative to ``run_dir``.
    """
    removed = []
    names = {*RUN_FILES, ERROR_FILE, *(p.name for p in run_dir.glob("*.csv"))}
    for name in sorted(names):
        path = run_dir / name
        if path.is_file():
            path.unlink()
            removed.append(name)
    for folder in (run_dir, run_dir / "figures"):
        for tmp in folder.glob(f".*{TMP_SUFFIX}") if folder.is_dir() else ():
            tmp.unlink(missing_ok=True)
            removed.append(tmp.relative_to(run_dir).as_posix())
    figures = run_dir / "figures"
    if figures.is_dir():
        for image in [*figures.glob("*.png"), *figures.glob("*.pdf"), *figures.glob("*.svg")]:
            image.unlink()
            removed.append(f"figures/{image.name}")
        if not any(figures.iterdir()):
            figures.rmdir()
            removed.append("figures/")
    return removed


def discard_run_dir(run_dir: Path, *, created: bool) -> None:
    """After a failed or interrupted single run: leave nothing that could pass for a
    result. A folder this run created is removed; a folder the user supplied is
    emptied of tfrsim's files (and of Hydra's ``.hydra/`` written by this run)."""
    if created:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    clear_partial(run_dir)
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)


@contextmanager
def job_lock(job_dir: Path) -> Iterator[bool]:
    """Hold the lock of a job folder while running the job (``fcntl.flock``).

    Yields True if this process holds the lock, False if another process does (it is
    running the job: leave its files alone). The lock is released when the block ends
    or the process dies, whatever the way (no stale lock after a crash).
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(job_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)  # closing releases the lock


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


def block_rows(patient_id: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of each random block's rows in a table in patient
    order (blocks without rows left out)."""
    if len(patient_id) == 0:
        return []
    first, last = int(patient_id[0]) // BLOCK_SIZE, int(patient_id[-1]) // BLOCK_SIZE
    edges = np.searchsorted(patient_id, np.arange(first, last + 2) * BLOCK_SIZE)
    return [(int(a), int(b)) for a, b in pairwise(edges.tolist()) if b > a]


class VisitsWriter:
    """Stream the tests to Parquet chunk by chunk (a ``visits_sink``): one row group
    per random block's tests, so the bytes do not depend on how the tests arrive.

    Use as a context manager; the file appears (atomically) only when the block
    exits without error. Tables must come in patient order, as the pipeline's do.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None
        self._context: Any = None

    def __enter__(self) -> "VisitsWriter":
        self._context = atomic_path(self.path)
        self._tmp = self._context.__enter__()
        return self

    def __call__(self, visits: pd.DataFrame) -> None:
        table = _arrow(visits)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, table.schema)
        for start, stop in block_rows(visits["patient_id"].to_numpy()):
            self._writer.write_table(table.slice(start, stop - start), row_group_size=stop - start)

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
        elif exc[0] is None:
            # Never called: no file rather than an empty, unreadable one.
            missing = RuntimeError(f"no table of tests was given for {self.path}")
            self._context.__exit__(RuntimeError, missing, None)
            raise missing
        self._context.__exit__(*exc)


def write_visits(path: Path, visits: pd.DataFrame) -> None:
    """Atomically write a whole table of tests (as :class:`VisitsWriter` would)."""
    with VisitsWriter(path) as sink:
        sink(visits)


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
        Also write ``visits.parquet`` (the tests kept in ``result.visits``; one row
        group per random block, as :func:`write_study` streams it).

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


def params_yaml(params: StudyParams) -> str:
    """The study's parameters as YAML in the layout of the resolved config (what
    ``config.yaml`` holds when a study was run from Python rather than the command)."""
    import yaml

    config = {
        "trial": {"name": params.trial_name},
        "seed": params.seed,
        "replicate": params.replicate,
        "chunk_size": params.chunk_size,
        "cohort": asdict(params.cohort),
        "monitoring": asdict(params.monitoring),
        "follow_up": asdict(params.follow_up),
        "model": {"name": params.model_name, **asdict(params.model)},
        "analysis": asdict(params.analysis),
        "output": asdict(params.output),
    }
    return str(yaml.safe_dump(json_safe(config), sort_keys=False, allow_unicode=True))


def save_result(run_dir: Path, result: StudyResult) -> list[Path]:
    """Write a study simulated in memory as a run folder (:meth:`StudyResult.save`):
    the files of :func:`write_run`, with ``config.yaml`` from the study's parameters
    and figures, visits and report as ``result.params.output`` asks.

    Returns
    -------
    list of Path
        The files written, ``summary.json`` last.
    """
    out = result.params.output
    return write_run(
        run_dir, result, params_yaml(result.params), figures=out.figures, visits=out.visits
    )


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
    """Run a study straight into ``run_dir``, streaming ``patients.parquet`` (and
    ``visits.parquet``) by chunk.

    Memory holds the per-visit arrays of the blocks in flight, one chunk's tables and,
    of the patient table, only the columns the analysis needs (see
    :func:`tfrsim.execution.run_study`): it is bounded whatever the number of patients,
    with or without ``visits``. The files are byte-identical to those of
    :func:`write_run` for the same study.

    Parameters
    ----------
    run_dir : Path
        The run folder (must be fresh).
    params : StudyParams
    resolved_config : str
        The resolved configuration as YAML.
    keep_visits : int or None, default 400
        Keep in memory (``result.visits``, for the trajectories figure) the tests of
        the first ``keep_visits`` patients. None: all of them, except with ``visits``,
        where every test goes to ``visits.parquet`` and memory keeps those of the first
        ``params.output.trajectory_patients`` patients.
    figures : bool
        As in :func:`write_run`.
    visits : bool
        Stream every test to ``visits.parquet`` (one row group per random block).
    progress : bool, default False
        Show a progress bar on a terminal.

    Returns
    -------
    StudyResult
        Its ``patients`` holds the retained columns only; the full table is on disk.
    """
    ensure_fresh(run_dir)
    write_text(run_dir / "config.yaml", resolved_config)
    start = time.perf_counter()
    if visits and keep_visits is None:
        keep_visits = params.output.trajectory_patients
    with ExitStack() as files:
        sink = files.enter_context(PatientsWriter(run_dir / "patients.parquet"))
        tests = files.enter_context(VisitsWriter(run_dir / "visits.parquet")) if visits else None
        result = run_study(
            params,
            keep_visits=keep_visits,
            progress=progress,
            patients_sink=sink,
            visits_sink=tests,
        )
        files_written = "patients.parquet" + (" and visits.parquet" if visits else "")
        flushed = time.perf_counter()
    # Closing the writers (their footers, fsync, rename) counts as writing.
    closing = time.perf_counter() - flushed
    log.info(
        "simulated and analysed %d patients in %.1f s (%s written)",
        len(result.patients),
        time.perf_counter() - start,
        files_written,
    )
    _write_results(run_dir, result, figures=figures, visits=False, write_seconds=closing)
    return result


def _write_results(
    run_dir: Path,
    result: StudyResult,
    *,
    figures: bool,
    visits: bool,
    write_seconds: float = 0.0,
) -> list[Path]:
    """Everything but the config and the patients; ``summary.json`` last.

    Logs the wall seconds of every stage (``result.seconds``, plus ``write_seconds``
    and the writing, figures and report done here) as one JSON line of ``tfrsim.log``.
    """
    tables = {f"{stem}.csv": table for stem, table in result.analysis.tables().items()}
    written: list[Path] = []
    start = time.perf_counter()
    if visits:
        write_visits(run_dir / "visits.parquet", result.visits)
        written.append(run_dir / "visits.parquet")
    for name, table in tables.items():
        with atomic_path(run_dir / name) as tmp:
            table.to_csv(tmp, index=False)
        written.append(run_dir / name)
    seconds = dict(result.seconds)
    seconds["write"] = seconds.get("write", 0.0) + write_seconds + time.perf_counter() - start
    log.info(
        "wrote %d tables in %.1f s: %s",
        len(written),
        time.perf_counter() - start,
        ", ".join(p.name for p in written),
    )
    out = result.params.output
    if figures or out.report:
        start = time.perf_counter()
        drawn = draw_figures(result)
        try:
            saved = (
                save_figures(run_dir / "figures", drawn, formats=out.figure_formats, dpi=out.dpi)
                if figures
                else []
            )
            written.extend(saved)
            # The report reduces the PNG files just written rather than drawing again.
            pngs = {p.stem: p for p in saved if p.suffix == ".png"}
            images = embed_figures(drawn, saved=pngs, saved_dpi=out.dpi) if out.report else []
        finally:
            close_figures(drawn)
        seconds["figures"] = time.perf_counter() - start
        log.info(
            "drew %d figures in %.1f s%s",
            len(drawn),
            seconds["figures"],
            f" into {run_dir / 'figures'}" if figures else " (for the report only)",
        )
        if out.report:
            start = time.perf_counter()
            written.append(write_run_report(run_dir, result, images))
            seconds["report"] = time.perf_counter() - start
            log.info("wrote %s in %.1f s", written[-1], seconds["report"])
    # Last: its presence marks the run complete.
    write_text(run_dir / COMPLETE_MARKER, json.dumps(summary(result), indent=2) + "\n")
    written.append(run_dir / COMPLETE_MARKER)
    log.info("stage seconds: %s", json.dumps({k: round(v, 3) for k, v in seconds.items()}))
    return written
