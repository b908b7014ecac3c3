"""Registry of disease models, chosen by name (``model=NAME`` in the config).

Adding a model touches one module (its parameters and simulator) and one YAML file
(``conf/model/NAME.yaml``) plus one line here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfrsim.cohort.sample import Cohort
from tfrsim.config.params import ClonalParams, MixtureCureParams
from tfrsim.disease.clonal import simulate_clonal
from tfrsim.disease.course import Course
from tfrsim.disease.immune import ImmuneParams, simulate_immune
from tfrsim.disease.mixture_cure import simulate_mixture_cure


@dataclass(frozen=True)
class DiseaseModel:
    """A registered model: its parameter type and its simulator."""

    name: str
    params_type: type
    simulate: Callable[..., Course]


MODELS: dict[str, DiseaseModel] = {
    "clonal": DiseaseModel("clonal", ClonalParams, simulate_clonal),
    "mixture_cure": DiseaseModel("mixture_cure", MixtureCureParams, simulate_mixture_cure),
    "immune": DiseaseModel("immune", ImmuneParams, simulate_immune),
}


def get_model(name: str) -> DiseaseModel:
    """Look up a model by name; the error lists the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown disease model {name!r}; valid models: {sorted(MODELS)}") from None


def simulate_course(cohort: Cohort, name: str, params: Any, *, rng: np.random.Generator) -> Course:
    """Simulate the latent course with the model registered as ``name``."""
    return get_model(name).simulate(cohort, params, rng=rng)
