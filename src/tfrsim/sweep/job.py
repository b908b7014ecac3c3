"""What one Hydra job does: run a study into its folder, or resume, or record an error.

These are the functions a launcher runs (joblib, submitit, Ray): module-level, taking
a composed config and returning a small picklable :class:`JobOutcome`. In a sweep a
job never raises for a failed study: it writes ``error.json`` into its folder and
reports ``failed``, so one bad job does not stop the others; the sweep then exits
with status 4 (see :mod:`tfrsim.sweep.callback`).

A job holds the lock of its folder (:func:`tfrsim.output.job_lock`) while it checks,
clears and writes it: when two copies of one sweep run at once, each job runs in one
of them; the other reports it as ``busy`` and never touches its files.
"""

import json
import logging
import os
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from tfrsim.config.translate import to_ensemble, to_params
from tfrsim.ensemble import EnsembleResult
from tfrsim.execution import StudyResult
from tfrsim.files import write_text
from tfrsim.output import ERROR_FILE, clear_partial, is_complete, job_lock, write_study
from tfrsim.sweep.ensemble_run import write_ensemble
from tfrsim.sweep.resume import RECORD_FILE, has_record, job_fingerprint, write_record

log = logging.getLogger(__name__)

#: Folder of the sweep where each job of the current multirun reports its status.
STATUS_DIR: str = ".tfrsim_status"
#: Environment variable naming the multirun invocation (set by the sweep callback,
#: inherited by the workers): each invocation counts its own statuses.
SWEEP_ID_ENV: str = "TFRSIM_SWEEP_ID"
#: Job statuses (``busy``: another invocation holds the job's lock and is running it).
DONE, SKIPPED, BUSY, FAILED = "done", "skipped", "busy", "failed"


def status_dir(sweep_dir: Path, sweep_id: str) -> Path:
    """Where the jobs of one multirun invocation report their status."""
    return sweep_dir / STATUS_DIR / (sweep_id or "unknown")


@dataclass(frozen=True)
class JobOutcome:
    """What a sweep job did (picklable, returned to the launcher).

    Attributes
    ----------
    job_dir : str
        The job's folder.
    status : {"done", "skipped", "busy", "failed"}
        Ran to completion; found complete results and skipped; left alone because
        another invocation is running it; failed.
    error : str
        ``"Type: message"`` of the failure (empty unless failed).
    seconds : float
        Wall time of the job (s).
    """

    job_dir: str
    status: str
    error: str = ""
    seconds: float = 0.0


def execute(cfg: DictConfig, run_dir: Path, *, progress: bool) -> StudyResult | EnsembleResult:
    """Validate ``cfg``, run the study and write every file into ``run_dir``.

    With ``ensemble.replicates`` above 1, the replicates run in this one job
    (:func:`tfrsim.sweep.ensemble_run.write_ensemble`); otherwise the study's files
    are those of a single run.

    Raises
    ------
    ConfigError
        Before any work, if a value breaks a rule.
    RunDirNotEmptyError
        If ``run_dir`` already holds results.
    """
    params = to_params(cfg)  # validates everything before any work
    replicates = to_ensemble(cfg).replicates
    if replicates > 1:
        resolved = OmegaConf.to_yaml(cfg, resolve=True)
        return write_ensemble(run_dir, params, resolved, replicates, progress=progress)
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

    Only called on folders without the complete marker, by the holder of the job's
    lock: they hold no finished result and nobody else is writing them. The record of
    an earlier finish (:data:`tfrsim.sweep.resume.RECORD_FILE`) goes too: it is written
    again when this attempt finishes.
    """
    removed = clear_partial(job_dir)
    record = job_dir / RECORD_FILE
    if record.is_file():
        record.unlink()
        removed.append(RECORD_FILE)
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
    folder = status_dir(sweep_dir, os.environ.get(SWEEP_ID_ENV, ""))
    write_text(folder / f"{name}.json", json.dumps(asdict(outcome)) + "\n")


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
    with job_lock(job_dir) as held:
        if held:
            outcome = _run_locked(cfg, job_dir)
            if outcome.status in (DONE, SKIPPED):
                # For the next resume: finished, recognisable without composing.
                fp = job_fingerprint(hydra_cfg)
                if not has_record(job_dir, fp):
                    write_record(job_dir, fp)
        else:
            log.info("job %s: running in another invocation, left alone", job_dir.name)
            outcome = JobOutcome(str(job_dir), BUSY)
    report_status(sweep_dir, outcome)
    return outcome


def _run_locked(cfg: DictConfig, job_dir: Path) -> JobOutcome:
    start = time.perf_counter()
    if is_complete(job_dir):
        log.info("job %s: complete results found, skipped", job_dir.name)
        return JobOutcome(str(job_dir), SKIPPED)
    leftovers = clear_failed(job_dir)
    if leftovers:
        log.info("job %s: retrying; removed %s of a failed attempt", job_dir.name, leftovers)
    try:
        result = execute(cfg, job_dir, progress=False)
    except Exception as exc:  # a job's failure is data for the sweep table
        clear_partial(job_dir)
        write_error(job_dir, exc)
        log.error("job %s failed: %s: %s", job_dir.name, type(exc).__name__, exc)
        return JobOutcome(
            str(job_dir), FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
        )
    except BaseException:
        # Interrupted: leave no partial result (the job runs again next time).
        clear_partial(job_dir)
        raise
    seconds = time.perf_counter() - start
    if isinstance(result, EnsembleResult):
        done = f"{len(result.replicates)} replicates of {result.params.cohort.n_patients} patients"
    else:
        done = f"{len(result.patients)} patients, {int(result.patients['event'].sum())} relapses"
    log.info("job %s: done in %.1f s (%s)", job_dir.name, seconds, done)
    return JobOutcome(str(job_dir), DONE, seconds=seconds)
