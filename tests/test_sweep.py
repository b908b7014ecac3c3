"""Sweeps end to end: real multiruns of the ``tfrsim`` command in temporary folders.

Tiny cohorts, no figures: these check folders, resume, failures, launchers and the
sweep table, not the science.
"""

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cli_runner import run_tfrsim
from tfrsim.sweep import aggregate_sweep
from tfrsim.sweep.aggregate import main as aggregate_main

TINY = ["cohort.n_patients=200", "output.figures=false"]


def _tfrsim(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tfrsim(*args, cwd=cwd)


def _sweep_dirs(cwd: Path) -> list[Path]:
    return sorted(p.parent for p in (cwd / "results" / "multirun").glob("*/*/multirun.yaml"))


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``tfrsim -m hydra/launcher=joblib seed=1,2 ...`` in a fresh folder: 2 jobs."""
    cwd = tmp_path_factory.mktemp("joblib")
    proc = _tfrsim(cwd, "-m", "hydra/launcher=joblib", "seed=1,2", *TINY)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc.stdout + proc.stderr


def test_joblib_sweep_writes_one_folder_per_job(joblib_sweep: tuple[Path, str]) -> None:
    cwd, output = joblib_sweep
    assert "Joblib.Parallel" in output  # the joblib launcher really ran the jobs
    (sweep,) = _sweep_dirs(cwd)
    # Deterministic sweep folder: named after the command's overrides.
    assert sweep.relative_to(cwd / "results" / "multirun").parts[0] == "sweep"
    assert "seed=1,2" in sweep.name
    jobs = sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == 2
    assert [("seed=1" in j.name, "seed=2" in j.name) for j in jobs] == [(1, 0), (0, 1)]
    for job in jobs:
        assert (job / "summary.json").is_file()
        assert not list(job.rglob("*.tmp"))
    seeds = {json.loads((j / "summary.json").read_text())["seed"] for j in jobs}
    assert seeds == {1, 2}


def test_sweep_table_one_row_per_job_and_estimand(joblib_sweep: tuple[Path, str]) -> None:
    cwd, output = joblib_sweep
    (sweep,) = _sweep_dirs(cwd)
    assert "2 jobs run, 0 skipped" in output
    table = pd.read_parquet(sweep / "sweep_table.parquet")
    csv = pd.read_csv(sweep / "sweep_table.csv")
    assert len(csv) == len(table)
    assert table["job"].nunique() == 2
    assert set(table["status"]) == {"done"}
    assert set(table["seed"]) == {1, 2}
    # Overrides become columns; estimands are rows.
    assert {"cohort.n_patients", "seed", "estimand", "value", "lower", "upper", "p"} <= set(
        table.columns
    )
    mrfs = table[table["estimand"] == "mrfs"]
    assert len(mrfs) == mrfs[["job", "group", "month"]].drop_duplicates().shape[0]
    per_job = mrfs.groupby("job").size()
    assert (per_job == per_job.iloc[0]).all()
    assert per_job.iloc[0] >= 4
    hr = table[table["estimand"] == "hr"]
    assert set(hr["covariate"]) == {"sokal_intermediate", "sokal_high", "tki_years"}
    # The table agrees with each job's own summary.
    for job, rows in hr.groupby("job"):
        summary = json.loads((sweep / str(job) / "summary.json").read_text())
        expected = {c["covariate"]: c["hr"] for c in summary["cox"]}
        got = dict(zip(rows["covariate"], rows["value"], strict=True))
        assert got == pytest.approx(expected)
    # The public function gives the same table.
    pd.testing.assert_frame_equal(aggregate_sweep(sweep), table)


def test_rerun_skips_complete_jobs(joblib_sweep: tuple[Path, str]) -> None:
    cwd, _ = joblib_sweep
    (sweep,) = _sweep_dirs(cwd)
    before = {p: p.read_bytes() for p in sweep.glob("*/patients.parquet")}
    proc = _tfrsim(cwd, "-m", "hydra/launcher=joblib", "seed=1,2", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "0 jobs run, 2 skipped" in proc.stdout
    assert _sweep_dirs(cwd) == [sweep]
    assert {p: p.read_bytes() for p in sweep.glob("*/patients.parquet")} == before


def test_failed_job_is_recorded_and_sweep_exits_non_zero(tmp_path: Path) -> None:
    proc = _tfrsim(tmp_path, "-m", "seed=1,-1", *TINY)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout
    (sweep,) = _sweep_dirs(tmp_path)
    (failed,) = [p for p in sweep.iterdir() if "seed=-1" in p.name]
    error = json.loads((failed / "error.json").read_text())
    assert error["error_type"] == "ConfigError"
    assert "`seed` must be an integer >= 0; got -1" in error["message"]
    table = pd.read_csv(sweep / "sweep_table.csv")
    row = table[table["status"] == "failed"]
    assert len(row) == 1
    assert "`seed` must be an integer >= 0" in row["error"].iloc[0]
    assert (table.loc[table["status"] == "done", "seed"] == 1).all()
    # The same sweep again: the complete job is skipped, the failed one is retried.
    again = _tfrsim(tmp_path, "-m", "seed=1,-1", *TINY)
    assert again.returncode == 4
    assert "0 jobs run, 1 skipped (complete results found), 1 failed" in again.stdout


def test_submitit_local_launcher_runs_an_experiment(tmp_path: Path) -> None:
    # The command line's launcher wins over the experiment's joblib default.
    proc = _tfrsim(
        tmp_path,
        "-m",
        "experiment=power",
        "hydra/launcher=submitit_local",
        "cohort.n_patients=60,80",
        "ensemble.replicates=2",
    )
    assert proc.returncode == 0, proc.stderr
    (sweep,) = _sweep_dirs(tmp_path)
    assert sweep.parent.name == "power"
    assert (sweep / ".submitit").is_dir()  # submitit ran the jobs
    assert "Joblib" not in proc.stdout + proc.stderr
    table = pd.read_parquet(sweep / "sweep_table.parquet")
    assert table["job"].nunique() == 2
    assert set(table["replicate"]) == {0, 1}
    assert (sweep / "power.csv").is_file()
    assert (sweep / "power.png").is_file()
    power = pd.read_csv(sweep / "power.csv")
    assert set(power["n_replicates"]) == {2}


def test_tfrsim_aggregate_command(joblib_sweep: tuple[Path, str], tmp_path: Path) -> None:
    cwd, _ = joblib_sweep
    (sweep,) = _sweep_dirs(cwd)
    (sweep / "sweep_table.csv").unlink()
    aggregate_main([str(sweep), "--no-figure"])
    assert (sweep / "sweep_table.csv").is_file()
    with pytest.raises(SystemExit) as exit_info:
        aggregate_main([str(tmp_path)])
    assert exit_info.value.code == 2


def test_single_run_still_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert _tfrsim(tmp_path, *TINY, f"hydra.run.dir={folder}").returncode == 0
    proc = _tfrsim(tmp_path, *TINY, f"hydra.run.dir={folder}")
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr + proc.stdout


def test_older_folder_of_the_same_job_is_ignored(
    joblib_sweep: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    cwd, _ = joblib_sweep
    (sweep,) = _sweep_dirs(cwd)
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    job = next(p for p in copy.iterdir() if "seed=1" in p.name)
    # The same overrides made under an earlier configuration (another hash), older.
    stale = copy / (job.name[:-8] + "00000000")
    shutil.copytree(job, stale)
    os.utime(stale / ".hydra" / "config.yaml", (1, 1))
    table = aggregate_sweep(copy)
    assert set(table["job"]) == {p.name for p in sweep.iterdir() if (p / ".hydra").is_dir()}
    assert "older job folder(s)" in caplog.text


def test_clear_failed_removes_interrupted_writes(tmp_path: Path) -> None:
    # A job killed mid-write leaves a temporary file and an empty figures folder; a
    # retry must be able to start (ensure_fresh accepts the cleared folder).
    from tfrsim.output import ensure_fresh
    from tfrsim.sweep.job import clear_failed

    job = tmp_path / "job"
    (job / ".hydra").mkdir(parents=True)
    (job / ".patients.parquet.abc123.tmp").write_bytes(b"partial")
    (job / "figures").mkdir()
    (job / "figures" / ".km.png.x1.tmp").write_bytes(b"partial")
    removed = clear_failed(job)
    assert ".patients.parquet.abc123.tmp" in removed
    assert not (job / "figures").exists()
    ensure_fresh(job)  # does not raise


def test_sweep_folder_changes_with_the_experiment_grid() -> None:
    # Editing an experiment's grid must start a new sweep folder, not mix two grids in
    # one sweep table; a plain command-line sweep keeps its readable name.
    from tfrsim.sweep.naming import sweep_name

    small = sweep_name("power", ["experiment=power"], {"cohort.n_patients": "40,80"})
    large = sweep_name("power", ["experiment=power"], {"cohort.n_patients": "40,800"})
    assert small != large
    assert small.startswith("power/default-grid")
    assert sweep_name(None, ["seed=1,2"], None) == "sweep/seed=1,2"
