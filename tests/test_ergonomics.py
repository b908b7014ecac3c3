"""Everyday use: --version, --help, a quiet first run with a useful log, the Python API
of StudyResult, and sweep job folder names."""

import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from omegaconf import OmegaConf

from cli_runner import run_tfrsim
from tfrsim import __version__
from tfrsim.analysis.estimands import ESTIMAND_COLUMNS
from tfrsim.config.compose import load_params
from tfrsim.config.paths import CONFIG_DIR
from tfrsim.config.translate import to_params
from tfrsim.execution import StudyResult, run_study
from tfrsim.output import RunDirNotEmptyError
from tfrsim.sweep import naming

#: How runs name the installed default model ("calibrated (immune model)").
DEFAULT_LABEL = f"calibrated ({load_params([]).model_name} model)"

#: Modules that make `tfrsim --help` slow; importing tfrsim.cli must not load them.
HEAVY = ("pandas", "scipy", "lifelines", "matplotlib", "pyarrow", "tfrsim.execution")


def test_version_is_tfrsims_and_names_the_default_model() -> None:
    """Catches Hydra's own --version answering for tfrsim (it prints Hydra's version),
    and a --version that loses the default model's name and provenance."""
    proc = run_tfrsim("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"tfrsim {__version__}"
    assert f"default model: {DEFAULT_LABEL}" in proc.stdout
    assert "Hydra" not in proc.stdout
    assert proc.stderr == ""


def test_help_is_short_and_lists_groups_not_schemas() -> None:
    """Catches Hydra's default help (the whole composed config, internal schema names)
    coming back, and help that no longer lists the config groups and outputs."""
    proc = run_tfrsim("--help")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # Every option of the shipped groups, whatever models and trials exist today.
    for group in ("model", "trial"):
        options = sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
        assert f"{group}: {', '.join(options)}" in out
    assert "Useful overrides" in out
    assert "results/runs/" in out
    assert "tfrsim_defaults" not in out
    assert "sokal_shares" not in out  # no config dump
    assert len(out.splitlines()) < 60
    assert proc.stderr == ""


@pytest.mark.parametrize("module", ["tfrsim.cli", "tfrsim"])
def test_importing_the_entry_point_loads_no_heavy_library(module: str) -> None:
    """Catches an import at the top of a module that makes `tfrsim --help` pay for
    pandas, scipy, lifelines or matplotlib (seconds on a busy machine)."""
    code = f"import sys, {module}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_first_run_is_quiet_and_logs_what_ran(tmp_path: Path) -> None:
    """Catches third-party warnings (lifelines advice, numpy overflow) or log lines
    reaching the terminal, an empty tfrsim.log, a summary that names the model
    inconsistently, and a median relapse month not labelled as interpolated."""
    folder = tmp_path / "run"
    proc = run_tfrsim("cohort.n_patients=200", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert DEFAULT_LABEL in out
    assert "median relapse month" in out
    assert "interpolated" in out
    log = (folder / "tfrsim.log").read_text(encoding="utf-8")
    for fragment in (
        DEFAULT_LABEL,
        "simulated and analysed 200 patients",
        "drew 3 figures",
        "report.html",
        "run finished in",
    ):
        assert fragment in log
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "written_by: tfrsim-calibrate" in report  # the model's provenance
    assert DEFAULT_LABEL in report


def test_third_party_warnings_become_one_log_line_each(caplog: pytest.LogCaptureFixture) -> None:
    """Catches repeated warnings flooding the log (one line per occurrence) or being
    lost instead of logged."""
    from tfrsim.cli import _log_warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        warnings.warn("Column tki_years has high collinearity", UserWarning, stacklevel=1)
    with caplog.at_level("INFO", logger="tfrsim"):
        _log_warnings(caught)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "(5 times): RuntimeWarning: overflow encountered in exp" in lines[0]


@pytest.fixture(scope="module")
def result() -> StudyResult:
    return run_study(load_params(["cohort.n_patients=150"]))


def test_summary_is_the_tidy_estimand_table(result: StudyResult) -> None:
    """Catches summary() drifting from the one tidy schema (summary.json, sweep table)."""
    table = result.summary()
    assert tuple(table.columns) == ESTIMAND_COLUMNS
    assert {"mrfs", "hr", "logrank", "median_relapse_month"} <= set(table["estimand"])
    assert "mrfs" in repr(table)
    html = result._repr_html_()
    assert "<table" in html
    assert "150 patients" in html


def test_plot_returns_the_km_axes(result: StudyResult) -> None:
    """Catches plot() returning a Figure or None instead of the KM Axes."""
    ax = result.plot()
    try:
        assert ax.get_ylabel().startswith("MRFS")
        assert len(ax.get_lines()) >= 4  # overall and three Sokal groups
    finally:
        plt.close(ax.get_figure(root=True))


def test_save_writes_a_run_folder_that_reproduces_the_params(
    result: StudyResult, tmp_path: Path
) -> None:
    """Catches save() writing other files than a run, a config.yaml that does not
    rebuild the same study, and save() overwriting an earlier run."""
    written = result.save(tmp_path / "run")
    names = {p.relative_to(tmp_path / "run").as_posix() for p in written}
    assert {"config.yaml", "patients.parquet", "km.csv", "cox.csv", "summary.json"} <= names
    assert {"figures/km.png", "figures/forest.png", "report.html"} <= names
    assert written[-1].name == "summary.json"
    config = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert to_params(config) == result.params
    with pytest.raises(RunDirNotEmptyError):
        result.save(tmp_path / "run")


def test_job_folders_keep_only_swept_keys(tmp_path: Path) -> None:
    """Catches job folder names that repeat the constant overrides (already in the sweep
    folder's name) or output settings, making long, unreadable paths."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    task = ["seed=1,2", "cohort.n_patients=100", "output.figures=false"]
    OmegaConf.save(
        {"hydra": {"overrides": {"task": task}, "sweeper": {"params": {"trial": "stim1,stim2"}}}},
        sweep / "multirun.yaml",
    )
    job = OmegaConf.create(
        {
            "seed": 2,
            "hydra": {
                "sweep": {"dir": str(sweep)},
                "overrides": {
                    "task": [
                        "trial=stim2",
                        "seed=2",
                        "cohort.n_patients=100",
                        "output.figures=false",
                    ]
                },
                "job": {"config": {"override_dirname": {"exclude_keys": ["experiment"]}}},
            },
        }
    )
    name = naming._job_resolver("ignored", _root_=job)
    assert name.startswith("seed=2,trial=stim2-")
    # Without the sweep's record, every override but output.* names the job.
    assert naming.job_overrides(job.hydra.overrides.task, None) == (
        "cohort.n_patients=100,seed=2,trial=stim2"
    )
    assert naming.swept_keys(["seed=range(3)", "trial=stim1"]) == {"seed"}
