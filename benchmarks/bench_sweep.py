"""Benchmark a whole sweep: ``tfrsim -m experiment=power`` (200 jobs) with joblib.

Runs the preset in a temporary folder as a user would (a fresh ``tfrsim`` process, the
joblib launcher on every core), then reports:

* ``wall_s``: the whole command, start-up to exit (sweep table and figure included);
* ``jobs_s``: from the first to the last job log line;
* ``in_job_s``: the sum over jobs of the study itself (validate, simulate, analyse,
  write files), from the jobs' status records;
* ``simulation_s``: the sum over jobs of the simulation alone, measured in-process
  (``tfrsim.simulate_patients`` for each job's size and replicate);
* ``outside_simulation_share``: ``1 - simulation_s / (cores * wall_s)``, the share of the
  machine's time spent on anything else (start-up, Hydra composing each job, process
  pool, analysis, I/O, aggregation).

Usage::

    python benchmarks/bench_sweep.py                 # the full 200-job preset
    python benchmarks/bench_sweep.py 'replicate=range(0,8)'   # extra overrides

Timings belong here and in closing notes, never in unit tests.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import tfrsim

_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[tfrsim\.sweep\.job\]")


def _stamps(log: str) -> list[datetime]:
    out = []
    for line in log.splitlines():
        match = _STAMP.match(line)
        if match:
            out.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f"))
    return out


def main() -> None:
    extra = sys.argv[1:]
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        cmd = [sys.executable, "-m", "tfrsim", "-m", "experiment=power", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        stamps = _stamps(proc.stdout + proc.stderr)
        (sweep,) = (Path(tmp) / "results" / "multirun" / "power").iterdir()
        records = [json.loads(p.read_text()) for p in (sweep / ".tfrsim_status").glob("*.json")]
        configs = [
            (int(m.group(1)), int(m.group(2)))
            for r in records
            if (m := re.search(r"cohort.n_patients=(\d+),replicate=(\d+)", r["job_dir"]))
        ]
    simulation = 0.0
    for n, replicate in configs:
        params = tfrsim.load_params([f"cohort.n_patients={n}", f"replicate={replicate}"])
        t1 = time.perf_counter()
        tfrsim.simulate_patients(params)
        simulation += time.perf_counter() - t1
    print(
        json.dumps(
            {
                "jobs": len(records),
                "cores": cores,
                "wall_s": round(wall, 2),
                "jobs_s": round((max(stamps) - min(stamps)).total_seconds(), 2),
                "in_job_s": round(sum(r["seconds"] for r in records), 2),
                "simulation_s": round(simulation, 2),
                "outside_simulation_share": round(1 - simulation / (cores * wall), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
