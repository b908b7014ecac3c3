"""Parameter uncertainty of a calibrated model: posterior draws by emcee's ensemble
sampler (the default) or the Laplace approximation, stored as a fixed set of parameter
draws beside the model.

**Sampler (default).** Draws from exp(−f/2) × weak priors (:func:`emcee_draws`,
:func:`base_priors`), f the calibration objective. It needs no optimum and no
quadratic form, which matters here: on synthetic targets (the honesty check,
:mod:`tfrsim.calibration.sbc`) the Laplace intervals covered the true MRFS milestones
only 42-48 % of the time against 95 % nominal (K = 30-50; the sampler 92.5 % with an
objective at 5,000 patients per trial, K = 20), because the objective is not
quadratic along the θ₀–σ_α ridge and its curvature at small steps is inflated by its
Monte-Carlo roughness.

**Laplace** (``--method laplace``: fast, kept for comparison and quick looks).

The calibration objective is minus twice a log-likelihood of the published summaries
plus priors (:mod:`tfrsim.calibration.objective`), so near its optimum x̂ (search
scale: log for positive parameters)

    f(x) ≈ f(x̂) + ½ (x − x̂)ᵀ H (x − x̂),     posterior ∝ exp(−f / 2)  ⇒  x ~ N(x̂, 2 H⁻¹).

H is estimated by central finite differences under common random numbers (the
objective's fixed seed: between two evaluations only the parameters change). Steps are
chosen per parameter so that one step raises the objective by about ``rise`` (1 unit:
about one conditional posterior SD), far above the objective's Monte-Carlo roughness;
the Hessian is computed again with steps ``step_ratio`` times larger and the two
covariances are compared (the check that Monte-Carlo noise in the second differences is
small). The Hessian must be positive definite and well conditioned (condition number
of its correlation form); otherwise the step refuses, naming the weakest direction,
and suggests ``--fix`` (hold unidentified parameters at their estimates) or
``--method emcee``.

One command (re)creates the packaged draws of the installed model::

    python -m tfrsim.calibration.posterior          # or: tfrsim-posterior

It reads ``conf/model/calibrated.yaml`` and its ``provenance`` (fitted parameters,
seed, patients per trial), so it works for any calibrated model, and writes
``conf/model/calibrated.draws.json`` (see :mod:`tfrsim.draws`).
"""

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from omegaconf import OmegaConf

from tfrsim._version import __version__
from tfrsim.calibration.objective import (
    EFFECT_PRIORS,
    Objective,
    model_name_of,
    search_value,
    with_parameters,
)
from tfrsim.calibration.targets import Targets, load_targets
from tfrsim.checks import ConfigError
from tfrsim.config.compose import CALIBRATION_TRIALS, load_params, trial_designs
from tfrsim.draws import (
    MODEL_DIR,
    PosteriorDraws,
    draws_path,
    model_value,
    model_yaml_hash,
)
from tfrsim.files import write_text
from tfrsim.jsonsafe import json_safe
from tfrsim.random import stream

log = logging.getLogger("tfrsim")

#: Largest condition number accepted for the Hessian's correlation form
#: D^-1/2 H D^-1/2 (D = diag H): beyond it some combination of parameters is not
#: pinned down by the targets and the Gaussian approximation is meaningless.
MAX_CONDITION = 1e4
#: SD ratio between the two step sizes beyond which the CLI warns.
SD_RATIO_WARN = 1.5
#: SD on the search scale of the weakly informative prior the sampler puts on each fitted
#: parameter that has no published prior (:data:`EFFECT_PRIORS` enter the objective
#: itself), centred at its pre-calibration value (ASSUMPTION: 1.0, a factor e either way
#: at one SD on a positive parameter; it only keeps unidentified directions proper).
BASE_PRIOR_SD = 1.0
#: Default number of stored draws.
N_DRAWS = 200

Function = Callable[[NDArray[np.float64]], float]


def n_walkers(k: int) -> int:
    """emcee walkers for ``k`` parameters: 2k + 2, at least 8 (emcee needs more than 2k;
    ASSUMPTION: the margin and the floor keep the stretch move mixing at small k)."""
    return max(2 * k + 2, 8)


class PosteriorError(ValueError):
    """The Laplace approximation cannot be trusted here (the message says why)."""


class CachedFunction:
    """``f`` with its values remembered by argument (the objective is deterministic
    under common random numbers, so a repeated point costs nothing)."""

    def __init__(self, f: Function) -> None:
        self.f = f
        self.cache: dict[bytes, float] = {}

    def __call__(self, x: NDArray[np.float64]) -> float:
        key = np.asarray(x, dtype=float).tobytes()
        if key not in self.cache:
            self.cache[key] = float(self.f(np.asarray(x, dtype=float)))
        return self.cache[key]

    @property
    def evaluations(self) -> int:
        """Distinct points evaluated."""
        return len(self.cache)


def central_hessian(
    f: Function, x: NDArray[np.float64], steps: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Hessian of ``f`` at ``x`` by central differences with per-coordinate ``steps``.

    Diagonal: (f(x+hᵢ) − 2f(x) + f(x−hᵢ)) / hᵢ²; off-diagonal: (f(++) − f(+−) − f(−+) +
    f(−−)) / (4 hᵢ hⱼ). 1 + 2k + 2k(k−1) evaluations for k parameters.
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    e = np.eye(k) * np.asarray(steps, dtype=float)
    f0 = f(x)
    h = np.empty((k, k))
    for i in range(k):
        h[i, i] = (f(x + e[i]) - 2.0 * f0 + f(x - e[i])) / steps[i] ** 2
        for j in range(i):
            value = (
                f(x + e[i] + e[j]) - f(x + e[i] - e[j]) - f(x - e[i] + e[j]) + f(x - e[i] - e[j])
            ) / (4.0 * steps[i] * steps[j])
            h[i, j] = h[j, i] = value
    return h


def choose_steps(
    f: Function,
    x: NDArray[np.float64],
    names: Sequence[str],
    *,
    rise: float = 1.0,
    start: float = 0.1,
    max_step: float = 2.0,
    iterations: int = 8,
) -> tuple[NDArray[np.float64], list[str]]:
    """Per-coordinate steps raising ``f`` by about ``rise`` (mean of both sides).

    Returns the steps and the parameters for which even ``max_step`` raises ``f`` by
    less than ``rise / 4`` (not identified by the targets).
    """
    x = np.asarray(x, dtype=float)
    f0 = f(x)
    steps = np.full(x.size, start)
    flat: list[str] = []
    for i, name in enumerate(names):
        h = start
        for _ in range(iterations):
            e = np.zeros_like(x)
            e[i] = h
            d = 0.5 * (f(x + e) + f(x - e)) - f0
            if 0.5 * rise <= d <= 2.0 * rise:
                break
            # Quadratic: d ∝ h², so h·sqrt(rise/d) lands on the target rise.
            new = h * 4.0 if d <= 0.02 * rise else h * float(np.clip(np.sqrt(rise / d), 0.25, 4.0))
            if new > max_step:
                if h >= max_step:
                    break
                new = max_step
            h = new
        e = np.zeros_like(x)
        e[i] = h
        if 0.5 * (f(x + e) + f(x - e)) - f0 < 0.25 * rise:
            flat.append(name)
        steps[i] = h
    return steps, flat


@dataclass(frozen=True)
class HessianCheck:
    """Eigen-analysis of a Hessian in correlation form (scale-free)."""

    eigenvalues: NDArray[np.float64]
    condition: float
    weakest: dict[str, float]


def check_hessian(
    hessian: NDArray[np.float64], names: Sequence[str], max_condition: float = MAX_CONDITION
) -> HessianCheck:
    """Refuse (``PosteriorError``) a Hessian that is not positive definite or not well
    conditioned; else return its eigen-analysis.

    Conditioning is judged on D^-1/2 H D^-1/2 (D = diag H), which does not depend on
    the parameters' units; its smallest eigenvalue is 1 / the largest variance
    inflation, its eigenvector the combination of parameters the targets pin down
    least.
    """
    h = 0.5 * (hessian + hessian.T)
    diag = np.diag(h)
    hint = (
        "the targets do not pin this down; hold such parameters at their estimates with "
        "--fix NAME[,NAME] (stated in the draws' provenance), or sample with "
        "--method emcee (the default sampler)"
    )
    if np.any(diag <= 0):
        bad = [n for n, d in zip(names, diag, strict=True) if d <= 0]
        raise PosteriorError(
            f"the Hessian is not positive definite: the objective does not curve upwards "
            f"along {bad} (second differences {diag[diag <= 0].round(4).tolist()}); {hint}"
        )
    scale = 1.0 / np.sqrt(diag)
    corr = h * np.outer(scale, scale)
    values, vectors = np.linalg.eigh(corr)
    weakest = {n: round(float(v), 3) for n, v in zip(names, vectors[:, 0], strict=True)}
    if values[0] <= 0:
        raise PosteriorError(
            f"the Hessian is not positive definite (smallest eigenvalue of its correlation "
            f"form {values[0]:.3g}, direction {weakest}); {hint}"
        )
    condition = float(values[-1] / values[0])
    if condition > max_condition:
        raise PosteriorError(
            f"the Hessian is ill conditioned (condition number {condition:.3g} of its "
            f"correlation form > {max_condition:g}; weakest direction {weakest}); {hint}"
        )
    return HessianCheck(eigenvalues=values, condition=condition, weakest=weakest)


@dataclass(frozen=True)
class Laplace:
    """Gaussian approximation on the search scale.

    Attributes
    ----------
    names : tuple of str
    centre : float array (k,)
        Search-scale optimum.
    hessian : float array (k, k)
        At steps ``steps``.
    covariance : float array (k, k)
        2 H⁻¹ (the objective is −2 log-likelihood).
    steps, steps_large : float arrays (k,)
        The two step sets; ``covariance_large`` from the larger one.
    covariance_large : float array (k, k)
    sd_ratio : float array (k,)
        SD from the larger steps / SD from the base steps: near 1 when Monte-Carlo
        noise and non-quadratic terms are small.
    check : HessianCheck
    objective : float
        f at the centre.
    evaluations : int
    seconds : float
    """

    names: tuple[str, ...]
    centre: NDArray[np.float64]
    hessian: NDArray[np.float64]
    covariance: NDArray[np.float64]
    steps: NDArray[np.float64]
    steps_large: NDArray[np.float64]
    covariance_large: NDArray[np.float64]
    sd_ratio: NDArray[np.float64]
    check: HessianCheck
    objective: float
    evaluations: int
    seconds: float

    @property
    def sd(self) -> NDArray[np.float64]:
        """Marginal posterior SDs (search scale)."""
        return np.sqrt(np.diag(self.covariance))


def laplace(
    f: Function,
    centre: NDArray[np.float64],
    names: Sequence[str],
    *,
    rise: float = 1.0,
    step_ratio: float = 2.0,
    max_condition: float = MAX_CONDITION,
    steps: NDArray[np.float64] | None = None,
) -> Laplace:
    """Laplace approximation of ``exp(-f/2)`` at ``centre``.

    Parameters
    ----------
    f : callable
        −2 log posterior (up to a constant), deterministic (common random numbers).
    centre : float array
        The optimum (search scale).
    names : sequence of str
    rise : float, default 1.0
        Objective rise per step that sets the steps (:func:`choose_steps`).
    step_ratio : float, default 2.0
        The check Hessian uses steps this many times larger.
    max_condition : float
        See :func:`check_hessian`.
    steps : float array, optional
        Fixed steps instead of :func:`choose_steps`.

    Raises
    ------
    PosteriorError
        When a parameter is flat, or H is not positive definite / well conditioned.
    """
    began = time.perf_counter()
    g = CachedFunction(f)
    x = np.asarray(centre, dtype=float)
    names = tuple(names)
    if steps is None:
        steps, flat = choose_steps(g, x, names, rise=rise)
        log.info(
            "steps %s (%d evaluations so far)",
            dict(zip(names, steps.round(4), strict=True)),
            g.evaluations,
        )
        if flat:
            raise PosteriorError(
                f"the objective hardly changes along {flat} (less than {rise / 4:g} over a "
                "step of 2 on the search scale, a factor 7.4 for a positive parameter): "
                "the targets do not pin them down, so no Gaussian approximation exists; "
                "hold them at their estimates with --fix "
                f"{','.join(flat)} (stated in the draws' provenance), or sample with "
                "--method emcee"
            )
    steps = np.asarray(steps, dtype=float)
    hessian = central_hessian(g, x, steps)
    check = check_hessian(hessian, names, max_condition)
    large = steps * step_ratio
    hessian_large = central_hessian(g, x, large)
    covariance = np.asarray(2.0 * np.linalg.inv(0.5 * (hessian + hessian.T)), dtype=float)
    try:
        check_hessian(hessian_large, names, max_condition)
        covariance_large = np.asarray(
            2.0 * np.linalg.inv(0.5 * (hessian_large + hessian_large.T)), dtype=float
        )
        sd_ratio = np.sqrt(np.diag(covariance_large) / np.diag(covariance))
    except PosteriorError:
        covariance_large = np.full_like(covariance, np.nan)
        sd_ratio = np.full(len(names), np.nan)
    return Laplace(
        names=names,
        centre=x,
        hessian=hessian,
        covariance=covariance,
        steps=steps,
        steps_large=large,
        covariance_large=covariance_large,
        sd_ratio=sd_ratio,
        check=check,
        objective=g(x),
        evaluations=g.evaluations,
        seconds=time.perf_counter() - began,
    )


def gaussian_draws(
    centre: NDArray[np.float64], covariance: NDArray[np.float64], n_draws: int, seed: int
) -> NDArray[np.float64]:
    """``n_draws`` from N(centre, covariance), from the named stream ``posterior``
    (same seed ⇒ same draws, bit for bit)."""
    rng = stream("posterior", seed=seed, replicate=0, block=0)
    chol = np.linalg.cholesky(covariance)
    z = rng.standard_normal((n_draws, centre.size))
    return np.asarray(centre + z @ chol.T, dtype=float)


def base_priors(
    names: Sequence[str], start: Any, sd: float = BASE_PRIOR_SD
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Prior means (search scale, the values in ``start``) and SDs for the sampler:
    ``sd`` for every name without a published prior, ``inf`` (flat) for the effects of
    :data:`EFFECT_PRIORS`, whose priors the objective already holds."""
    mean = np.array([search_value(start, n) for n in names], dtype=float)
    sds = np.array(
        [np.inf if n.removeprefix("effects.") in EFFECT_PRIORS else sd for n in names],
        dtype=float,
    )
    return mean, sds


def emcee_draws(
    f: Function,
    centre: NDArray[np.float64],
    scale: NDArray[np.float64],
    n_draws: int,
    seed: int,
    *,
    steps: int,
    burn: int,
    prior_mean: NDArray[np.float64] | None = None,
    prior_sd: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Draws from exp(−f/2) × prior by emcee's affine-invariant ensemble sampler.

    Walkers start in a ball of ``scale`` around ``centre``; after ``burn`` steps the
    chain is thinned to ``n_draws``. Costly: every step evaluates the objective once per
    walker. ``prior_mean``/``prior_sd`` (search scale; ``inf`` SD = flat) add independent
    Gaussian priors: without them a direction the targets do not pin down (the clonal
    model's θ₀–σ_α ridge) has a flat, improper posterior and the walkers drift away
    along it."""
    try:
        import emcee
    except ImportError:  # pragma: no cover - depends on the extra
        raise PosteriorError(
            "the sampler needs the emcee package (a tfrsim dependency): pip install emcee"
        ) from None
    k = centre.size
    walkers = n_walkers(k)
    rng = stream("posterior", seed=seed, replicate=0, block=2)
    start = centre + scale * rng.standard_normal((walkers, k)) * 0.1
    mean = np.zeros(k) if prior_mean is None else np.asarray(prior_mean, dtype=float)
    sd = np.full(k, np.inf) if prior_sd is None else np.asarray(prior_sd, dtype=float)

    def log_probability(x: NDArray[np.float64]) -> float:
        x = np.asarray(x, dtype=float)
        try:
            value = f(x)
        except ConfigError:
            # Outside the model's support (e.g. theta0 above the simulator's cap):
            # probability 0, the standard emcee reading; the walker stays put.
            return -np.inf
        return float(-0.5 * value - 0.5 * np.sum(((x - mean) / sd) ** 2))

    sampler = emcee.EnsembleSampler(walkers, k, log_probability)
    sampler._random = np.random.mtrand.RandomState(int(rng.integers(2**31)))
    sampler.run_mcmc(start, steps, progress=False)
    chain = sampler.get_chain(discard=burn, flat=True)
    if chain.shape[0] < n_draws:
        raise PosteriorError(
            f"emcee kept {chain.shape[0]} samples after burn-in; need {n_draws} "
            "(raise --mcmc-steps)"
        )
    pick = np.linspace(0, chain.shape[0] - 1, n_draws).round().astype(int)
    # Integrated autocorrelation time per parameter (emcee's estimator; "quiet": a chain
    # shorter than 50 tau still gets an estimate, and the CLI says so).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau = np.asarray(sampler.get_autocorr_time(discard=burn, quiet=True), dtype=float)
    info = {
        "walkers": walkers,
        "steps": steps,
        "burn": burn,
        "acceptance": float(np.mean(sampler.acceptance_fraction)),
        "autocorr_steps": tau.round(1).tolist(),
        "effective_samples": float(walkers * (steps - burn) / max(float(tau.max()), 1.0)),
    }
    return np.asarray(chain[pick], dtype=float), info


def model_provenance(model: str = "calibrated", directory: Path | None = None) -> dict[str, Any]:
    """The ``provenance`` mapping of a calibrated model YAML."""
    path = (directory or MODEL_DIR) / f"{model}.yaml"
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    prov = raw.get("provenance") if isinstance(raw, dict) else None
    if not isinstance(prov, dict) or not prov.get("fitted_parameters"):
        raise PosteriorError(
            f"{path} has no provenance.fitted_parameters: only a model written by "
            "tfrsim-calibrate knows what was fitted"
        )
    return {str(k): v for k, v in prov.items()}


def provenance_objective(
    prov: Mapping[str, Any],
    targets: Targets,
    model: Any,
    names: Sequence[str],
    n_per_trial: int,
    seed: int,
    designs: Mapping[str, Any],
) -> Objective:
    """The objective a calibrated model was minimised on, from its provenance.

    The extra targets it was fitted to (``provenance.extra_targets``, written by
    ``tfrsim-calibrate``; none for a model written before they were recorded) are part
    of its likelihood, so the posterior is sampled with them.
    """
    extra = [str(x) for x in prov.get("extra_targets") or []]
    return Objective(targets, model, names, n_per_trial, seed, designs, extra_targets=extra)


def natural_draws(
    model: Any, names: Sequence[str], search_values: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Search-scale rows as natural values, through the objective's own mapping
    (:func:`~tfrsim.calibration.objective.with_parameters`): model-agnostic."""
    rows = []
    for row in np.atleast_2d(search_values):
        m = with_parameters(model, names, row)
        rows.append([model_value(m, n) for n in names])
    return np.asarray(rows, dtype=float)


@dataclass(frozen=True)
class PosteriorRun:
    """What :func:`posterior` made: the draws and (for Laplace) the approximation."""

    draws: PosteriorDraws
    laplace: Laplace | None


#: Posterior methods: emcee's sampler (default) or the Laplace approximation.
METHODS: tuple[str, ...] = ("emcee", "laplace")


@dataclass(frozen=True)
class SamplerSettings:
    """How the posterior of an objective is sampled (:func:`sample_objective`).

    Attributes
    ----------
    n_draws : int
        Draws stored.
    seed : int
        Seed of the draws (named stream ``posterior``).
    method : str
        One of :data:`METHODS`.
    mcmc_steps, mcmc_burn : int
        emcee steps per walker and the steps discarded (:func:`emcee_draws`).
    rise, step_ratio, max_condition : float
        Laplace settings (:func:`laplace`).
    """

    n_draws: int = N_DRAWS
    seed: int = 1
    method: str = "emcee"
    mcmc_steps: int = 500
    mcmc_burn: int = 200
    rise: float = 1.0
    step_ratio: float = 2.0
    max_condition: float = MAX_CONDITION


def _laplace_search(
    objective: Objective, x0: NDArray[np.float64], settings: SamplerSettings
) -> tuple[NDArray[np.float64], dict[str, Any], Laplace]:
    """Search-scale draws from the Laplace approximation at ``x0``, and its record."""
    s = settings
    lap = laplace(
        objective,
        x0,
        objective.names,
        rise=s.rise,
        step_ratio=s.step_ratio,
        max_condition=s.max_condition,
    )
    search = gaussian_draws(lap.centre, lap.covariance, s.n_draws, s.seed)
    record = {
        "search_centre": lap.centre.tolist(),
        "search_covariance": lap.covariance.tolist(),
        "search_sd": lap.sd.tolist(),
        "steps": lap.steps.tolist(),
        "step_ratio": s.step_ratio,
        "sd_ratio_large_over_base_steps": lap.sd_ratio.tolist(),
        "eigenvalues_correlation_form": lap.check.eigenvalues.tolist(),
        "condition_number": lap.check.condition,
        "objective_at_centre": lap.objective,
        "evaluations": lap.evaluations,
        "seconds": round(lap.seconds, 1),
    }
    return search, record, lap


def _emcee_search(
    objective: Objective, x0: NDArray[np.float64], settings: SamplerSettings
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Search-scale draws by emcee from ``x0``, with the weak priors, and their record."""
    began = time.perf_counter()
    names = objective.names
    # Weak priors at the pre-calibration values of the registered model's own YAML
    # (never at the estimate: the data would be counted twice).
    uncalibrated = load_params([f"model={model_name_of(objective.model)}"]).model
    mean, sd = base_priors(names, uncalibrated)
    search, info = emcee_draws(
        CachedFunction(objective),
        x0,
        np.full(x0.size, 0.1),
        settings.n_draws,
        settings.seed,
        steps=settings.mcmc_steps,
        burn=settings.mcmc_burn,
        prior_mean=mean,
        prior_sd=sd,
    )
    prior = {
        n: {"mean_search_scale": float(m), "sd": None if np.isinf(v) else float(v)}
        for n, m, v in zip(names, mean, sd, strict=True)
    }
    return search, {**info, "prior": prior, "seconds": round(time.perf_counter() - began, 1)}


def sample_objective(
    objective: Objective,
    settings: SamplerSettings,
    *,
    model: str,
    model_yaml: Path,
    fitted_to: Sequence[str],
    fixed_at_estimate: Sequence[str] = (),
    written_by: str = "tfrsim.calibration.posterior",
    provenance: Mapping[str, Any] | None = None,
) -> PosteriorRun:
    """Parameter draws of exp(−f/2) × weak priors around a fit, f = ``objective``.

    The one sampling path of ``tfrsim-posterior`` (the installed model) and of
    ``tfrsim-calibrate leave_out=... loo.draws=true`` (a leave-one-trial-out fit).

    Parameters
    ----------
    objective : Objective
        The calibration objective, built on the fitted model (its ``model`` is the
        centre; its ``names`` the parameters drawn, i.e. fitted minus fixed; its
        ``leave_out`` and extra targets are those of the fit).
    settings : SamplerSettings
    model : str
        The ``conf/model`` option the draws apply to (``tfrsim-predict model=...``).
    model_yaml : Path
        That option's YAML (its SHA-256 goes into the provenance).
    fitted_to : sequence of str
        The targets, as the calibrated model's provenance lists them.
    fixed_at_estimate : sequence of str
        Fitted parameters held at the estimate (not sampled; stored as constant columns
        at their values in ``objective.model``).
    written_by : str
    provenance : mapping, optional
        Further provenance entries (e.g. the fit's own YAML).

    Returns
    -------
    PosteriorRun

    Raises
    ------
    PosteriorError
        An unknown method, or a Laplace approximation that cannot be trusted.
    """
    names = objective.names
    x0 = objective.start()
    lap: Laplace | None = None
    if settings.method == "laplace":
        search, extra, lap = _laplace_search(objective, x0, settings)
    elif settings.method == "emcee":
        search, extra = _emcee_search(objective, x0, settings)
    else:
        raise PosteriorError(f"method must be one of {list(METHODS)}; got {settings.method!r}")
    record = {
        "written_by": written_by,
        "tfrsim_version": __version__,
        "method": settings.method,
        "seed": settings.seed,
        "model_yaml": f"conf/model/{model}.yaml",
        "model_yaml_sha256": model_yaml_hash(model_yaml),
        "fixed_at_estimate": sorted(fixed_at_estimate),
        "objective": {
            "n_per_trial": objective.n_per_trial,
            "seed": objective.seed,
            "trials": sorted(objective.trials),
            "extra_targets": list(objective.extra_targets),
            "leave_out": objective.leave_out,
            "fitted_to": list(fitted_to),
        },
        **(provenance or {}),
        # NaN (e.g. an autocorrelation time a short chain cannot estimate) as null: the
        # draws file is strict JSON.
        **json_safe(extra),
    }
    # Held parameters are stored too, as constant columns at the estimate: a draw then
    # replaces every parameter the fit changed, also when the draws apply to a model
    # other than the fit (a leave-one-out fit's draws applied to its start model).
    held = [n for n in fixed_at_estimate if n not in names]
    values = natural_draws(objective.model, names, search)
    constant = [model_value(objective.model, n) for n in held]
    values = np.column_stack([values, np.tile(constant, (values.shape[0], 1))])
    parameters = (*names, *held)
    draws = PosteriorDraws(
        path=None,
        model=model,
        model_name=model_name_of(objective.model),
        parameters=parameters,
        centre={nm: model_value(objective.model, nm) for nm in parameters},
        values=values,
        provenance=record,
    )
    return PosteriorRun(draws=draws, laplace=lap)


def posterior(
    model: str = "calibrated",
    *,
    n_draws: int = N_DRAWS,
    seed: int = 1,
    method: str = "emcee",
    fix: Sequence[str] = (),
    n_per_trial: int | None = None,
    objective_seed: int | None = None,
    rise: float = 1.0,
    step_ratio: float = 2.0,
    max_condition: float = MAX_CONDITION,
    targets: Targets | None = None,
    designs: Mapping[str, Any] | None = None,
    mcmc_steps: int = 500,
    mcmc_burn: int = 200,
) -> PosteriorRun:
    """Parameter draws of the calibrated model config ``model``.

    Parameters and the objective's size and seed come from the model YAML's
    ``provenance`` (the objective it was minimised on), unless overridden; the
    sampling itself is :func:`sample_objective`.
    """
    prov = model_provenance(model)
    names = [n for n in prov["fitted_parameters"] if n not in set(fix)]
    unknown = sorted(set(fix) - set(prov["fitted_parameters"]))
    if unknown:
        raise PosteriorError(f"--fix names {unknown}, not fitted parameters of {model}")
    if not names:
        raise PosteriorError("--fix leaves no parameter to draw")
    params = load_params([f"model={model}"])
    n = int(n_per_trial or prov.get("n_per_trial") or 10_000)
    oseed = int(objective_seed if objective_seed is not None else prov.get("seed", 1))
    targets = targets or load_targets()
    designs = designs or trial_designs(CALIBRATION_TRIALS)
    objective = provenance_objective(prov, targets, params.model, names, n, oseed, designs)
    settings = SamplerSettings(
        n_draws=n_draws,
        seed=seed,
        method=method,
        mcmc_steps=mcmc_steps,
        mcmc_burn=mcmc_burn,
        rise=rise,
        step_ratio=step_ratio,
        max_condition=max_condition,
    )
    return sample_objective(
        objective,
        settings,
        model=model,
        model_yaml=MODEL_DIR / f"{model}.yaml",
        fitted_to=list(prov.get("fitted_to", [])),
        fixed_at_estimate=fix,
    )


def summary_lines(run: PosteriorRun) -> list[str]:
    """What ``tfrsim-posterior`` prints about its draws: each parameter's estimate and
    95 % interval, the Laplace or emcee diagnostics, and warnings."""
    d = run.draws
    lines: list[str] = []
    lines.append(f"{'parameter':>24} {'estimate':>11} {'2.5%':>11} {'97.5%':>11}")
    for j, name in enumerate(d.parameters):
        lo, hi = np.percentile(d.values[:, j], [2.5, 97.5])
        lines.append(f"{name:>24} {d.centre[name]:11.4g} {lo:11.4g} {hi:11.4g}")
    if run.laplace is not None:
        lap = run.laplace
        lines.append(
            f"Laplace: {lap.evaluations} evaluations in {lap.seconds:.0f} s; condition "
            f"number {lap.check.condition:.3g}; SD ratio (steps x{d.provenance['step_ratio']:g}"
            f" / base) {np.round(lap.sd_ratio, 2).tolist()}"
        )
        # The step ratios belong to the Laplace step's own parameters (held ones are
        # stored as constant columns after them).
        off = [
            n
            for n, r in zip(lap.names, lap.sd_ratio, strict=True)
            if not (1 / SD_RATIO_WARN <= r <= SD_RATIO_WARN)
        ]
        if off:
            lines.append(
                f"WARNING: the SDs of {off} change by more than x{SD_RATIO_WARN:g} between the "
                "two step sizes: the objective is not quadratic there (or its Monte-Carlo "
                "roughness matters); the Gaussian form is poor along them — consider "
                "--method emcee, or more patients per trial (--n-per-trial)"
            )
    if d.provenance.get("method") == "emcee":
        prov = d.provenance
        tau = [t for t in prov["autocorr_steps"] if t is not None]
        lines.append(
            f"emcee: {prov['walkers']} walkers x {prov['steps']} steps ({prov['burn']} burn-in), "
            f"acceptance {prov['acceptance']:.2f}, autocorrelation {prov['autocorr_steps']} steps, "
            f"~{prov['effective_samples'] or float('nan'):.0f} effective samples; "
            f"{prov['seconds']:.0f} s"
        )
        if not tau or prov["steps"] - prov["burn"] < 10 * max(tau):
            lines.append(
                "WARNING: the kept chain is shorter than 10 autocorrelation times: "
                "raise --mcmc-steps (loo.mcmc_steps in tfrsim-calibrate)"
            )
    return lines


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tfrsim-posterior",
        description="Parameter draws of the installed calibrated model (Laplace at the "
        "calibration optimum, or emcee), written beside it as conf/model/<model>.draws.json.",
    )
    p.add_argument("--model", default="calibrated", help="conf/model/<model>.yaml (calibrated)")
    p.add_argument("--n-draws", type=int, default=N_DRAWS, help=f"draws stored ({N_DRAWS})")
    p.add_argument("--seed", type=int, default=1, help="seed of the draws (1)")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="emcee",
        help="emcee (default): sample the posterior; laplace: Gaussian at the optimum "
        "(fast, but under-covers: docs/calibration.md)",
    )
    p.add_argument("--fix", default="", help="fitted parameters held at their estimates, a,b")
    p.add_argument("--n-per-trial", type=int, default=None, help="(the model's provenance)")
    p.add_argument("--objective-seed", type=int, default=None, help="(the model's provenance)")
    p.add_argument("--rise", type=float, default=1.0, help="objective rise per step (1)")
    p.add_argument("--max-condition", type=float, default=MAX_CONDITION)
    p.add_argument("--mcmc-steps", type=int, default=500)
    p.add_argument("--mcmc-burn", type=int, default=200)
    p.add_argument("--out", type=Path, default=None, help="(conf/model/<model>.draws.json)")
    return p


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``tfrsim-posterior`` / ``python -m tfrsim.calibration.posterior``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    fix = [s for s in args.fix.split(",") if s]
    try:
        run = posterior(
            args.model,
            n_draws=args.n_draws,
            seed=args.seed,
            method=args.method,
            fix=fix,
            n_per_trial=args.n_per_trial,
            objective_seed=args.objective_seed,
            rise=args.rise,
            max_condition=args.max_condition,
            mcmc_steps=args.mcmc_steps,
            mcmc_burn=args.mcmc_burn,
        )
    except PosteriorError as err:
        print(f"tfrsim-posterior: {err}", file=sys.stderr)
        sys.exit(1)
    out = args.out or draws_path(args.model)
    write_text(out, run.draws.to_json())
    print("\n".join(summary_lines(run)))
    d = run.draws
    print(f"wrote {d.n_draws} draws to {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
