"""Command-line entry points (Hydra apps).

``tfrsim`` runs one study (or a sweep with ``-m``) into a folder under ``results/``::

    tfrsim                                   # the default STIM1-shaped study
    tfrsim cohort.n_patients=5000 seed=7     # any value can be overridden
    tfrsim model=mixture_cure trial=population
    tfrsim -m experiment=power               # a sweep preset (see docs/sweeps.md)

A single run refuses a folder that already holds results (exit status 2). A job of a
sweep resumes instead (complete results are skipped) and records a failure in its
folder; the sweep then exits with status 1 (:mod:`tfrsim.sweep.callback`).
"""

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from tfrsim.checks import ConfigError
from tfrsim.config.compose import CONFIG_DIR
from tfrsim.config.store import register_configs
from tfrsim.execution import StudyResult
from tfrsim.output import RunDirNotEmptyError
from tfrsim.sweep.job import JobOutcome, execute, run_sweep_job
from tfrsim.sweep.naming import register_resolvers

log = logging.getLogger("tfrsim")

# At import, so that launcher workers unpickling the task function have them too.
register_resolvers()


def format_summary(result: StudyResult, run_dir: Path) -> str:
    """A short plain-text summary of a run for the terminal."""
    p, a, patients = result.params, result.analysis, result.patients
    lines = [
        f"tfrsim — {p.trial_name}, model {p.model_name}, seed {p.seed}, replicate {p.replicate}",
        f"patients: {len(patients)}   relapses observed: {int(patients['event'].sum())}",
        "MRFS (95% CI):",
    ]
    for m in a.km.milestones.to_dict("records"):
        lines.append(
            f"  {m['group']:>12}  {m['month']:5.0f} mo  {100 * m['survival']:5.1f}%"
            f"  [{100 * m['lower']:5.1f}, {100 * m['upper']:5.1f}]"
        )
    lr = a.logrank
    lines.append(f"log-rank across Sokal groups: chi2 = {lr.statistic:.2f}, p = {lr.p:.3g}")
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
                f"{c['upper']:.2f}]  p = {c['p']:.3g}"
            )
    else:
        lines.append(f"Cox model not estimated: {a.cox.message}")
    rule = p.monitoring.rule
    obs = result.observation
    lines.append(
        f"rule {rule.name} (dated at the {rule.event_at} test); median relapse month "
        f"{obs.median_relapse_month:.1f}; {100 * obs.fluctuation_fraction:.0f}% of the "
        f"{obs.n_with_positive} patients with a positive test never relapsed"
    )
    lines.append(f"run folder: {run_dir}")
    return "\n".join(lines)


def run(cfg: DictConfig) -> Path:
    """Run one study from a composed config into the current Hydra run folder."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    result = execute(cfg, run_dir, progress=True)
    if result.params.output.print_summary:
        print(format_summary(result, run_dir))
    return run_dir


# An absolute config path works for editable and wheel installs alike.
@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def _app(cfg: DictConfig) -> JobOutcome | None:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run_sweep_job(cfg)
    try:
        run(cfg)
    except (ConfigError, RunDirNotEmptyError) as err:
        log.error("%s", err)
        sys.exit(2)
    return None


def main() -> None:
    """Entry point of the ``tfrsim`` command."""
    register_configs()
    _app()


if __name__ == "__main__":
    main()
