"""Disease stage: the latent BCR-ABL course after stopping the TKI.

Importing the package registers the built-in models (``clonal``, ``mixture_cure``, ``immune``).
"""

from tfrsim.disease import clonal, immune, mixture_cure  # noqa: F401  (registration)
from tfrsim.disease.course import Course, linear_predictor
from tfrsim.disease.registry import MODELS, DiseaseModel, get_model, register_model, simulate_course

__all__ = [
    "MODELS",
    "Course",
    "DiseaseModel",
    "get_model",
    "linear_predictor",
    "register_model",
    "simulate_course",
]
