"""Figures of analysis results (the only user of matplotlib).

Plot functions take result objects, never fit or sample, draw on ``ax`` (a new
figure when None) and return the Axes; saving is the caller's job.
"""

from tfrsim.plots.calibration import plot_reproduction
from tfrsim.plots.figure import close_figure
from tfrsim.plots.forest import plot_forest
from tfrsim.plots.survival import plot_km
from tfrsim.plots.teaching import plot_km_comparison
from tfrsim.plots.trajectories import plot_trajectories

__all__ = [
    "close_figure",
    "plot_forest",
    "plot_km",
    "plot_km_comparison",
    "plot_reproduction",
    "plot_trajectories",
]
