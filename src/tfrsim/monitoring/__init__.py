"""Observation stage: follow-up, visit schedule and relapse detection."""

from tfrsim.monitoring.detection import Observation, detect_loss_of_mmr
from tfrsim.monitoring.follow_up import FollowUp, horizon_months, sample_follow_up
from tfrsim.monitoring.schedule import visit_months

__all__ = [
    "FollowUp",
    "Observation",
    "detect_loss_of_mmr",
    "horizon_months",
    "sample_follow_up",
    "visit_months",
]
