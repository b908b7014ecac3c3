"""The one translation point: a composed config -> validated, frozen :class:`StudyParams`.

Every rule a value must obey is checked here, before any work starts: unknown and
missing keys anywhere are listed at once (:mod:`tfrsim.config.build`), and each stage's
parameter types check their own values, so a broken rule raises
:class:`~tfrsim.checks.ConfigError` naming the field, the rule and the value. The
stages' registries (disease models, relapse rules, analyses) are asked, not imported
piecemeal: a model or analysis registered by a plugin is translated the same way.
"""

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from omegaconf import DictConfig, OmegaConf

from tfrsim.analysis.params import AnalysisParams
from tfrsim.checks import ConfigError
from tfrsim.cohort.params import CohortParams
from tfrsim.config.build import ConfigProblems, build, check_keys
from tfrsim.config.plugins import load_plugins
from tfrsim.disease.registry import MODELS
from tfrsim.monitoring.params import FollowUpParams, MonitoringParams
from tfrsim.study import (
    EnsembleParams,
    LimitsParams,
    OutputParams,
    StudyParams,
    check_ensemble_work,
)

#: Top-level keys of a study config, and which are required.
TOP_LEVEL: tuple[str, ...] = (
    "seed",
    "replicate",
    "trial",
    "cohort",
    "monitoring",
    "follow_up",
    "model",
    "analysis",
    "output",
    "limits",
    "chunk_size",
    "uncertainty",
    "ensemble",
)
_REQUIRED: tuple[str, ...] = ("trial", "cohort", "monitoring", "follow_up", "model", "analysis")
#: Keys of a model config that are not parameters: its name and where fitted values
#: came from (written by tfrsim-calibrate).
MODEL_META: tuple[str, ...] = ("name", "provenance")
#: Keys of ``trial``.
TRIAL_KEYS: tuple[str, ...] = ("name", "description", "citation")


def plain(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """A composed config as plain, resolved Python containers (without ``hydra``)."""
    raw = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    if not isinstance(raw, dict):  # pragma: no cover - a config is always a mapping
        raise ConfigError("config", "must be a mapping", type(raw).__name__)
    raw.pop("hydra", None)
    return {str(k): v for k, v in raw.items()}


def model_params(value: Mapping[str, Any], path: str = "model") -> tuple[str, Any]:
    """Name and validated parameters of a model config (``{name: ..., ...}``)."""
    name = value.get("name")
    if name not in MODELS:
        raise ConfigError(f"{path}.name", f"must be a registered model {sorted(MODELS)}", name)
    params_type = MODELS[str(name)].params_type
    body = {k: v for k, v in value.items() if k not in MODEL_META}
    return str(name), build(params_type, body, path)


def to_params(cfg: DictConfig | Mapping[str, Any]) -> StudyParams:
    """Validate a composed configuration and freeze it into :class:`StudyParams`.

    Parameters
    ----------
    cfg : omegaconf.DictConfig or mapping
        A configuration composed by Hydra (``conf/config.yaml`` + overrides).

    Returns
    -------
    StudyParams

    Raises
    ------
    ConfigError
        If a value breaks a rule; the message names the field, the rule and the value
        (:class:`~tfrsim.config.build.ConfigProblems` lists every unknown or missing
        key, and the first broken value of each part of the study, at once).
    """
    load_plugins()
    raw = plain(cfg)
    problems: list[str] = []
    errors: list[ConfigError] = []
    check_keys(raw, list(TOP_LEVEL), list(_REQUIRED), "", problems, ignore=("experiment",))
    trial = raw.get("trial")
    if isinstance(trial, Mapping):
        check_keys(trial, list(TRIAL_KEYS), ["name"], "trial", problems)

    def part(make: Callable[[], Any]) -> Any:
        # Every stage is built even when another is broken: all problems are listed.
        try:
            return make()
        except ConfigProblems as err:
            problems.extend(err.problems)
        except ConfigError as err:
            problems.append(str(err))
            errors.append(err)
        return None

    stages = {
        "cohort": CohortParams,
        "follow_up": FollowUpParams,
        "monitoring": MonitoringParams,
        "analysis": AnalysisParams,
    }
    built: dict[str, Any] = {}
    for name, params_type in stages.items():
        if name in raw:
            built[name] = part(partial(build, params_type, raw[name], name))
    output = part(lambda: build(OutputParams, raw.get("output") or {}, "output"))
    limits = part(lambda: build(LimitsParams, raw.get("limits") or {}, "limits"))
    # Read by the command (tfrsim.sweep.job); checked here with everything else.
    ensemble: EnsembleParams | None = part(lambda: to_ensemble(raw))
    model = raw.get("model")
    named_model: tuple[str, Any] = ("", None)
    if isinstance(model, Mapping):
        named_model = part(partial(model_params, model))
    elif "model" in raw:
        part(lambda: _raise(ConfigError("model", "must be a mapping of settings", model)))
    if len(problems) == 1 and len(errors) == 1:
        raise errors[0]  # one value error: keep its field, rule and value
    if problems:
        raise ConfigProblems(problems)
    model_name, model_values = named_model
    params = StudyParams(
        trial_name=raw["trial"]["name"],
        seed=raw.get("seed", 0),
        replicate=raw.get("replicate", 0),
        cohort=built["cohort"],
        follow_up=built["follow_up"],
        monitoring=built["monitoring"],
        analysis=built["analysis"],
        model_name=model_name,
        model=model_values,
        chunk_size=raw.get("chunk_size", 100_000),
        output=output,
        limits=limits,
        uncertainty=raw.get("uncertainty", "none"),
    )
    if ensemble is not None:
        check_ensemble_work(params.work, ensemble.replicates, params.limits)
    return params


def to_ensemble(cfg: DictConfig | Mapping[str, Any]) -> EnsembleParams:
    """The validated ``ensemble`` settings of a composed configuration (replicates run
    in one job; default: one).

    Raises
    ------
    ConfigError
        If ``ensemble.replicates`` is not an integer >= 1, or a key is unknown.
    """
    raw = plain(cfg) if isinstance(cfg, DictConfig) else cfg
    value = raw.get("ensemble") or {}
    if not isinstance(value, Mapping):
        raise ConfigError("ensemble", "must be a mapping of settings", value)
    return build(EnsembleParams, value, "ensemble")


def _raise(err: ConfigError) -> None:
    raise err
