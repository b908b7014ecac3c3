"""Sweeps at scale: job folders, resume, the sweep table, experiment summaries.

From Python::

    from tfrsim.sweep import aggregate_sweep
    table = aggregate_sweep("results/multirun/power/default")

See ``docs/sweeps.md`` for the commands.
"""

from tfrsim.sweep.aggregate import SweepReport, aggregate_sweep, write_sweep

__all__ = ["SweepReport", "aggregate_sweep", "write_sweep"]
