"""Configuration: Hydra schemas, validated parameters, and the one translation point.

This package's ``__init__`` imports nothing heavy so that the stages can import
:mod:`tfrsim.config.params` without a cycle; use :mod:`tfrsim.config.translate` and
:mod:`tfrsim.config.compose` (or the top-level :func:`tfrsim.load_params`).
"""
