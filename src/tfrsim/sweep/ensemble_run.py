"""A run of several replicates in one job (``ensemble.replicates=R``): its files.

``tfrsim ensemble.replicates=R`` (and every job of the experiment presets) simulates
``R`` independent replicates with :func:`tfrsim.run_ensemble` — replicate ``r``
reseeded from ``(seed, r)``, exactly the study ``tfrsim replicate=r`` runs — and
writes into the run folder:

* ``config.yaml``: the resolved configuration;
* ``replicates.csv``: every replicate's estimands (the tidy schema of the sweep table,
  :data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS`, plus ``replicate``);
* ``ensemble.csv``: per estimand across replicates, ``n``, ``mean``, ``sd``,
  ``median`` and the central 95 % band of single replicates (``lower``, ``upper``),
  plus the t interval of the mean (:meth:`tfrsim.ensemble.EnsembleResult.reduce`);
* ``summary.json``, written last (the completion marker): what the sweep table needs,
  the estimands of every replicate (each row with its ``replicate``).

No patient table, figure or report is written for an ensemble: a replicate's files are
those of ``tfrsim replicate=r``.
"""

import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from tfrsim._version import __version__
from tfrsim.ensemble import EnsembleResult, run_ensemble
from tfrsim.files import atomic_path, write_text
from tfrsim.jsonsafe import json_safe, records
from tfrsim.output import COMPLETE_MARKER, ensure_fresh
from tfrsim.study import StudyParams

log = logging.getLogger(__name__)

#: Every replicate's estimands, and the reduced table, in an ensemble run's folder.
REPLICATES_FILE, REDUCED_FILE = "replicates.csv", "ensemble.csv"
#: Level of the bands of ``ensemble.csv``.
BAND_LEVEL: float = 0.95


def ensemble_summary(result: EnsembleResult) -> dict[str, Any]:
    """``summary.json`` of an ensemble run (no paths or times: reproducible bytes).

    The keys of a single run's summary that describe the study (version, trial, model,
    seed, first ``replicate``, ``n_patients`` per replicate, rule, schedule, assay),
    plus ``replicates`` (the replicate numbers), ``ensemble`` and ``estimands``: one
    row per replicate and estimand, each with its ``replicate``.
    """
    p = result.params
    sizes = set(result.n_patients)
    table = result.estimands
    return json_safe(
        {
            "tfrsim_version": __version__,
            "trial": p.trial_name,
            "model": p.model_name,
            "seed": p.seed,
            "replicate": result.replicates[0],
            "replicates": list(result.replicates),
            # Every replicate simulates the configured cohort: one number, else a list.
            "n_patients": sizes.pop() if len(sizes) == 1 else list(result.n_patients),
            "rule": asdict(p.monitoring.rule),
            "schedule": asdict(p.monitoring.schedule),
            "assay": asdict(p.monitoring.assay),
            # Parameter uncertainty: the stored draw each replicate used.
            **(
                {
                    "uncertainty": p.uncertainty,
                    "posterior_draws": [
                        replace(p, replicate=r).with_posterior_draw().posterior_draw
                        for r in result.replicates
                    ],
                }
                if p.uncertainty != "none"
                else {}
            ),
            "ensemble": {"replicates": len(result.replicates), "band_level": BAND_LEVEL},
            "estimands": records(table, [str(c) for c in table.columns]),
        }
    )


def write_ensemble(
    run_dir: Path,
    params: StudyParams,
    resolved_config: str,
    replicates: int,
    *,
    progress: bool = False,
) -> EnsembleResult:
    """Run ``replicates`` replicates of a study into ``run_dir`` (see the module).

    Parameters
    ----------
    run_dir : Path
        The run folder (must be fresh).
    params : StudyParams
        The study; replicates are numbered from ``params.replicate``.
    resolved_config : str
        The resolved configuration as YAML.
    replicates : int
        How many replicates (>= 1).
    progress : bool, default False
        Progress bar over replicates (on a terminal only).

    Returns
    -------
    EnsembleResult
    """
    ensure_fresh(run_dir)
    write_text(run_dir / "config.yaml", resolved_config)
    start = time.perf_counter()
    result = run_ensemble(params, replicates, progress=progress)
    log.info(
        "simulated and analysed %d replicates in %.1f s",
        len(result.replicates),
        time.perf_counter() - start,
    )
    with atomic_path(run_dir / REPLICATES_FILE) as tmp:
        result.estimands.to_csv(tmp, index=False)
    with atomic_path(run_dir / REDUCED_FILE) as tmp:
        result.reduce(BAND_LEVEL).to_csv(tmp, index=False)
    # Last: its presence marks the run complete.
    text = json.dumps(ensemble_summary(result), indent=2) + "\n"
    write_text(run_dir / COMPLETE_MARKER, text)
    return result


def format_ensemble(result: EnsembleResult, run_dir: Path) -> str:
    """A short plain-text summary of an ensemble run for the terminal: the median and
    95 % band across replicates of MRFS and of each hazard ratio."""
    p = result.params
    reps = result.replicates
    reduced = result.reduce(BAND_LEVEL)
    lines = [
        f"tfrsim {__version__} — {p.trial_name}, {p.model_name}, seed {p.seed}, "
        f"replicates {reps[0]}..{reps[-1]} ({len(reps)})",
        "MRFS across replicates: median [2.5 %, 97.5 % of replicates]",
    ]
    for row in reduced[reduced["estimand"] == "mrfs"].to_dict("records"):
        lines.append(
            f"  {row['group']:>12}  {row['month']:5.0f} mo  {100 * row['median']:5.1f}%"
            f"  [{100 * row['lower']:5.1f}, {100 * row['upper']:5.1f}]"
        )
    hr = reduced[reduced["estimand"] == "hr"]
    if len(hr):
        lines.append("Cox hazard ratios across replicates: median [2.5 %, 97.5 %]")
        for row in hr.to_dict("records"):
            lines.append(
                f"  {row['covariate']:>18}  HR {row['median']:6.2f}  "
                f"[{row['lower']:.2f}, {row['upper']:.2f}]  ({row['n']} replicates)"
            )
    lines.append(f"run folder: {run_dir}")
    return "\n".join(lines)
