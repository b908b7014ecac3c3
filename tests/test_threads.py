"""Threads per run (``limits.threads``): validated, derived from the jobs running at
once, and applied to every thread pool the run computes with.

Each test's docstring names the bug it catches.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hydra.types import RunMode
from omegaconf import OmegaConf
from threadpoolctl import threadpool_info

import tfrsim.execution
from tfrsim.checks import ConfigError
from tfrsim.cli import concurrent_jobs, with_default_threads
from tfrsim.config.compose import load_params
from tfrsim.execution import available_cpus, default_threads, run_study
from tfrsim.exits import BAD_CONFIG

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


def _tfrsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tfrsim ARGS`` as a user runs it (no ``HYDRA_FULL_ERROR``: one-line errors)."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "tfrsim", *args],
        cwd=cwd,
        env={**env, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _hydra(mode: RunMode, launcher: dict[str, Any]) -> Any:
    return OmegaConf.create({"mode": mode, "launcher": launcher})


@pytest.mark.parametrize("value", ["0", "-2", "2.5", "many", "100000"])
def test_bad_thread_counts_are_refused(value: str) -> None:
    """Bug caught: a zero, negative, fractional, non-numeric or absurd thread count
    reached the thread pools (a crash or a hang mid-run) instead of being refused
    before any work, naming the setting."""
    with pytest.raises(ConfigError, match=r"`limits\.threads`"):
        load_params([f"limits.threads={value}"])


def test_bad_thread_count_is_status_2(tmp_path: Path) -> None:
    """Bug caught: a bad ``limits.threads`` given to the command ran anyway or ended
    with a traceback, instead of status 2 and one line naming the setting."""
    proc = _tfrsim("cohort.n_patients=100", "limits.threads=0", cwd=tmp_path)
    assert proc.returncode == BAD_CONFIG, proc.stderr
    assert "`limits.threads` must be an integer >= 1; got 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()  # refused before any folder


def test_default_is_the_cpus_divided_by_the_jobs_at_once() -> None:
    """Bug caught: every worker of a joblib sweep started one thread per core (each
    of n_jobs workers x cores threads: oversubscription); the default is the CPUs
    divided by the jobs running at once, as joblib counts ``n_jobs``."""
    cpus = 8
    single = _hydra(RunMode.RUN, {"_target_": JOBLIB, "n_jobs": 4})
    assert concurrent_jobs(single, cpus) == 1
    for n_jobs, expected in ((-1, 8), (-2, 7), (3, 3), (None, 1), (-20, 1)):
        sweep = _hydra(RunMode.MULTIRUN, {"_target_": JOBLIB, "n_jobs": n_jobs})
        assert concurrent_jobs(sweep, cpus) == expected, n_jobs
    basic = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
    assert concurrent_jobs(_hydra(RunMode.MULTIRUN, {"_target_": basic}), cpus) == 1
    assert default_threads(1) == available_cpus()
    assert default_threads(10 * available_cpus()) == 1


def test_default_divides_the_cpus_without_touching_the_config() -> None:
    """Bug caught: the derived default written into the job's config (``config.yaml``
    would then differ with the number of joblib workers), an explicit thread count
    overridden, or the jobs at once not used for the default."""
    from tfrsim.execution import set_concurrent_jobs, simulation_threads

    sweep = _hydra(RunMode.MULTIRUN, {"_target_": JOBLIB, "n_jobs": -1})
    single = _hydra(RunMode.RUN, {"_target_": JOBLIB})
    unset = OmegaConf.create({"limits": {"threads": None}})
    chosen = OmegaConf.create({"limits": {"threads": 3}})
    try:
        assert with_default_threads(unset, sweep) == unset
        assert default_threads() == 1  # all CPUs busy with jobs
        assert simulation_threads() == 1
        assert with_default_threads(chosen, sweep).limits.threads == 3
        assert with_default_threads(unset, single) == unset
        assert default_threads() == available_cpus()
    finally:
        set_concurrent_jobs(1)


@pytest.mark.parametrize("threads", [1, 3])
def test_limit_is_applied_inside_the_run(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug caught: ``limits.threads`` accepted but not applied — BLAS (numpy's and
    scipy's OpenBLAS) or Arrow kept one thread per core during the analysis, blocks
    were simulated by more threads — or the limits leaked out of the run."""
    seen: dict[str, Any] = {"block_threads": set()}
    analyse, simulate_block = tfrsim.execution.analyse, tfrsim.execution.simulate_block_columns

    def spy_analyse(*args: Any, **kwargs: Any) -> Any:
        seen["blas"] = [pool["num_threads"] for pool in threadpool_info()]
        seen["arrow"] = pa.cpu_count()
        return analyse(*args, **kwargs)

    def spy_block(*args: Any, **kwargs: Any) -> Any:
        seen["block_threads"].add(threading.get_ident())
        return simulate_block(*args, **kwargs)

    monkeypatch.setattr(tfrsim.execution, "analyse", spy_analyse)
    monkeypatch.setattr(tfrsim.execution, "simulate_block_columns", spy_block)
    arrow_before = pa.cpu_count()
    blas_before = [pool["num_threads"] for pool in threadpool_info()]
    params = load_params(["cohort.n_patients=25000", f"limits.threads={threads}"])
    run_study(params, keep_visits=0)
    assert seen["blas"], "no BLAS library found by threadpoolctl"
    assert seen["blas"] == [threads] * len(seen["blas"])
    assert seen["arrow"] == threads
    assert 1 <= len(seen["block_threads"]) <= threads
    if threads == 1:
        assert seen["block_threads"] == {threading.get_ident()}  # no pool at all
    assert pa.cpu_count() == arrow_before
    assert [pool["num_threads"] for pool in threadpool_info()][: len(blas_before)] == blas_before


def test_huge_pages_are_off_inside_the_run_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug caught: numpy's huge-page switch left off after the run (it is process-wide),
    or not turned off inside it (the run's first touches of 2 MiB pages cost system
    time)."""
    setter = tfrsim.execution._madvise_hugepage_setter()
    if setter is None:
        pytest.skip("this numpy has no huge-page switch")
    seen: list[bool] = []
    analyse = tfrsim.execution.analyse

    def spy_analyse(*args: Any, **kwargs: Any) -> Any:
        seen.append(setter(False))  # returns the setting in force
        return analyse(*args, **kwargs)

    monkeypatch.setattr(tfrsim.execution, "analyse", spy_analyse)
    previous = setter(True)
    try:
        run_study(load_params(["cohort.n_patients=300"]), keep_visits=0)
        assert seen == [False]
        assert setter(True) is True
    finally:
        setter(previous)
