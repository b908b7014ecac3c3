"""Run the ``tfrsim`` command in a subprocess, as a user would (shared by the tests)."""

import os
import subprocess
import sys
from pathlib import Path


def run_tfrsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m tfrsim ARGS`` with off-screen figures and full Hydra errors."""
    env = {**os.environ, "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tfrsim", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
