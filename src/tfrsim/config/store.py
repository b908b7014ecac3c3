"""Hydra's ConfigStore: the base config of defaults, and the plugins.

The study config has no structured schema: it is validated as a whole by the one
translation point (:func:`tfrsim.config.translate.to_params`), which asks each stage's
parameter types and registries, so that a model or analysis added by a plugin needs
no schema of its own and ``tfrsim --help`` lists no internal schemas. The base config
``tfrsim_defaults`` holds the defaults of every stage's dataclass (derived, not
repeated), so that each setting with a default can be overridden without ``+``.
"""

from typing import Any

from hydra.core.config_store import ConfigStore

from tfrsim.analysis.params import AnalysisParams
from tfrsim.cohort.params import CohortParams
from tfrsim.config.build import defaults_of
from tfrsim.config.paths import BASE_CONFIG
from tfrsim.config.plugins import load_plugins
from tfrsim.monitoring.params import FollowUpParams, MonitoringParams
from tfrsim.study import EnsembleParams, LimitsParams, OutputParams, StudyParams

__all__ = ["BASE_CONFIG", "base_config", "register_configs"]


def base_config() -> dict[str, Any]:
    """Every default of the study's parameter types, as a plain mapping."""
    study = defaults_of(StudyParams)
    return {
        "seed": 0,
        "replicate": 0,
        "chunk_size": study["chunk_size"],
        "uncertainty": study["uncertainty"],
        "cohort": defaults_of(CohortParams),
        "monitoring": defaults_of(MonitoringParams),
        "follow_up": defaults_of(FollowUpParams),
        "analysis": defaults_of(AnalysisParams),
        "output": defaults_of(OutputParams),
        "limits": defaults_of(LimitsParams),
        "ensemble": defaults_of(EnsembleParams),
    }


def register_configs() -> None:
    """Load the plugins and store the base config (idempotent)."""
    load_plugins()
    ConfigStore.instance().store(name=BASE_CONFIG, node=base_config())
