"""Tests of tfrsim.plots on hand-built result objects (no fitting involved)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from tfrsim.analysis import CoxResult, KMResult
from tfrsim.plots import close_figure, plot_forest, plot_km, plot_reproduction
from tfrsim.plots.calibration import FAIL_GID, PASS_GID
from tfrsim.plots.experiments import plot_power, replicates_note
from tfrsim.plots.forest import NOT_ESTIMATED, TABLE_GID, sokal_counts
from tfrsim.plots.style import OKABE_ITO, count_text, save_figure, trial_title
from tfrsim.plots.survival import (
    AT_RISK_GID,
    CENSOR_GID,
    STATS_GID,
    censor_mark_months,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def km() -> KMResult:
    curves = pd.DataFrame(
        {
            "group": ["all"] * 4 + ["low"] * 3 + ["high"] * 3,
            "month": [0.0, 3.0, 6.0, 12.0, 0.0, 3.0, 12.0, 0.0, 6.0, 12.0],
            "survival": [1.0, 0.8, 0.57, 0.38, 1.0, 0.6, 0.4, 1.0, 0.75, 0.375],
            "lower": [1.0, 0.5, 0.3, 0.1, 1.0, 0.2, 0.1, 1.0, 0.3, 0.05],
            "upper": [1.0, 0.9, 0.8, 0.7, 1.0, 0.9, 0.8, 1.0, 0.95, 0.8],
        }
    )
    at_risk = pd.DataFrame(
        {
            "group": ["all"] * 3 + ["low"] * 3 + ["high"] * 3,
            "month": [0.0, 6.0, 12.0] * 3,
            "at_risk": [10, 7, 3, 5, 3, 1, 5, 4, 2],
        }
    )
    milestones = curves.iloc[0:0]
    return KMResult(curves=curves, at_risk=at_risk, milestones=milestones, alpha=0.05)


def _cox(rows: list[tuple[str, float, float, float]], converged: bool = True) -> CoxResult:
    table = pd.DataFrame(rows, columns=["covariate", "hr", "lower", "upper"])
    table["coef"] = np.log(table["hr"])
    table["se"] = 0.1
    table["p"] = 0.5
    return CoxResult(
        table=table[["covariate", "coef", "se", "hr", "lower", "upper", "p"]],
        converged=converged,
        message="" if converged else "no events",
        n=10,
        n_events=0 if not converged else 4,
        ph_test=pd.DataFrame(columns=["covariate", "statistic", "p"]),
    )


def _at_risk_texts(ax: Axes) -> list:
    table = [a for a in ax.figure.axes if a.get_gid() == AT_RISK_GID]
    return [t for a in table for t in a.texts if t.get_gid() == AT_RISK_GID]


@pytest.fixture
def patients() -> pd.DataFrame:
    """Ten patients consistent with the ``km`` fixture's at-risk table (low/high)."""
    return pd.DataFrame(
        {
            "duration_months": [3.0, 12.0, 10.0, 2.0, 8.0, 6.0, 12.0, 10.0, 14.0, 5.0],
            "event": [True, False, True, True, False, True, False, True, False, False],
            "sokal_group": ["low"] * 5 + ["high"] * 5,
        }
    )


def test_plot_km_draws_labelled_curves_with_bands(km):
    ax = plot_km(km, title="STIM1 replicate")
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "Months since stopping the TKI"
    assert ax.get_ylabel() == "MRFS (%)"
    assert ax.get_title(loc="left") == "STIM1 replicate"
    assert ax.get_ylim()[0] == 0.0
    assert 1.0 <= ax.get_ylim()[1] <= 1.05
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["All patients", "Sokal low", "Sokal high"]
    # The step curve of "high" passes through its table values.
    high = ax.get_lines()[2]
    np.testing.assert_allclose(high.get_xdata(), [0.0, 6.0, 12.0])
    np.testing.assert_allclose(high.get_ydata(), [1.0, 0.75, 0.375])
    assert len(ax.collections) == 1  # by default only the overall curve has a CI band
    assert len(plot_km(km, ci="groups").collections) == 3


def test_plot_km_at_risk_table_aligned_with_ticks(km):
    """Catches at-risk counts placed off their month or crowded at 0/6/12."""
    ax = plot_km(km)
    assert {0.0, 6.0, 12.0} <= set(ax.get_xticks())
    texts = _at_risk_texts(ax)
    counts = {(t.get_position()[0], t.get_text()) for t in texts if t.get_text().isdigit()}
    # Every count sits at its at-risk month, in data coordinates of the shared x axis.
    assert counts == {
        (0.0, "10"), (6.0, "7"), (12.0, "3"),
        (0.0, "5"), (6.0, "3"), (12.0, "1"),
        (0.0, "5"), (6.0, "4"), (12.0, "2"),
    }  # fmt: skip
    names = {t.get_text() for t in texts}
    assert {"Number at risk", "All patients", "Sokal low", "Sokal high"} <= names
    # Rows in group order, top to bottom: the "all" row is above the "high" row.
    y_all = next(t.xy[1] for t in texts if t.get_text() == "All patients")
    y_high = next(t.xy[1] for t in texts if t.get_text() == "Sokal high")
    assert y_all > y_high
    table = next(a for a in ax.figure.axes if a.get_gid() == AT_RISK_GID)
    assert table.get_xlim() == ax.get_xlim()  # its own panel, aligned with the curves
    ax.figure.canvas.draw()


@pytest.mark.parametrize("n", [50_000, 1_000_000])
def test_plot_km_at_risk_texts_never_overlap(n):
    """Catches at-risk texts running together for a large simulated cohort: row labels
    into the first column's five-digit counts ("All patients50000" at n = 5 x 10^4,
    a fixed 10 pt offset) and neighbouring counts into each other ("1000000392700"
    at 10^6, columns 24 months apart on the 85 mm figure). No two drawn boxes of the table touch,
    measured by the renderer."""
    months = np.arange(0.0, 145.0, 24.0)
    share = np.array([1.0, 0.39, 0.36, 0.25, 0.2, 0.12, 0.05])
    groups = {"all": 1.0, "low": 0.5, "intermediate": 0.35, "high": 0.15}
    at_risk = pd.DataFrame(
        [
            (g, m, round(n * w * s))
            for g, w in groups.items()
            for m, s in zip(months, share, strict=True)
        ],
        columns=["group", "month", "at_risk"],
    )
    curves = pd.DataFrame(
        [(g, m, 1.0 - 0.6 * (m > 0), 0.9, 1.0) for g in groups for m in months],
        columns=["group", "month", "survival", "lower", "upper"],
    )
    km = KMResult(curves=curves, at_risk=at_risk, milestones=curves.iloc[0:0], alpha=0.05)
    ax = plot_km(km)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = _at_risk_texts(ax)
    shown = [t.get_text() for t in texts]
    assert f"{n}" in shown or count_text(n) in shown  # the premise: the largest count
    assert len(texts) == 1 + len(groups) * (1 + len(months))
    if n >= 100_000:  # one style per table: no exact count of 1,000 or more left
        assert not [t for t in shown if t.isdigit() and int(t) >= 1_000]
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):
        for j in range(i):
            assert not a.overlaps(boxes[j]), (shown[i], shown[j])


def test_count_text_by_hand():
    """Catches a wrong abbreviation of large at-risk counts (hand-written values)."""
    assert [count_text(v) for v in (0, 7, 99_999)] == ["0", "7", "99999"]
    assert [count_text(v) for v in (100_000, 392_700, 999_499)] == ["100k", "393k", "999k"]
    assert [count_text(v) for v in (999_500, 1_000_000, 12_345_678)] == ["1M", "1M", "12.3M"]
    # Within an abbreviated table: from 1,000 on, three significant figures.
    assert [count_text(v, True) for v in (0, 999, 1_000, 82_443, 99_950)] == [
        "0", "999", "1k", "82.4k", "100k"
    ]  # fmt: skip
    assert count_text(123_456, False) == "123456"
    assert [count_text(v) for v in (999_499_999, 999_500_000, 1_234_567_890)] == [
        "999M", "1B", "1.23B"
    ]  # fmt: skip


def test_plot_km_with_patients_matches_km_at_risk(km, patients):
    """Catches an at-risk panel that disagrees with fit_km's table (duration >= month)."""
    ax = plot_km(km, patients=patients)
    texts = [t for t in _at_risk_texts(ax) if t.get_text().isdigit()]
    colours = {"all": "#000000", "low": OKABE_ITO["blue"], "high": OKABE_ITO["vermillion"]}
    for group, colour in colours.items():
        shown = {t.get_position()[0]: int(t.get_text()) for t in texts if t.get_color() == colour}
        expected = km.at_risk[km.at_risk["group"] == group].set_index("month")["at_risk"]
        for month, n in expected.items():
            assert shown[month] == n
    # Ticks run to the end of follow-up (14 months), not only to the last table month.
    assert ax.get_xlim()[1] >= 14.0


def test_plot_km_censor_marks_count(km, patients):
    """Catches missing censor marks or marks at event times."""
    ax = plot_km(km, patients=patients, min_at_risk=1)
    marks = {ln.get_color(): ln for ln in ax.get_lines() if ln.get_gid() == CENSOR_GID}
    low = marks[OKABE_ITO["blue"]]
    np.testing.assert_allclose(low.get_xdata(), [8.0, 12.0])  # low: censored at 8 and 12
    high = marks[OKABE_ITO["vermillion"]]
    # high: censored at 5, 12 and 14; the curve (and its marks) ends at 12.
    np.testing.assert_allclose(high.get_xdata(), [5.0, 12.0])
    # Thinning pools censoring times closer than one bin into one mark.
    assert list(censor_mark_months(np.array([1.0, 1.01, 1.02, 5.0]), 10.0, bins=10)) == [1.0, 5.0]


def test_plot_km_legend_n_events_and_stats(km, patients):
    """Catches a legend without n/events and a missing log-rank P / HR on the panel."""
    ax = plot_km(km, patients=patients, logrank=0.0004, hazard_ratio=(2.0, 1.1, 3.6))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Sokal low: n = 5, 3 events" in legend
    assert "Sokal high: n = 5, 2 events" in legend
    stats = ax.get_legend().get_title()
    assert stats.get_gid() == STATS_GID
    assert "Log-rank P <0.001" in stats.get_text()
    assert "HR 2.00 (95% CI 1.10–3.60)" in stats.get_text()


def test_plot_km_palette_is_okabe_ito_with_distinct_styles(km):
    """Catches the red/green palette that deuteranopes cannot tell apart."""
    ax = plot_km(km)
    lines = [ln for ln in ax.get_lines() if ln.get_gid() != CENSOR_GID]
    colours = [ln.get_color() for ln in lines]
    assert set(colours) <= set(OKABE_ITO.values())
    # Each group also has its own dash pattern (distinct in greyscale).
    assert len({str(ln._dash_pattern) for ln in lines}) == len(lines) == 3


def test_plot_km_truncates_where_few_remain(km, patients):
    """Catches curves drawn to the last patient, where one event moves them by 20 %."""
    ax = plot_km(km, patients=patients, min_at_risk=3)
    low = next(ln for ln in ax.get_lines() if ln.get_label().startswith("Sokal low"))
    # low durations 2, 3, 8, 12, 12: the 3rd largest is 8 months.
    assert max(low.get_xdata()) == 8.0


def test_plot_km_without_at_risk_has_no_table(km):
    ax = plot_km(km, at_risk=False)
    assert _at_risk_texts(ax) == []


def test_plot_km_published_overlay(km):
    published = pd.DataFrame(
        {
            "month": [6.0, 12.0, 24.0],
            "survival": [0.61, 0.43, 0.40],
            "lower": [0.5, np.nan, 0.3],
            "upper": [0.7, np.nan, 0.5],
            "label": "Mahon 2010",
        }
    )
    ax = plot_km(km, published=published, at_risk=False)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "published (Mahon 2010)" in legend
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    marker_line = bars[0].lines[0]
    np.testing.assert_allclose(marker_line.get_xdata(), [6.0, 12.0, 24.0])
    np.testing.assert_allclose(marker_line.get_ydata(), [0.61, 0.43, 0.40])
    # The x axis extends to show the published point at 24 months.
    assert ax.get_xlim()[1] >= 24.0


def test_plot_km_rejects_bad_published(km):
    with pytest.raises(ValueError, match=r"published.*label"):
        plot_km(km, published=pd.DataFrame({"month": [6.0], "survival": [0.6]}))
    bad = pd.DataFrame(
        {"month": [6.0], "survival": [61.0], "lower": [50.0], "upper": [70.0], "label": ["x"]}
    )
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plot_km(km, published=bad)


def test_plot_km_uses_given_axes(km):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_km(km, ax=ax) is ax
    assert ax.get_title(loc="left") == "Molecular relapse-free survival"


def test_plot_forest_log_axis_reference_line_and_labels():
    cox = _cox([("sokal_high", 2.0, 1.2, 3.3), ("male", 0.8, 0.5, 1.3)])
    ax = plot_forest(cox, title="Cox model")
    assert ax.get_xscale() == "log"
    assert ax.get_title(loc="left") == "Cox model"
    assert "Hazard ratio" in ax.get_xlabel()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    # The reference row precedes the Sokal terms; later terms keep y = n_terms - 1 - k.
    assert ticks == ["Sokal low (ref)", "Sokal high", "Male sex"]
    reference = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [1.0, 1.0]]
    assert len(reference) == 1
    # The top row (y = 1) is the first covariate: marker at HR 2, whisker 1.2–3.3.
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "s"]
    assert [(m.get_xdata()[0], m.get_ydata()[0]) for m in markers] == [(2.0, 1.0), (0.8, 0.0)]
    whisker = next(ln for ln in ax.get_lines() if list(ln.get_ydata()) == [1.0, 1.0])
    np.testing.assert_allclose(whisker.get_xdata(), [1.2, 3.3])
    assert any("2.00 (1.20–3.30)" in t.get_text() for t in ax.texts)
    assert not any(t.get_text() == NOT_ESTIMATED for t in ax.texts)


def test_plot_forest_marks_missing_estimates():
    cox = _cox([("sokal_intermediate", np.nan, np.nan, np.nan), ("sokal_high", 1.5, 1.1, 2.0)])
    ax = plot_forest(cox)
    not_estimated = [t for t in ax.texts if t.get_text() == NOT_ESTIMATED]
    assert len(not_estimated) == 1
    assert not_estimated[0].get_position()[1] == 1.0  # first term, under the reference row
    assert ax.get_title(loc="left") == "Cox proportional-hazards model"


def test_plot_forest_failed_fit():
    cox = _cox([("male", np.nan, np.nan, np.nan), ("age_years", np.nan, np.nan, np.nan)],
               converged=False)  # fmt: skip
    ax = plot_forest(cox)
    assert sum(t.get_text() == NOT_ESTIMATED for t in ax.texts) == 2
    assert "not converged" in ax.get_title(loc="left")
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "s"]
    ax.figure.canvas.draw()


def test_plot_forest_clips_extreme_interval():
    cox = _cox([("male", 3.0, 0.9, np.inf)])
    ax = plot_forest(cox)
    high = ax.get_xlim()[1]
    assert np.isfinite(high)
    assert high <= 1e3
    whisker = next(ln for ln in ax.get_lines() if list(ln.get_ydata()) == [0.0, 0.0])
    assert whisker.get_xdata()[1] == pytest.approx(high)


def test_close_figure_releases_pyplot_figure(km):
    ax = plot_km(km)
    number = ax.figure.number
    assert plt.fignum_exists(number)
    close_figure(ax.figure)
    assert not plt.fignum_exists(number)


def test_plot_forest_columns_reference_row_and_counts():
    """Catches a forest plot without headers, n/events, reference row or P column."""
    cox = _cox([("sokal_intermediate", 1.2, 0.8, 1.8), ("sokal_high", 2.0, 1.2, 3.3),
                ("tki_years", 0.8, 0.7, 0.9)])  # fmt: skip
    data = pd.DataFrame(
        {"sokal_group": ["low", "low", "intermediate", "high"], "event": [1, 0, 1, 1]}
    )
    ax = plot_forest(cox, counts=sokal_counts(data))
    texts = {t.get_text() for t in ax.texts if t.get_gid() == TABLE_GID}
    assert {"Term", "n/events", "HR (95% CI)", "P"} <= texts
    assert {"2/1", "1/1", "1 (reference)", "0.50"} <= texts
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0] == "Sokal low (ref)"
    assert "n = 10 patients" in ax.get_xlabel()


@pytest.mark.parametrize("n", [40, 199_998, 1_000_000])
def test_plot_forest_table_cells_never_overlap(n):
    """Catches table columns placed at fixed offsets: the widest counts still written
    in full ("99999/57199" at n = 199,998) ran into "1 (reference)", and a wide HR
    cell into the P column. No two drawn boxes of the table (headers, cells, term
    labels) touch, measured by the renderer, for a trial-sized cohort, the largest
    unabbreviated one and a 10^6 one (abbreviated: "500k/286k")."""
    cox = _cox([("sokal_intermediate", 1.21, 1.20, 1.21), ("sokal_high", 1.44, 1.43, 1.45),
                ("tki_years", 12.34, 0.01, 12345.67)])  # fmt: skip
    counts = {
        "sokal_low": (n // 2, int(n * 0.286)),
        "sokal_intermediate": (int(n * 0.35), int(n * 0.224)),
        "sokal_high": (int(n * 0.15), int(n * 0.105)),
    }
    ax = plot_forest(cox, counts=counts)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_gid() == TABLE_GID] + list(ax.get_yticklabels())
    shown = [t.get_text() for t in texts]
    premise = {40: "20/11", 199_998: "99999/57199", 1_000_000: "500k/286k"}[n]
    assert premise in shown
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):
        for j in range(i):
            assert not a.overlaps(boxes[j]), (shown[i], shown[j])
    # Every cell inside the figure: the widened table still fits its 120 mm width.
    width = fig.bbox.width
    assert all(b.x0 >= 0.0 and b.x1 <= width + 0.5 for b in boxes)


class _Trial:
    trial = "stim2"
    n_trial = 100
    months = np.array([0.0, 6.0, 12.0, 24.0])
    survival = np.array([1.0, 0.6, 0.5, 0.45])
    band_lower = np.array([1.0, 0.5, 0.4, 0.35])
    band_upper = np.array([1.0, 0.7, 0.6, 0.55])


def test_plot_reproduction_pass_fail_and_margins():
    """Catches unmarked pass/fail and a published point clipped at the right edge."""
    table = pd.DataFrame(
        {
            "trial": "stim2",
            "quantity": "mrfs",
            "month": [12.0, 24.0],
            "published": [0.55, 0.30],
            "lower": [0.45, 0.2],
            "upper": [0.65, 0.4],
        }
    )
    ax = plot_reproduction(_Trial(), table)
    passed = next(ln for ln in ax.get_lines() if ln.get_gid() == PASS_GID)
    failed = next(ln for ln in ax.get_lines() if ln.get_gid() == FAIL_GID)
    assert list(passed.get_xdata()) == [12.0]
    assert list(failed.get_xdata()) == [24.0]
    assert ax.get_xlim()[1] > 24.0 * 1.02
    assert ax.get_title(loc="left") == "STIM2"


def test_power_bars_dodged_and_labels():
    """Catches overlapping power bands and code identifiers as labels."""
    power = pd.DataFrame(
        {
            "n_patients": [50, 50, 100, 100],
            "covariate": ["sokal_high", "tki_years"] * 2,
            "n_replicates": 20,
            "n_detected": [2, 5, 6, 12],
            "power": [0.1, 0.25, 0.3, 0.6],
            "lower": [0.03, 0.1, 0.15, 0.4],
            "upper": [0.3, 0.5, 0.5, 0.8],
        }
    )
    ax = plot_power(power)
    xs = [tuple(c.lines[0].get_xdata()) for c in ax.containers]
    assert xs[0] != xs[1]  # dodged
    assert not ax.collections or all(len(c.get_paths()) for c in ax.collections)
    assert ax.get_xlabel() == "Patients in the trial"
    assert replicates_note(1) == "one replicate (no interval)"
    assert "≈ range" in replicates_note(5)


def test_save_figure_writes_each_format(tmp_path, km):
    """Catches a hard-coded PNG/150 dpi: every requested format is written."""
    ax = plot_km(km)
    paths = save_figure(ax.figure, tmp_path / "figs" / "km", formats=("png", "pdf", "svg"), dpi=72)
    assert [p.suffix for p in paths] == [".png", ".pdf", ".svg"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[1].read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="formats"):
        save_figure(ax.figure, tmp_path / "x", formats=("gif",))


def test_trial_title_maps_code_names():
    """Catches code names ("stim1:") in published titles."""
    assert trial_title("stim1") == "STIM1"
    assert trial_title("twister") == "TWISTER"
    assert trial_title("new_trial") == "NEW TRIAL"
