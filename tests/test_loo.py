"""Leave-one-trial-out through tfrsim-predict (``tfrsim-calibrate ... loo.draws=true``)."""

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

import tfrsim
from tfrsim.analysis import survival_at
from tfrsim.calibration.fit import CalibrationResult
from tfrsim.calibration.loo import LOO_DRAWS, PREDICTION_FOLDER, loo_objective, loo_posterior
from tfrsim.calibration.objective import Objective, search_value
from tfrsim.calibration.params import CalibrateParams, LooParams
from tfrsim.calibration.targets import load_targets
from tfrsim.checks import ConfigError
from tfrsim.config.compose import CALIBRATION_TRIALS, load_params, trial_designs
from tfrsim.draws import PosteriorDraws, apply_values, load_draws, model_value
from tfrsim.execution import simulate

#: This checkout's sources, for the subprocess (whatever tfrsim is installed).
SRC = Path(tfrsim.__file__).resolve().parent.parent
#: A tiny leave-one-out run: TWISTER left out, three parameters fitted, one held.
FITTED = ("theta0", "latency_sigma", "effects.prior_ifn")
DRAWN = ("theta0", "latency_sigma")
HELD = "effects.prior_ifn"
N_DRAWS, N_LARGE = 10, 200


@pytest.fixture(scope="module")
def loo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tfrsim-calibrate leave_out=twister loo.draws=true`` at tiny sizes; its folder."""
    folder = tmp_path_factory.mktemp("loo") / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tfrsim.calibration.cli import calibrate_main; calibrate_main()",
            "start_model=clonal_calibrated",
            f"fit=[{','.join(FITTED)}]",
            "extra_targets=[]",
            "n_per_trial=300",
            "max_evaluations=30",
            "restarts=0",
            "leave_out=twister",
            "report.n_patients=500",
            "loo.draws=true",
            f"loo.n_draws={N_DRAWS}",
            "loo.mcmc_steps=4",
            "loo.mcmc_burn=2",
            "loo.fix=[effects.prior_ifn]",
            f"loo.n_large={N_LARGE}",
            f"hydra.run.dir={folder}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(SRC)},
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "published points inside the 95% prediction interval" in proc.stdout
    assert f"tfrsim-predict trial=twister model=clonal_calibrated --draws {folder / LOO_DRAWS}" in (
        proc.stdout
    )
    return folder


def test_loo_draws_written_loadable_and_centred_at_the_fit(loo_run: Path) -> None:
    """Catches draws not written or not loadable by ``tfrsim-predict`` (load_draws), draws
    centred at the start model instead of the leave-one-out fit, a held parameter drawn
    anyway or lost (applied to the start model, the prediction would use the start
    model's value, fitted with the left-out trial), or provenance that does not say
    which trial was left out. The centre is
    compared with the fit's own ``calibrated_model.yaml`` (written by another path) and
    with the start model ``conf/model/clonal_calibrated.yaml`` it must have moved away
    from."""
    draws = load_draws(loo_run / LOO_DRAWS)
    assert (draws.model, draws.model_name) == ("clonal_calibrated", "clonal")
    assert draws.parameters == (*DRAWN, HELD)
    assert draws.n_draws == N_DRAWS
    fit = OmegaConf.load(loo_run / "calibrated_model.yaml")
    start = load_params(["model=clonal_calibrated"]).model
    for name in DRAWN:
        assert draws.centre[name] == pytest.approx(float(fit[name]), rel=1e-12)
    # The held parameter travels at the fit's value, not the start model's.
    held = draws.values[:, draws.parameters.index(HELD)]
    assert np.all(held == pytest.approx(float(fit.effects.prior_ifn), rel=1e-12))
    assert held[0] != pytest.approx(model_value(start, HELD), rel=1e-6)
    assert draws.centre["theta0"] != pytest.approx(model_value(start, "theta0"), rel=1e-6)
    prov = draws.provenance
    assert prov["objective"]["leave_out"] == "twister"
    assert prov["objective"]["trials"] == ["stim1", "stim2"]
    assert prov["fixed_at_estimate"] == [HELD]
    fit_bytes = (loo_run / "calibrated_model.yaml").read_bytes()
    assert prov["fit_yaml_sha256"] == hashlib.sha256(fit_bytes).hexdigest()
    assert not any(line.startswith("twister") for line in prov["objective"]["fitted_to"])


def test_loo_prediction_uses_the_loo_draws(loo_run: Path, tmp_path: Path) -> None:
    """Catches a left-out prediction that ignores the leave-one-out draws (e.g. the
    installed draws of the joint fit, or the point estimate): the expected MRFS at 24
    months in prediction.csv must equal the mean, over the draws in loo.draws.json, of
    the Kaplan-Meier estimate of TWISTER simulated directly (simulate + survival_at, not
    tfrsim.prediction) with each draw applied to the calibrated model, at the same
    streams (seed of the trial, replicate = draw position). Also catches the documented
    re-run (``tfrsim-predict ... --draws``) not reproducing the files byte for byte."""
    draws = load_draws(loo_run / LOO_DRAWS)
    design = load_params(["trial=twister", "model=clonal_calibrated"])
    base = design.model
    values = []
    for i in range(draws.n_draws):
        params = dataclasses.replace(
            design,
            model=apply_values(base, draws.draw(i)),
            replicate=i,
            cohort=dataclasses.replace(design.cohort, n_patients=N_LARGE),
        )
        patients = simulate(params).patients
        t = patients["duration_months"].to_numpy(dtype=float)
        e = patients["event"].to_numpy(dtype=bool)
        values.append(survival_at(t, e, [24.0])[0])
    table = pd.read_csv(loo_run / PREDICTION_FOLDER / "prediction.csv")
    row = table[(table["quantity"] == "mrfs") & (table["month"] == 24.0)].iloc[0]
    assert row["expectation"] == pytest.approx(np.mean(values), abs=1e-9)
    assert row["published"] == pytest.approx(0.471)
    assert np.isfinite(row["z"])
    from tfrsim.predict_cli import main

    main(
        [
            "trial=twister",
            "model=clonal_calibrated",
            "--draws",
            str(loo_run / LOO_DRAWS),
            "--n-large",
            str(N_LARGE),
            "--out",
            str(tmp_path / "again"),
        ]
    )
    for name in ("prediction.csv", "prediction.json"):
        again = (tmp_path / "again" / name).read_bytes()
        assert again == (loo_run / PREDICTION_FOLDER / name).read_bytes(), name
    assert (loo_run / PREDICTION_FOLDER / "prediction.png").is_file()


def test_loo_posterior_samples_the_leave_one_out_objective(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Catches the posterior of a leave-one-out fit sampled on the full objective (the
    left-out trial scored again) or with weak priors centred at the estimate. The
    function handed to the sampler must equal the full objective minus the left-out
    trial's milestone terms, read from the full objective's own residual table (STIM2
    scores nothing else when no extra targets are used); the prior means must be the
    uncalibrated ``clonal.yaml`` values."""
    import tfrsim.calibration.posterior as posterior

    captured: dict[str, Any] = {}

    def fake_emcee(f: Any, centre: np.ndarray, scale: np.ndarray, n: int, seed: int, **kw: Any):
        captured.update(f=f, centre=centre, **kw)
        info = {"walkers": 8, "steps": 2, "burn": 1, "acceptance": 0.5}
        return np.tile(centre, (n, 1)), {**info, "autocorr_steps": [1.0], "effective_samples": 8}

    monkeypatch.setattr(posterior, "emcee_draws", fake_emcee)
    targets = load_targets()
    designs = trial_designs(CALIBRATION_TRIALS, ["model=clonal_calibrated"])
    model = load_params(["model=clonal_calibrated"]).model
    names = ("theta0", "growth_rate_per_month")
    result = SimpleNamespace(names=names, model=model, extra_targets=(), leave_out="stim2")
    objective = loo_objective(
        cast(CalibrationResult, result), targets, designs, n_per_trial=300, seed=4
    )
    fit_yaml = tmp_path / "calibrated_model.yaml"
    fit_yaml.write_text("theta0: 1.0\n")
    run = loo_posterior(
        objective,
        LooParams(draws=True, n_draws=5),
        start_model="clonal_calibrated",
        fitted_to=[],
        fit_yaml=fit_yaml,
    )
    assert isinstance(run.draws, PosteriorDraws)
    assert run.draws.provenance["objective"]["leave_out"] == "stim2"
    full = Objective(targets, model, names, 300, 4, designs)
    x0 = np.array([search_value(model, n) for n in names])
    for x in (x0, x0 + np.array([0.3, -0.2])):
        ev = full.evaluate(x)
        stim2 = ev.residuals[(ev.residuals["trial"] == "stim2")]
        assert set(stim2["quantity"]) == {"mrfs"}
        expected = ev.objective - float(stim2["term"].sum())
        assert captured["f"](x) == pytest.approx(expected, rel=1e-12)
        assert abs(captured["f"](x) - ev.objective) > 1e-6
    clonal = load_params(["model=clonal"]).model
    assert captured["prior_mean"].tolist() == [search_value(clonal, n) for n in names]
    np.testing.assert_array_equal(captured["centre"], x0)


@pytest.mark.parametrize(
    ("loo", "leave_out", "message"),
    [
        ({"draws": True}, None, "needs leave_out"),
        ({"draws": True, "fix": ("growth_sigma",)}, "stim2", r"loo.fix\[0\]. must be one of fit"),
        ({"draws": True, "fix": ("theta0", "latency_sigma")}, "stim2", "leaves no fitted"),
        ({"draws": True, "mcmc_steps": 20, "mcmc_burn": 10}, "stim2", "keeps 80 samples"),
    ],
)
def test_loo_settings_refused_before_any_work(
    loo: dict[str, Any], leave_out: str | None, message: str
) -> None:
    """Catches ``loo.*`` settings that would fail (or silently do nothing) only after the
    fit: draws without a left-out trial, held parameters that are not fitted or leave
    nothing to draw, and a chain too short for the draws asked (8 walkers x 10 kept
    steps = 80 < 200)."""
    with pytest.raises(ConfigError, match=message):
        CalibrateParams(
            start_model="clonal_calibrated",
            fit=("theta0", "latency_sigma"),
            n_per_trial=100,
            seed=1,
            max_evaluations=100,
            leave_out=leave_out,
            loo=LooParams(**loo),
        )
    with pytest.raises(ConfigError, match="must be below mcmc_steps"):
        LooParams(mcmc_steps=10, mcmc_burn=10)
