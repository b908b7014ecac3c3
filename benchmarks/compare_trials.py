"""Each calibration trial at the current parameters versus its published MRFS points.

For STIM1, STIM2 and TWISTER: simulate ``--n`` patients with the trial's config (its
cohort, schedule, assay, rule), with follow-up extended where a published point lies
beyond it, and print simulated MRFS at the published months next to the published
values, the fluctuation fraction, the median relapse month and the run time.

    python benchmarks/compare_trials.py --n 20000 [--model clonal]
"""

import argparse
import time

import pandas as pd

import tfrsim
from tfrsim.reference import TRIALS, published_mrfs


def compare(
    trial: str, n: int, seed: int, model: str = "calibrated"
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Simulated versus published MRFS (%) for one trial, and run facts."""
    published = published_mrfs(trial, targets_only=True)
    months = sorted(set(published["month"]))
    base = tfrsim.load_params([f"trial={trial}", f"model={model}"])
    followup = max(base.follow_up.followup_months, max(months))
    overrides = [
        f"trial={trial}",
        f"model={model}",
        f"cohort.n_patients={n}",
        f"seed={seed}",
        f"follow_up.followup_months={followup:g}",
        f"analysis.milestones_months=[{','.join(f'{m:g}' for m in months)}]",
        "analysis.ph_test=false",
    ]
    start = time.perf_counter()
    result = tfrsim.run_study(tfrsim.load_params(overrides), keep_visits=0)
    seconds = time.perf_counter() - start
    sim = result.analysis.km.milestones.query("group == 'all'").set_index("month")
    table = published.assign(
        simulated=lambda d: 100 * sim.loc[d["month"], "survival"].to_numpy(),
        sim_lower=lambda d: 100 * sim.loc[d["month"], "lower"].to_numpy(),
        sim_upper=lambda d: 100 * sim.loc[d["month"], "upper"].to_numpy(),
        published=lambda d: 100 * d["survival"],
        residual_se=lambda d: (d["simulated"] / 100 - d["survival"]) / d["se"],
    )[["trial", "month", "published", "lower", "upper", "simulated", "residual_se"]]
    table[["lower", "upper"]] *= 100
    obs = result.observation
    facts = {
        "seconds": seconds,
        "fluctuation_fraction": obs.fluctuation_fraction,
        "nonrelapsers_with_positive": obs.nonrelapsers_with_positive,
        "median_relapse_month": obs.median_relapse_month,
        "relapses_after_month_27": obs.relapses_after_month_27,
    }
    return table, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20070701)
    parser.add_argument("--model", default="calibrated", help="conf/model/<name>.yaml")
    args = parser.parse_args()
    pd.set_option("display.width", 120)
    for trial in TRIALS:
        table, facts = compare(trial, args.n, args.seed, args.model)
        print(table.round(1).to_string(index=False))
        print("  " + ", ".join(f"{k} = {v:.3g}" for k, v in facts.items()) + "\n")


if __name__ == "__main__":
    main()
