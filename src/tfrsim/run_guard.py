"""The single run's guard: validate, bound and claim the run folder before Hydra writes.

Hydra saves ``.hydra/`` (config, overrides) into the run folder before the task
starts. The :class:`FreshRunDir` callback runs first (``on_run_start``) and:

1. validates the whole configuration and the work estimate (``limits.*``), so a
   refused run leaves nothing behind — no folder holding only ``.hydra/``;
2. resolves ``hydra.run.dir`` (with Hydra's runtime config set, so
   ``${hydra:runtime.choices.model}`` resolves) and creates the folder exclusively:
   a default name that is taken (another run started in the same second with the same
   config) gets a ``-2``, ``-3``... suffix; a folder named with ``hydra.run.dir=...``
   must be empty;
3. pins ``hydra.run.dir`` to the claimed folder, so Hydra writes each run's
   provenance into that run's own folder.

Hydra turns an ``Exception`` raised by a callback into a warning and carries on, so
every failure here is raised as :class:`tfrsim.exits.Abort`, which the entry point
unwraps into a one-line message and its exit status (the guard fails closed).
:func:`discard_on_failure` removes the folder again if the run then fails or is
interrupted.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from tfrsim.config.translate import to_params
from tfrsim.exits import Abort
from tfrsim.output import claim_run_dir, discard_run_dir

#: Folders claimed by :class:`FreshRunDir` in this process (created by it: True).
_CLAIMED: dict[Path, bool] = {}


def named_run_dir(config: DictConfig) -> bool:
    """Whether the user chose the run folder (``hydra.run.dir=...`` on the command line)."""
    overrides = OmegaConf.select(config, "hydra.overrides.hydra") or []
    return any(str(o).split("=", 1)[0].lstrip("+~") == "hydra.run.dir" for o in overrides)


def resolve_run_dir(config: DictConfig) -> Path:
    """``hydra.run.dir`` resolved as Hydra will (its runtime config set first)."""
    HydraConfig.instance().set_config(config)
    return Path(str(OmegaConf.select(config, "hydra.run.dir"))).absolute()


def prepare_run(config: DictConfig) -> Path:
    """Validate ``config``, claim its run folder and pin ``hydra.run.dir`` to it."""
    task = {str(k): v for k, v in config.items() if k != "hydra"}
    to_params(OmegaConf.create(task))  # every value and the work estimate, before any folder
    run_dir, created = claim_run_dir(resolve_run_dir(config), tie_break=not named_run_dir(config))
    _CLAIMED[run_dir] = created
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.run.dir = str(run_dir)
    return run_dir


class FreshRunDir(Callback):
    """Refuse a bad config or a non-empty folder before Hydra writes; claim the folder."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            prepare_run(config)
        except BaseException as err:  # fail closed: Hydra would only warn about an Exception
            raise Abort(err) from err


@contextmanager
def discard_on_failure(run_dir: Path) -> Iterator[None]:
    """If the block fails or is interrupted, leave nothing that looks like a result:
    remove the folder if :class:`FreshRunDir` created it, else tfrsim's files in it."""
    try:
        yield
    except BaseException:
        discard_run_dir(run_dir, created=_CLAIMED.get(run_dir.absolute(), False))
        raise
