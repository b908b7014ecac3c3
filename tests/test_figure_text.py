"""No two texts the renderer draws in a run's figures overlap, at any cohort size.

The figure-specific tests (test_plots.py) check the at-risk and forest tables; this one
checks every drawn text of every run figure together — titles, legends, the stats box,
tick labels, table cells — so that a collision anywhere (a legend over a title, a
count over a label) fails, as seen by the renderer rather than by positions in data
coordinates.
"""

import itertools

import pytest
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure

from tfrsim.config.compose import load_params
from tfrsim.execution import run_study
from tfrsim.output.figures import close_figures, draw_figures

#: Overlap (pixels of the drawn figure) tolerated between two boxes: glyph boxes of
#: neighbouring texts may touch by a fraction of a pixel.
TOLERANCE_PX = 0.5


def drawn_text_boxes(fig: Figure, monkeypatch: pytest.MonkeyPatch) -> list:
    """(text, box) of every non-blank text the Agg renderer draws, in drawing order."""
    drawn = []
    original = RendererAgg.draw_text

    def spy(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # type: ignore[no-untyped-def]
        if mtext is not None and s.strip():
            drawn.append(mtext)
        return original(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    with monkeypatch.context() as m:
        m.setattr(RendererAgg, "draw_text", spy)
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = list(dict.fromkeys(drawn))
    # A box of text rotated by other than a right angle is not its glyphs' outline.
    upright = [t for t in texts if t.get_rotation() % 90 == 0]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in upright]


def overlapping(boxes: list) -> list[tuple[str, str]]:
    bad = []
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        width = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        height = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if width > TOLERANCE_PX and height > TOLERANCE_PX:
            bad.append((a, b))
    return bad


def test_the_spy_sees_an_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches a checker that cannot fail: two texts written on the same spot."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "first label")
    ax.text(0.52, 0.5, "second label")
    try:
        assert overlapping(drawn_text_boxes(fig, monkeypatch)) == [("first label", "second label")]
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n", [150, 60_000])
def test_run_figures_have_no_overlapping_text(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches colliding texts in km, forest and trajectories of a trial-sized and a
    large run (five-digit at-risk counts, long legend entries), and texts drawn
    outside the figure."""
    result = run_study(load_params([f"cohort.n_patients={n}", "seed=5"]), keep_visits=400)
    figures = draw_figures(result)
    try:
        assert set(figures) == {"km", "forest", "trajectories"}
        for stem, fig in figures.items():
            boxes = drawn_text_boxes(fig, monkeypatch)
            assert len(boxes) > 10, stem  # the premise: the figure's texts were seen
            assert overlapping(boxes) == [], stem
            width, height = fig.bbox.width, fig.bbox.height
            outside = [
                t
                for t, b in boxes
                if b.x0 < -1 or b.y0 < -1 or b.x1 > width + 1 or b.y1 > height + 1
            ]
            assert outside == [], (stem, outside)
    finally:
        close_figures(figures)
