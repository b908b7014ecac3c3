"""Fitting a disease model to the published trials (Nelder–Mead under common random
numbers), profiling the fit, and leave-one-trial-out prediction."""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize
from tqdm.auto import tqdm

from tfrsim.calibration.objective import (
    EFFECT_PRIORS,
    Evaluation,
    Objective,
    natural_value,
    trial_params,
    with_model,
    with_parameters,
)
from tfrsim.calibration.statistics import trial_statistics
from tfrsim.calibration.targets import Targets
from tfrsim.execution import simulate
from tfrsim.study import StudyParams

#: Edge of the Nelder–Mead simplex on the search scale (ASSUMPTION: 0.2, a factor 1.22 on
#: a positive parameter; of the order of the published effect sizes' prior SDs, 0.07-0.40,
#: in tfrsim.calibration.targets, and far above the objective's Monte-Carlo roughness).
INITIAL_STEP = 0.2

#: Profile-likelihood threshold: the objective is -2 log-likelihood, so a 95 % profile
#: interval is where it stays within chi2(1, 0.95) = 3.84 of its minimum.
PROFILE_THRESHOLD = 3.841


@dataclass(frozen=True)
class CalibrationResult:
    """A calibration run.

    Attributes
    ----------
    names : tuple of str
        Fitted parameters (``effects.X`` for covariate effects).
    start, estimate : float arrays
        Search-scale values (log for positive parameters) before and after.
    model : parameters of the fitted model
        The fitted model.
    evaluation : Evaluation
        Objective, residual table and trial statistics at the estimate.
    trace : pandas.DataFrame
        One row per evaluation: evaluation, objective and the parameters.
    n_evaluations : int
    seconds : float
        Wall time of the fit.
    patients_simulated : int
        Patients simulated in all evaluations.
    converged : bool
    message : str
    """

    names: tuple[str, ...]
    start: NDArray[np.float64]
    estimate: NDArray[np.float64]
    model: Any
    evaluation: Evaluation
    trace: pd.DataFrame
    n_evaluations: int
    seconds: float
    patients_simulated: int
    converged: bool
    message: str
    extra_targets: tuple[str, ...] = ()
    leave_out: str | None = None

    @property
    def objective(self) -> float:
        """Objective at the estimate."""
        return self.evaluation.objective


def prior_penalty(name: str, value: float) -> float:
    """The objective's prior term of a covariate effect (0 for other parameters)."""
    effect = name.removeprefix("effects.")
    if not name.startswith("effects.") or effect not in EFFECT_PRIORS:
        return 0.0
    mean, sd = EFFECT_PRIORS[effect]
    return float(((value - mean) / sd) ** 2)


def natural_values(
    model: Any, names: Sequence[str], values: NDArray[np.float64]
) -> dict[str, float]:
    """Search-scale values back on their natural scale (``model`` gives the scales)."""
    return {n: natural_value(model, n, float(v)) for n, v in zip(names, values, strict=True)}


def simplex(x: NDArray[np.float64], step: float) -> NDArray[np.float64]:
    """Nelder–Mead start simplex, shape (k + 1, k): ``x`` and ``x + step * e_i``."""
    x = np.asarray(x, dtype=float)
    return x + np.vstack([np.zeros(x.size), step * np.eye(x.size)])


def calibrate(
    targets: Targets,
    start: Any,
    names: Sequence[str],
    *,
    n_per_trial: int,
    seed: int,
    max_evaluations: int,
    designs: Mapping[str, StudyParams],
    restarts: int = 1,
    progress: bool = True,
    extra_targets: Sequence[str] = (),
    leave_out: str | None = None,
    initial_step: float = INITIAL_STEP,
    correlated: bool = True,
) -> CalibrationResult:
    """Fit ``names`` of a registered model to ``targets``.

    Parameters
    ----------
    targets : Targets
    start : parameters of a registered model
        Starting model; other parameters stay fixed.
    names : sequence of str
        Parameters to fit.
    n_per_trial : int
        Simulated patients per trial and evaluation.
    seed : int
        Seed of the common random numbers.
    max_evaluations : int
        Budget of objective evaluations, shared by all Nelder–Mead runs.
    designs : mapping of str to StudyParams
        Each target trial's design (see :class:`Objective`).
    restarts : int, default 1
        Nelder–Mead restarts from the best point with a fresh simplex (a simplex can
        collapse before reaching the optimum; restarting is the standard remedy).
    progress : bool, default True
        Progress bar with the best objective so far (only on a terminal).
    extra_targets : sequence of str, default ()
        See :class:`Objective`.
    leave_out : str or None, default None
        Trial left out of the fit (see :func:`predict_trial`).
    initial_step : float, default :data:`INITIAL_STEP`
        Edge of every Nelder–Mead simplex on the search scale (log for positive
        parameters, raw for covariate effects): vertex *i* is the current point with
        coordinate *i* moved by this much. scipy's default moves each coordinate by 5 %
        of its value, which on the log scale is no step at all for a parameter near 1
        (log 1.02 = 0.02: a vertex 0.001 away); the simplex then shrinks inside the
        objective's Monte-Carlo roughness and stops where it started.
    correlated : bool, default True
        See :class:`Objective` (False scores milestones as independent).

    Returns
    -------
    CalibrationResult
    """
    if not (np.isfinite(initial_step) and initial_step > 0):
        raise ValueError(f"initial_step must be a positive number, got {initial_step!r}")
    objective = Objective(
        targets, start, names, n_per_trial, seed, designs, extra_targets, leave_out, correlated
    )
    rows: list[list[float]] = []
    bar = tqdm(
        total=max_evaluations, desc="calibrating", unit="eval", disable=None if progress else True
    )
    best = np.inf

    def scored(x: NDArray[np.float64]) -> float:
        nonlocal best
        value = objective(x)
        rows.append([len(rows) + 1, value, *natural_values(start, objective.names, x).values()])
        best = min(best, value)
        bar.update(1)
        bar.set_postfix(best=f"{best:.3f}")
        return value

    began = time.perf_counter()
    x0 = objective.start()
    x, nfev, res = x0, 0, None
    try:
        for run in range(restarts + 1):
            # Nelder–Mead: derivative-free, robust to the small steps a simulated
            # objective makes when a relapse moves from one visit to the next.
            budget = (max_evaluations - nfev) // (restarts + 1 - run)
            if budget < 2 * len(x0) + 2:
                break
            res = optimize.minimize(
                scored,
                x,
                method="Nelder-Mead",
                options={
                    "maxfev": budget,
                    "xatol": 1e-3,
                    "fatol": 1e-3,
                    "adaptive": True,
                    "initial_simplex": simplex(x, initial_step),
                },
            )
            x, nfev = np.asarray(res.x, dtype=float), nfev + int(res.nfev)
    finally:
        bar.close()
    if res is None:
        raise ValueError(f"max_evaluations={max_evaluations} is too small for {len(x0)} parameters")
    seconds = time.perf_counter() - began
    per_eval = sum(p.cohort.n_patients for p in objective.trials.values())
    return CalibrationResult(
        names=objective.names,
        start=x0,
        estimate=x,
        model=with_parameters(start, objective.names, x),
        evaluation=objective.evaluate(x),
        trace=pd.DataFrame(rows, columns=["evaluation", "objective", *objective.names]),
        n_evaluations=nfev,
        seconds=seconds,
        patients_simulated=nfev * per_eval,
        converged=bool(res.success),
        message=str(res.message),
        extra_targets=tuple(extra_targets),
        leave_out=leave_out,
    )


def profile(
    targets: Targets,
    result: CalibrationResult,
    *,
    n_per_trial: int,
    seed: int,
    designs: Mapping[str, StudyParams],
    steps: Sequence[float] = (-1.0, -0.5, -0.25, 0.25, 0.5, 1.0),
    inner_evaluations: int = 60,
    progress: bool = True,
) -> pd.DataFrame:
    """Profile likelihood of each fitted parameter around the estimate.

    For each parameter and each offset in ``steps`` (on the search scale: log for
    positive parameters, so -0.5 is a factor 0.61), the parameter is fixed and the
    others re-fitted (Nelder–Mead, ``inner_evaluations``). A parameter is pinned down
    when the profile rises above :data:`PROFILE_THRESHOLD` on both sides within the
    grid; otherwise its interval is open on that side.

    Returns
    -------
    pandas.DataFrame
        One row per (parameter, offset): parameter, offset, value (natural scale),
        objective, delta (objective minus the minimum).
    """
    extra, out = result.extra_targets, result.leave_out
    full = Objective(targets, result.model, result.names, n_per_trial, seed, designs, extra, out)
    minimum = full(result.estimate)
    rows = []
    total = len(result.names) * len(steps)
    with tqdm(
        total=total, desc="profiling", unit="point", disable=None if progress else True
    ) as bar:
        for i, name in enumerate(result.names):
            others = [n for n in result.names if n != name]
            for step in steps:
                fixed_value = result.estimate[i] + step
                fixed_model = with_parameters(result.model, [name], np.array([fixed_value]))
                inner = Objective(
                    targets, fixed_model, others, n_per_trial, seed, designs, extra, out
                )
                x0 = inner.start()
                res = optimize.minimize(
                    inner,
                    x0,
                    method="Nelder-Mead",
                    options={
                        "maxfev": inner_evaluations,
                        "adaptive": True,
                        "initial_simplex": simplex(x0, INITIAL_STEP),
                    },
                )
                value = natural_value(result.model, name, fixed_value)
                # The inner fit no longer carries the fixed effect's prior; add it back.
                fitted = float(res.fun) + prior_penalty(name, value)
                rows.append((name, step, value, fitted, fitted - minimum))
                bar.update(1)
    table = pd.DataFrame(rows, columns=["parameter", "offset", "value", "objective", "delta"])
    centre = pd.DataFrame(
        {
            "parameter": list(result.names),
            "offset": 0.0,
            "value": list(natural_values(result.model, result.names, result.estimate).values()),
            "objective": minimum,
            "delta": 0.0,
        }
    )
    return pd.concat([table, centre]).sort_values(["parameter", "offset"], ignore_index=True)


def profile_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Summarise a profile: the 95 % interval of each parameter, or where it is open.

    Returns
    -------
    pandas.DataFrame
        parameter, estimate, lower, upper (natural scale; NaN where the profile never
        crosses the threshold on that side: not identified there), identified (bool).
    """
    rows = []
    for name, group in table.groupby("parameter", sort=False):
        g = group.sort_values("offset")
        estimate = float(g.loc[g["offset"] == 0, "value"].iloc[0])
        below, above = g[g["offset"] < 0], g[g["offset"] > 0]
        lower = _crossing(below.iloc[::-1], estimate)
        upper = _crossing(above, estimate)
        rows.append((name, estimate, lower, upper, bool(np.isfinite(lower) and np.isfinite(upper))))
    return pd.DataFrame(rows, columns=["parameter", "estimate", "lower", "upper", "identified"])


def _crossing(side: pd.DataFrame, estimate: float) -> float:
    """First value moving away from the estimate where delta exceeds the threshold,
    interpolated linearly; NaN if it never does within the grid."""
    previous_value, previous_delta = estimate, 0.0
    for value, delta in zip(side["value"], side["delta"], strict=True):
        if delta > PROFILE_THRESHOLD:
            frac = (PROFILE_THRESHOLD - previous_delta) / (delta - previous_delta)
            return float(previous_value + frac * (value - previous_value))
        previous_value, previous_delta = value, max(delta, previous_delta)
    return float("nan")


def predict_trial(
    model: Any,
    targets: Targets,
    design: StudyParams,
    trial: str,
    *,
    n_patients: int,
    seed: int,
) -> pd.DataFrame:
    """Predict a trial's published milestones (e.g. one left out of the fit).

    Returns
    -------
    pandas.DataFrame
        trial, month, published, simulated, se (published SE), z
        (``(simulated - published) / se``), inside (within the published 95 % CI, or
        +-1.96 SE where none was published).
    """
    months = targets.months(trial)
    params = trial_params(with_model(design, model), n_patients, seed, max(months))
    stats = trial_statistics(simulate(params).patients, months)
    rows = []
    for m in targets.milestones:
        if m.trial != trial:
            continue
        sim = float(stats.survival[months.index(m.month)])
        lo = m.lower if np.isfinite(m.lower) else m.survival - 1.959964 * m.se
        hi = m.upper if np.isfinite(m.upper) else m.survival + 1.959964 * m.se
        rows.append(
            (trial, m.month, m.survival, sim, m.se, (sim - m.survival) / m.se, lo <= sim <= hi)
        )
    return pd.DataFrame(
        rows, columns=["trial", "month", "published", "simulated", "se", "z", "inside"]
    )
