"""Hydra callback: the sweep table at the end of every multirun, and its exit status.

Registered in ``conf/config.yaml`` under ``hydra.callbacks``. It runs in the process
that launched the sweep (not in the workers): before the jobs start it gives this
invocation its own status folder (jobs report to it; a second copy of the same sweep
has another), shows a progress bar over the jobs (on a terminal only), and after the
last job it writes the sweep table and the experiment's figure and says how many jobs
ran, were skipped (complete, or running in another invocation) or failed.

Hydra turns an exception raised by a callback into a warning and exits 0, so the
end-of-sweep step never raises: it records the sweep's exit status, which
``tfrsim``'s ``main()`` returns after Hydra is done (:func:`sweep_exit_status`):
0 when every job has a result, 4 when a job failed or has none, and the status of the
error (see :mod:`tfrsim.exits`) when the table could not be built — the stale table
of an earlier multirun is then removed, never left to pass for this one's.
"""

import json
import logging
import os
import shutil
import threading
import uuid
from itertools import product
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from tqdm.auto import tqdm

from tfrsim.exits import JOB_FAILED, OK, exit_code, one_line
from tfrsim.sweep.aggregate import TABLE_CSV, TABLE_PARQUET, describe, write_sweep
from tfrsim.sweep.job import BUSY, DONE, FAILED, SKIPPED, SWEEP_ID_ENV, status_dir

log = logging.getLogger(__name__)

#: Seconds between two looks at the status folder for the progress bar.
POLL_SECONDS: float = 0.5


def count_jobs(config: DictConfig) -> int | None:
    """Number of jobs the basic sweeper will launch (None if it cannot be told)."""
    try:
        params = config.hydra.sweeper.get("params") or {}
        lines = [f"{k}={v}" for k, v in params.items()]
        lines += [str(o) for o in config.hydra.overrides.task]
        parsed = OverridesParser.create().parse_overrides(lines)
        sizes: dict[str, int] = {}
        for override in parsed:
            key = override.get_key_element()
            # A later override of the same key replaces the earlier (as the sweeper does).
            sizes[key] = (
                len(list(override.sweep_string_iterator())) if override.is_sweep_override() else 1
            )
        return len(list(product(*[range(n) for n in sizes.values()])))
    except Exception:  # progress is a nicety: never fail a sweep over it
        return None


#: Exit status of the last multirun in this process (None: no multirun ended).
_EXIT_STATUS: list[int | None] = [None]


def sweep_exit_status() -> int:
    """The exit status recorded by the last multirun's end-of-sweep step (0 if none ran).

    A multirun that started but whose end-of-sweep step never completed reports 1.
    """
    status, _EXIT_STATUS[0] = _EXIT_STATUS[0], None
    return OK if status is None else status


def read_statuses(sweep_dir: Path, sweep_id: str | None = None) -> dict[str, int]:
    """Jobs of one multirun invocation by status (``done``, ``skipped``, ``busy``,
    ``failed``)."""
    counts = {DONE: 0, SKIPPED: 0, BUSY: 0, FAILED: 0}
    folder = status_dir(sweep_dir, sweep_id or os.environ.get(SWEEP_ID_ENV, ""))
    for path in folder.glob("*.json"):
        try:
            status = json.loads(path.read_text(encoding="utf-8"))["status"]
        except (OSError, ValueError, KeyError):
            continue
        counts[status] = counts.get(status, 0) + 1
    return counts


class SweepCallback(Callback):
    """Progress, sweep table, figure and exit status of a multirun."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Launchers pickle the callbacks along with each job: the progress thread stays home.
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        # Fail closed: until the end-of-sweep step has run to its end, the status is 1.
        _EXIT_STATUS[0] = 1
        # This invocation's own status folder (workers inherit the environment), so a
        # second copy of the same sweep never clears or counts this one's statuses.
        os.environ[SWEEP_ID_ENV] = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        total = count_jobs(config)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, args=(sweep_dir, total), name="tfrsim-sweep-progress", daemon=True
        )
        self._thread.start()

    def _watch(self, sweep_dir: Path, total: int | None) -> None:
        # disable=None: quiet when stderr is not a terminal.
        with tqdm(total=total, desc="sweep", unit="job", disable=None) as bar:
            while True:
                stopping = self._stop.wait(POLL_SECONDS)
                seen = sum(read_statuses(sweep_dir).values())
                bar.update(seen - bar.n)
                if stopping:
                    return

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            _EXIT_STATUS[0] = self._finish(config)
        except BaseException as err:  # never let Hydra swallow a failed end of sweep
            _EXIT_STATUS[0] = exit_code(err)
            print(f"tfrsim: error: no sweep table: {one_line(err)}", flush=True)
        finally:
            shutdown_workers()

    def _finish(self, config: DictConfig) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_id = os.environ.get(SWEEP_ID_ENV, "")
        counts = read_statuses(sweep_dir, sweep_id)
        shutil.rmtree(status_dir(sweep_dir, sweep_id), ignore_errors=True)
        try:
            report = write_sweep(sweep_dir, progress=True)
        except BaseException:
            # A table of an earlier multirun must not pass for this one's.
            for name in (TABLE_PARQUET, TABLE_CSV):
                path = sweep_dir / name
                try:
                    if path.is_file():
                        path.unlink()
                except OSError as err:
                    log.error("cannot remove the stale sweep table %s: %s", path, err)
            raise
        busy = f", {counts[BUSY]} running in another invocation" if counts[BUSY] else ""
        print(
            f"sweep: {counts[DONE]} jobs run, {counts[SKIPPED]} skipped (complete results "
            f"found){busy}, {counts[FAILED]} failed"
        )
        print(describe(report))
        failed = max(counts[FAILED], report.n_failed)
        missing = report.n_incomplete + report.n_not_started
        if failed or missing:
            print(
                f"tfrsim: error: {failed} job(s) failed, {missing} without results; the "
                "errors are in the sweep table and in each job's error.json. Fix the cause "
                "and run the same command again: complete jobs are skipped",
                flush=True,
            )
            return JOB_FAILED
        return OK


def shutdown_workers() -> None:
    """Stop joblib's (loky) worker processes now rather than after their idle timeout
    (5 minutes), so no worker of this sweep outlives it."""
    try:
        from joblib.externals.loky import reusable_executor
    except ImportError:  # pragma: no cover - joblib is a dependency
        return
    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
