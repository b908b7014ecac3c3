"""The documentation site builds in strict mode (every MkDocs warning is an error)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docs_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """Catches a broken docs site: a page missing from the nav or linked wrongly, a
    docstring mkdocstrings cannot parse (numpy sections), an API page naming a moved
    or renamed object, a notebook that no longer converts."""
    env = {
        **os.environ,
        # nbmake executes the notebooks in this same test run; the site renders them.
        "TFRSIM_DOCS_EXECUTE": "false",
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for page in ("index.html", "runs/index.html", "api/study/index.html", "calibration/index.html"):
        assert (site / page).is_file(), page
    notebook = site / "notebooks" / "03_cox_sokal_duration" / "index.html"
    assert notebook.is_file()
    api = (site / "api" / "study" / "index.html").read_text(encoding="utf-8")
    assert "StudyResult" in api
    assert "summary" in api
    assert not (ROOT / ".cache").exists()  # no cache written into the repository
