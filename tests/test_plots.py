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
from tfrsim.plots import close_figure, plot_forest, plot_km
from tfrsim.plots.forest import NOT_ESTIMATED
from tfrsim.plots.survival import AT_RISK_GID


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
    return [t for t in ax.texts if t.get_gid() == AT_RISK_GID]


def test_plot_km_draws_labelled_curves_with_bands(km):
    ax = plot_km(km, title="STIM1 replicate")
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "Months since stopping imatinib"
    assert ax.get_ylabel() == "MRFS (probability)"
    assert ax.get_title() == "STIM1 replicate"
    assert ax.get_ylim()[0] == 0.0
    assert 1.0 <= ax.get_ylim()[1] <= 1.05
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["All patients", "Sokal low", "Sokal high"]
    # The step curve of "high" passes through its table values.
    high = ax.get_lines()[2]
    np.testing.assert_allclose(high.get_xdata(), [0.0, 6.0, 12.0])
    np.testing.assert_allclose(high.get_ydata(), [1.0, 0.75, 0.375])
    assert len(ax.collections) == 3  # one shaded CI band per group


def test_plot_km_at_risk_table_aligned_with_ticks(km):
    ax = plot_km(km)
    np.testing.assert_allclose(ax.get_xticks(), [0.0, 6.0, 12.0])
    texts = _at_risk_texts(ax)
    counts = {(t.xy[0], t.get_text()) for t in texts if t.get_text().isdigit()}
    # Every count sits at its at-risk month (the x tick), in data coordinates.
    assert counts == {
        (0.0, "10"), (6.0, "7"), (12.0, "3"),
        (0.0, "5"), (6.0, "3"), (12.0, "1"),
        (6.0, "4"), (12.0, "2"),
    }  # fmt: skip
    names = {t.get_text() for t in texts}
    assert {"Number at risk", "All patients", "Sokal low", "Sokal high"} <= names
    # Rows are below the axes, in group order: the "all" row is above the "high" row.
    y_all = next(t.xyann[1] for t in texts if t.get_text() == "All patients")
    y_high = next(t.xyann[1] for t in texts if t.get_text() == "Sokal high")
    assert 0 > y_all > y_high
    ax.figure.canvas.draw()  # renders without error with the table outside the axes


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
    assert ax.get_title() == "Molecular relapse-free survival"


def test_plot_forest_log_axis_reference_line_and_labels():
    cox = _cox([("sokal_high", 2.0, 1.2, 3.3), ("male", 0.8, 0.5, 1.3)])
    ax = plot_forest(cox, title="Cox model")
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "Cox model"
    assert "Hazard ratio" in ax.get_xlabel()
    assert ax.get_ylabel() == "Covariate"
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["Sokal high vs low", "Male sex"]
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
    assert not_estimated[0].get_position()[1] == 1.0  # first row, at the top
    assert ax.get_title() == "Cox proportional-hazards model"


def test_plot_forest_failed_fit():
    cox = _cox([("male", np.nan, np.nan, np.nan), ("age_years", np.nan, np.nan, np.nan)],
               converged=False)  # fmt: skip
    ax = plot_forest(cox)
    assert sum(t.get_text() == NOT_ESTIMATED for t in ax.texts) == 2
    assert "not converged" in ax.get_title()
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
