"""Command-line entry points (Hydra apps).

``tfrsim`` runs one study (or a sweep with ``-m``) into a folder under ``results/``::

    tfrsim                                   # the default STIM1-shaped study
    tfrsim cohort.n_patients=5000 seed=7     # any value can be overridden
    tfrsim model=mixture_cure trial=population
    tfrsim -m experiment=power               # a sweep preset (see docs/sweeps.md)

A single run refuses a folder that already holds results (exit status 2). A job of a
sweep resumes instead (complete results are skipped) and records a failure in its
folder; the sweep then exits with status 4 (:mod:`tfrsim.sweep.callback`). Exit
statuses of every command: :mod:`tfrsim.exits` (``docs/runs.md``).
"""

import logging
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from tfrsim._version import __version__
from tfrsim.config.paths import CONFIG_DIR
from tfrsim.labels import model_label
from tfrsim.sweep.naming import register_resolvers

# The simulation, its outputs and the sweep machinery (pandas, pyarrow, lifelines,
# matplotlib) are imported when a run starts, so `tfrsim --help` and `--version` stay fast.
if TYPE_CHECKING:
    from tfrsim.execution import StudyResult
    from tfrsim.sweep.job import JobOutcome

log = logging.getLogger("tfrsim")

# At import, so that launcher workers unpickling the task function have them too.
register_resolvers()


def format_summary(result: "StudyResult", run_dir: Path, model: str | None = None) -> str:
    """A short plain-text summary of a run for the terminal.

    Parameters
    ----------
    result : StudyResult
        The run's results.
    run_dir : Path
        Where its files went (printed last).
    model : str, optional
        How to name the model (see :func:`model_label`); default: the registered name.
    """
    from tfrsim.analysis.pvalues import format_p, log10_p_chi2

    p, a, patients = result.params, result.analysis, result.patients
    lines = [
        f"tfrsim {__version__} — {p.trial_name}, {model or model_label(None, p.model_name)}, "
        f"seed {p.seed}, replicate {p.replicate}",
        f"patients: {len(patients)}   relapses observed: {int(patients['event'].sum())}",
        "MRFS (95% CI):",
    ]
    for m in a.km.milestones.to_dict("records"):
        lines.append(
            f"  {m['group']:>12}  {m['month']:5.0f} mo  {100 * m['survival']:5.1f}%"
            f"  [{100 * m['lower']:5.1f}, {100 * m['upper']:5.1f}]"
        )
    lr = a.logrank
    lr_p = format_p(float(log10_p_chi2(lr.statistic, max(lr.df, 1))))
    lines.append(f"log-rank across Sokal groups: chi2 = {lr.statistic:.2f}, {lr_p}")
    if a.cox.converged:
        lines.append("Cox hazard ratios (95% CI):")
        for c in a.cox.table.to_dict("records"):
            if c["covariate"] in a.cox.dropped:
                lines.append(
                    f"  {c['covariate']:>18}  not estimated: {a.cox.dropped[c['covariate']]}"
                )
                continue
            lines.append(
                f"  {c['covariate']:>18}  HR {c['hr']:6.2f}  [{c['lower']:.2f}, "
                f"{c['upper']:.2f}]  {format_p(c['log10_p'])}"
            )
    else:
        lines.append(f"Cox model not estimated: {a.cox.message}")
    rule = p.monitoring.rule
    obs = result.observation
    lines.append(f"rule {rule.name} (relapse dated at the {rule.event_at} test)")
    lines.append(
        f"median relapse month {obs.median_relapse_month:.1f} (interpolated between visits: "
        f"grouped-data median of the relapsers)"
    )
    lines.append(
        f"{100 * obs.fluctuation_fraction:.0f}% of the {obs.n_with_positive} patients with "
        f"a positive test never relapsed"
    )
    lines.append(f"run folder: {run_dir}")
    return "\n".join(lines)


@contextmanager
def warnings_to_log() -> Iterator[None]:
    """Record the warnings raised inside (any thread) and log them when it exits,
    one line each (see :func:`_log_warnings`): tfrsim.log, not the terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield
        finally:
            _log_warnings(caught)


def _log_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Third-party warnings of a run as one line each in ``tfrsim.log`` (not the terminal).

    Repeats of the same warning are counted, not repeated.
    """
    counts = Counter((w.category.__name__, " ".join(str(w.message).split())[:300]) for w in caught)
    for (category, message), n in counts.items():
        times = f" ({n} times)" if n > 1 else ""
        log.info("warning during the run%s: %s: %s", times, category, message)


def run(cfg: DictConfig) -> Path:
    """Run one study from a composed config into the current Hydra run folder."""
    from hydra.core.hydra_config import HydraConfig

    from tfrsim.ensemble import EnsembleResult
    from tfrsim.sweep.ensemble_run import format_ensemble
    from tfrsim.sweep.job import execute

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    # Read leniently: the config is validated (with clear messages) by execute().
    name, trial = OmegaConf.select(cfg, "model.name"), OmegaConf.select(cfg, "trial.name")
    model = model_label(hydra_cfg.runtime.choices.get("model"), str(name))
    log.info("tfrsim %s: trial %s, %s, seed %s", __version__, trial, model, cfg.get("seed"))
    log.info("overrides: %s", " ".join(hydra_cfg.overrides.task) or "(none)")
    start = time.perf_counter()
    with warnings_to_log():
        result = execute(cfg, run_dir, progress=True)
    log.info("run finished in %.1f s; files in %s", time.perf_counter() - start, run_dir)
    if result.params.output.print_summary:
        if isinstance(result, EnsembleResult):
            print(format_ensemble(result, run_dir))
        else:
            print(format_summary(result, run_dir, model))
    return run_dir


def _joblib_jobs(launcher: Any, cpus: int) -> int:
    """Jobs the joblib launcher runs at once: its ``n_jobs`` as joblib reads it
    (negative: ``cpus + 1 + n_jobs``; null: 1)."""
    n_jobs = launcher.get("n_jobs") if launcher is not None else None
    if n_jobs is None:
        return 1
    n_jobs = int(n_jobs)
    return max(1, cpus + 1 + n_jobs if n_jobs < 0 else n_jobs)


#: Jobs a multirun launcher runs side by side on one machine, by the class name of its
#: ``hydra.launcher._target_``. Launchers not listed (Hydra's basic one runs jobs one
#: after the other; submitit and Ray give each job its own CPUs) count 1.
CONCURRENT_JOBS: dict[str, Callable[[Any, int], int]] = {"JoblibLauncher": _joblib_jobs}


def concurrent_jobs(hydra_cfg: Any, cpus: int) -> int:
    """Jobs of this invocation running at once on this machine (1 for a single run).

    Parameters
    ----------
    hydra_cfg : omegaconf.DictConfig
        Hydra's runtime config (``HydraConfig.get()``).
    cpus : int
        CPUs available to the process.
    """
    from hydra.types import RunMode

    if hydra_cfg.mode != RunMode.MULTIRUN:
        return 1
    launcher = OmegaConf.select(hydra_cfg, "launcher")
    target = str(OmegaConf.select(hydra_cfg, "launcher._target_", default="") or "")
    count = CONCURRENT_JOBS.get(target.rsplit(".", 1)[-1])
    return count(launcher, cpus) if count is not None else 1


def with_default_threads(cfg: DictConfig, hydra_cfg: Any) -> DictConfig:
    """Record the jobs running at once (:func:`concurrent_jobs`) for the default of a
    null ``limits.threads`` — the CPUs available divided by them, so that a joblib
    sweep's workers do not each start a thread per core — and return ``cfg``
    unchanged: the derived count is logged, never written into the job's config, so
    ``config.yaml`` and every result are the same bytes whatever the number of
    workers. An explicit value is kept (and validated with the rest of the config)."""
    from tfrsim.execution import available_cpus, default_threads, set_concurrent_jobs

    cpus = available_cpus()
    jobs = concurrent_jobs(hydra_cfg, cpus)
    set_concurrent_jobs(jobs)
    limits = OmegaConf.select(cfg, "limits", default=None)
    if isinstance(limits, DictConfig) and limits.get("threads") is None:
        log.info(
            "limits.threads = %d (null: CPUs available %d / jobs at once %d)",
            default_threads(),
            cpus,
            jobs,
        )
    return cfg


def _app(cfg: DictConfig) -> "JobOutcome | None":
    """The Hydra task: one run, or one job of a sweep (decorated in :func:`main`;
    launchers pickle this module-level function and call it in their workers)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from tfrsim.run_guard import discard_on_failure
    from tfrsim.sweep.job import run_sweep_job

    cfg = with_default_threads(cfg, HydraConfig.get())
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        with warnings_to_log():  # into the job's tfrsim.log
            return run_sweep_job(cfg)
    # Errors propagate to main() (exit status and one-line message, tfrsim.exits).
    with discard_on_failure(Path(HydraConfig.get().runtime.output_dir)):
        run(cfg)
    return None


def default_model_description() -> str:
    """The default model's config, registered model and provenance (for ``--version``)."""
    from omegaconf import OmegaConf

    defaults = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "config.yaml"))
    entries = defaults.get("defaults", []) if isinstance(defaults, dict) else []
    choice = next((d["model"] for d in entries if isinstance(d, dict) and "model" in d), None)
    if choice is None:  # pragma: no cover - the shipped config names its model
        return "default model: none chosen in conf/config.yaml"

    def load(stem: str) -> dict[str, Any]:
        data = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "model" / f"{stem}.yaml"))
        return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}

    model = load(str(choice))
    name = model.get("name")
    for parent in model.get("defaults") or []:  # e.g. calibrated -> clonal
        if name is None and isinstance(parent, str) and parent != "_self_":
            name = load(parent).get("name")
    text = f"default model: {model_label(choice, str(name or choice))} (conf/model/{choice}.yaml)"
    provenance = model.get("provenance")
    if isinstance(provenance, dict):
        by = provenance.get("written_by", "?")
        version = provenance.get("tfrsim_version", "?")
        targets = [str(t) for t in provenance.get("fitted_to") or []]
        trials = sorted({t.split()[0] for t in targets if not t.startswith("prior")})
        text += f"\n  written by {by} {version}"
        if targets:
            text += f"; fitted to {len(targets)} targets ({', '.join(trials)})"
    return text


#: Flags that ask for tfrsim's help (``--hydra-help`` is Hydra's own).
HELP_FLAGS: frozenset[str] = frozenset({"--help", "-h"})
#: The help template (``hydra.help``), also used by Hydra.
HELP_CONFIG: Path = CONFIG_DIR / "hydra" / "help" / "tfrsim.yaml"


def _config_dirs(args: list[str]) -> list[Path]:
    """The packaged config folder and any ``--config-dir``/``-cd`` given."""
    dirs = [CONFIG_DIR]
    for i, arg in enumerate(args):
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            dirs.append(Path(args[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


def config_groups(dirs: list[Path]) -> str:
    """``group: option, option`` lines of the config folders (as Hydra lists them:
    every folder holding YAML files, its path relative to the config folder; Hydra's
    own ``hydra/`` groups left out)."""
    groups: dict[str, set[str]] = {}
    for root in dirs:
        for path in root.rglob("*.yaml"):
            group = path.parent.relative_to(root).as_posix()
            if group != "." and not group.startswith("hydra"):
                groups.setdefault(group, set()).add(path.stem)
    return "\n".join(f"{g}: {', '.join(sorted(groups[g]))}" for g in sorted(groups))


def help_text(args: list[str]) -> str:
    """``tfrsim --help``: the ``hydra.help`` template of ``conf/hydra/help/tfrsim.yaml``
    with the config groups filled in.

    Rendered here rather than by Hydra, whose help composes the config once per
    config group (seconds); the text is the same.
    """
    import yaml

    spec = yaml.safe_load(HELP_CONFIG.read_text(encoding="utf-8"))
    return (
        str(spec["template"])
        .replace("${hydra.help.header}", str(spec["header"]).rstrip("\n"))
        .replace("${hydra.help.footer}", str(spec["footer"]).rstrip("\n"))
        .replace("$APP_CONFIG_GROUPS", config_groups(_config_dirs(args)))
        .rstrip("\n")
    )


def _command() -> int:
    from tfrsim.config.store import register_configs
    from tfrsim.sweep.callback import sweep_exit_status

    register_configs()
    import hydra

    # An absolute config path works for editable and wheel installs alike.
    app = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")(_app)
    app()
    # A multirun's end-of-sweep step records its status (never swallowed by Hydra).
    return sweep_exit_status()


def main() -> None:
    """Entry point of the ``tfrsim`` command (exit statuses: :mod:`tfrsim.exits`)."""
    args = sys.argv[1:]
    # Hydra reserves --version for its own; tfrsim's comes first.
    if "--version" in args:
        print(f"tfrsim {__version__}")
        print(default_model_description())
        return
    if HELP_FLAGS.intersection(args):
        print(help_text(args))
        return
    from tfrsim.exits import run_command

    run_command("tfrsim", _command)


if __name__ == "__main__":
    main()
