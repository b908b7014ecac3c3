"""Parameter uncertainty: the Laplace step, the stored draws and their loader."""

import json
from pathlib import Path

import numpy as np
import pytest

from tfrsim.calibration.posterior import (
    PosteriorError,
    PosteriorRun,
    central_hessian,
    check_hessian,
    emcee_draws,
    gaussian_draws,
    laplace,
    model_provenance,
    provenance_objective,
    summary_lines,
)
from tfrsim.calibration.targets import load_targets
from tfrsim.config.compose import CALIBRATION_TRIALS, load_params, trial_designs
from tfrsim.draws import (
    DrawsError,
    PosteriorDraws,
    apply_values,
    draw_index,
    load_draws,
    model_value,
)

A = np.array([[4.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])


def test_laplace_covariance_of_a_quadratic_is_exact() -> None:
    """Catches a wrong factor in covariance = 2 H^-1 (the objective is -2 log L) or a
    wrong finite-difference formula: f = (x-m)' A (x-m) has posterior covariance A^-1."""
    m = np.array([0.3, -1.0, 2.0])

    def f(x: np.ndarray) -> float:
        return float((x - m) @ A @ (x - m)) + 5.0

    lap = laplace(f, m, ["a", "b", "c"])
    np.testing.assert_allclose(lap.covariance, np.linalg.inv(A), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(lap.sd_ratio, 1.0, rtol=1e-8)
    np.testing.assert_allclose(central_hessian(f, m, np.full(3, 0.5)), 2 * A, rtol=1e-9)


def test_flat_and_indefinite_objectives_are_refused() -> None:
    """Catches a Laplace step that silently returns a covariance for a parameter the
    targets do not pin down (flat direction) or at a saddle (not positive definite)."""

    def flat(x: np.ndarray) -> float:
        return float(x[0] ** 2)  # nothing depends on x[1]

    with pytest.raises(PosteriorError, match=r"hardly changes along \['b'\].*--fix b"):
        laplace(flat, np.zeros(2), ["a", "b"])
    with pytest.raises(PosteriorError, match="not positive definite"):
        check_hessian(np.array([[1.0, 2.0], [2.0, 1.0]]), ["a", "b"])
    with pytest.raises(PosteriorError, match="ill conditioned"):
        check_hessian(np.array([[1.0, 0.99999], [0.99999, 1.0]]), ["a", "b"])


def _draws(values: np.ndarray, centre: dict[str, float]) -> PosteriorDraws:
    return PosteriorDraws(
        path=None,
        model="calibrated",
        model_name="clonal",
        parameters=tuple(centre),
        centre=centre,
        values=values,
        provenance={"method": "test", "model_yaml_sha256": "x"},
    )


def test_draws_reproducible_byte_for_byte(tmp_path: Path) -> None:
    """Catches draws that depend on anything but the seed (global RNG state, order of
    calls): the same seed must give the same file, bit for bit; another seed differs."""
    cov = np.linalg.inv(A)
    a = gaussian_draws(np.zeros(3), cov, 50, seed=3)
    b = gaussian_draws(np.zeros(3), cov, 50, seed=3)
    c = gaussian_draws(np.zeros(3), cov, 50, seed=4)
    centre = {"a": 0.0, "b": 0.0, "c": 0.0}
    assert _draws(a, centre).to_json() == _draws(b, centre).to_json()
    assert not np.array_equal(a, c)
    path = tmp_path / "x.draws.json"
    path.write_text(_draws(a, centre).to_json())
    back = load_draws(path)
    np.testing.assert_array_equal(back.values, a)  # JSON keeps every bit of a float
    # Large-sample check of the covariance (10,000 draws: SE of each entry ~1-2 %).
    big = gaussian_draws(np.zeros(3), cov, 10_000, seed=1)
    np.testing.assert_allclose(np.cov(big.T), cov, atol=0.05)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "is missing"),
        ("{not json", "is not valid JSON"),
        ('{"format": "tfrsim-posterior-draws"}', "lacks the key"),
        ("__bad_shape__", "holds draws of shape"),
        ("__nan__", "non-finite"),
    ],
)
def test_missing_or_corrupt_draws_file_names_it(tmp_path: Path, text: str, problem: str) -> None:
    """Catches a loader that crashes with a bare KeyError/JSON error or accepts a
    damaged file: the error must name the file, what is wrong and how to recreate it."""
    path = tmp_path / "calibrated.draws.json"
    good = json.loads(_draws(np.ones((3, 2)), {"a": 1.0, "b": 1.0}).to_json())
    if text == "__bad_shape__":
        good["draws"] = [[1.0], [2.0]]
        text = json.dumps(good)
    elif text == "__nan__":
        text = json.dumps(good).replace("[1.0, 1.0]", "[NaN, 1.0]", 1)
    if text is not None:
        path.write_text(text)
    with pytest.raises(DrawsError, match=problem) as info:
        load_draws(path)
    assert str(path) in str(info.value)
    assert "tfrsim.calibration.posterior" in str(info.value)


def test_stale_draws_are_refused(tmp_path: Path) -> None:
    """Catches draws of an older calibration being used after a recalibration: the
    model YAML's hash recorded in the provenance must match the file."""
    yaml_path = tmp_path / "calibrated.yaml"
    yaml_path.write_text("theta0: 1.0\n")
    path = tmp_path / "calibrated.draws.json"
    path.write_text(_draws(np.ones((3, 1)), {"a": 1.0}).to_json())
    with pytest.raises(DrawsError, match="recalibrated"):
        load_draws(path, model_yaml=yaml_path)


def test_apply_values_nested_and_unknown() -> None:
    """Catches a draw applied to the wrong field (effects.* are nested) or silently
    ignored when the model has no such parameter."""
    model = load_params(["model=calibrated"]).model
    moved = apply_values(model, {"theta0": 2.5, "effects.prior_ifn": -0.4})
    assert model_value(moved, "theta0") == 2.5
    assert model_value(moved, "effects.prior_ifn") == -0.4
    assert moved.latency_sigma == model.latency_sigma
    with pytest.raises(DrawsError, match="no parameter 'nope'"):
        apply_values(model, {"nope": 1.0})


def test_draw_index_deterministic_and_spread() -> None:
    """Catches a replicate's draw that is not reproducible from (seed, replicate), or
    replicates that all use the same draw."""
    picks = [draw_index(200, seed=5, replicate=r) for r in range(100)]
    assert picks == [draw_index(200, seed=5, replicate=r) for r in range(100)]
    assert len(set(picks)) > 50
    assert all(0 <= p < 200 for p in picks)


def test_emcee_option_reproducible_and_roughly_right() -> None:
    """Catches a sampler option that is not seeded through the named streams (two runs
    differ) or samples the wrong density (exp(-f/2), not exp(-f))."""
    pytest.importorskip("emcee")

    def f(x: np.ndarray) -> float:
        return float(x @ A[:2, :2] @ x)

    a, info = emcee_draws(f, np.zeros(2), np.ones(2), 400, 1, steps=1500, burn=300)
    b, _ = emcee_draws(f, np.zeros(2), np.ones(2), 400, 1, steps=1500, burn=300)
    np.testing.assert_array_equal(a, b)
    target = np.linalg.inv(A[:2, :2])
    np.testing.assert_allclose(np.diag(np.cov(a.T)), np.diag(target), rtol=0.35)
    assert 0.2 < info["acceptance"] < 0.9


def test_emcee_prior_keeps_a_flat_direction_proper() -> None:
    """Catches the sampler's weak prior ignored (the flat direction drifts: SD far above
    1), applied with the wrong factor (exp(-((x-m)/sd)^2), SD 0.71) or at the wrong
    centre: the objective pins x0 (SD 0.5) and says nothing about x1; with a N(2, 1)
    prior on x1 the draws have x1 mean 2 and SD 1, x0 SD 0.5. Tolerances from the
    chain's effective sample size (emcee's autocorrelation time): 4 SE of a mean, and
    of an SD (SD / sqrt(2 n_eff))."""
    pytest.importorskip("emcee")

    def f(x: np.ndarray) -> float:
        return float((x[0] / 0.5) ** 2)

    draws, info = emcee_draws(
        f,
        np.zeros(2),
        np.ones(2),
        2000,
        3,
        steps=3000,
        burn=500,
        prior_mean=np.array([0.0, 2.0]),
        prior_sd=np.array([np.inf, 1.0]),
    )
    n_eff = info["effective_samples"]
    assert n_eff > 200, info
    assert abs(draws[:, 1].mean() - 2.0) < 4 * 1.0 / np.sqrt(n_eff)
    assert abs(draws[:, 1].std() - 1.0) < 4 * 1.0 / np.sqrt(2 * n_eff)
    assert abs(draws[:, 0].std() - 0.5) < 4 * 0.5 / np.sqrt(2 * n_eff)


def test_base_priors_are_weak_and_leave_published_effects_to_the_objective() -> None:
    """Catches a second prior on an effect that already has its published prior in the
    objective (counted twice), or weak priors centred away from the start values."""
    from tfrsim.calibration.objective import search_value
    from tfrsim.calibration.posterior import BASE_PRIOR_SD, base_priors
    from tfrsim.config.compose import load_params

    model = load_params(["model=clonal"]).model
    names = ["theta0", "growth_rate_per_month", "effects.prior_ifn", "effects.tki_per_year"]
    mean, sd = base_priors(names, model)
    assert mean.tolist() == [search_value(model, n) for n in names]
    assert sd.tolist() == [BASE_PRIOR_SD, BASE_PRIOR_SD, np.inf, np.inf]


def test_installed_draws_belong_to_the_installed_model() -> None:
    """Catches a recalibrated default model shipped with the draws of the previous one
    (rerun `python -m tfrsim.calibration.posterior` after `tfrsim-calibrate
    install=true`), or draws that no longer apply to the model's parameters."""
    from tfrsim.draws import installed_draws, matches_centre

    draws = installed_draws("calibrated")
    params = load_params(["model=calibrated"])
    assert matches_centre(draws, params.model_name, params.model)
    assert draws.n_draws >= 100
    for i in (0, draws.n_draws - 1):
        apply_values(params.model, draws.draw(i))  # every draw is a valid model


def test_predict_cli_names_a_missing_draws_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Catches tfrsim-predict failing with a traceback instead of exit status 2 and a
    message naming the missing draws file."""
    from tfrsim.predict_cli import main

    missing = tmp_path / "none.draws.json"
    with pytest.raises(SystemExit) as info:
        main(["trial=twister", "--draws", str(missing), "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert str(missing) in capsys.readouterr().err


def test_posterior_objective_keeps_the_extra_targets_of_the_fit() -> None:
    """Catches a posterior sampled on a different likelihood than the fit minimised:
    a model fitted with extra targets (recorded in its provenance by tfrsim-calibrate)
    gets an objective that scores them (their rows in the residual table), and a model
    whose provenance records none gets an objective without them."""
    targets = load_targets()
    designs = trial_designs(CALIBRATION_TRIALS)
    for option, expected in (
        ("calibrated", {"nonrelapsers_with_positive", "restart_share_no_mmr_loss"}),
        ("clonal_calibrated", set()),
    ):
        prov = model_provenance(option)
        model = load_params([f"model={option}"]).model
        names = list(prov["fitted_parameters"])[:1]
        objective = provenance_objective(prov, targets, model, names, 200, 1, designs)
        assert set(objective.extra_targets) == set(prov.get("extra_targets") or [])
        table = objective.evaluate(objective.start()).residuals
        found = set(table["quantity"]) & {
            "nonrelapsers_with_positive",
            "restart_share_no_mmr_loss",
        }
        assert found == expected, option


def test_laplace_summary_with_held_parameters() -> None:
    """Catches the printed Laplace summary pairing its step-ratio diagnostics with the
    wrong parameters (or failing) when parameters are held at their estimate: held
    parameters are stored as constant columns after the sampled ones, and only the
    sampled ones have a step ratio. Here the objective is exactly quadratic except
    along ``b``, which is quartic: only ``b`` may be flagged."""
    m = np.array([0.3, -1.0, 2.0])

    def f(x: np.ndarray) -> float:
        d = x - m
        return float(d @ A @ d + 40.0 * d[1] ** 4)

    lap = laplace(f, m, ["a", "b", "c"])
    values = np.column_stack([gaussian_draws(m, lap.covariance, 20, seed=1), np.full(20, 7.0)])
    draws = PosteriorDraws(
        path=None,
        model="calibrated",
        model_name="clonal",
        parameters=("a", "b", "c", "held"),
        centre={"a": 0.3, "b": -1.0, "c": 2.0, "held": 7.0},
        values=values,
        provenance={
            "method": "laplace",
            "model_yaml_sha256": "x",
            "step_ratio": 2.0,
            "fixed_at_estimate": ["held"],
        },
    )
    text = "\n".join(summary_lines(PosteriorRun(draws=draws, laplace=lap)))
    warning = [line for line in text.splitlines() if line.startswith("WARNING")]
    assert len(warning) == 1, text
    assert "['b']" in warning[0], warning[0]


def test_sampler_treats_parameters_outside_the_model_as_impossible() -> None:
    """Catches the sampler stopping with a ConfigError when a walker steps outside the
    model's support (theta0 above the simulator's cap stopped the first sampling of
    model v2 after 20 minutes): such a point has probability 0, the walker stays put,
    and no draw lies outside the support."""
    from tfrsim.calibration.posterior import emcee_draws
    from tfrsim.checks import ConfigError

    def f(x: np.ndarray) -> float:
        if x[0] > 0.3:
            raise ConfigError("theta0", "must be <= 8 clones per patient", x[0])
        return float(np.sum(x**2))

    draws, info = emcee_draws(f, np.zeros(2), np.ones(2), 20, 3, steps=60, burn=20)
    assert draws.shape == (20, 2)
    assert np.all(draws[:, 0] <= 0.3)
    assert 0 < info["acceptance"] < 1
