"""Every YAML under conf/ composes and validates; bad values fail with clear errors."""

import shutil
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from tfrsim.checks import ConfigError
from tfrsim.config.compose import CONFIG_DIR, compose_config, load_params
from tfrsim.disease.clonal import ClonalParams
from tfrsim.disease.immune import ImmuneParams
from tfrsim.disease.mixture_cure import MixtureCureParams

GROUPS = ("trial", "model", "analysis", "clinical", "assay")
#: Groups mounted somewhere else than their name (see conf/config.yaml).
MOUNTS = {"clinical": "cohort.clinical", "assay": "monitoring.assay"}


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def _override(group: str, name: str) -> str:
    if group in MOUNTS:
        return f"{group}@{MOUNTS[group]}={name}"
    return f"{group}={name}"


@pytest.mark.parametrize("override", [_override(g, n) for g in GROUPS for n in _options(g)])
def test_every_config_option_composes_and_validates(override: str) -> None:
    params = load_params([override])
    assert params.cohort.n_patients >= 1
    assert params.trial_name


#: Primary configs of the apps (tfrsim, tfrsim-calibrate, tfrsim-reproduce).
PRIMARY = ("config", "calibrate", "reproduce")
#: Groups composed by other tests: experiment presets and Hydra launchers
#: (tests/test_experiments*.py, tests/test_sweep*.py).
ELSEWHERE = ("experiment", "hydra")


@pytest.mark.parametrize("name", PRIMARY)
def test_primary_configs_compose_and_translate(name: str) -> None:
    """Every primary config composes and passes its app's whole validation."""
    from tfrsim.calibration.params import CalibrateParams, ReproduceParams
    from tfrsim.config.build import build
    from tfrsim.config.translate import plain, to_params

    cfg = compose_config([], config_name=name)
    translate = {
        "config": to_params,
        "calibrate": lambda c: build(CalibrateParams, plain(c)),
        "reproduce": lambda c: build(ReproduceParams, plain(c)),
    }[name]
    assert translate(cfg) is not None


def test_every_yaml_is_reached_by_the_tests_above() -> None:
    on_disk = {
        p.relative_to(CONFIG_DIR).as_posix()
        for p in CONFIG_DIR.rglob("*.yaml")
        if p.relative_to(CONFIG_DIR).parts[0] not in ELSEWHERE
    }
    covered = {f"{n}.yaml" for n in PRIMARY} | {
        f"{g}/{n}.yaml" for g in GROUPS for n in _options(g)
    }
    assert on_disk == covered, f"YAML files not covered by a group test: {on_disk - covered}"


def test_defaults() -> None:
    params = load_params([])
    assert params.trial_name == "stim1"
    assert isinstance(params.model, ImmuneParams)  # model v2, the installed default
    assert isinstance(load_params(["model=clonal_calibrated"]).model, ClonalParams)
    assert params.follow_up.followup_months >= 60
    assert params.monitoring.rule.name == "stim"
    assert params.monitoring.amendment.calendar_month == 18  # STIM1's early rule
    assert params.cohort.eligibility.min_tki_years == 3
    assert params.cohort.eligibility.min_dmr_years == 2
    assert isinstance(load_params(["model=mixture_cure"]).model, MixtureCureParams)


@pytest.mark.parametrize(
    ("override", "field", "rule_words"),
    [
        ("cohort.n_patients=0", "cohort.n_patients", "integer >= 1"),
        ("cohort.n_patients=-5", "cohort.n_patients", "integer >= 1"),
        (
            "cohort.sokal_shares={low: 0.5, intermediate: 0.4, high: 0.2}",
            "cohort.sokal_shares",
            "sum to 1",
        ),
        ("cohort.male_fraction=37", "cohort.male_fraction", "probability"),
        ("follow_up.dropout_rate_per_month=-0.01", "follow_up.dropout_rate_per_month", ">= 0"),
        ("model.growth_rate_per_month=-2", "model.growth_rate_per_month", "> 0"),
        ("model.latency_rate_per_month=0", "model.latency_rate_per_month", "> 0"),
        ("model.theta0=-1", "model.theta0", "> 0"),
        ("model.theta0=30", "model.theta0", "<= 8"),
        ("monitoring.rule.mmr_threshold_pct=0", "monitoring.rule.mmr_threshold_pct", "(0, 100)"),
        ("monitoring.rule.name=sometimes", "monitoring.rule.name", "must be one of"),
        ("monitoring.rule.event_at=last", "monitoring.rule.event_at", "must be one of"),
        (
            "monitoring.schedule.jitter_days=20",
            "monitoring.schedule.jitter_days",
            "half the shortest visit interval",
        ),
        (
            "monitoring.schedule.missed_visit_prob=1.5",
            "monitoring.schedule.missed_visit_prob",
            "probability",
        ),
        ("monitoring.assay.abl_median_copies=0", "monitoring.assay.abl_median_copies", "> 0"),
        ("monitoring.assay.min_bcr_copies=0", "monitoring.assay.min_bcr_copies", ">= 1"),
        (
            "analysis.milestones_months=[6,12,120]",
            "analysis.milestones_months[2]",
            "must not exceed the follow-up",
        ),
        ("analysis.milestones_months=[12,6]", "analysis.milestones_months", "increasing"),
        (
            "analysis.cox_covariates=[sokal_group,shoe_size]",
            "analysis.cox_covariates[1]",
            "must be one of",
        ),
        (
            "cohort.eligibility.min_tki_years=40",
            "cohort.eligibility.min_tki_years",
            "leaves no patient",
        ),
        (
            "cohort.depth_shares={MR4: 1.0, MR4.5: 0.0, MR5: 0.0}",
            "cohort.eligibility.min_depth",
            "leaves no patient",
        ),
        ("cohort.eligibility.min_depth=MR6", "cohort.eligibility.min_depth", "must be one of"),
        ("cohort.mode=registry", "cohort.mode", "must be one of"),
        (
            "monitoring.schedule.segments=[{until_month: 12, every_months: 0}]",
            "monitoring.schedule.segments[0].every_months",
            "> 0",
        ),
        ("monitoring.schedule.segments=[]", "monitoring.schedule.segments", "at least one"),
        ("seed=-1", "seed", "integer >= 0"),
    ],
)
def test_bad_value_names_field_rule_and_value(override: str, field: str, rule_words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_params([override])
    err = info.value
    assert err.field == field
    assert rule_words in str(err)
    # The message shows the offending value.
    assert "got " in str(err)


@pytest.mark.parametrize(("group", "valid"), [("model", "clonal"), ("trial", "stim1")])
def test_unknown_group_option_lists_valid_ones(group: str, valid: str) -> None:
    with pytest.raises((MissingConfigException, ConfigCompositionException)) as info:
        compose_config([f"{group}=no_such_{group}"])
    assert valid in str(info.value)


def test_unknown_model_name_in_yaml_lists_registered_models(tmp_path: Path) -> None:
    # A model YAML whose name is not registered (e.g. a copy edited by hand).
    conf = tmp_path / "conf"
    shutil.copytree(CONFIG_DIR, conf)
    text = (conf / "model" / "clonal.yaml").read_text().replace("name: clonal", "name: clonel")
    (conf / "model" / "clonal.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"model.name.*clonal.*mixture_cure.*clonel"):
        load_params(["model=clonal"], config_dir=conf)


def test_shares_with_unknown_group() -> None:
    from tfrsim.checks import shares

    with pytest.raises(ConfigError, match=r"unknown keys \['very_high'\]"):
        shares(
            "cohort.sokal_shares", {"low": 0.5, "very_high": 0.5}, ("low", "intermediate", "high")
        )


def test_wrong_type_is_refused_at_translation() -> None:
    """A word where a count belongs is refused, naming the field."""
    with pytest.raises(ConfigError, match="n_patients"):
        load_params(["cohort.n_patients=many"])
