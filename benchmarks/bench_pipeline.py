"""Benchmark the tfrsim pipeline: wall time and peak memory per cohort size.

Three measurements per size, each in a fresh subprocess so that peak memory (max RSS,
including the interpreter and libraries) belongs to that run alone:

* ``pipeline`` — ``tfrsim.run_study`` in-process: simulate, observe, KM overall and by
  Sokal group, log-rank, Cox (Efron) with its proportional-hazards test; the wall time
  excludes interpreter start-up and config composition (reported apart);
* ``cli``    — the whole ``tfrsim`` command (start-up, config, simulate, analyse, write
  files and figures), as a user runs it;
* ``stages`` — the same study in-process, timed stage by stage (simulate; KM; log-rank;
  Cox with and without the proportional-hazards test);
* ``scale``  — the whole ``tfrsim`` command with ``output.visits`` off and on: wall, CPU
  (user + system) and peak memory of that process alone (``os.wait4``), and each
  stage's wall time from the run's own ``tfrsim.log`` (``stage seconds``: simulate,
  observe, analyse, write, figures, report; ``other`` is start-up, config and the
  rest), with the machine's load average before and after. Prints one JSON line per
  run and a Markdown table (the one in ``benchmarks/README.md``).

Usage::

    python benchmarks/bench_pipeline.py                     # n = 10^4 and 10^5
    python benchmarks/bench_pipeline.py --sizes 10000 100000 1000000 --mode pipeline
    python benchmarks/bench_pipeline.py --mode scale --sizes 100000 1000000 10000000

Timings belong here and in closing notes, never in unit tests.
"""

import argparse
import json
import os
import re
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


#: The run's own timing line in ``tfrsim.log`` (:func:`tfrsim.output.run._write_results`).
STAGE_LINE = re.compile(r"stage seconds: (\{.*\})$", re.MULTILINE)
#: Columns of the scale table, in order.
STAGE_COLUMNS: tuple[str, ...] = ("simulate", "observe", "analyse", "write", "figures", "report")


def run_scale(n: int, visits: bool, extra: list[str]) -> dict[str, object]:
    """The ``tfrsim`` command for ``n`` patients: wall, CPU and peak RSS of its process
    (``os.wait4``) and each stage's seconds from its ``tfrsim.log``."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("TFRSIM_BENCH_TMP")) as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [
            sys.executable,
            "-m",
            "tfrsim",
            f"cohort.n_patients={n}",
            f"output.visits={str(visits).lower()}",
            f"hydra.run.dir={run_dir}",
            "output.print_summary=false",
            *extra,
        ]
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env={**os.environ, "MPLBACKEND": "Agg"}, stdout=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"tfrsim failed with status {proc.returncode}: {' '.join(cmd)}")
        log = (run_dir / "tfrsim.log").read_text(encoding="utf-8")
        match = STAGE_LINE.search(log)
        stages = json.loads(match.group(1)) if match else {}
        sizes = {p.name: p.stat().st_size for p in run_dir.glob("*.parquet")}
    stages["other"] = wall - sum(stages.values())
    peak_bytes = usage.ru_maxrss * 1024
    return {
        "n_patients": n,
        "visits": visits,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": peak_bytes / 2**20,
        "peak_bytes_per_patient": peak_bytes / n,
        "stage_s": stages,
        "parquet_bytes": sizes,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }


def scale_table(rows: list[dict[str, object]]) -> str:
    """The scale runs as the Markdown table of ``benchmarks/README.md``."""
    head = (
        "| patients | visits | wall (s) | CPU (s) | peak RSS (MiB) | bytes/patient | "
        + " | ".join(STAGE_COLUMNS)
        + " | other | load (1 min) |"
    )
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in rows:
        stages = r["stage_s"]
        wall = float(r["wall_s"])  # type: ignore[arg-type]
        assert isinstance(stages, dict)
        share = " | ".join(
            f"{100 * stages.get(k, 0.0) / wall:.0f} %" for k in (*STAGE_COLUMNS, "other")
        )
        load = r["load_before"], r["load_after"]
        lines.append(
            f"| {r['n_patients']:,} | {'on' if r['visits'] else 'off'} | {wall:.1f} | "
            f"{r['cpu_s']:.1f} | {r['peak_rss_mib']:.0f} | {r['peak_bytes_per_patient']:.0f} | "
            f"{share} | {load[0][0]:.2f} → {load[1][0]:.2f} |"  # type: ignore[index]
        )
    return "\n".join(lines)


def _rounded(value: object) -> object:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return round(value, 3) if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--mode", choices=["pipeline", "cli", "stages", "both", "all", "scale"], default="both"
    )
    parser.add_argument(
        "--visits", choices=["off", "on", "both"], default="both", help="scale mode only"
    )
    parser.add_argument(
        "overrides", nargs="*", help="extra tfrsim overrides (scale mode only)", default=[]
    )
    args = parser.parse_args()
    if args.mode == "scale":
        rows = []
        for n in args.sizes:
            for visits in {"off": [False], "on": [True], "both": [False, True]}[args.visits]:
                rows.append(run_scale(n, visits, args.overrides))
                print(json.dumps(_rounded(rows[-1])), flush=True)
        print(scale_table(rows))
        return
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
