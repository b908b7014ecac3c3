"""The README's custom-trial examples run as written (a small cohort, a temp folder)."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from cli_runner import run_tfrsim

README = Path(__file__).resolve().parent.parent / "README.md"


def _block_after(marker: str) -> tuple[str, str]:
    """The marker comment's argument and the fenced block that follows it."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}:? ?(.*?) -->\s*```\w*\n(.*?)```", text, flags=re.S)
    assert match, f"README has no block marked {marker!r}"
    return match.group(1).strip(), match.group(2)


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "tfrsim"
    # Keep it small and write into the temporary folder.
    args += ["cohort.n_patients=300", f"hydra.run.dir={cwd / 'run'}", "output.figures=false"]
    return run_tfrsim(*args[1:], cwd=cwd)


def test_custom_trial_yaml_runs(tmp_path: Path) -> None:
    path, yaml_text = _block_after("custom-trial-yaml")
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    target.write_text(yaml_text, encoding="utf-8")
    _, command = _block_after("custom-trial-command")
    proc = _run(command.strip(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "euroski_like" in proc.stdout
    assert "rule loss_of_mmr" in proc.stdout
    assert (tmp_path / "run" / "patients.parquet").is_file()


@pytest.mark.parametrize("marker", ["custom-trial-overrides"])
def test_custom_trial_overrides_run(tmp_path: Path, marker: str) -> None:
    _, command = _block_after(marker)
    proc = _run(command.strip(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "euroski_like" in proc.stdout
