"""Configuration: composition (Hydra), plugins, and the one translation point.

Each stage owns and validates its parameter types (``cohort/params.py``,
``disease/``, ``monitoring/params.py``, ``analysis/params.py``; the whole study in
:mod:`tfrsim.study`); this package composes a config and translates it once with
:func:`tfrsim.config.translate.to_params` (or the top-level :func:`tfrsim.load_params`).
"""
