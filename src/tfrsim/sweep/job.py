"""What one Hydra job does: run a study into its folder, or resume, or record an error.

These are the functions a launcher runs (joblib, submitit, Ray): module-level, taking
a composed config and returning a small picklable :class:`JobOutcome`. In a sweep a
job never raises for a failed study: it writes ``error.json`` into its folder and
reports ``failed``, so one bad job does not stop the others; the sweep callback then
exits non-zero (see :mod:`tfrsim.sweep.callback`).
"""

import json
import logging
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from tfrsim.config.translate import to_params
from tfrsim.execution import StudyResult
from tfrsim.files import write_text
from tfrsim.output import ERROR_FILE, RUN_FILES, is_complete, write_study

log = logging.getLogger(__name__)

#: Folder of the sweep where each job of the current multirun reports its status.
STATUS_DIR: str = ".tfrsim_status"
#: Job statuses.
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class JobOutcome:
    """What a sweep job did (picklable, returned to the launcher).

    Attributes
    ----------
    job_dir : str
        The job's folder.
    status : {"done", "skipped", "failed"}
        Ran to completion; found complete results and skipped; failed.
    error : str
        ``"Type: message"`` of the failure (empty unless failed).
    seconds : float
        Wall time of the job (s).
    """

    job_dir: str
    status: str
    error: str = ""
    seconds: float = 0.0


def execute(cfg: DictConfig, run_dir: Path, *, progress: bool) -> StudyResult:
    """Validate ``cfg``, run the study and write every file into ``run_dir``.

    Raises
    ------
    ConfigError
        Before any work, if a value breaks a rule.
    RunDirNotEmptyError
        If ``run_dir`` already holds results.
    """
    params = to_params(cfg)  # validates everything before any work
    return write_study(
        run_dir,
        params,
        OmegaConf.to_yaml(cfg, resolve=True),
        keep_visits=None if params.output.visits else params.output.trajectory_patients,
        figures=params.output.figures,
        visits=params.output.visits,
        progress=progress,
    )


def clear_failed(job_dir: Path) -> list[str]:
    """Remove what an earlier, failed attempt of this job left (tfrsim's own files only).

    Only called on folders without the complete marker: they hold no finished result.
    """
    removed = []
    # The run's own files, including any analysis table (*.csv) of a registered analysis.
    names = {*RUN_FILES, ERROR_FILE, *(p.name for p in job_dir.glob("*.csv"))}
    for name in sorted(names):
        path = job_dir / name
        if path.is_file():
            path.unlink()
            removed.append(name)
    # Temporary files of an interrupted atomic write (see results.atomic_path).
    for folder in (job_dir, job_dir / "figures"):
        for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
            tmp.unlink()
            removed.append(tmp.relative_to(job_dir).as_posix())
    figures = job_dir / "figures"
    if figures.is_dir():
        for image in [*figures.glob("*.png"), *figures.glob("*.pdf"), *figures.glob("*.svg")]:
            image.unlink()
            removed.append(f"figures/{image.name}")
        if not any(figures.iterdir()):
            figures.rmdir()
            removed.append("figures/")
    return removed


def write_error(job_dir: Path, exc: BaseException) -> None:
    """Record a failure in ``error.json``: type, message, traceback."""
    record = {
        "error_type": type(exc).__name__,
        "message": " ".join(str(exc).split()),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    write_text(job_dir / ERROR_FILE, json.dumps(record, indent=2) + "\n")


def report_status(sweep_dir: Path, outcome: JobOutcome) -> None:
    """Leave the job's status where the sweep callback counts it (one file per job)."""
    name = Path(outcome.job_dir).name
    write_text(sweep_dir / STATUS_DIR / f"{name}.json", json.dumps(asdict(outcome)) + "\n")


def run_sweep_job(cfg: DictConfig) -> JobOutcome:
    """Run one job of a multirun: resume if complete, record an error if it fails.

    Parameters
    ----------
    cfg : omegaconf.DictConfig
        The job's composed config (Hydra's runtime config must be set).

    Returns
    -------
    JobOutcome
        Never raises for a failure of the study itself.
    """
    hydra_cfg = HydraConfig.get()
    job_dir = Path(hydra_cfg.runtime.output_dir)
    sweep_dir = Path(hydra_cfg.sweep.dir)
    start = time.perf_counter()
    if is_complete(job_dir):
        log.info("job %s: complete results found, skipped", job_dir.name)
        outcome = JobOutcome(str(job_dir), SKIPPED)
    else:
        leftovers = clear_failed(job_dir)
        if leftovers:
            log.info("job %s: retrying; removed %s of a failed attempt", job_dir.name, leftovers)
        try:
            result = execute(cfg, job_dir, progress=False)
        except Exception as exc:  # a job's failure is data for the sweep table
            write_error(job_dir, exc)
            log.error("job %s failed: %s: %s", job_dir.name, type(exc).__name__, exc)
            outcome = JobOutcome(
                str(job_dir), FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
            )
        else:
            seconds = time.perf_counter() - start
            log.info(
                "job %s: done in %.1f s (%d patients, %d relapses)",
                job_dir.name,
                seconds,
                len(result.patients),
                int(result.patients["event"].sum()),
            )
            outcome = JobOutcome(str(job_dir), DONE, seconds=seconds)
    report_status(sweep_dir, outcome)
    return outcome
