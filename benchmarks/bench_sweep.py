"""Benchmark a whole sweep: ``tfrsim -m experiment=power`` against a single default run.

Runs, in fresh temporary folders and as a user would (a new ``tfrsim`` process each
time), alternately ``--repeats`` times:

* ``single``: a single default ``tfrsim`` run (figures and report included);
* ``power``: the preset ``tfrsim -m experiment=power`` (5 jobs of 40 replicates: the 200
  size x replicate trials), sweep table, summary and figure included;

then, in the last power sweep's folder, the same command again (``resume``: every job
finished, skipped without composing it). With ``--per-job-grid`` it also runs the
former layout once — the same 200 trials as 200 jobs of one replicate
(``ensemble.replicates=1 'replicate=range(0,40)'``) — and its resume.

Reports wall and CPU (user + system of the command and its workers) of every run, the
ratio of median power wall to median single wall (acceptance: <= 3), the seconds the
sweeper spent recognising finished jobs (from its log line), and ``uptime`` before and
after (the machine is shared: read the figures next to the load).

Usage::

    python benchmarks/bench_sweep.py                  # 3 alternations
    python benchmarks/bench_sweep.py --repeats 1 --per-job-grid

Timings belong here and in closing notes, never in unit tests.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_SKIP = re.compile(r"(\d+) finished jobs skipped without composing them \(([\d.]+) s\)")


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _run(args: list[str], cwd: Path) -> dict[str, Any]:
    """One ``tfrsim`` command: wall, CPU of it and its children, what it printed."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "tfrsim", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"tfrsim {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out: dict[str, Any] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    match = _SKIP.search(proc.stdout + proc.stderr)
    if match:
        out["skipped"], out["skip_check_s"] = int(match.group(1)), float(match.group(2))
    return out


def _sweep(args: list[str], resume: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        first = _run(args, Path(tmp))
        if resume:
            first["resume"] = _run(args, Path(tmp))
        return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-job-grid", action="store_true")
    parser.add_argument("overrides", nargs="*", help="extra overrides of the power sweep")
    args = parser.parse_args()
    power = ["-m", "experiment=power", *args.overrides]
    report: dict[str, Any] = {
        "cores": len(os.sched_getaffinity(0)),
        "uptime_before": _uptime(),
        "single": [],
        "power": [],
    }
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            report["single"].append(_run([], Path(tmp)))
        report["power"].append(_sweep(power, resume=i == args.repeats - 1))
    if args.per_job_grid:
        grid = [*power, "ensemble.replicates=1", "replicate=range(0,40)"]
        report["per_job_grid"] = _sweep(grid, resume=True)
    report["uptime_after"] = _uptime()
    single = statistics.median(r["wall_s"] for r in report["single"])
    sweep = statistics.median(r["wall_s"] for r in report["power"])
    report["power_over_single"] = round(sweep / single, 2)
    report["pairwise_ratios"] = [
        round(p["wall_s"] / s["wall_s"], 2)
        for s, p in zip(report["single"], report["power"], strict=True)
    ]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
