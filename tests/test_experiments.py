"""Experiment presets: what each sweeps, that every job composes, and their summaries."""

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from tfrsim.analysis.descriptive import detection_delay
from tfrsim.config.compose import CONFIG_DIR, compose_config
from tfrsim.config.store import register_configs
from tfrsim.config.translate import to_params
from tfrsim.sweep.callback import count_jobs
from tfrsim.sweep.experiments import (
    summarise_monitoring,
    summarise_power,
    summarise_stop_timing,
    wilson_interval,
)
from tfrsim.sweep.naming import register_resolvers, slug, sweep_name

#: What each preset must sweep: key -> values, the number of jobs, and the replicates
#: run inside each job (ensemble.replicates): the same trials as one job per replicate.
EXPECTED = {
    "stop_timing": ({"cohort.tki_years.median": "3,4,5,6,8,10"}, 6, 5),
    "monitoring": (
        {
            "experiment/schedule": "monthly,every_2_months,every_3_months,stim",
            "monitoring.rule.name": "loss_of_mmr,loss_of_mmr_confirmed,stim,twister,loss_of_mr4",
        },
        20,
        3,
    ),
    "power": ({"cohort.n_patients": "40,100,200,400,800"}, 5, 40),
}


def _compose(overrides: list[str]):  # type: ignore[no-untyped-def]
    """The config with Hydra's own node, as the multirun controller composes it."""
    register_configs()
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_experiment_sweeps_what_it_says_with_joblib(name: str) -> None:
    params, n_jobs, replicates = EXPECTED[name]
    cfg = _compose([f"experiment={name}"])
    assert cfg.ensemble.replicates == replicates
    assert cfg.replicate == 0  # replicates 0 .. replicates-1, as the old per-job grid
    # The launcher of the multirun itself (not only of the jobs' configs).
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")
    assert dict(cfg.hydra.sweeper.params) == params
    assert count_jobs(cfg) == n_jobs
    assert cfg.hydra.runtime.choices.experiment == name
    # The experiment grid is hashed into the folder (a new grid, a new sweep).
    assert str(cfg.hydra.sweep.dir).startswith(f"results/multirun/{name}/default-grid")


@pytest.mark.parametrize(
    "job",
    [
        ["experiment=stop_timing", "cohort.tki_years.median=10", "replicate=4"],
        [
            "experiment=monitoring",
            "experiment/schedule=monthly",
            "monitoring.rule.name=loss_of_mr4",
        ],
        [
            "experiment=monitoring",
            "experiment/schedule=every_3_months",
            "monitoring.rule.name=twister",
        ],
        ["experiment=monitoring", "experiment/schedule=every_2_months"],
        ["experiment=monitoring", "experiment/schedule=stim", "monitoring.rule.name=stim"],
        ["experiment=power", "cohort.n_patients=40", "replicate=39"],
    ],
)
def test_every_kind_of_job_validates(job: list[str]) -> None:
    params = to_params(compose_config(job))
    assert params.analysis.ph_test is False
    if "experiment/schedule=monthly" in job:
        assert [(s.until_month, s.every_months) for s in params.monitoring.schedule.segments] == [
            (10000, 1)
        ]
        assert params.monitoring.rule.name == "loss_of_mr4"
    if "experiment=stop_timing" in job:
        assert params.cohort.tki_years.median == 10
        assert params.analysis.milestones_months == (12, 24, 60)


def test_monitoring_schedules_leave_the_patients_alone() -> None:
    from tfrsim.execution import simulate_patients
    from tfrsim.pipeline import LATENT_COLUMNS

    base = ["experiment=monitoring", "cohort.n_patients=300"]
    a = simulate_patients(to_params(compose_config([*base, "experiment/schedule=monthly"])))
    b = simulate_patients(
        to_params(
            compose_config(
                [*base, "experiment/schedule=every_3_months", "monitoring.rule.name=twister"]
            )
        )
    )
    pd.testing.assert_frame_equal(a[list(LATENT_COLUMNS)], b[list(LATENT_COLUMNS)])
    assert not a["duration_months"].equals(b["duration_months"])


def test_sweep_and_job_names_are_safe_and_distinct() -> None:
    assert sweep_name(None, ["seed=1,2", "cohort.n_patients=200"]) == sweep_name(
        None, ["cohort.n_patients=200", "seed=1,2"]
    )
    assert sweep_name("power", ["experiment=power"]) == "power/default"
    long = "monitoring.schedule.segments=[{until_month: 10000, every_months: 1}]" * 3
    name = slug(long)
    assert "/" not in name
    assert " " not in name
    assert len(name) <= 110
    assert slug(long) != slug(long.replace("10000", "20000"))
    assert slug("schedule/x=1") != slug("schedule_x=1")


def test_job_folder_hash_follows_results_not_output() -> None:
    from tfrsim.sweep.naming import job_name

    base = compose_config(["seed=1"])
    other_output = compose_config(["seed=1", "output.figures=false"])
    other_model = compose_config(["seed=1", "model.theta0=2.5"])
    name = job_name("seed=1", base)
    assert name.startswith("seed=1-")
    assert job_name("seed=1", other_output) == name
    assert job_name("seed=1", other_model) != name


def test_wilson_interval_known_values() -> None:
    # Reference values: Wilson (1927) score interval, z = 1.96.
    lower, upper = wilson_interval(np.array([0, 5, 10]), np.array([10, 10, 10]))
    assert lower == pytest.approx([0.0, 0.2366, 0.7225], abs=1e-4)
    assert upper == pytest.approx([0.2775, 0.7634, 1.0], abs=1e-4)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(np.array([3]), np.array([2]))


def _table(rows: list[dict]) -> pd.DataFrame:  # type: ignore[type-arg]
    base = {"status": "done", "group": "", "covariate": "", "month": np.nan, "p": np.nan}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_power_summary_counts_detections() -> None:
    rows = []
    for rep, p in enumerate([0.01, 0.2, 0.04, np.nan]):  # NaN: failed fit, not detected
        rows.append(
            {
                "job": rep,
                "n_patients": 100,
                "alpha": 0.05,
                "estimand": "hr",
                "covariate": "x",
                "p": p,
            }
        )
    rows.append({"job": 9, "status": "failed", "n_patients": 100, "alpha": 0.05, "estimand": ""})
    out = summarise_power(_table(rows))
    assert out[["n_replicates", "n_detected", "power"]].iloc[0].tolist() == [4, 2, 0.5]
    assert out["lower"].iloc[0] < 0.5 < out["upper"].iloc[0]


def test_stop_timing_and_monitoring_summaries() -> None:
    key = "cohort.tki_years.median"
    rows = [
        {key: y, "estimand": "mrfs", "group": "low", "month": 12.0, "value": v}
        for y, v in [(3, 0.4), (3, 0.6), (8, 0.7)]
    ]
    out = summarise_stop_timing(_table(rows))
    first = out[out["tki_years"] == 3].iloc[0]
    assert first["mean"] == pytest.approx(0.5)
    assert first["n_replicates"] == 2
    assert first["band_lower"] < 0.45
    assert first["band_upper"] > 0.55
    rows = [
        {"experiment/schedule": "monthly", "monitoring.rule.name": "stim", "estimand": "mrfs",
         "group": "all", "month": 12.0, "value": 0.5},
        {"experiment/schedule": "monthly", "monitoring.rule.name": "stim", "estimand": "mrfs",
         "group": "low", "month": 12.0, "value": 0.9},
        {"experiment/schedule": "monthly", "monitoring.rule.name": "stim",
         "estimand": "detection_delay", "value": 0.7},
    ]  # fmt: skip
    out = summarise_monitoring(_table(rows))
    assert set(out["estimand"]) == {"mrfs", "detection_delay"}
    assert out.loc[out["estimand"] == "mrfs", "mean"].tolist() == [0.5]  # group "all" only
    assert out.loc[out["estimand"] == "detection_delay", "mean"].tolist() == [0.7]


def test_summary_needs_the_swept_column() -> None:
    with pytest.raises(ValueError, match=r"no column\(s\) \['cohort.tki_years.median'\]"):
        summarise_stop_timing(_table([{"estimand": "mrfs", "value": 0.5}]))


def test_detection_delay() -> None:
    patients = pd.DataFrame(
        {
            "event": [True, True, True, False],
            "relapse_month": [2.0, 5.0, np.nan, 3.0],
            "duration_months": [3.0, 9.0, 4.0, 60.0],
        }
    )
    delay = detection_delay(patients)
    assert delay["n_detected_relapses"] == 2
    assert delay["n_events_without_relapse"] == 1
    assert delay["delay_median_months"] == pytest.approx(2.5)
    assert delay["delay_mean_months"] == pytest.approx(2.5)


def test_experiment_figures_draw(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tfrsim.plots import close_figure
    from tfrsim.plots.experiments import figure_monitoring, figure_power, figure_stop_timing

    stop = pd.DataFrame(
        {
            "tki_years": [3, 8, 3, 8],
            "group": ["low", "low", "high", "high"],
            "month": 12.0,
            "mean": [0.4, 0.6, 0.2, 0.4],
            "band_lower": 0.1,
            "band_upper": 0.8,
            "n_replicates": 5,
        }
    )
    monitoring = pd.DataFrame(
        {
            "schedule": ["monthly", "monthly", "stim", "stim"],
            "rule": ["stim", "stim", "stim", "stim"],
            "estimand": ["mrfs", "detection_delay", "mrfs", "detection_delay"],
            "month": [12.0, np.nan, 12.0, np.nan],
            "mean": [0.5, 0.4, 0.55, 1.2],
            "band_lower": 0.0,
            "band_upper": 1.0,
            "n_replicates": 3,
        }
    )
    power = pd.DataFrame(
        {
            "n_patients": [40, 100, 40, 100],
            "covariate": ["sokal_high", "sokal_high", "prior_ifn", "prior_ifn"],
            "power": [0.2, 0.5, 0.1, 0.3],
            "lower": [0.1, 0.4, 0.05, 0.2],
            "upper": [0.3, 0.6, 0.2, 0.4],
            "n_replicates": 40,
        }
    )
    for fig in (figure_stop_timing(stop), figure_monitoring(monitoring), figure_power(power)):
        assert fig.axes
        path = tmp_path / "f.png"
        fig.savefig(path)
        assert path.stat().st_size > 1000
        close_figure(fig)


def test_slurm_launcher_preset_composes() -> None:
    cfg = _compose(["experiment=power", "hydra/launcher=slurm", "hydra.launcher.partition=p"])
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.partition == "p"
    assert str(cfg.hydra.launcher.submitit_folder).startswith("results/multirun/power/default")
