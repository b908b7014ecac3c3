"""Cheap resume: finished jobs recognised without composing their configurations.

Hydra's basic sweeper composes the configuration of every job of a sweep before the
first one starts (to validate it), and a launcher composes it again: ~0.2 s per job, so
resuming a sweep of hundreds of jobs spent most of its time composing jobs that were
already finished. tfrsim's sweeper (``hydra/sweeper=tfrsim``, the default of
``conf/config.yaml``) first looks for each job's finished folder, and launches only the
others.

A job's folder is named ``<swept overrides>-<hash of its resolved config>``
(:mod:`tfrsim.sweep.naming`): the first part is known from the job's overrides, the
hash only after composing. So each finished job also leaves a record,
``.tfrsim_job.json``, holding its *fingerprint*: a hash of everything its composed
configuration is made of —

* the job's overrides, in order (``hydra.overrides.task``);
* the content of every file of the config search path (``hydra.runtime.config_sources``
  of type ``file``: ``conf/`` and any ``--config-dir``);
* the defaults of the base config (:func:`tfrsim.config.store.base_config`, from the
  stages' dataclasses) and tfrsim's version.

A job is skipped without composing when a folder named after its overrides holds a
record with the same fingerprint **and** a valid ``summary.json``
(:func:`tfrsim.output.read_summary`: a missing, empty, truncated or schema-invalid
marker is not finished). Anything else — no record (a sweep made by an earlier tfrsim),
another fingerprint (a config file or a default changed), an unfinished result — is
launched as before, and the job itself decides in its folder (skip, retry or run;
:func:`tfrsim.sweep.job.run_sweep_job`), which also writes the missing record.
"""

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from tfrsim._version import __version__
from tfrsim.config.store import base_config
from tfrsim.files import write_text
from tfrsim.output import is_complete
from tfrsim.sweep.naming import DEFAULT_SLUG, HASH_CHARS, job_overrides, slug, swept_keys

log = logging.getLogger(__name__)

#: A finished job's record of its fingerprint, in its folder.
RECORD_FILE: str = ".tfrsim_job.json"
#: Suffixes of the config files hashed into the fingerprint.
CONFIG_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


def config_files_digest(sources: Iterable[Any]) -> str:
    """SHA-256 over the relative path and bytes of every config file of the search path
    (``hydra.runtime.config_sources`` entries with ``schema: file``)."""
    digest = hashlib.sha256()
    for source in sources:
        if str(source.get("schema")) != "file":
            continue
        root = Path(str(source.get("path")))
        if not root.is_dir():
            continue
        files = sorted(p for p in root.rglob("*") if p.suffix in CONFIG_SUFFIXES and p.is_file())
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def defaults_digest() -> str:
    """SHA-256 of the base config's defaults (:func:`tfrsim.config.store.base_config`)
    and tfrsim's version (computed once per process)."""
    data = {"version": __version__, "defaults": base_config()}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(task_overrides: Sequence[str], files_digest: str) -> str:
    """A job's fingerprint: its overrides, the config files, the base defaults, tfrsim's
    version (see the module)."""
    data = {
        "overrides": [str(o) for o in task_overrides],
        "files": files_digest,
        "defaults": defaults_digest(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def job_fingerprint(hydra_cfg: Any) -> str:
    """The fingerprint of the running job, from Hydra's config of the job
    (``HydraConfig.get()``: its task overrides and config search path)."""
    sources = OmegaConf.to_container(hydra_cfg.runtime.config_sources, resolve=True)
    task = [str(o) for o in hydra_cfg.overrides.task]
    return fingerprint(task, config_files_digest(sources if isinstance(sources, list) else []))


def write_record(job_dir: Path, fp: str) -> None:
    """Leave the finished job's fingerprint in its folder (after its ``summary.json``)."""
    write_text(job_dir / RECORD_FILE, json.dumps({"fingerprint": fp}) + "\n")


def has_record(job_dir: Path, fp: str) -> bool:
    """Whether ``job_dir`` holds the record of fingerprint ``fp``."""
    try:
        return bool(json.loads((job_dir / RECORD_FILE).read_text("utf-8"))["fingerprint"] == fp)
    except (OSError, ValueError, KeyError, TypeError):
        return False


class FinishedJobs:
    """Which jobs of a sweep are finished, told from folder names and records.

    Parameters
    ----------
    config : omegaconf.DictConfig
        The sweep's configuration (the multirun's, with Hydra's node).
    """

    def __init__(self, config: DictConfig) -> None:
        hydra = config.hydra
        self.sweep_dir = Path(str(hydra.sweep.dir))
        params = hydra.sweeper.get("params")
        grid = {str(k): v for k, v in params.items()} if isinstance(params, DictConfig) else None
        self.swept = swept_keys([str(o) for o in hydra.overrides.task], grid)
        exclude = OmegaConf.select(config, "hydra.job.config.override_dirname.exclude_keys")
        self.exclude = [str(k) for k in exclude or []]
        sources = OmegaConf.to_container(hydra.runtime.config_sources, resolve=True)
        self.files_digest = config_files_digest(sources if isinstance(sources, list) else [])
        self._folders: dict[str, list[Path]] = {}
        if self.sweep_dir.is_dir():
            for path in self.sweep_dir.iterdir():
                stem, _, tail = path.name.rpartition("-")
                if len(tail) == HASH_CHARS and (path / RECORD_FILE).is_file():
                    self._folders.setdefault(stem, []).append(path)

    def folder_of(self, overrides: Sequence[str]) -> Path | None:
        """The finished folder of the job with these overrides (None: not finished,
        or not known without composing it)."""
        name = job_overrides(overrides, self.swept, exclude=self.exclude)
        candidates = self._folders.get(slug(name) if name else DEFAULT_SLUG, [])
        if not candidates:
            return None
        fp = fingerprint(overrides, self.files_digest)
        for folder in candidates:
            if has_record(folder, fp) and is_complete(folder):
                return folder
        return None

    def split(
        self, batch: Sequence[Sequence[str]]
    ) -> tuple[list[Sequence[str]], list[tuple[Sequence[str], Path]]]:
        """Jobs of ``batch`` to launch, and finished ones with their folders."""
        todo: list[Sequence[str]] = []
        done: list[tuple[Sequence[str], Path]] = []
        for overrides in batch:
            folder = self.folder_of(overrides)
            if folder is None:
                todo.append(overrides)
            else:
                done.append((overrides, folder))
        return todo, done
