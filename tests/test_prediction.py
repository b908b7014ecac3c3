"""Predicting a trial with parameter uncertainty; uncertainty=posterior in studies."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tfrsim
import tfrsim.draws
from tfrsim.analysis import survival_at
from tfrsim.checks import ConfigError
from tfrsim.config.compose import load_params
from tfrsim.draws import PosteriorDraws, draw_index, model_value
from tfrsim.output.run import summary
from tfrsim.predict_api import write_prediction
from tfrsim.prediction import grouped_survival_at, predict_trial

NAMES = ("theta0", "latency_sigma", "effects.prior_ifn")


@pytest.fixture(scope="module")
def fake_draws() -> PosteriorDraws:
    """Draws around the calibrated model (log-SD 0.15 for the positive parameters)."""
    params = load_params(["model=calibrated"])
    model = params.model
    centre = {n: model_value(model, n) for n in NAMES}
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20, 3))
    values = np.column_stack(
        [
            centre["theta0"] * np.exp(0.15 * z[:, 0]),
            centre["latency_sigma"] * np.exp(0.15 * z[:, 1]),
            centre["effects.prior_ifn"] + 0.2 * z[:, 2],
        ]
    )
    return PosteriorDraws(
        None, "calibrated", params.model_name, NAMES, centre, values, {"method": "t"}
    )


def test_grouped_km_equals_survival_at() -> None:
    """Catches a vectorised KM that mixes groups, mishandles ties (events before
    censorings at one time) or a group whose survival reaches 0."""
    rng = np.random.default_rng(3)
    t = np.round(rng.exponential(8.0, 3000))
    e = rng.random(3000) < 0.85
    g = rng.integers(0, 40, 3000)
    months = [0, 0.5, 1, 3, 8, 20, 50]
    got = grouped_survival_at(t, e, g, 40, months)
    want = np.array([survival_at(t[g == k], e[g == k], months) for k in range(40)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert (got == 0).any()


def test_prediction_interval_wider_and_shrinks_with_trial_size(
    fake_draws: PosteriorDraws,
) -> None:
    """Catches a prediction interval that omits sampling (not wider than the parameter
    interval for a small trial) or double-counts it (does not shrink to the parameter
    interval for a trial as large as the simulated cohort)."""
    design = load_params(["trial=stim2"])
    kw = {"n_large": 1500, "n_draws": 12, "seed": 11, "threads": 1}
    small = predict_trial(design, fake_draws, n_trial=50, **kw).table
    large = predict_trial(design, fake_draws, n_trial=1500, **kw).table
    mrfs = small["quantity"] == "mrfs"
    pi_small = (small["pi_upper"] - small["pi_lower"])[mrfs].to_numpy()
    param = (small["param_upper"] - small["param_lower"])[mrfs].to_numpy()
    pi_large = (large["pi_upper"] - large["pi_lower"])[mrfs].to_numpy()
    assert np.all(pi_small > param)
    assert np.all(pi_small > 1.5 * pi_large)
    # Same patients: the expectation does not depend on the trial size.
    np.testing.assert_array_equal(small["expectation"], large["expectation"])
    # At n_trial = n_large the PI is the draws' raw spread: the parameter interval plus
    # its (subtracted) Monte-Carlo part, so between 1 and ~1.5 times it.
    assert np.all(pi_large >= param - 1e-12)
    assert np.all(pi_large < 1.6 * param + 0.02)
    assert small.loc[mrfs, "sd_mc"].between(0.0, 0.03).all()


def test_same_seed_byte_identical_prediction_files(
    tmp_path: Path, fake_draws: PosteriorDraws
) -> None:
    """Catches randomness outside the named streams (or thread-order dependence): the
    same seed must write byte-identical prediction.csv and prediction.json."""
    kw = {"draws": fake_draws, "n_large": 400, "n_draws": 6, "seed": 5}
    a = tfrsim.predict(["trial=twister"], **kw)
    b = tfrsim.predict(["trial=twister"], **kw)
    c = tfrsim.predict(["trial=twister"], **{**kw, "seed": 6})
    for name, result in (("a", a), ("b", b), ("c", c)):
        (tmp_path / name).mkdir()
        write_prediction(result, tmp_path / name)
    for f in ("prediction.csv", "prediction.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
        assert (tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes()
    assert a.published is not None
    assert set(a.published["month"]) == {24.0}
    assert "inside" in pd.read_csv(tmp_path / "a" / "prediction.csv").columns


README = Path(__file__).resolve().parent.parent / "README.md"
#: This checkout's sources, for the subprocess (whatever tfrsim is installed).
SRC = Path(tfrsim.__file__).resolve().parent.parent


def test_predict_user_yaml_without_published_points(
    tmp_path: Path, fake_draws: PosteriorDraws
) -> None:
    """Catches a tfrsim-predict that cannot compose a user's trial YAML (its folder must
    be added to the packaged search path, not replace it) or that needs published
    points."""
    import re

    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- custom-trial-yaml: (.*?) -->\s*```\w*\n(.*?)```", text, flags=re.S)
    assert match
    target = tmp_path / match.group(1)
    target.parent.mkdir(parents=True)
    target.write_text(match.group(2), encoding="utf-8")
    draws = tmp_path / "d.draws.json"
    draws.write_text(fake_draws.to_json())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfrsim.predict_cli",
            "--config-dir",
            "my_conf",
            "trial=euroski_like",
            "--draws",
            str(draws),
            "--n-draws",
            "3",
            "--n-large",
            "800",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(SRC)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "euroski_like: n = 750" in proc.stdout
    for f in ("prediction.csv", "prediction.json", "prediction.png"):
        assert (tmp_path / "out" / f).is_file()


def test_uncertainty_posterior(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_draws: PosteriorDraws
) -> None:
    """Catches replicates that ignore their draw, draw non-reproducibly, do not record
    it in summary.json, or a model without draws accepted with uncertainty=posterior."""
    (tmp_path / "calibrated.draws.json").write_text(fake_draws.to_json())
    monkeypatch.setattr(tfrsim.draws, "MODEL_DIR", tmp_path)
    params = load_params(["uncertainty=posterior", "cohort.n_patients=200", "replicate=3"])
    assert params.posterior_draw is None
    result = tfrsim.run_study(params, keep_visits=0)
    index = draw_index(fake_draws.n_draws, params.seed, 3)
    assert result.params.posterior_draw == index
    for name, value in fake_draws.draw(index).items():
        assert model_value(result.params.model, name) == value
    record = summary(result)
    assert record["uncertainty"] == "posterior"
    assert record["posterior_draw"] == index
    with pytest.raises(ConfigError, match="needs stored parameter draws"):
        load_params(["uncertainty=posterior", "model=clonal"])
    assert "posterior_draw" not in summary(
        tfrsim.run_study(load_params(["cohort.n_patients=200"]), keep_visits=0)
    )


def test_given_draws_must_belong_to_the_trials_model(
    tmp_path: Path, fake_draws: PosteriorDraws, capsys: pytest.CaptureFixture[str]
) -> None:
    """Catches draws given with ``--draws`` applied to a model they were not made for:
    another registered model, a drawn parameter the model lacks, or a model whose
    parameters the draws do not replace differ from those the draws were sampled with
    (e.g. leave-one-out draws of a fit started from ``calibrated`` predicted with
    ``model=immune``, its uncalibrated start). The parameters that must be named are
    read independently from the calibrated model's YAML: its fitted parameters (where
    it differs from ``immune.yaml``) minus the drawn ones. Each refusal comes before any simulation,
    and the command exits 2 naming the file."""
    import ast
    import dataclasses

    from omegaconf import OmegaConf

    from tfrsim.draws import MODEL_DIR, DrawsError

    with pytest.raises(DrawsError, match="holds draws of a 'clonal' model"):
        tfrsim.predict(
            ["trial=twister"], draws=dataclasses.replace(fake_draws, model_name="clonal")
        )
    alien = dataclasses.replace(
        fake_draws,
        parameters=("theta0", "latency_sigma", "cure_fraction"),
        centre={"theta0": 1.0, "latency_sigma": 1.0, "cure_fraction": 0.2},
    )
    with pytest.raises(DrawsError, match="'cure_fraction', which is not a numeric"):
        tfrsim.predict(["trial=twister"], draws=alien)
    fitted = OmegaConf.load(MODEL_DIR / "calibrated.yaml").provenance.fitted_parameters
    expected = sorted(set(fitted) - set(NAMES))
    with pytest.raises(DrawsError, match="differs from it") as info:
        tfrsim.predict(["trial=twister", "model=immune"], draws=fake_draws)
    named = str(info.value).split("replace: ")[1].split("]")[0] + "]"
    assert sorted(ast.literal_eval(named)) == expected
    path = tmp_path / "x.draws.json"
    path.write_text(fake_draws.to_json())
    from tfrsim.predict_cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["trial=twister", "model=immune", "--draws", str(path), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "model=calibrated" in err
    assert not (tmp_path / "o").exists()
