"""``hydra/sweeper=tfrsim``: Hydra's basic sweeper (same grid, same job order and
overrides) that skips finished jobs before composing their configurations.

Selected by ``conf/config.yaml``. For each batch of jobs, the jobs whose folder holds a
finished result of the same configuration (:class:`tfrsim.sweep.resume.FinishedJobs`)
are reported as skipped and never composed nor launched; the others are validated and
launched exactly as the basic sweeper does.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


@dataclass
class TfrsimSweeperConf:
    """Settings of the sweeper (those of Hydra's basic sweeper)."""

    _target_: str = "hydra_plugins.tfrsim_sweeper.tfrsim_sweeper.TfrsimSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="tfrsim", node=TfrsimSweeperConf, provider="tfrsim"
)


class TfrsimSweeper(BasicSweeper):
    """The basic sweeper, with finished jobs skipped before composing (cheap resume)."""

    def sweep(self, arguments: list[str]) -> Any:
        """Launch every unfinished job of the grid, batch by batch (see the module)."""
        from tfrsim.sweep.job import SKIPPED, JobOutcome, report_status
        from tfrsim.sweep.resume import FinishedJobs

        assert self.config is not None
        assert self.launcher is not None
        assert self.hydra_context is not None
        params_conf = [*self._parse_config(), *arguments]
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(
            parser.parse_overrides(params_conf), self.max_batch_size
        )
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        tic = time.perf_counter()
        finished = FinishedJobs(self.config)
        checking = time.perf_counter() - tic
        returns: list[list[JobReturn]] = []
        initial_job_idx = 0
        n_skipped = 0
        while not self.is_done():
            tic = time.perf_counter()
            todo, done = finished.split(self.get_job_batch())
            checking += time.perf_counter() - tic
            for _, folder in done:
                log.info("job %s: complete results found, skipped", folder.name)
                report_status(sweep_dir, JobOutcome(str(folder), SKIPPED))
            n_skipped += len(done)
            initial_job_idx += len(done)
            if not todo:
                continue
            self.validate_batch_is_legal(todo)
            results = self.launcher.launch(todo, initial_job_idx=initial_job_idx)
            for r in results:
                _ = r.return_value  # raises if the job failed (as the basic sweeper)
            initial_job_idx += len(todo)
            returns.append(list(results))
        if n_skipped:
            log.info(
                "%d finished jobs skipped without composing them (%.2f s)",
                n_skipped,
                checking,
            )
        return returns
