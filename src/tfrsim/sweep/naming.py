"""Deterministic, collision-free names for sweep and job folders.

A sweep folder is named after the command that started it (the experiment and the
command-line overrides), so running the same command again finds the same folder and
can resume it. A job folder is named after the job's *swept* settings (those that vary
across the sweep: ``seed=2,trial=stim2``; a constant override is in the sweep
folder's name already, and a constant ``output.*`` setting changes no result) plus a
short hash of its resolved configuration, so two jobs never share a folder and a job
whose configuration changed (say, new model defaults) never writes into an older
job's folder. The swept keys are read from the sweep's ``multirun.yaml``, which Hydra
writes before the first job starts.

Both names are computed by OmegaConf resolvers used in ``conf/config.yaml``::

    hydra.sweep.dir:    results/multirun/${tfrsim_sweep_name:...}
    hydra.sweep.subdir: ${tfrsim_job_name:${hydra.job.override_dirname}}

The sweep resolver is cached (like Hydra's ``now``): Hydra copies the resolver
cache of the sweep's config into every job's config, so all jobs agree on the sweep
folder even though each job's own overrides differ.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

#: Longest readable part of a folder name (file systems allow 255 bytes).
MAX_SLUG_CHARS: int = 96
#: Hex digits of the hashes in folder names (32 bits: collisions need ~65,000 jobs
#: with the same overrides, which the readable part already tells apart).
HASH_CHARS: int = 8
#: Name of the sweep folder when no override was given on the command line.
DEFAULT_SLUG: str = "default"
#: Top-level config keys that do not change a job's results (left out of its hash).
NOT_RESULTS: tuple[str, ...] = ("hydra", "output", "limits")

_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+@%-]+")


def short_hash(text: str) -> str:
    """First :data:`HASH_CHARS` hex digits of the SHA-256 of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def slug(text: str) -> str:
    """A file-name-safe, bounded version of ``text``.

    Characters outside ``[A-Za-z0-9._=,+@%-]`` become ``_`` (``/`` of a config
    group path too, so a name never nests folders). When that changed the text or
    it is longer than :data:`MAX_SLUG_CHARS`, a hash of the original is appended so
    that distinct texts keep distinct names.
    """
    safe = _UNSAFE.sub("_", text).strip("_")
    if safe == text and len(safe) <= MAX_SLUG_CHARS:
        return safe or DEFAULT_SLUG
    return f"{safe[:MAX_SLUG_CHARS].rstrip('_')}-{short_hash(text)}"


def sweep_name(
    experiment: str | None, overrides: Iterable[str], grid: dict[str, Any] | None = None
) -> str:
    """Folder of a sweep under ``results/multirun/``: ``<experiment or 'sweep'>/<slug>``.

    With an experiment's own grid (``hydra.sweeper.params``), a hash of it is appended:
    editing the grid starts a new sweep folder instead of mixing its jobs with the old
    grid's in one sweep table.

    Parameters
    ----------
    experiment : str or None
        The chosen ``experiment`` config (None: no experiment).
    overrides : iterable of str
        The command-line task overrides, sweeps unexpanded (``seed=1,2``); their
        order does not matter.
    grid : dict, optional
        The sweeper's parameter grid set by an experiment file.

    Examples
    --------
    >>> sweep_name("power", ["experiment=power"])
    'power/default'
    >>> sweep_name(None, ["seed=1,2", "cohort.n_patients=200"])
    'sweep/cohort.n_patients=200,seed=1,2'
    """
    kept = sorted(o for o in overrides if not o.lstrip("+~").startswith("experiment="))
    name = f"{experiment or 'sweep'}/{slug(','.join(kept)) if kept else DEFAULT_SLUG}"
    if grid:
        name += f"-grid{short_hash(json.dumps(grid, sort_keys=True, default=str))}"
    return name


#: The default ``ensemble`` settings (one replicate per run: a plain run), left out of
#: the hash so that a plain run's folder keeps the name it had before the setting
#: existed (and earlier sweeps resume); :class:`tfrsim.study.EnsembleParams`.
PLAIN_ENSEMBLE: dict[str, Any] = {"replicates": 1}


def config_hash(cfg: DictConfig, leave_out: Iterable[str] = NOT_RESULTS) -> str:
    """Short hash of a resolved configuration, without the top-level keys ``leave_out``
    (by default Hydra's, output and limits settings: what does not change results) and
    without the default ``ensemble`` settings (:data:`PLAIN_ENSEMBLE`)."""
    left_out = set(leave_out)
    keys = [str(k) for k in cfg if k not in left_out]
    data = OmegaConf.to_container(OmegaConf.masked_copy(cfg, keys), resolve=True)
    if isinstance(data, dict) and data.get("ensemble") == PLAIN_ENSEMBLE:
        del data["ensemble"]
    return short_hash(json.dumps(data, sort_keys=True, default=str))


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def swept_keys(overrides: Iterable[str], grid: dict[str, Any] | None = None) -> frozenset[str]:
    """Keys that take more than one value in a sweep (``seed=1,2``, ``range(3)``,
    ``choice(a,b)``), from its command-line overrides and an experiment's grid.

    Examples
    --------
    >>> sorted(swept_keys(["seed=1,2", "cohort.n_patients=100"], {"trial": "stim1,stim2"}))
    ['seed', 'trial']
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = [f"{k}={v}" for k, v in (grid or {}).items()] + list(overrides)
    swept: set[str] = set()
    for override in OverridesParser.create().parse_overrides(lines):
        key = override.get_key_element().lstrip("+~")
        if override.is_sweep_override():
            swept.add(key)
        else:  # a later plain override of the same key replaces the sweep
            swept.discard(key)
    return frozenset(swept)


@lru_cache(maxsize=64)
def _swept_in(multirun_yaml: str, mtime_ns: int) -> frozenset[str] | None:
    """Swept keys of the sweep whose ``multirun.yaml`` this is (None: unreadable)."""
    try:
        saved = OmegaConf.load(multirun_yaml)
        task = [str(o) for o in saved.hydra.overrides.task]
        params = saved.hydra.sweeper.get("params")
        grid = {str(k): v for k, v in params.items()} if isinstance(params, DictConfig) else None
        return swept_keys(task, grid)
    except Exception:  # a name is never worth failing a job over
        return None


def job_overrides(
    overrides: Iterable[str], swept: frozenset[str] | None, *, exclude: Iterable[str] = ()
) -> str:
    """The part of a job's folder name made of its overrides: the swept ones (all but
    ``output.*`` when the swept keys are unknown), sorted by key, ``k=v`` joined by
    commas."""
    excluded = set(exclude)
    kept = []
    for override in overrides:
        key = _key(override)
        if key in excluded:
            continue
        if swept is None and key.split(".")[0] in NOT_RESULTS:
            continue
        if swept is not None and key not in swept:
            continue
        kept.append(override)
    return ",".join(sorted(kept, key=_key))


def job_name(override_dirname: str, cfg: DictConfig) -> str:
    """Folder of one job inside its sweep: ``<slug of its overrides>-<config hash>``.

    ``override_dirname`` is used as given (the caller chose the overrides to show);
    see :func:`job_overrides`.
    """
    return f"{slug(override_dirname) if override_dirname else DEFAULT_SLUG}-{config_hash(cfg)}"


def _sweep_resolver(experiment: Any, overrides: Any, grid: Any = None) -> str:
    if isinstance(overrides, ListConfig):
        overrides = OmegaConf.to_container(overrides)
    if isinstance(grid, DictConfig):
        grid = OmegaConf.to_container(grid, resolve=True)
    return sweep_name(
        None if experiment is None else str(experiment),
        list(overrides or []),
        dict(grid) if isinstance(grid, dict) else None,
    )


def _job_resolver(override_dirname: Any, *, _root_: DictConfig) -> str:
    hydra = _root_.get("hydra")
    if hydra is None:  # not composed by a Hydra app: use what was given
        return job_name(str(override_dirname or ""), _root_)
    path = Path(str(hydra.sweep.dir)) / "multirun.yaml"
    swept = _swept_in(str(path), path.stat().st_mtime_ns) if path.is_file() else None
    exclude = OmegaConf.select(_root_, "hydra.job.config.override_dirname.exclude_keys") or []
    task = [str(o) for o in hydra.overrides.task]
    return job_name(job_overrides(task, swept, exclude=[str(k) for k in exclude]), _root_)


def _config_resolver(*, _root_: DictConfig) -> str:
    # A single run's folder: the whole config but Hydra's, output settings included
    # (two runs differing only in what they write never look like one).
    return config_hash(_root_, leave_out=("hydra",))


def register_resolvers() -> None:
    """Register ``tfrsim_sweep_name``, ``tfrsim_job_name`` and ``tfrsim_config_hash``
    with OmegaConf (idempotent).

    Called when :mod:`tfrsim.cli` is imported, hence also in every launcher worker that
    unpickles the task function.
    """
    if not OmegaConf.has_resolver("tfrsim_sweep_name"):
        # Cached so that every job resolves the sweep folder to the sweep's value.
        OmegaConf.register_new_resolver("tfrsim_sweep_name", _sweep_resolver, use_cache=True)
    if not OmegaConf.has_resolver("tfrsim_job_name"):
        OmegaConf.register_new_resolver("tfrsim_job_name", _job_resolver)
    if not OmegaConf.has_resolver("tfrsim_config_hash"):
        # Single-run folders: runs started in the same second with different
        # configurations get different names (identical ones a -2, -3... suffix,
        # tfrsim.output.claim_run_dir).
        OmegaConf.register_new_resolver("tfrsim_config_hash", _config_resolver)
