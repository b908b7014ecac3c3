"""The sweep table: every job of a multirun in one tidy table, with the experiment's figure.

Used automatically at the end of a multirun (:mod:`tfrsim.sweep.callback`) and by the
``tfrsim-aggregate SWEEP_DIR`` command for a sweep that was interrupted or ran
elsewhere; from Python, :func:`aggregate_sweep`.
"""

import argparse
import json
import logging
import re
import sys
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from tfrsim.analysis.estimands import ESTIMAND_COLUMNS
from tfrsim.exits import BAD_CONFIG, JOB_FAILED, OK, run_command
from tfrsim.files import atomic_path
from tfrsim.output import COMPLETE_MARKER, ERROR_FILE, IncompleteResultError, read_summary
from tfrsim.output.report import write_sweep_report
from tfrsim.sweep.naming import DEFAULT_SLUG, HASH_CHARS, job_overrides, slug, swept_keys

log = logging.getLogger(__name__)

#: File names of the sweep table in the sweep folder.
TABLE_PARQUET, TABLE_CSV = "sweep_table.parquet", "sweep_table.csv"
#: Columns every sweep table starts with, then one column per override key, then
#: :data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS`.
JOB_COLUMNS: tuple[str, ...] = (
    "job",
    "status",
    "error",
    "seed",
    "replicate",
    "n_patients",
    "alpha",
)
#: Job statuses in the table (``not_started``: in the sweep's grid, but no folder).
DONE, FAILED, INCOMPLETE, NOT_STARTED = "done", "failed", "incomplete", "not_started"
#: libyaml's loader when PyYAML has it: ~10x faster on the hundreds of job configs.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Sweepers whose grid is the cartesian product of ``params`` and the overrides:
#: Hydra's basic sweeper and tfrsim's (the basic one with cheap resume).
GRID_SWEEPERS: tuple[str, ...] = ("BasicSweeper", "TfrsimSweeper")
_HASH_SUFFIX = re.compile(rf"-[0-9a-f]{{{HASH_CHARS}}}$")


def _value(text: str) -> Any:
    """An override's value as YAML reads it (``200`` -> 200, ``stim`` -> "stim")."""
    try:
        value = yaml.load(text, Loader=_LOADER)  # a safe loader (C or Python)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, int | float | str | bool) else text


def parse_overrides(lines: list[str]) -> dict[str, Any]:
    """``["cohort.n_patients=200", "+x=1"]`` -> ``{"cohort.n_patients": 200, "x": 1}``."""
    out: dict[str, Any] = {}
    for line in lines:
        key, sep, value = str(line).partition("=")
        if sep:
            out[key.lstrip("+~")] = _value(value)
    return out


def job_folders(sweep_dir: Path) -> list[Path]:
    """Job folders of a sweep: sub-folders holding Hydra's ``.hydra/overrides.yaml``."""
    return sorted(p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml"))


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_LOADER)  # a safe loader (C or Python)


def _job_info(job_dir: Path) -> dict[str, Any]:
    """Identity of a job from Hydra's files (present even when the job failed)."""
    cfg = _load_yaml(job_dir / ".hydra" / "config.yaml") or {}
    analysis = cfg.get("analysis") or {}
    cohort = cfg.get("cohort") or {}
    return {
        "job": job_dir.name,
        "seed": cfg.get("seed"),
        "replicate": cfg.get("replicate"),
        "n_patients": cohort.get("n_patients"),
        "alpha": analysis.get("alpha"),
    }


def job_rows(job_dir: Path) -> list[dict[str, Any]]:
    """Rows of one job: its identity and overrides, times each estimand (one row if
    the job failed or is incomplete, with the error naming the job and the file)."""
    try:
        info = _job_info(job_dir)
        info.update(parse_overrides(_load_yaml(job_dir / ".hydra" / "overrides.yaml") or []))
    except (OSError, yaml.YAMLError, AttributeError) as err:
        message = f"job {job_dir.name}: Hydra's record of the job is unreadable: {err}"
        return [{"job": job_dir.name, "status": INCOMPLETE, "error": message, "estimand": ""}]
    if (job_dir / COMPLETE_MARKER).is_file():
        try:
            summary = read_summary(job_dir)
        except (IncompleteResultError, OSError) as err:
            message = f"job {job_dir.name}: unreadable result: {err}"
            return [{**info, "status": INCOMPLETE, "error": message, "estimand": ""}]
        return [{**info, "status": DONE, "error": "", **row} for row in summary["estimands"]]
    if (job_dir / ERROR_FILE).is_file():
        try:
            error = json.loads((job_dir / ERROR_FILE).read_text(encoding="utf-8"))
            status, message = FAILED, f"{error['error_type']}: {error['message']}"
        except (OSError, ValueError, KeyError, TypeError) as err:
            status = FAILED
            message = f"job {job_dir.name}: failed; its {ERROR_FILE} is unreadable: {err}"
    else:
        status, message = INCOMPLETE, "no results (the job was interrupted or is running)"
    return [{**info, "status": status, "error": message, "estimand": ""}]


def expected_jobs(sweep_dir: Path) -> list[tuple[str, dict[str, Any]]] | None:
    """The jobs of a sweep's grid, from Hydra's ``multirun.yaml`` (basic or tfrsim sweeper).

    Returns
    -------
    list of (str, dict) or None
        Per job, the readable part of its folder name (before the config hash) and its
        overrides; None when the grid cannot be told (no ``multirun.yaml``, another
        sweeper).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = sweep_dir / "multirun.yaml"
    try:
        cfg = (_load_yaml(path) or {}).get("hydra") or {}
        sweeper = cfg.get("sweeper") or {}
        target = str(sweeper.get("_target_", "BasicSweeper"))
        if not target.endswith(GRID_SWEEPERS):
            return None
        lines = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
        lines += [str(o) for o in (cfg.get("overrides") or {}).get("task") or []]
        dirname = ((cfg.get("job") or {}).get("config") or {}).get("override_dirname") or {}
        exclude = set(dirname.get("exclude_keys") or [])
        kv_sep, item_sep = dirname.get("kv_sep", "="), dirname.get("item_sep", ",")
        parser = OverridesParser.create()
        final: dict[str, list[str]] = {}
        for override in parser.parse_overrides(lines):
            key = override.get_key_element()
            if override.is_sweep_override():
                final[key] = [f"{key}={v}" for v in override.sweep_string_iterator()]
            else:
                final[key] = [f"{key}={override.get_value_element_as_str()}"]
        # The same naming as the job folders themselves (tfrsim.sweep.naming): the
        # swept keys only.
        grid = {str(k): v for k, v in (sweeper.get("params") or {}).items()}
        swept = swept_keys([str(o) for o in (cfg.get("overrides") or {}).get("task") or []], grid)
        jobs = []
        for combination in product(*final.values()):
            name = job_overrides(list(combination), swept, exclude=exclude)
            name = name.replace(",", item_sep).replace("=", kv_sep)
            jobs.append((slug(name) if name else DEFAULT_SLUG, parse_overrides(list(combination))))
        return jobs
    except Exception as err:  # the grid is a cross-check: say so, never fail over it
        log.warning("cannot tell the jobs of %s from %s: %s", sweep_dir, path, err)
        return None


def _latest_per_job(folders: list[Path]) -> list[Path]:
    """Keep, per set of overrides, the newest job folder (older ones were made with an
    earlier configuration: their names differ only by the config hash)."""
    by_overrides: dict[str, list[Path]] = {}
    for folder in folders:
        # Only names made by tfrsim.sweep.naming end in "-<config hash>"; others stand alone.
        key = _HASH_SUFFIX.sub("", folder.name)
        by_overrides.setdefault(key, []).append(folder)
    kept = []
    for group in by_overrides.values():
        group.sort(key=lambda p: (p / ".hydra" / "config.yaml").stat().st_mtime)
        kept.append(group[-1])
        if len(group) > 1:
            log.warning(
                "%d older job folder(s) with the overrides of %s ignored (made with an "
                "earlier configuration)",
                len(group) - 1,
                group[-1].name,
            )
    return sorted(kept)


def aggregate_sweep(sweep_dir: str | Path, *, progress: bool = False) -> pd.DataFrame:
    """Collect every job of a sweep into one tidy table.

    Reads each job folder's ``summary.json`` (or ``error.json``) and Hydra's
    ``.hydra/overrides.yaml`` and ``.hydra/config.yaml``.

    Parameters
    ----------
    sweep_dir : str or Path
        The sweep folder (``hydra.sweep.dir``).
    progress : bool, default False
        Show a progress bar over the jobs (on a terminal only).

    Returns
    -------
    pandas.DataFrame
        One row per job and estimand: :data:`JOB_COLUMNS` (``status`` is ``done``,
        ``failed``, ``incomplete`` or ``not_started`` — in the sweep's grid
        (``multirun.yaml``) but without a folder; ``error`` says why), one column per override
        key (e.g. ``cohort.n_patients``, ``replicate``), then
        :data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS`. A failed or incomplete
        job has one row, with an empty ``estimand``.

    Raises
    ------
    SweepNotFoundError
        If ``sweep_dir`` holds no job folder and no sweep record.
    """
    folder = Path(sweep_dir)
    jobs = _latest_per_job(job_folders(folder))
    expected = expected_jobs(folder)
    if not jobs and not expected:
        raise SweepNotFoundError(
            f"{folder} holds no job folder (sub-folders with .hydra/overrides.yaml); "
            "pass the folder of a sweep, e.g. results/multirun/power/default"
        )
    rows: list[dict[str, Any]] = []
    for job in tqdm(jobs, desc="aggregating", unit="job", disable=None if progress else True):
        rows.extend(job_rows(job))
    started = {_HASH_SUFFIX.sub("", job.name) for job in jobs}
    for name, overrides_of_job in expected or []:
        if name not in started:
            rows.append(
                {
                    "job": name,
                    **overrides_of_job,
                    "status": NOT_STARTED,
                    "error": "no job folder: the job never started (the sweep was interrupted?)",
                    "estimand": "",
                }
            )
    table = pd.DataFrame(rows)
    for column in JOB_COLUMNS:
        if column not in table.columns:
            table[column] = None
    overrides = [c for c in table.columns if c not in JOB_COLUMNS and c not in ESTIMAND_COLUMNS]
    for column in ESTIMAND_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    table = table[[*JOB_COLUMNS, *sorted(overrides), *ESTIMAND_COLUMNS]]
    for column in ("analysis", "estimand", "group", "covariate", "error"):
        table[column] = table[column].fillna("").astype(str)
    return table


class SweepNotFoundError(FileNotFoundError):
    """The folder is not a sweep (no job folder, no ``multirun.yaml``)."""

    #: A bad argument: exit status 2 (:mod:`tfrsim.exits`).
    exit_code: int = BAD_CONFIG


@dataclass(frozen=True)
class SweepReport:
    """What :func:`write_sweep` found and wrote.

    Attributes
    ----------
    sweep_dir : Path
    n_jobs, n_done, n_failed, n_incomplete, n_not_started : int
        Job counts by status (``n_jobs`` counts the grid's jobs never started too).
    experiment : str or None
        The experiment of the sweep (None: a plain sweep).
    files : tuple of Path
        Files written into the sweep folder.
    """

    sweep_dir: Path
    n_jobs: int
    n_done: int
    n_failed: int
    n_incomplete: int
    experiment: str | None
    files: tuple[Path, ...]
    n_not_started: int = 0
    problems: tuple[str, ...] = ()


def sweep_experiment(sweep_dir: Path) -> str | None:
    """The experiment a sweep ran (from Hydra's ``multirun.yaml`` or a job's ``hydra.yaml``)."""
    candidates = [sweep_dir / "multirun.yaml"]
    candidates += [job / ".hydra" / "hydra.yaml" for job in job_folders(sweep_dir)[:1]]
    for path in candidates:
        if path.is_file():
            cfg = _load_yaml(path) or {}
            choices = (cfg.get("hydra") or {}).get("runtime", {}).get("choices", {})
            return choices.get("experiment")
    return None


def write_table(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write the sweep table as Parquet and CSV (atomically: a table already there is
    replaced whole or not at all) into ``out_dir``."""
    paths = [out_dir / TABLE_PARQUET, out_dir / TABLE_CSV]
    with atomic_path(paths[0]) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(paths[1]) as tmp:
        table.to_csv(tmp, index=False)
    return paths


def report_table(
    table: pd.DataFrame,
    sweep_dir: Path,
    experiment: str | None = None,
    files: tuple[Path, ...] = (),
) -> SweepReport:
    """Count a sweep table's jobs by status; the problem of every job without results."""
    jobs = table.drop_duplicates("job")
    status = jobs["status"]
    problems = tuple(
        f"{row['job']}: {row['status']}: {row['error']}"
        for row in jobs.to_dict("records")
        if row["status"] != DONE
    )
    return SweepReport(
        sweep_dir=sweep_dir,
        n_jobs=int(status.size),
        n_done=int((status == DONE).sum()),
        n_failed=int((status == FAILED).sum()),
        n_incomplete=int((status == INCOMPLETE).sum()),
        experiment=experiment,
        files=files,
        n_not_started=int((status == NOT_STARTED).sum()),
        problems=problems,
    )


def write_sweep(
    sweep_dir: str | Path,
    *,
    figure: bool = True,
    progress: bool = False,
    out_dir: str | Path | None = None,
) -> SweepReport:
    """Aggregate a sweep and write its table, and the experiment's summary and figure.

    Parameters
    ----------
    sweep_dir : str or Path
        The sweep folder.
    figure : bool, default True
        Also write the experiment's summary table (``<experiment>.csv``) and figure
        (``<experiment>.png``), when the sweep ran a known experiment, and the sweep's
        ``report.html`` (key estimands per job, the experiment's figure).
    progress : bool, default False
        Progress bar over the jobs (on a terminal only).
    out_dir : str or Path, optional
        Where to write (default: the sweep folder), e.g. when that is read-only.

    Returns
    -------
    SweepReport
    """
    from tfrsim.sweep.experiments import EXPERIMENTS, write_experiment

    folder = Path(sweep_dir)
    out = folder if out_dir is None else Path(out_dir)
    table = aggregate_sweep(folder, progress=progress)
    files = write_table(table, out)
    experiment = sweep_experiment(folder)
    if figure and experiment in EXPERIMENTS and (table["status"] == DONE).any():
        files += write_experiment(experiment, table, out)
    if figure:
        # The settings that vary across jobs (constant ones name the sweep folder).
        settings = [c for c in table.columns if c not in (*JOB_COLUMNS, *ESTIMAND_COLUMNS)]
        swept = [c for c in settings if table[c].nunique(dropna=False) > 1]
        if (table.groupby("job")["replicate"].nunique() > 1).any():
            swept.append("replicate")  # replicates inside a job (ensemble.replicates)
        status = table.drop_duplicates("job")["status"]
        counts = {s: int((status == s).sum()) for s in (DONE, FAILED, INCOMPLETE, NOT_STARTED)}
        files.append(
            write_sweep_report(out, table, experiment=experiment, swept=swept, counts=counts)
        )
    return report_table(table, folder, experiment, tuple(files))


def describe(report: SweepReport) -> str:
    """One line per fact, for the terminal (every job without results named)."""
    lines = [
        f"sweep {report.sweep_dir}: {report.n_jobs} jobs, {report.n_done} with results, "
        f"{report.n_failed} failed, {report.n_incomplete} incomplete, "
        f"{report.n_not_started} not started",
    ]
    lines += [f"  {problem}" for problem in report.problems[:20]]
    if len(report.problems) > 20:
        lines.append(f"  … and {len(report.problems) - 20} more (see the sweep table)")
    lines += [f"  wrote {path}" for path in report.files]
    return "\n".join(lines)


def _aggregate_command(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="tfrsim-aggregate",
        description="Collect the jobs of a tfrsim sweep into sweep_table.parquet/.csv "
        "and draw the experiment's figure. Exit status: 0 every job has results, 2 not "
        "a sweep folder, 3 cannot read or write (try --out or --print), 4 a job failed, "
        "is incomplete or never started; --debug shows tracebacks.",
    )
    parser.add_argument("sweep_dir", type=Path, help="the sweep folder (hydra.sweep.dir)")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write the table (and figure) into DIR instead of the sweep folder",
    )
    where.add_argument(
        "--print",
        action="store_true",
        dest="print_table",
        help="print the table as CSV to standard output and write nothing",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.print_table:
        table = aggregate_sweep(args.sweep_dir)
        table.to_csv(sys.stdout, index=False)
        report = report_table(table, args.sweep_dir, sweep_experiment(args.sweep_dir))
        print(describe(report), file=sys.stderr)
    else:
        report = write_sweep(
            args.sweep_dir, figure=not args.no_figure, progress=True, out_dir=args.out
        )
        print(describe(report))
    if report.n_failed or report.n_incomplete or report.n_not_started:
        return JOB_FAILED
    return OK


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``tfrsim-aggregate SWEEP_DIR [--out DIR | --print]``.

    Exit statuses (:mod:`tfrsim.exits`): 0 every job has results; 2 the folder is not
    a sweep; 3 an I/O error (e.g. a read-only sweep folder: use ``--out`` or
    ``--print``); 4 a job failed, is incomplete or never started.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    run_command("tfrsim-aggregate", lambda: _aggregate_command(args), args)


if __name__ == "__main__":
    main()
