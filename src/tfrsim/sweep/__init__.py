"""Sweeps at scale: job folders, resume, the sweep table, experiment summaries.

From Python::

    from tfrsim.sweep import aggregate_sweep
    table = aggregate_sweep("results/multirun/power/default")

See ``docs/sweeps.md`` for the commands. The names below load on first use, so that
importing :mod:`tfrsim.sweep.naming` (done by ``tfrsim --help``) does not load pandas.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfrsim.sweep.aggregate import SweepReport, aggregate_sweep, write_sweep

__all__ = ["SweepReport", "aggregate_sweep", "write_sweep"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tfrsim.sweep import aggregate

        return getattr(aggregate, name)
    raise AttributeError(f"module 'tfrsim.sweep' has no attribute {name!r}")
