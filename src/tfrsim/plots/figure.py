"""Creating and releasing figures.

pyplot is imported inside these functions only, so importing :mod:`tfrsim.plots`
never selects a backend; callers that pass their own Axes never touch pyplot.
Figures are created inside :func:`tfrsim.plots.style.publication_style`.
"""

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure, FigureBase

from tfrsim.plots.style import mm, publication_style


def new_axes(width_in: float, height_in: float) -> Axes:
    """A fresh figure (constrained layout) with one Axes, size in inches."""
    import matplotlib.pyplot as plt

    with publication_style():
        _, ax = plt.subplots(figsize=(width_in, height_in), layout="constrained")
    return ax


def new_axes_mm(width_mm: float, height_mm: float) -> Axes:
    """A fresh figure (constrained layout) with one Axes, size in millimetres."""
    return new_axes(mm(width_mm), mm(height_mm))


def new_figure_mm(width_mm: float, height_mm: float, **subplots: Any) -> tuple[Figure, Any]:
    """``plt.subplots(**subplots)`` of a figure sized in millimetres (constrained layout)."""
    import matplotlib.pyplot as plt

    with publication_style():
        fig, axes = plt.subplots(
            figsize=(mm(width_mm), mm(height_mm)), layout="constrained", **subplots
        )
    return fig, axes


def close_figure(fig: FigureBase) -> None:
    """Release a figure made by a plot function (pyplot keeps it alive otherwise)."""
    import matplotlib.pyplot as plt

    plt.close(fig.figure if hasattr(fig, "figure") else fig)  # type: ignore[arg-type]


def new_figure_row(n: int, width_in: float, height_in: float) -> tuple[Figure, list[Axes]]:
    """A fresh figure with ``n`` Axes side by side, each ``width_in`` x ``height_in``."""
    import matplotlib.pyplot as plt

    with publication_style():
        fig, axes = plt.subplots(
            1, n, figsize=(width_in * n, height_in), layout="constrained", squeeze=False
        )
    return fig, list(axes[0])


def new_axes_row(n: int, width_in: float, height_in: float) -> list[Axes]:
    """The Axes of :func:`new_figure_row`."""
    return new_figure_row(n, width_in, height_in)[1]
