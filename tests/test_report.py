"""report.html: self-contained, complete, and rendered by a real browser."""

import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrsim import __version__
from tfrsim.analysis.estimands import ESTIMAND_COLUMNS, estimand
from tfrsim.config.compose import load_params
from tfrsim.execution import StudyResult, run_study
from tfrsim.output.report import REPORT_FILE, write_sweep_report

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
#: Headless browsers tried, in order (Debian's package is `chromium`).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def result() -> StudyResult:
    return run_study(load_params(["cohort.n_patients=150", "seed=3"]))


@pytest.fixture(scope="module")
def run_dir(result: StudyResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "run"
    result.save(folder)
    return folder


def test_report_embeds_every_figure_and_the_config(run_dir: Path, result: StudyResult) -> None:
    """Catches a report that links figures instead of embedding them (broken when the
    page is mailed or moved), drops one, or omits the config, version or provenance."""
    html = (run_dir / REPORT_FILE).read_text(encoding="utf-8")
    images = IMG.findall(html)
    assert len(images) == 3  # km, forest, trajectories
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "n_patients: 150" in html  # the resolved config
    assert f"<th>tfrsim</th><td>{__version__}</td>" in html
    assert "<th>lifelines</th>" in html  # library versions (provenance)
    # The summary table holds every estimand of the run.
    assert html.count("<tr><td>") >= len(result.summary())


def test_embedded_figures_are_the_saved_files_at_half_resolution(
    run_dir: Path, result: StudyResult
) -> None:
    """Catches a report whose images are not the run's figures at REPORT_DPI: each
    embedded image equals the 2 x 2 block means (numpy, written here) of the saved
    300-dpi PNG to one level of rounding, with half its size and stated dpi."""
    import io

    from PIL import Image

    from tfrsim.output.report import REPORT_DPI

    assert result.params.output.dpi == 2 * REPORT_DPI  # the premise: reduced, not drawn
    html = (run_dir / REPORT_FILE).read_text(encoding="utf-8")
    embedded = [base64.b64decode(d) for d in IMG.findall(html)]
    for stem, data in zip(("km", "forest", "trajectories"), embedded, strict=True):
        with Image.open(run_dir / "figures" / f"{stem}.png") as big:
            full = np.asarray(big.convert("RGBA"), dtype=float)
            assert round(big.info["dpi"][0]) == 2 * REPORT_DPI
        with Image.open(io.BytesIO(data)) as small:
            shown = np.asarray(small.convert("RGBA"), dtype=float)
            assert round(small.info["dpi"][0]) == REPORT_DPI
        # An odd last row or column is a block of its own (ceil); compare full blocks.
        assert shown.shape[:2] == (-(-full.shape[0] // 2), -(-full.shape[1] // 2))
        h, w = full.shape[0] // 2, full.shape[1] // 2
        means = full[: 2 * h, : 2 * w].reshape(h, 2, w, 2, 4).mean(axis=(1, 3))
        assert np.abs(shown[:h, :w] - means).max() <= 1.0


def test_reduce_png_by_hand() -> None:
    """Catches a wrong reduction (a dropped row, averaging across channels, the dpi
    kept): a 4 x 2 image whose block means are known by hand."""
    import io

    from PIL import Image

    from tfrsim.plots.style import reduce_png

    pixels = np.array(
        [[[0, 0, 0], [100, 0, 200]], [[200, 40, 0], [100, 0, 200]],
         [[10, 10, 10], [30, 30, 30]], [[50, 50, 50], [70, 70, 70]]],
        dtype=np.uint8,
    )  # fmt: skip
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="png", dpi=(300, 300))
    with Image.open(io.BytesIO(reduce_png(buffer.getvalue(), 2))) as small:
        assert small.size == (1, 2)
        assert round(small.info["dpi"][0]) == 150
        np.testing.assert_array_equal(np.asarray(small), [[[100, 10, 100]], [[40, 40, 40]]])
    assert reduce_png(buffer.getvalue(), 1) == buffer.getvalue()
    # A palette image is averaged as RGBA (reduce() refuses mode "P").
    palette = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert("P").save(palette, format="png")
    with Image.open(io.BytesIO(reduce_png(palette.getvalue(), 2))) as small:
        assert small.mode == "RGBA"
        assert small.size == (1, 2)
    with pytest.raises(ValueError, match="factor"):
        reduce_png(buffer.getvalue(), 0)


def test_report_needs_no_network(run_dir: Path) -> None:
    """Catches a report that loads a stylesheet, font, script or image from the web
    (blank or unstyled offline, and a privacy leak)."""
    html = (run_dir / REPORT_FILE).read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert "<link" not in html


def test_report_is_optional_and_atomic(result: StudyResult, tmp_path: Path) -> None:
    """Catches `output.report: false` being ignored, and temporary files left behind."""
    import dataclasses

    quiet = dataclasses.replace(
        result,
        params=dataclasses.replace(
            result.params,
            output=dataclasses.replace(result.params.output, report=False, figures=False),
        ),
    )
    written = quiet.save(tmp_path / "run")
    assert not (tmp_path / "run" / REPORT_FILE).exists()
    assert not (tmp_path / "run" / "figures").exists()
    assert written[-1].name == "summary.json"
    assert not list((tmp_path / "run").rglob("*.tmp"))


def test_sweep_report_shows_the_experiment_and_the_swept_settings(tmp_path: Path) -> None:
    """Catches a sweep report that misses the experiment's figure or summary, or the
    settings that tell the jobs apart."""
    rows = []
    for seed in (1, 2):
        for row in [
            estimand("km", "mrfs", group="all", month=12, value=0.4, lower=0.3, upper=0.5),
            estimand("cox", "hr", covariate="tki_years", value=0.8, lower=0.6, upper=1.0, p=0.04),
        ]:
            rows.append({"job": f"seed={seed}-abcd1234", "status": "done", "seed": seed, **row})
    table = pd.DataFrame(rows)
    table["cohort.n_patients"] = [100, 100, 200, 200]
    assert set(ESTIMAND_COLUMNS) <= set(table.columns)
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    (tmp_path / "power.png").write_bytes(png)
    pd.DataFrame({"n_patients": [100, 200], "power": [0.5, 0.8]}).to_csv(
        tmp_path / "power.csv", index=False
    )
    path = write_sweep_report(
        tmp_path,
        table,
        experiment="power",
        swept=["cohort.n_patients"],
        counts={"done": 2, "failed": 0},
    )
    html = path.read_text(encoding="utf-8")
    assert len(IMG.findall(html)) == 1
    assert "<th>cohort.n_patients</th>" in html
    assert "<td>200</td>" in html
    assert "<th>power</th>" in html
    assert "0.8" in html
    assert "tki_years" in html
    assert "40 %" in html


def _browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _chromium(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _colour_rows(screenshot: Path) -> np.ndarray:
    """Rows of the screenshot holding coloured pixels. The page's text and tables are
    grey on white; only the figures (Okabe–Ito palette) are coloured."""
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("RGB")).astype(int)
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    return np.flatnonzero((saturation > 80).sum(axis=1) >= 3)


@pytest.mark.browser
def test_report_renders_its_figures_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    """Catches a report whose figures do not display in a real browser (bad base64,
    wrong MIME type, broken markup, an image hidden by the style sheet), checked
    against the same page with the image data broken."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install -y chromium)")
    page = run_dir / REPORT_FILE

    dom = _chromium(browser, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(IMG.findall(dom.stdout)) == 3

    shot = tmp_path / "report.png"
    proc = _chromium(browser, "--window-size=1200,4000", f"--screenshot={shot}", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file(), proc.stderr[-2000:]
    rows = _colour_rows(shot)
    # Three figures stacked: coloured pixels over a tall band of the page.
    assert rows.size > 300, rows.size
    assert rows.max() - rows.min() > 600

    # Control: the same page with undecodable image data shows no figure at all.
    broken = tmp_path / "broken.html"
    broken.write_text(
        IMG.sub('<img src="data:image/png;base64,AAAA"', page.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    control = tmp_path / "broken.png"
    proc = _chromium(browser, "--window-size=1200,4000", f"--screenshot={control}", broken.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert control.is_file(), proc.stderr[-2000:]
    assert _colour_rows(control).size < 20
