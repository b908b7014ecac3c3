"""Observation stage: follow-up, visit schedule, RQ-PCR assay and relapse rules."""

from tfrsim.monitoring.assay import Measurements, detection_probability, measure
from tfrsim.monitoring.follow_up import FollowUp, horizon_months, sample_follow_up
from tfrsim.monitoring.observe import Observation, observe
from tfrsim.monitoring.registry import RULES, Rule, register_rule
from tfrsim.monitoring.rules import RuleOutcome, apply_rule
from tfrsim.monitoring.schedule import sample_visit_months, visit_months

__all__ = [
    "RULES",
    "FollowUp",
    "Measurements",
    "Observation",
    "Rule",
    "RuleOutcome",
    "apply_rule",
    "detection_probability",
    "horizon_months",
    "measure",
    "observe",
    "register_rule",
    "sample_follow_up",
    "sample_visit_months",
    "visit_months",
]
