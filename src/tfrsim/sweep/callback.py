"""Hydra callback: the sweep table at the end of every multirun, and its exit status.

Registered in ``conf/config.yaml`` under ``hydra.callbacks``. It runs in the process
that launched the sweep (not in the workers): before the jobs start it clears the
status folder the jobs report to, shows a progress bar over the jobs (on a terminal
only), and after the last job it writes the sweep table and the experiment's figure,
says how many jobs ran, were skipped (already complete) or failed, and exits with
status 1 if any failed.
"""

import json
import logging
import shutil
import sys
import threading
from itertools import product
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from tqdm.auto import tqdm

from tfrsim.sweep.aggregate import describe, write_sweep
from tfrsim.sweep.job import DONE, FAILED, SKIPPED, STATUS_DIR

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


def read_statuses(sweep_dir: Path) -> dict[str, int]:
    """Jobs of the current multirun by status (``done``, ``skipped``, ``failed``)."""
    counts = {DONE: 0, SKIPPED: 0, FAILED: 0}
    for path in (sweep_dir / STATUS_DIR).glob("*.json"):
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
        # Statuses of an earlier multirun in this folder must not be counted again.
        shutil.rmtree(sweep_dir / STATUS_DIR, ignore_errors=True)
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
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        counts = read_statuses(sweep_dir)
        report = write_sweep(sweep_dir, progress=True)
        print(
            f"sweep: {counts[DONE]} jobs run, {counts[SKIPPED]} skipped (complete results "
            f"found), {counts[FAILED]} failed"
        )
        print(describe(report))
        if counts[FAILED] or report.n_failed:
            failed = max(counts[FAILED], report.n_failed)
            log.error(
                "%d job(s) failed; their errors are in the sweep table and in each job's "
                "error.json. Fix the cause and run the same command again: complete jobs "
                "are skipped",
                failed,
            )
            sys.exit(1)
