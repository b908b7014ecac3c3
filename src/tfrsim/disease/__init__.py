"""Disease stage: the latent BCR-ABL course after stopping imatinib."""

from tfrsim.disease.course import Course, linear_predictor
from tfrsim.disease.registry import MODELS, get_model, simulate_course

__all__ = ["MODELS", "Course", "get_model", "linear_predictor", "simulate_course"]
