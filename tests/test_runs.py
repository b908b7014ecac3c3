"""Single runs that never lie (issue 13): folders, refusals, bounds, exit statuses.

Each test's docstring names the bug it catches. Commands run in a subprocess as a user
would, *without* ``HYDRA_FULL_ERROR`` (the shared helper sets it), so that the
one-line error reports are what is checked.
"""

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir

from tfrsim.checks import ConfigError
from tfrsim.config.compose import CONFIG_DIR, compose_config, load_params
from tfrsim.config.store import register_configs
from tfrsim.exits import BAD_CONFIG, ENVIRONMENT, INTERRUPTED, Abort
from tfrsim.files import atomic_path

TINY = ["cohort.n_patients=100", "output.figures=false", "output.print_summary=false"]


def _env() -> dict[str, str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def tfrsim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tfrsim ARGS`` in ``cwd``, errors reported as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "tfrsim", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _run_folders(cwd: Path) -> list[Path]:
    return sorted(p for p in (cwd / "results" / "runs").glob("*/*") if p.is_dir())


def test_first_default_run_prints_no_warning(tmp_path: Path) -> None:
    """Bug: the run-folder guard resolved ``${hydra:runtime.choices.model}`` before
    Hydra's runtime config was set, so every default run printed a UserWarning
    (InterpolationResolutionError) and ran with the guard off."""
    proc = tfrsim(*TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr
    assert "HydraConfig was not set" not in proc.stderr
    (folder,) = _run_folders(tmp_path)
    assert (folder / "summary.json").is_file()
    assert (folder / ".hydra" / "config.yaml").is_file()


def test_refused_default_run_leaves_nothing(tmp_path: Path) -> None:
    """Bug: a default run refused for a bad value left a folder holding only
    ``.hydra/`` (Hydra wrote it before the task validated the config)."""
    proc = tfrsim("cohort.n_patients=0", cwd=tmp_path)
    assert proc.returncode == BAD_CONFIG
    assert "`cohort.n_patients` must be an integer >= 1; got 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _run_folders(tmp_path) == []


def _hydra_config(overrides: list[str]) -> Any:
    """The composed config with Hydra's own node, as the ``tfrsim`` command builds it."""
    from tfrsim.sweep.naming import register_resolvers

    register_configs()
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def test_identical_default_runs_get_separate_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: two identical default runs started in the same second got the same folder
    name and wrote into one folder (mixing their files and provenance)."""
    from tfrsim.run_guard import FreshRunDir, resolve_run_dir

    monkeypatch.chdir(tmp_path)
    cfg = _hydra_config(TINY)
    resolve_run_dir(cfg)  # `now` is cached: both copies start "in the same second"
    first, second = copy.deepcopy(cfg), copy.deepcopy(cfg)
    FreshRunDir().on_run_start(config=first)
    FreshRunDir().on_run_start(config=second)
    one, two = Path(first.hydra.run.dir), Path(second.hydra.run.dir)
    assert one != two
    assert two.name == f"{one.name}-2"
    assert one.is_dir()
    assert two.is_dir()


def test_run_folder_hash_includes_output_settings() -> None:
    """Bug: the run-folder hash left ``output.*`` out, so runs differing only in what
    they write got the same folder name."""
    from tfrsim.run_guard import resolve_run_dir

    def folder_hash(*overrides: str) -> str:
        return resolve_run_dir(_hydra_config([*TINY, *overrides])).name.rsplit("_", 1)[1]

    assert folder_hash("output.dpi=300") != folder_hash("output.dpi=600")
    assert folder_hash("output.dpi=300") == folder_hash("output.dpi=300")


def test_guard_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: an exception in the guard callback became a Hydra warning and the run went
    on unguarded; it must stop the command (a BaseException Hydra does not swallow)."""
    from tfrsim.run_guard import FreshRunDir

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    cfg = _hydra_config([*TINY, f"hydra.run.dir={folder}"])
    with pytest.raises(Abort) as info:
        FreshRunDir().on_run_start(config=cfg)
    assert not isinstance(info.value, Exception)
    assert "is not empty" in str(info.value)


def test_huge_cohort_refused_at_translation() -> None:
    """Bug: nothing bounded the work; ``cohort.n_patients=1e12`` allocated ~15 GB before
    simulating. The estimate is refused at translation, naming the fields."""
    with pytest.raises(ConfigError) as info:
        load_params(["cohort.n_patients=1e12"])
    message = str(info.value)
    assert "limits.max_patient_visits" in message
    assert "cohort.n_patients" in message
    with pytest.raises(ConfigError, match=r"limits\.max_output_bytes.*visits\.parquet"):
        load_params(["cohort.n_patients=1e6", "output.visits=true", "limits.max_output_bytes=1e9"])
    with pytest.raises(ConfigError, match=r"limits\.max_patient_visits"):
        load_params(["limits.max_patient_visits=0"])
    # The defaults allow a large ordinary study.
    assert load_params(["cohort.n_patients=1e6"]).work.patient_visits < 1e9


def test_work_limit_refused_by_the_command(tmp_path: Path) -> None:
    """Bug: a run beyond any reasonable size started (and filled memory) instead of
    being refused with status 2 and a message naming the limit and the estimate."""
    proc = tfrsim(*TINY, "limits.max_patient_visits=1000", cwd=tmp_path)
    assert proc.returncode == BAD_CONFIG
    assert "limits.max_patient_visits" in proc.stderr
    assert "patient-visits" in proc.stderr
    assert _run_folders(tmp_path) == []


def test_run_dir_that_is_a_file_is_an_environment_error(tmp_path: Path) -> None:
    """Bug: ``hydra.run.dir`` naming a file gave a raw traceback and status 1; it is an
    environment error: status 3, one line naming the path."""
    afile = tmp_path / "afile"
    afile.write_text("")
    proc = tfrsim(*TINY, f"hydra.run.dir={afile}", cwd=tmp_path)
    assert proc.returncode == ENVIRONMENT
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tfrsim: error:")
    assert str(afile) in lines[0]
    debug = tfrsim("--debug", *TINY, f"hydra.run.dir={afile}", cwd=tmp_path)
    assert debug.returncode == ENVIRONMENT
    assert "Traceback" in debug.stderr


def test_disk_full_names_the_file(tmp_path: Path) -> None:
    """Bug: "No space left on device" from a writer did not say which file."""
    target = tmp_path / "patients.parquet"
    with pytest.raises(OSError, match=r"patients\.parquet") as info, atomic_path(target):
        raise OSError(28, "No space left on device")
    assert info.value.errno == 28
    assert not list(tmp_path.iterdir())


def test_interrupted_run_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    """Bug: Ctrl-C printed a long traceback, exited 1 and left the run folder with a
    hidden partial parquet; now one line, status 130, and no folder."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfrsim", "cohort.n_patients=5e6", "output.print_summary=false"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait (not a timing assertion) until the run has started writing.
        for _ in range(1200):
            if any(tmp_path.glob("results/runs/*/*/config.yaml")) or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "tfrsim: interrupted"
    assert _run_folders(tmp_path) == []


def test_reproduce_takes_the_model_option() -> None:
    """Bug: ``tfrsim-reproduce model=clonal`` (as documented) failed: "Could not
    override 'model'" (``model`` is a config group)."""
    cfg = compose_config(["model=clonal"], config_name="reproduce")
    assert cfg.model.name == "clonal"


def test_reproduce_runs_end_to_end_with_a_model_option(tmp_path: Path) -> None:
    """Bug (a merge regression): the trial designs were composed with the whole model
    mapping as an override (``model={'name': ...}``), so every ``tfrsim-reproduce``
    stopped with an override parse error. The command must run, write its files and
    record the model option; at this tiny size the acceptance may fail (status 1)."""
    import json
    import os
    import subprocess
    import sys

    folder = tmp_path / "rep"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tfrsim.calibration.cli import reproduce_main; reproduce_main()",
            "model=clonal",
            "n_patients=300",
            "n_replicates=2",
            f"hydra.run.dir={folder}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=600,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    summary = json.loads((folder / "reproduction.json").read_text(encoding="utf-8"))
    assert summary["model"] == "clonal"
    assert (folder / "reproduction.csv").is_file()
