"""tfrsim's Hydra sweeper (``hydra/sweeper=tfrsim``): the basic sweeper with cheap resume.

Hydra only instantiates plugins from the ``hydra_plugins`` namespace package; the logic
lives in :mod:`tfrsim.sweep.resume`.
"""
