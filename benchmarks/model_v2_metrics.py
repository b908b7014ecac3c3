"""Acceptance metrics of model v2 (immune control), each on n simulated patients.

    PYTHONPATH=src python benchmarks/model_v2_metrics.py --n 20000 [--model calibrated]

1. Rules: STIM1-shaped patients, the same patients under ``loss_of_mmr`` and ``stim``
   (each throughout: without STIM1's protocol amendment):
   MRFS at 24 months (difference, accept 6-25 points) and the share of STIM-rule
   events without (latent) MMR loss (accept 10-30 %).
2. Depth: STIM1-shaped cohorts entering at MR4 vs MR5, otherwise identical (same
   seed): MRFS at 24 months, accept >= 5 points, deeper better.
3. Duration: STIM2-shaped cohort (no IFN) with median 7 years of imatinib, loss of
   MMR; the same patients with one more year of imatinib each: accept +1 to +4.5 points
   at 24 months.
4. Fluctuation: share of STIM2 non-relapsers with >= 1 positive test, accept 20-50 %.
5. Every STIM1 / STIM2 / TWISTER milestone inside its published 95 % CI (binomial
   +-1.96 SE where no CI was published); STIM2 at 12 months at least 0.5 SE inside.
"""

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd

from tfrsim.analysis import survival_at
from tfrsim.calibration.statistics import no_mmr_loss_events, nonrelapsers_with_positive
from tfrsim.cohort.sample import sample_cohort
from tfrsim.config.compose import load_params
from tfrsim.disease.registry import simulate_course
from tfrsim.execution import simulate
from tfrsim.monitoring.follow_up import horizon_months, sample_follow_up
from tfrsim.monitoring.observe import observe
from tfrsim.pipeline import patient_table
from tfrsim.random import blocks, stream
from tfrsim.reference import published_mrfs
from tfrsim.study import StudyParams


def mrfs(patients: pd.DataFrame, months: list[float]) -> np.ndarray:
    """Kaplan–Meier MRFS at ``months``."""
    return survival_at(
        patients["duration_months"].to_numpy(dtype=float),
        patients["event"].to_numpy(dtype=bool),
        months,
    )


#: A what-if on the rule applies it throughout: without STIM1's protocol amendment
#: (two consecutive positives before calendar month 18, conf/trial/stim1.yaml).
ONE_RULE = ("monitoring.amendment.calendar_month=0",)

#: Overrides of the model's parameters (``--set``), applied to every simulated study.
MODEL_OVERRIDES: list[str] = []


def params(trial: str, model: str, n: int, seed: int, *extra: str) -> StudyParams:
    """Study parameters of a trial-shaped cohort."""
    return load_params(
        [
            f"trial={trial}",
            f"model={model}",
            *MODEL_OVERRIDES,
            f"cohort.n_patients={n}",
            f"seed={seed}",
            *extra,
        ]
    )


def simulate_shifted(p: StudyParams, tki_shift_years: float) -> pd.DataFrame:
    """Simulate ``p`` with every patient's imatinib duration shifted by a constant.

    The streams are those of :func:`tfrsim.pipeline.simulate_block`, so with a zero
    shift the patients are those of :func:`tfrsim.pipeline.simulate`.
    """
    tables = []
    for block, start, stop in blocks(p.cohort.n_patients):

        def rng(name: str, block: int = block) -> np.random.Generator:
            return stream(name, seed=p.seed, replicate=p.replicate, block=block)

        cohort = sample_cohort(p.cohort, stop - start, rng=rng("cohort"), first_id=start)
        cohort = dataclasses.replace(cohort, tki_years=cohort.tki_years + tki_shift_years)
        course = simulate_course(cohort, p.model_name, p.model, rng=rng("disease"))
        follow_up = sample_follow_up(p.follow_up, len(cohort), rng=rng("follow_up"))
        observed = observe(
            course,
            follow_up,
            p.monitoring,
            horizon_months(p.follow_up),
            schedule_rng=rng("schedule"),
            assay_rng=rng("assay"),
        )
        tables.append(patient_table(cohort, course, follow_up, observed))
    return pd.concat(tables, ignore_index=True)


def rule_contrast(model: str, n: int, seed: int) -> dict[str, float]:
    """Metric 1 (and late relapses under each rule)."""
    out: dict[str, float] = {}
    for rule in ("stim", "loss_of_mmr"):
        pt = simulate(
            params("stim1", model, n, seed, f"monitoring.rule.name={rule}", *ONE_RULE)
        ).patients
        s = mrfs(pt, [24.0, 60.0])
        out[f"mrfs24_{rule}"] = 100 * s[0]
        out[f"mrfs60_{rule}"] = 100 * s[1]
        rel = pt.loc[pt["event"], "duration_months"]
        out[f"share_relapses_after_24_{rule}"] = 100 * float((rel > 24).mean())
        if rule == "stim":
            k, m = no_mmr_loss_events(pt)
            out["stim_events_without_mmr_loss_pct"] = 100 * k / m
    out["mrfs24_lommr_minus_stim"] = out["mrfs24_loss_of_mmr"] - out["mrfs24_stim"]
    return out


def depth_contrast(model: str, n: int, seed: int) -> dict[str, float]:
    """Metric 2, under the STIM rule (STIM1 as published) and under loss of MMR."""
    out: dict[str, float] = {}
    for rule in ("stim", "loss_of_mmr"):
        for depth in ("MR4", "MR5"):
            shares = {"MR4": 0.0, "MR4.5": 0.0, "MR5": 0.0, depth: 1.0}
            p = params(
                "stim1",
                model,
                n,
                seed,
                f"monitoring.rule.name={rule}",
                *ONE_RULE,
                "cohort.eligibility.min_depth=MR4",
                "cohort.depth_shares={" + ",".join(f"{k}: {v}" for k, v in shares.items()) + "}",
            )
            out[f"mrfs24_{depth}_{rule}"] = 100 * mrfs(simulate(p).patients, [24.0])[0]
        out[f"depth_gain_{rule}"] = out[f"mrfs24_MR5_{rule}"] - out[f"mrfs24_MR4_{rule}"]
    return out


def duration_contrast(model: str, n: int, seed: int) -> dict[str, float]:
    """Metric 3."""
    p = params(
        "stim2",
        model,
        n,
        seed,
        "cohort.tki_years={median: 7.0, sigma: 0.35}",
        "monitoring.rule.name=loss_of_mmr",
    )
    base = simulate_shifted(p, 0.0)
    plus = simulate_shifted(p, 1.0)
    s0, s1 = mrfs(base, [24.0])[0], mrfs(plus, [24.0])[0]
    return {
        "median_tki_years": float(base["tki_years"].median()),
        "mrfs24_base": 100 * s0,
        "mrfs24_plus_one_year": 100 * s1,
        "gain_per_year_points": 100 * (s1 - s0),
    }


def fluctuation(model: str, n: int, seed: int) -> dict[str, float]:
    """Metric 4."""
    pt = simulate(params("stim2", model, n, seed)).patients
    return {"stim2_nonrelapsers_with_positive_pct": 100 * nonrelapsers_with_positive(pt)}


def milestones(model: str, n: int, seed: int) -> pd.DataFrame:
    """Metric 5: simulated MRFS at every published milestone, against its CI."""
    rows = []
    for trial in ("stim1", "stim2", "twister"):
        pub = published_mrfs(trial, targets_only=True)
        months = sorted(set(pub["month"]))
        base = params(trial, model, n, seed)
        follow = max(base.follow_up.followup_months, max(months))
        pt = simulate(
            params(trial, model, n, seed, f"follow_up.followup_months={follow:g}")
        ).patients
        sim = mrfs(pt, months)
        for _, r in pub.iterrows():
            s = float(sim[months.index(r["month"])])
            lo = r["lower"] if np.isfinite(r["lower"]) else r["survival"] - 1.96 * r["se"]
            hi = r["upper"] if np.isfinite(r["upper"]) else r["survival"] + 1.96 * r["se"]
            rows.append(
                {
                    "trial": trial,
                    "month": r["month"],
                    "published": 100 * r["survival"],
                    "lower": 100 * lo,
                    "upper": 100 * hi,
                    "simulated": 100 * s,
                    "inside": bool(lo <= s <= hi),
                    "se_inside": float(min(s - lo, hi - s) / r["se"]),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--model", default="calibrated")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="model overrides, e.g. model.control_probability=0.3 (a what-if, not a fit)",
    )
    args = parser.parse_args()
    MODEL_OVERRIDES.extend(args.set)
    began = time.perf_counter()
    facts: dict[str, float] = {}
    for part in (rule_contrast, depth_contrast, duration_contrast, fluctuation):
        facts.update(part(args.model, args.n, args.seed))
    for k, v in facts.items():
        print(f"{k:42s} {v:8.2f}")
    table = milestones(args.model, args.n, args.seed)
    print(table.round(2).to_string(index=False))
    checks = {
        "rules: LoMMR - STIM at 24 mo in [6, 25]": 6 <= facts["mrfs24_lommr_minus_stim"] <= 25,
        "rules: STIM events w/o MMR loss in [10, 30] %": 10
        <= facts["stim_events_without_mmr_loss_pct"]
        <= 30,
        "depth: MR5 - MR4 at 24 mo >= 5 (STIM rule)": facts["depth_gain_stim"] >= 5,
        "duration: +1 y gain in [1, 4.5]": 1 <= facts["gain_per_year_points"] <= 4.5,
        "fluctuation in [20, 50] %": 20 <= facts["stim2_nonrelapsers_with_positive_pct"] <= 50,
        "milestones inside 95 % CI": bool(table["inside"].all()),
        "STIM2 12 mo >= 0.5 SE inside": bool(
            table.query("trial == 'stim2' and month == 12")["se_inside"].iloc[0] >= 0.5
        ),
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"({time.perf_counter() - began:.0f} s, n = {args.n}, seed = {args.seed})")


if __name__ == "__main__":
    main()
