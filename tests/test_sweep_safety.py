"""Sweeps that never lie (issue 13): the end-of-sweep status, the table, resume, locks.

Each test's docstring names the bug it catches. Tiny cohorts, no figures, Hydra's basic
launcher (jobs in turn, in the launching process).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tfrsim.exits import JOB_FAILED, OK
from tfrsim.output import job_lock
from tfrsim.sweep.aggregate import main as aggregate_main

TINY = ["cohort.n_patients=100", "output.figures=false"]


def tfrsim(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tfrsim ARGS`` in ``cwd``, errors reported as a user sees them."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "tfrsim", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _sweep(cwd: Path) -> Path:
    (sweep,) = sorted(p.parent for p in (cwd / "results" / "multirun").glob("*/*/multirun.yaml"))
    return sweep


def _jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())


@pytest.fixture(scope="module")
def four_jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete 4-job sweep (seed=1,2 x replicate=0,1); returns its working folder."""
    cwd = tmp_path_factory.mktemp("four")
    proc = tfrsim(cwd, "-m", "seed=1,2", "replicate=0,1", *TINY)
    assert proc.returncode == OK, proc.stderr
    return cwd


@pytest.fixture(scope="module")
def two_jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete 2-job sweep (seed=1,2); tests copy its working folder and resume it."""
    cwd = tmp_path_factory.mktemp("two")
    proc = tfrsim(cwd, "-m", "seed=1,2", *TINY)
    assert proc.returncode == OK, proc.stderr
    return cwd


def _copy(cwd: Path, tmp_path: Path) -> Path:
    """A private copy of a sweep's working folder (the sweep folder path is relative)."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cwd, copy)
    return copy


def test_table_failure_is_not_swallowed(tmp_path: Path) -> None:
    """Bug: when building the sweep table raised at the end of a multirun, Hydra turned
    the callback's exception into a warning and the command exited 0 (even with a
    failed job), leaving a stale table from an earlier run on disk."""
    assert tfrsim(tmp_path, "-m", "seed=1,-1", *TINY).returncode == JOB_FAILED
    sweep = _sweep(tmp_path)
    assert (sweep / "sweep_table.parquet").is_file()
    # Make the next table impossible to write: a non-empty folder where the CSV goes.
    (sweep / "sweep_table.csv").unlink()
    (sweep / "sweep_table.csv").mkdir()
    (sweep / "sweep_table.csv" / "keep").write_text("")
    proc = tfrsim(tmp_path, "-m", "seed=1,-1", *TINY)
    assert proc.returncode not in (OK, 1), proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr
    assert "no sweep table" in proc.stdout + proc.stderr
    # The earlier (stale) Parquet table is gone: nothing passes for this run's table.
    assert not (sweep / "sweep_table.parquet").exists()


def test_aggregate_reports_jobs_never_started(four_jobs: Path, tmp_path: Path) -> None:
    """Bug: tfrsim-aggregate only saw job folders, so an interrupted 4-job sweep with
    one job never started looked like a complete 3-job sweep; an unreadable result
    was not named."""
    import shutil

    sweep = tmp_path / "sweep"
    shutil.copytree(_sweep(four_jobs), sweep)
    jobs = _jobs(sweep)
    shutil.rmtree(jobs[0])  # never started
    truncated = jobs[1]
    text = (truncated / "summary.json").read_text()
    (truncated / "summary.json").write_text(text[: len(text) // 2])
    with pytest.raises(SystemExit) as info:
        aggregate_main([str(sweep), "--no-figure"])
    assert info.value.code == JOB_FAILED
    table = pd.read_csv(sweep / "sweep_table.csv")
    status = table.drop_duplicates("job").set_index("job")["status"]
    assert len(status) == 4
    assert (status == "not_started").sum() == 1
    assert status[truncated.name] == "incomplete"
    error = table.loc[table["job"] == truncated.name, "error"].iloc[0]
    assert truncated.name in error
    assert "summary.json" in error


def test_aggregate_out_and_print(
    four_jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: tfrsim-aggregate could only write into the sweep folder (no way to build the
    table of a read-only sweep): ``--out DIR`` and ``--print`` write elsewhere."""
    sweep = _sweep(four_jobs)
    before = sorted(p.name for p in sweep.iterdir())
    aggregate_main([str(sweep), "--print"])
    printed = capsys.readouterr().out
    assert printed.startswith("job,status,error")
    assert sorted(p.name for p in sweep.iterdir()) == before
    out = tmp_path / "elsewhere"
    aggregate_main([str(sweep), "--out", str(out), "--no-figure"])
    assert len(pd.read_parquet(out / "sweep_table.parquet").drop_duplicates("job")) == 4
    assert sorted(p.name for p in sweep.iterdir()) == before


def test_truncated_result_is_run_again(two_jobs: Path, tmp_path: Path) -> None:
    """Bug: a job whose summary.json was truncated counted as complete on resume; it
    must run again and the table must then be right."""
    args = ["-m", "seed=1,2", *TINY]
    cwd = _copy(two_jobs, tmp_path)
    sweep = _sweep(cwd)
    job = _jobs(sweep)[0]
    text = (job / "summary.json").read_text()
    (job / "summary.json").write_text(text[:10])
    proc = tfrsim(cwd, *args)
    assert proc.returncode == OK, proc.stdout + proc.stderr
    assert "1 jobs run, 1 skipped" in proc.stdout
    assert json.loads((job / "summary.json").read_text()) == json.loads(text)
    table = pd.read_parquet(sweep / "sweep_table.parquet")
    assert set(table["status"]) == {"done"}
    assert table["job"].nunique() == 2


def test_second_invocation_leaves_a_running_job_alone(two_jobs: Path, tmp_path: Path) -> None:
    """Bug: two copies of one sweep deleted each other's in-flight temporary files; a
    job whose lock is held by another process must be left alone (reported busy)."""
    args = ["-m", "seed=1,2", *TINY]
    cwd = _copy(two_jobs, tmp_path)
    sweep = _sweep(cwd)
    job = _jobs(sweep)[0]
    # Another invocation is running this job: it holds the lock and is writing.
    (job / "summary.json").unlink()
    in_flight = job / ".patients.parquet.abc123.tmp"
    in_flight.write_bytes(b"being written")
    with job_lock(job) as held:
        assert held
        proc = tfrsim(cwd, *args)
    output = proc.stdout + proc.stderr
    assert "1 running in another invocation" in output
    assert in_flight.read_bytes() == b"being written"
    assert (job / "patients.parquet").is_file()  # its files untouched
    assert not (job / "summary.json").exists()
    assert proc.returncode == JOB_FAILED  # this invocation has no result for that job
