"""A Hydra callback that refuses a non-empty run folder before Hydra writes into it.

Hydra saves ``.hydra/`` (config, overrides) into the run folder before the task
starts; checking only in the task would leave a refused run's provenance on top of an
earlier run's results. ``on_run_start`` runs first, so the refusal leaves the folder
exactly as it was.
"""

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from tfrsim.output import RunDirNotEmptyError, ensure_fresh

log = logging.getLogger("tfrsim")


class FreshRunDir(Callback):
    """Exit with status 2 if the single run's folder already holds results."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir")))
        try:
            ensure_fresh(run_dir)
        except RunDirNotEmptyError as err:
            log.error("%s", err)
            sys.exit(2)
