"""Registry of disease models, chosen by name (``model=NAME`` in the config).

Adding a model is one module and one YAML file: the module defines a frozen
parameter dataclass (validating itself in ``__post_init__``) and a simulator, and
calls :func:`register_model`; ``conf/model/NAME.yaml`` gives the values with their
sources. The Hydra schema of the model is derived from the parameter dataclass
(:func:`tfrsim.config.schema.schema_for`) and the translation step is generic, so no
other file changes. A model outside the package registers itself from a module named
in the ``tfrsim.plugins`` entry-point group (see :mod:`tfrsim.plugins`).
"""

from collections.abc import Callable
from dataclasses import dataclass, is_dataclass
from typing import Any

import numpy as np

from tfrsim.cohort.sample import Cohort
from tfrsim.disease.course import Course


@dataclass(frozen=True)
class DiseaseModel:
    """A registered model.

    Attributes
    ----------
    name : str
        The config group option and ``model.name``.
    params_type : type
        Frozen dataclass of the model's parameters (validates itself).
    simulate : callable
        ``simulate(cohort, params, *, rng) -> Course``.
    survival : callable, optional
        ``survival(months, params, eta=0.0) -> S`` — the closed-form latent
        relapse-free survival at linear predictor ``eta``, where the model has one.
    recovery : str, optional
        How the covariate effects (``params.effects``) can be recovered from simulated
        latent relapse months, checked for every model by the effect-recovery contract
        test (``tests/test_effect_recovery.py``): ``"proportional_hazards"`` (the latent
        relapse month has hazard ``exp(eta) h0(t)``: a Cox fit recovers each effect) or
        ``"mixture_cure"`` (cure log-odds ``c0 - eta`` and, among the uncured, a
        Weibull with hazard ``exp(eta) h0(t)``) or ``"poisson_clones"`` (reactivatable
        clones ``K ~ Poisson(theta0 exp(eta))`` and every patient with one relapses at a
        finite month: ``P(ever) = 1 - exp(-theta0 exp(eta))``, so a complementary
        log-log regression of ever relapsing recovers each effect). None: the
        contract test is skipped.
    """

    name: str
    params_type: type
    simulate: Callable[..., Course]
    survival: Callable[..., Any] | None = None
    recovery: str | None = None


MODELS: dict[str, DiseaseModel] = {}


def register_model(model: DiseaseModel) -> DiseaseModel:
    """Register ``model`` under its name (re-registering the same name replaces it)."""
    if not is_dataclass(model.params_type):
        raise TypeError(f"model {model.name!r}: params_type must be a dataclass")
    MODELS[model.name] = model
    return model


def get_model(name: str) -> DiseaseModel:
    """Look up a model by name; the error lists the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown disease model {name!r}; valid models: {sorted(MODELS)}") from None


def simulate_course(cohort: Cohort, name: str, params: Any, *, rng: np.random.Generator) -> Course:
    """Simulate the latent course with the model registered as ``name``."""
    model = get_model(name)
    if not isinstance(params, model.params_type):
        raise TypeError(
            f"model {name!r} takes {model.params_type.__name__}, got {type(params).__name__}"
        )
    return model.simulate(cohort, params, rng=rng)
