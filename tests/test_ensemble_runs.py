"""``ensemble.replicates``: replicates inside one run or sweep job, and cheap resume.

Tiny cohorts, no figures. Each test's docstring names the bug it catches.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import DictConfig, OmegaConf

from cli_runner import run_tfrsim
from tfrsim.checks import ConfigError
from tfrsim.config.compose import compose_config
from tfrsim.config.translate import to_ensemble, to_params
from tfrsim.ensemble import run_ensemble
from tfrsim.sweep import aggregate_sweep
from tfrsim.sweep.experiments import summarise_power
from tfrsim.sweep.naming import config_hash
from tfrsim.sweep.resume import RECORD_FILE, FinishedJobs, fingerprint, write_record

SMALL = ["cohort.n_patients=120", "output.figures=false", "output.report=false"]
ENSEMBLE_FILES = ("config.yaml", "replicates.csv", "ensemble.csv", "summary.json")


def _sweep(cwd: Path) -> Path:
    (sweep,) = sorted(p.parent for p in (cwd / "results" / "multirun").glob("*/*/multirun.yaml"))
    return sweep


def _jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "`ensemble.replicates` must be an integer >= 1; got 0"),
        ("2.5", "`ensemble.replicates` must be a whole number; got 2.5"),
        ("abc", "`ensemble.replicates` must be a whole number; got 'abc'"),
        ("true", "`ensemble.replicates` must be a whole number; got True"),
    ],
)
def test_bad_replicates_are_refused(value: str, message: str) -> None:
    """Bug: a zero, fractional or non-numeric replicate count ran (or crashed inside
    the ensemble) instead of being refused with the field, the rule and the value."""
    cfg = compose_config([f"ensemble.replicates={value}"])
    with pytest.raises(ConfigError) as info:
        to_params(cfg)
    assert message in str(info.value)
    with pytest.raises(ConfigError):
        to_ensemble(cfg)


def test_oversized_ensemble_is_refused_before_work() -> None:
    """Bug: the work bound (``limits.max_patient_visits``) was checked per replicate,
    so a typo such as ``ensemble.replicates=1e9`` started a run of 10^9 replicates.
    The bound is 5e9; 100 patients x 42 planned visits x 1e9 replicates = 4.2e12."""
    cfg = compose_config(["ensemble.replicates=1e9", "cohort.n_patients=100"])
    with pytest.raises(ConfigError, match=r"ensemble.replicates = 1,000,000,000 x"):
        to_params(cfg)
    to_params(compose_config(["ensemble.replicates=1e6", "cohort.n_patients=100"]))


def test_bad_replicates_exit_2_before_any_work(tmp_path: Path) -> None:
    """Bug: ``tfrsim ensemble.replicates=0`` exited with status 1 or ran, or left
    files behind; a refused value is exit status 2 with the field, rule and value."""
    folder = tmp_path / "bad"
    proc = run_tfrsim("ensemble.replicates=0", f"hydra.run.dir={folder}", cwd=tmp_path)
    assert proc.returncode == 2
    assert "`ensemble.replicates` must be an integer >= 1; got 0" in proc.stderr + proc.stdout
    assert not (folder / "summary.json").exists()


def test_default_ensemble_keeps_plain_runs_and_their_folder_names() -> None:
    """Bug: adding the ``ensemble`` setting renamed every existing job folder (its
    config hash), so earlier sweeps no longer resumed; replicates > 1 must change it."""
    plain = compose_config(["seed=1"])
    explicit = compose_config(["seed=1", "ensemble.replicates=1"])
    three = compose_config(["seed=1", "ensemble.replicates=3"])
    without = OmegaConf.masked_copy(plain, [str(k) for k in plain if k != "ensemble"])
    assert config_hash(plain) == config_hash(explicit) == config_hash(without)
    assert config_hash(three) != config_hash(plain)
    assert to_ensemble(plain).replicates == 1


def test_ensemble_run_writes_replicates_and_reduced_tables(tmp_path: Path) -> None:
    """Bug: an ensemble run that reseeded its replicates differently from
    ``tfrsim replicate=r`` or ``tfrsim.run_ensemble``, lost a replicate's rows, or
    reduced with the wrong quantiles (medians and bands recomputed by hand here)."""
    folder = tmp_path / "ens"
    out = _ok(
        run_tfrsim(
            *SMALL, "replicate=1", "ensemble.replicates=3", f"hydra.run.dir={folder}", cwd=tmp_path
        )
    )
    assert "replicates 1..3 (3)" in out
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [*ENSEMBLE_FILES, "tfrsim.log"]
    )
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["replicates"] == [1, 2, 3]
    assert summary["n_patients"] == 120
    per_rep = pd.read_csv(folder / "replicates.csv", float_precision="round_trip")
    assert sorted(per_rep["replicate"].unique()) == [1, 2, 3]
    assert len(summary["estimands"]) == len(per_rep)
    # The same numbers as the Python API (which reseeds as the single runs do,
    # tests/test_ensemble.py).
    api = run_ensemble(to_params(compose_config([*SMALL, "replicate=1"])), 3).estimands
    np.testing.assert_allclose(per_rep["value"], api["value"], rtol=0, atol=0)
    # A single run of replicate 2 gives exactly replicate 2's rows.
    single = tmp_path / "single"
    _ok(run_tfrsim(*SMALL, "replicate=2", f"hydra.run.dir={single}", cwd=tmp_path))
    rows = json.loads((single / "summary.json").read_text())["estimands"]
    mine = [
        {k: v for k, v in r.items() if k != "replicate"}
        for r in summary["estimands"]
        if r["replicate"] == 2
    ]
    assert mine == rows
    # Reduced table: median and 2.5-97.5 % band of the replicates, by hand.
    reduced = pd.read_csv(folder / "ensemble.csv", float_precision="round_trip")
    mrfs = per_rep[(per_rep["estimand"] == "mrfs") & (per_rep["group"] == "all")]
    row = reduced[
        (reduced["estimand"] == "mrfs") & (reduced["group"] == "all") & (reduced["month"] == 12)
    ].iloc[0]
    values = mrfs.loc[mrfs["month"] == 12, "value"].to_numpy()
    assert row["n"] == 3
    assert row["median"] == pytest.approx(np.median(values), abs=1e-15)
    assert row["lower"] == pytest.approx(np.quantile(values, 0.025), abs=1e-15)
    assert row["upper"] == pytest.approx(np.quantile(values, 0.975), abs=1e-15)


SWEEP = [
    "-m",
    "hydra/launcher=joblib",
    "cohort.n_patients=60,90",
    "ensemble.replicates=3",
    "output.figures=false",
]


@pytest.fixture(scope="module")
def ensemble_sweeps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 2-job ensemble sweep with 1 and with 2 joblib workers."""
    one = tmp_path_factory.mktemp("one_worker")
    two = tmp_path_factory.mktemp("two_workers")
    _ok(run_tfrsim(*SWEEP, "hydra.launcher.n_jobs=1", cwd=one))
    _ok(run_tfrsim(*SWEEP, "hydra.launcher.n_jobs=2", cwd=two))
    return one, two


def test_ensemble_sweep_bytes_do_not_depend_on_workers(
    ensemble_sweeps: tuple[Path, Path],
) -> None:
    """Bug: replicates inside a job drawn from a stream shared with the worker or the
    job order (different bytes with 1 or 2 joblib workers)."""
    one, two = (_sweep(cwd) for cwd in ensemble_sweeps)
    jobs_one, jobs_two = _jobs(one), _jobs(two)
    assert [j.name for j in jobs_one] == [j.name for j in jobs_two]
    assert len(jobs_one) == 2
    for a, b in zip(jobs_one, jobs_two, strict=True):
        for name in ENSEMBLE_FILES:
            assert (a / name).read_bytes() == (b / name).read_bytes(), (a.name, name)


def test_sweep_table_has_one_row_per_replicate_and_estimand(
    ensemble_sweeps: tuple[Path, Path],
) -> None:
    """Bug: the sweep table kept one replicate per job (a dict merge dropping the
    replicate of each row) or mislabelled replicates."""
    sweep = _sweep(ensemble_sweeps[0])
    table = pd.read_parquet(sweep / "sweep_table.parquet")
    assert set(table["status"]) == {"done"}
    for job, rows in table.groupby("job"):
        summary = json.loads((sweep / str(job) / "summary.json").read_text())
        assert sorted(rows["replicate"].unique()) == [0, 1, 2]
        assert len(rows) == len(summary["estimands"])
        keys = ["replicate", "estimand", "group", "covariate", "month"]
        assert not rows.duplicated(keys).any()
        hr = rows[(rows["estimand"] == "hr") & (rows["replicate"] == 2)]
        expected = {
            r["covariate"]: r["value"]
            for r in summary["estimands"]
            if r["estimand"] == "hr" and r["replicate"] == 2
        }
        assert dict(zip(hr["covariate"], hr["value"], strict=True)) == expected


def test_resume_skips_valid_folders_without_composing_and_reruns_broken_ones(
    ensemble_sweeps: tuple[Path, Path], tmp_path: Path
) -> None:
    """Bug: a resumed sweep composed every finished job (slow), or trusted a folder
    whose summary.json is empty, truncated or not a tfrsim summary."""
    cwd = tmp_path / "copy"
    shutil.copytree(ensemble_sweeps[0], cwd)
    sweep = _sweep(cwd)
    out = _ok(run_tfrsim(*SWEEP, cwd=cwd))
    assert "0 jobs run, 2 skipped" in out
    assert "2 finished jobs skipped without composing them" in out
    first, second = _jobs(sweep)
    good = {job: (job / "summary.json").read_text() for job in (first, second)}
    # Two broken results at once (one run, not two): empty, and truncated.
    (first / "summary.json").write_text("")
    (second / "summary.json").write_text(good[second][: len(good[second]) // 2])
    out = _ok(run_tfrsim(*SWEEP, cwd=cwd))
    assert "2 jobs run, 0 skipped" in out
    for job in (first, second):
        assert (job / "summary.json").read_text() == good[job]
    # Valid JSON that is not a tfrsim summary is re-run; a folder of an earlier tfrsim
    # (no record) is left to the job itself, which finds it complete, skips it and
    # leaves the record for the next resume.
    (first / "summary.json").write_text(json.dumps({"estimands": []}))
    (second / RECORD_FILE).unlink()
    out = _ok(run_tfrsim(*SWEEP, cwd=cwd))
    assert "1 jobs run, 1 skipped" in out
    assert "finished jobs skipped without composing them" not in out
    assert (first / "summary.json").read_text() == good[first]
    assert (second / RECORD_FILE).is_file()


def test_power_preset_gives_the_results_of_one_job_per_replicate(tmp_path: Path) -> None:
    """Bug: the preset's replicates inside a job seeded differently from the former
    one-job-per-replicate grid (``replicate=range(0,R)``), changing the power table."""
    common = ["-m", "experiment=power", "hydra/launcher=basic", "cohort.n_patients=40"]
    _ok(run_tfrsim(*common, "ensemble.replicates=1", "replicate=0,1,2", cwd=tmp_path))
    _ok(run_tfrsim(*common, "ensemble.replicates=3", cwd=tmp_path))
    per_job, inside = sorted(
        (p.parent for p in (tmp_path / "results" / "multirun").glob("*/*/multirun.yaml")),
        key=lambda p: "replicate=0,1,2" not in p.name,
    )
    old, new = aggregate_sweep(per_job), aggregate_sweep(inside)
    assert old["job"].nunique() == 3
    assert new["job"].nunique() == 1
    keys = ["replicate", "estimand", "group", "covariate", "month"]
    a = old.sort_values(keys)[[*keys, "value", "p"]].reset_index(drop=True)
    b = new.sort_values(keys)[[*keys, "value", "p"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(summarise_power(old), summarise_power(new))


def _sweep_config(sweep_dir: Path, conf: Path) -> DictConfig:
    return OmegaConf.create(
        {
            "hydra": {
                "sweep": {"dir": str(sweep_dir)},
                "sweeper": {"params": {"seed": "1,2"}},
                "overrides": {"task": []},
                "job": {"config": {"override_dirname": {"exclude_keys": ["experiment"]}}},
                "runtime": {"config_sources": [{"schema": "file", "path": str(conf)}]},
            }
        }
    )


def test_finished_jobs_need_the_same_fingerprint(tmp_path: Path) -> None:
    """Bug: a job skipped although a config file changed since it ran (its folder
    name's prefix is the same), or skipped because of another job's record."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("seed: 0\n")
    sweep = tmp_path / "sweep"
    config = _sweep_config(sweep, conf)
    job = sweep / "seed=1-0123abcd"
    job.mkdir(parents=True)
    minimal = {"tfrsim_version": "0", "trial": "t", "n_patients": 1, "estimands": []}
    (job / "summary.json").write_text(json.dumps(minimal))
    finished = FinishedJobs(config)
    write_record(job, fingerprint(["seed=1"], finished.files_digest))
    finished = FinishedJobs(config)
    todo, done = finished.split([["seed=1"], ["seed=2"]])
    assert todo == [["seed=2"]]
    assert done == [(["seed=1"], job)]
    # Same overrides, another config file: no longer the same job.
    (conf / "config.yaml").write_text("seed: 1\n")
    todo, done = FinishedJobs(config).split([["seed=1"]])
    assert (todo, done) == ([["seed=1"]], [])
