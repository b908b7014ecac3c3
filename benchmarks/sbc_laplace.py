"""Simulation-based check of the posterior intervals (benchmark, not CI).

Synthetic "published" milestones from known parameters (the calibrated model's) at the
calibration trials' stated sizes; calibrate (small budget), Laplace at the fit; count
how often the 95 % intervals cover the true parameters and the true MRFS milestones
over K repetitions (tfrsim.calibration.sbc). Prints coverage with Clopper–Pearson CIs
and writes results/benchmarks/sbc_laplace.csv.

    PYTHONPATH=src python benchmarks/sbc_laplace.py --reps 10
    PYTHONPATH=src python benchmarks/sbc_laplace.py --reps 20 --method emcee
    PYTHONPATH=src python benchmarks/sbc_laplace.py --reps 40 --n-per-trial 5000 \
        --names theta0,latency_sigma,growth_rate_per_month,effects.tki_per_year

Cost: each repetition is one fit (--evaluations) plus a Laplace step (1 + 2k + 2k(k-1)
evaluations at two step sizes, plus the step search) plus --curve-draws evaluations,
each evaluation simulating the three trials at --n-per-trial patients.
"""

import argparse
import time
from pathlib import Path

import pandas as pd

from tfrsim.calibration.sbc import SBC_METHODS, coverage, sbc_repetition, true_curves
from tfrsim.calibration.targets import load_targets
from tfrsim.config.compose import CALIBRATION_TRIALS, load_params, trial_designs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=10)
    p.add_argument(
        "--first-rep",
        type=int,
        default=0,
        help="index of the first repetition (split a long check over processes)",
    )
    p.add_argument("--names", default="theta0,latency_sigma,growth_rate_per_month")
    p.add_argument("--n-per-trial", type=int, default=3000)
    p.add_argument("--evaluations", type=int, default=60)
    # The 2.5/97.5 % percentiles of m draws cover on average 89.7 % of a normal
    # posterior at m = 30, 93.2 % at 100 and 94.1 % at 200 (numpy's interpolated
    # percentiles; 20,000 simulated sets of standard normals): with few draws a perfect
    # posterior under-covers. 200 is what tfrsim-predict uses (calibration.posterior.N_DRAWS).
    p.add_argument("--curve-draws", type=int, default=200)
    p.add_argument("--n-true", type=int, default=40000)
    p.add_argument(
        "--n-curve",
        type=int,
        default=None,
        help="patients per trial for each draw's curves (default --n-per-trial)",
    )
    p.add_argument("--method", choices=SBC_METHODS, default="laplace")
    p.add_argument("--mcmc-steps", type=int, default=300)
    p.add_argument("--mcmc-burn", type=int, default=100)
    p.add_argument(
        "--independent",
        action="store_true",
        help="score milestones as independent (the objective before December 2026)",
    )
    p.add_argument("--out", type=Path, default=Path("results/benchmarks/sbc_laplace.csv"))
    args = p.parse_args()
    names = args.names.split(",")
    truth = load_params(["model=calibrated"]).model
    template = load_targets()
    designs = trial_designs(CALIBRATION_TRIALS)
    curves = true_curves(truth, template, designs, args.n_true, seed=7)
    rows = []
    began = time.perf_counter()
    for rep in range(args.first_rep, args.first_rep + args.reps):
        rows += sbc_repetition(
            truth,
            names,
            template,
            designs,
            curves,
            rep=rep,
            n_per_trial=args.n_per_trial,
            max_evaluations=args.evaluations,
            curve_draws=args.curve_draws,
            method=args.method,
            mcmc_steps=args.mcmc_steps,
            mcmc_burn=args.mcmc_burn,
            correlated=not args.independent,
            curve_n_per_trial=args.n_curve,
        )
        print(f"rep {rep} done at {time.perf_counter() - began:.0f} s", flush=True)
        # Written after every repetition: a long run can be stopped and still read.
        table = pd.DataFrame(rows)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(coverage(table).round(3).to_string(index=False))
    failures = int((table["kind"] == "failure").sum())
    print(
        f"{args.reps} repetitions, {failures} Laplace refusals, "
        f"{time.perf_counter() - began:.0f} s; table: {args.out}"
    )


if __name__ == "__main__":
    main()
