"""Shared fixtures: small, fast study parameters composed from the packaged config."""

import os

import pytest

# Figures are drawn off-screen in tests.
os.environ.setdefault("MPLBACKEND", "Agg")

from tfrsim.config.compose import load_params
from tfrsim.study import StudyParams


@pytest.fixture(scope="session")
def small_params() -> StudyParams:
    """The default STIM1-shaped study with 400 patients."""
    return load_params(["cohort.n_patients=400"])
