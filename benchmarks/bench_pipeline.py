"""Benchmark the tfrsim pipeline: wall time and peak memory per cohort size.

Three measurements per size, each in a fresh subprocess so that peak memory (max RSS,
including the interpreter and libraries) belongs to that run alone:

* ``pipeline`` — ``tfrsim.run_study`` in-process: simulate, observe, KM overall and by
  Sokal group, log-rank, Cox (Efron) with its proportional-hazards test; the wall time
  excludes interpreter start-up and config composition (reported apart);
* ``cli``    — the whole ``tfrsim`` command (start-up, config, simulate, analyse, write
  files and figures), as a user runs it;
* ``stages`` — the same study in-process, timed stage by stage (simulate; KM; log-rank;
  Cox with and without the proportional-hazards test).

Usage::

    python benchmarks/bench_pipeline.py                     # n = 10^4 and 10^5
    python benchmarks/bench_pipeline.py --sizes 10000 100000 1000000 --mode pipeline

Timings belong here and in closing notes, never in unit tests.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES_SCRIPT = r"""
import json, sys, time, resource
import tfrsim
from tfrsim.analysis import fit_cox, fit_km, logrank_by_group
from dataclasses import replace
n = int(sys.argv[1])
t0 = time.perf_counter()
params = tfrsim.load_params([f"cohort.n_patients={n}"])
t1 = time.perf_counter()
patients = tfrsim.simulate_patients(params)
t2 = time.perf_counter()
fit_km(patients, params.analysis)
t3 = time.perf_counter()
logrank_by_group(patients)
t4 = time.perf_counter()
fit_cox(patients, replace(params.analysis, ph_test=False))
t5 = time.perf_counter()
fit_cox(patients, params.analysis)
t6 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"config_s": t1 - t0, "simulate_s": t2 - t1, "km_s": t3 - t2,
                  "logrank_s": t4 - t3, "cox_s": t5 - t4, "cox_with_ph_test_s": t6 - t5,
                  "peak_rss_mib": rss}))
"""


PIPELINE_SCRIPT = r"""
import json, sys, time, resource
import tfrsim
n = int(sys.argv[1])
t0 = time.perf_counter()
params = tfrsim.load_params([f"cohort.n_patients={n}"])
t1 = time.perf_counter()
result = tfrsim.run_study(params, keep_visits=0)
t2 = time.perf_counter()
assert result.analysis.cox.converged and not result.analysis.cox.ph_test.empty
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"config_s": t1 - t0, "pipeline_s": t2 - t1, "peak_rss_mib": rss}))
"""


def run_pipeline(n: int) -> dict[str, float]:
    """Time ``run_study`` (simulation and full analysis) in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", PIPELINE_SCRIPT, str(n)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_cli(n: int) -> dict[str, float]:
    """Time the ``tfrsim`` command for ``n`` patients; peak RSS of the child."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        cmd = [
            sys.executable,
            "-m",
            "tfrsim",
            f"cohort.n_patients={n}",
            f"hydra.run.dir={Path(tmp) / 'run'}",
            "output.print_summary=false",
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "peak_rss_mib_children_max": rss}


def run_stages(n: int) -> dict[str, float]:
    """Time each stage in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", STAGES_SCRIPT, str(n)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _rounded(value: object) -> object:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 3) if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--mode", choices=["pipeline", "cli", "stages", "both", "all"], default="both"
    )
    args = parser.parse_args()
    for n in args.sizes:
        row: dict[str, object] = {"n_patients": n}
        if args.mode in ("pipeline", "all"):
            row["pipeline"] = run_pipeline(n)
        if args.mode in ("cli", "both", "all"):
            row["cli"] = run_cli(n)
        if args.mode in ("stages", "both", "all"):
            row["stages"] = run_stages(n)
        print(json.dumps(_rounded(row)))


if __name__ == "__main__":
    main()
