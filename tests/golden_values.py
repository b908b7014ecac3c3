"""Golden values: a small pinned summary of the default study and of each trial.

Computed by :func:`compute` and stored as JSON under ``tests/golden/`` (one file per
study); ``tests/test_golden.py`` compares a fresh computation with the stored files,
and ``python tests/golden/update.py`` — the only way to change them — rewrites them
and prints every difference. A change of golden values is a change of results: it is
deliberate, explained in the commit message and reviewed (see README, "Tests and
checks").
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
#: Study name -> config overrides (the default study is STIM1-shaped, but is pinned on
#: its own so that a change of the default trial shows).
STUDIES: dict[str, list[str]] = {
    "default": [],
    "stim1": ["trial=stim1"],
    "stim2": ["trial=stim2"],
    "twister": ["trial=twister"],
    "population": ["trial=population"],
}
N_PATIENTS = 400
SEED = 2024
#: Tolerances of the comparison: the values are deterministic (fixed seed), so only
#: floating-point noise across platforms and library versions is allowed.
RTOL = 1e-7
ATOL = 1e-10
#: Per-patient columns whose means are pinned (what the stages drew).
PATIENT_MEANS = (
    "age_years",
    "tki_years",
    "dmr_years",
    "n_clones",
    "relapse_month",
    "residual_pct",
    "entry_month",
    "censor_month",
    "n_tests",
    "n_positive",
    "duration_months",
    "event",
)


def compute(name: str) -> dict[str, Any]:
    """The pinned summary of one study: summary.json's content without the version
    and the duplicated estimand rows, plus the means of the patient columns."""
    from tfrsim import load_params, run_study
    from tfrsim.output.run import summary

    params = load_params([*STUDIES[name], f"cohort.n_patients={N_PATIENTS}", f"seed={SEED}"])
    result = run_study(params)
    out = summary(result)
    out.pop("tfrsim_version")
    out.pop("estimands")
    patients = result.patients
    out["patient_means"] = {
        c: float(np.nanmean(patients[c].to_numpy(dtype=float))) for c in PATIENT_MEANS
    }
    # Round trip through JSON so that fresh values compare like stored ones.
    return dict(json.loads(json.dumps(out)))


def path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads(path(name).read_text(encoding="utf-8")))


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Every difference between two JSON values, as ``path: old -> new`` lines;
    numbers compare with :data:`RTOL` / :data:`ATOL`, everything else exactly."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f"{where}.{key}" if where else str(key)
            if key not in old:
                out.append(f"{sub}: (absent) -> {new[key]!r}")
            elif key not in new:
                out.append(f"{sub}: {old[key]!r} -> (absent)")
            else:
                out.extend(differences(old[key], new[key], sub))
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} items -> {len(new)} items"]
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in differences(a, b, f"{where}[{i}]")
        ]
    numbers = (int, float)
    if (
        isinstance(old, numbers)
        and isinstance(new, numbers)
        and not isinstance(old, bool)
        and not isinstance(new, bool)
    ):
        if math.isclose(old, new, rel_tol=RTOL, abs_tol=ATOL):
            return []
        return [f"{where}: {old!r} -> {new!r}"]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]
