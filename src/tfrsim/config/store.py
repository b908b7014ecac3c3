"""Registration of the structured-config schemas in Hydra's ConfigStore."""

from hydra.core.config_store import ConfigStore

from tfrsim.config.schema import (
    AnalysisConfig,
    ClonalModelConfig,
    Config,
    MixtureCureModelConfig,
)
from tfrsim.disease.immune import ImmuneModelConfig

#: Schema names, referenced from the ``defaults`` lists of the YAML files.
SCHEMAS = {
    (None, "config_schema"): Config,
    ("model", "clonal_schema"): ClonalModelConfig,
    ("model", "mixture_cure_schema"): MixtureCureModelConfig,
    ("model", "immune_schema"): ImmuneModelConfig,
    ("analysis", "analysis_schema"): AnalysisConfig,
}


def register_configs() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    for (group, name), node in SCHEMAS.items():
        cs.store(group=group, name=name, node=node)
