"""tfrsim's whole pipeline against R survival's and lifelines' analysis alone.

Same patients for all three: tfrsim simulates a cohort (the default study) and writes
``duration_months``, ``event``, ``sokal_group``, ``tki_years`` to CSV; then, alternating,
in fresh subprocesses:

* ``tfrsim``   — ``tfrsim.run_study`` in-process (simulate, observe, KM overall and by
  Sokal group, log-rank, Cox (Efron) with the PH test, RMST, medians): wall and CPU;
* ``R``        — ``survfit`` overall and by group, ``survdiff``, ``coxph(ties="efron")``,
  ``cox.zph`` on the CSV (reading excluded): wall and CPU (``proc.time()``);
* ``lifelines``— ``KaplanMeierFitter`` overall and by group, ``multivariate_logrank_test``,
  ``CoxPHFitter(batch_mode=True)`` (reading excluded).

Ratios tfrsim / R are reported (issue 14's target at 10^6: wall <= 0.4, CPU < 1). The R
part is skipped cleanly when ``Rscript`` or the survival package is missing. Timings
belong here and in closing notes, never in tests.

Usage::

    python benchmarks/bench_vs_r.py --n 1000000 --repeats 3
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TFRSIM = r"""
import json, sys, time, resource
import tfrsim
params = tfrsim.load_params([f"cohort.n_patients={sys.argv[1]}", "output.figures=false"])
w, c = time.perf_counter(), time.process_time()
result = tfrsim.run_study(params, keep_visits=0)
wall, cpu = time.perf_counter() - w, time.process_time() - c
if len(sys.argv) > 2:
    result.patients[["duration_months", "event", "sokal_group", "tki_years"]].to_csv(
        sys.argv[2], index=False
    )
print(json.dumps({"wall": wall, "cpu": cpu,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

R = r"""
suppressMessages(library(survival))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
d$event <- as.logical(d$event)
d$sokal_group <- factor(d$sokal_group, levels = c("low", "intermediate", "high"))
t0 <- proc.time()
f1 <- survfit(Surv(duration_months, event) ~ 1, data = d)
f2 <- survfit(Surv(duration_months, event) ~ sokal_group, data = d)
lr <- survdiff(Surv(duration_months, event) ~ sokal_group, data = d)
cx <- coxph(Surv(duration_months, event) ~ sokal_group + tki_years, data = d, ties = "efron")
zp <- cox.zph(cx)
t1 <- proc.time() - t0
cat(sprintf('{"wall": %f, "cpu": %f}\n', t1[["elapsed"]], t1[["user.self"]] + t1[["sys.self"]]))
"""

LIFELINES = r"""
import json, sys, time
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
d = pd.read_csv(sys.argv[1])
w, c = time.perf_counter(), time.process_time()
KaplanMeierFitter().fit(d.duration_months, d.event)
for _, g in d.groupby("sokal_group"):
    KaplanMeierFitter().fit(g.duration_months, g.event)
multivariate_logrank_test(d.duration_months, d.sokal_group, d.event)
x = pd.get_dummies(d.sokal_group, drop_first=True, dtype=float)
x = x.assign(tki_years=d.tki_years, duration_months=d.duration_months, event=d.event)
CoxPHFitter().fit(x, "duration_months", "event", batch_mode=True)
print(json.dumps({"wall": time.perf_counter() - w, "cpu": time.process_time() - c}))
"""


def _run(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _have_r() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "library(survival)"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = str(Path(tmp) / "patients.csv")
        r_script = Path(tmp) / "bench.R"
        r_script.write_text(R, encoding="utf-8")
        _run([sys.executable, "-c", TFRSIM, str(args.n), csv])  # the shared patients
        have_r = _have_r()
        rows = []
        for rep in range(args.repeats):
            row = {"rep": rep, "tfrsim": _run([sys.executable, "-c", TFRSIM, str(args.n)])}
            if have_r:
                row["R"] = _run(["Rscript", str(r_script), csv])
            row["lifelines"] = _run([sys.executable, "-c", LIFELINES, csv])
            rows.append(row)
            print(json.dumps(row))
    for key in ("wall", "cpu"):
        t = sorted(r["tfrsim"][key] for r in rows)
        line = f"{key}: tfrsim median {t[len(t) // 2]:.2f} s"
        for other in ("R", "lifelines"):
            if all(other in r for r in rows):
                o = sorted(r[other][key] for r in rows)
                med = o[len(o) // 2]
                line += f"; {other} {med:.2f} s (ratio tfrsim/{other} {t[len(t) // 2] / med:.2f})"
        print(line)
    if not have_r:
        print("R part skipped: Rscript with the survival package not found")


if __name__ == "__main__":
    main()
