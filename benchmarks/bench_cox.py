"""Benchmark the Cox step alone at large n: tfrsim's Efron fit versus lifelines.

The data are the default study's patients (a monthly-then-2-then-3-monthly visit grid,
so durations take a few dozen distinct values and ties are heavy). Both fits use Efron
ties and maximise the same partial likelihood; the script reports each wall time (best
of ``--repeat``) and the largest coefficient difference.

Usage::

    python benchmarks/bench_cox.py                        # n = 10^6, default covariates
    python benchmarks/bench_cox.py --n 100000 --covariates sokal_group tki_years dmr_years

Reference (issue 5): R ``survival::coxph`` (Efron) takes about 2.8 s at 10^6 on this kind
of 2-core machine; the target is under 1.4 s. Timings belong here, never in tests.
"""

import argparse
import json
import time
import warnings

import numpy as np
from lifelines import CoxPHFitter

import tfrsim
from tfrsim.analysis import fit_cox
from tfrsim.analysis.covariates import build_design
from tfrsim.analysis.efron import fit_efron


def best_of(repeat: int, func) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--covariates", nargs="+", default=["sokal_group", "tki_years"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    covariates = "[" + ",".join(args.covariates) + "]"
    params = tfrsim.load_params(
        [f"cohort.n_patients={args.n}", f"analysis.cox_covariates={covariates}"]
    )
    patients = tfrsim.simulate_patients(params)
    design = build_design(patients, tuple(params.analysis.cox_covariates))
    x = design.matrix.to_numpy(dtype=float)
    t = patients["duration_months"].to_numpy(dtype=float)
    e = patients["event"].to_numpy(dtype=bool)
    frame = design.matrix.assign(duration_months=t, event=e.astype(float))

    efron_s, fit = best_of(args.repeat, lambda: fit_efron(x, t, e))
    from dataclasses import replace

    no_ph = replace(params.analysis, ph_test=False)
    fit_cox_s, _ = best_of(args.repeat, lambda: fit_cox(patients, no_ph))
    with_ph_s, _ = best_of(args.repeat, lambda: fit_cox(patients, params.analysis))

    def lifelines_fit() -> CoxPHFitter:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CoxPHFitter().fit(frame, "duration_months", "event", batch_mode=True)

    lifelines_s, cph = best_of(args.repeat, lifelines_fit)
    diff = float(np.max(np.abs(cph.params_.to_numpy() - fit.coef)))  # type: ignore[union-attr]
    print(
        json.dumps(
            {
                "n_patients": args.n,
                "terms": list(design.matrix.columns),
                "distinct_times": int(np.unique(t).size),
                "events": int(e.sum()),
                "efron_fit_s": round(efron_s, 3),
                "fit_cox_s (design + fit + table)": round(fit_cox_s, 3),
                "fit_cox_with_ph_test_s": round(with_ph_s, 3),
                "lifelines_batch_s (default tolerance)": round(lifelines_s, 3),
                "max_abs_coef_diff_vs_lifelines": diff,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
