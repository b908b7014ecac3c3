"""The ``tfrsim`` command end to end, in a subprocess, into temporary folders."""

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cli_runner import run_tfrsim

EXPECTED_FILES = [
    "config.yaml",
    "patients.parquet",
    "km.csv",
    "at_risk.csv",
    "cox.csv",
    "milestones.csv",
    "ph_test.csv",
    "summary.json",
    "figures/km.png",
    "figures/forest.png",
]


def _tfrsim(*args: str) -> subprocess.CompletedProcess[str]:
    return run_tfrsim(*args)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "run"
    proc = _tfrsim("cohort.n_patients=300", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    assert f"run folder: {folder}" in proc.stdout
    assert "MRFS (95% CI)" in proc.stdout
    return folder


def test_cli_writes_every_file(run_dir: Path) -> None:
    for name in EXPECTED_FILES:
        path = run_dir / name
        assert path.is_file(), name
        assert path.stat().st_size > 0, name
    # No temporary file is left behind by the atomic writes.
    assert not list(run_dir.rglob("*.tmp"))


def test_cli_outputs_are_consistent(run_dir: Path) -> None:
    patients = pd.read_parquet(run_dir / "patients.parquet")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(patients) == summary["n_patients"] == 300
    assert int(patients["event"].sum()) == summary["n_events"]
    for key in ("seed", "milestones", "cox", "logrank", "rule", "schedule", "assay"):
        assert key in summary
    assert summary["rule"]["name"] == "stim"
    assert summary["schedule"]["segments"][0] == {"until_month": 12.0, "every_months": 1.0}
    for key in ("fluctuation_fraction", "median_relapse_month"):
        assert key in summary["observation"]
    assert {"group", "month", "survival", "lower", "upper"} <= set(summary["milestones"][0])
    assert {"covariate", "hr", "lower", "upper", "p"} <= set(summary["cox"][0])
    assert {"statistic", "p"} <= set(summary["logrank"])
    # Latent relapse month is NaN exactly for patients without a regrowing clone.
    assert (patients["relapse_month"].isna() == (patients["n_clones"] == 0)).all()
    assert (patients["duration_months"] >= 0).all()
    # An observed relapse cannot precede the latent crossing of MMR by a clone... unless
    # several clones add up; it can never come before month 0 or after follow-up.
    assert (patients["duration_months"] <= patients["censor_month"]).all()


def test_cli_refuses_a_non_empty_folder(run_dir: Path) -> None:
    before = (run_dir / "summary.json").read_bytes()
    provenance = (run_dir / ".hydra" / "overrides.yaml").read_bytes()
    proc = _tfrsim("cohort.n_patients=50", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr + proc.stdout
    assert (run_dir / "summary.json").read_bytes() == before
    # Hydra's own record of the earlier run is untouched too.
    assert (run_dir / ".hydra" / "overrides.yaml").read_bytes() == provenance


def test_cli_bad_value_fails_before_work(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    proc = _tfrsim("cohort.n_patients=0", f"hydra.run.dir={folder}")
    assert proc.returncode == 2
    assert "`cohort.n_patients` must be an integer >= 1; got 0" in proc.stderr + proc.stdout
    assert not (folder / "patients.parquet").exists()
