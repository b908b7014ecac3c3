"""Stored parameter draws of a calibrated model: reading, validating, applying.

A calibrated model ``conf/model/NAME.yaml`` may have a file of parameter draws beside
it, ``conf/model/NAME.draws.json`` (package data), written by
``python -m tfrsim.calibration.posterior`` (emcee's sampler by default, or the
Laplace approximation at the calibration optimum). Each draw is a full set of the model's fitted
parameters on their **natural** scale (``"theta0"``, ``"effects.prior_ifn"``: a dotted
path into the model's parameter dataclass), so applying a draw needs no knowledge of
the calibration's search scale and works for any registered disease model.

This module is a leaf (numpy and the standard library only): the prediction
(:mod:`tfrsim.prediction`) and the sweep option ``uncertainty=posterior``
(:func:`tfrsim.execution.run_study`) both read draws through it.
"""

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tfrsim.random import stream

#: Folder of the packaged model configs (``conf/model``).
MODEL_DIR: Path = Path(__file__).resolve().parent / "conf" / "model"
#: Format tag and version of a draws file.
FORMAT = "tfrsim-posterior-draws"
FORMAT_VERSION = 1
#: Keys every draws file holds.
REQUIRED_KEYS: tuple[str, ...] = (
    "format",
    "format_version",
    "model",
    "model_name",
    "parameters",
    "centre",
    "draws",
    "provenance",
)
#: Relative tolerance when matching a model's values to the centre of a draws file.
CENTRE_RTOL = 1e-9

#: How to recreate the packaged draws (named in every error about them).
RECREATE = "python -m tfrsim.calibration.posterior  (or tfrsim-posterior)"


class DrawsError(ValueError):
    """A draws file is missing, corrupt, stale or does not fit the model."""


@dataclass(frozen=True)
class PosteriorDraws:
    """Parameter draws of one calibrated model.

    Attributes
    ----------
    path : Path or None
        File they were read from (None when built in memory).
    model : str
        The model config they belong to (``conf/model/<model>.yaml``).
    model_name : str
        The registered disease model (e.g. ``"clonal"``).
    parameters : tuple of str
        Dotted parameter paths, one per column of ``values``.
    centre : dict
        Parameter -> natural-scale value at the calibration optimum.
    values : float array, shape (n_draws, n_parameters)
        Natural-scale draws.
    provenance : dict
        Method, seed, targets, tfrsim version, model YAML hash, diagnostics.
    """

    path: Path | None
    model: str
    model_name: str
    parameters: tuple[str, ...]
    centre: dict[str, float]
    values: NDArray[np.float64]
    provenance: dict[str, Any]

    @property
    def n_draws(self) -> int:
        """Number of stored draws."""
        return int(self.values.shape[0])

    def draw(self, index: int) -> dict[str, float]:
        """Draw ``index`` as parameter -> natural value."""
        row = self.values[index]
        return {p: float(v) for p, v in zip(self.parameters, row, strict=True)}

    def to_json(self) -> str:
        """The file's text (deterministic: same draws, same bytes)."""
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "model_name": self.model_name,
            "parameters": list(self.parameters),
            "centre": {p: float(self.centre[p]) for p in self.parameters},
            "provenance": self.provenance,
            "draws": [[float(v) for v in row] for row in self.values],
        }
        return json.dumps(body, indent=1, allow_nan=False) + "\n"


def draws_path(model: str = "calibrated", directory: Path | None = None) -> Path:
    """Where the draws of model config ``model`` are stored."""
    return (directory or MODEL_DIR) / f"{model}.draws.json"


def model_yaml_hash(path: Path) -> str:
    """SHA-256 of a model YAML file's bytes (recorded in the draws' provenance)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fail(path: Path, problem: str) -> DrawsError:
    return DrawsError(
        f"posterior draws file {path} {problem}; recreate it with `{RECREATE}` "
        "(see docs/calibration.md, 'Parameter uncertainty')"
    )


def parse_draws(text: str, path: Path) -> PosteriorDraws:
    """Validate the text of a draws file; errors name ``path`` and what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise _fail(path, f"is not valid JSON ({err})") from None
    if not isinstance(raw, dict):
        raise _fail(path, "does not hold a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise _fail(path, f"lacks the key(s) {missing}")
    if raw["format"] != FORMAT or raw["format_version"] != FORMAT_VERSION:
        raise _fail(
            path,
            f"has format {raw['format']!r} version {raw['format_version']!r}, expected "
            f"{FORMAT!r} version {FORMAT_VERSION}",
        )
    params = raw["parameters"]
    if not (isinstance(params, list) and params and all(isinstance(p, str) for p in params)):
        raise _fail(path, "has no list of parameter names")
    if len(set(params)) != len(params):
        raise _fail(path, f"repeats a parameter name in {params}")
    centre = raw["centre"]
    if not isinstance(centre, dict) or sorted(centre) != sorted(params):
        raise _fail(path, "has a centre that does not name exactly its parameters")
    try:
        values = np.asarray(raw["draws"], dtype=float)
        centre_values = {p: float(centre[p]) for p in params}
    except (TypeError, ValueError):
        raise _fail(path, "holds non-numeric draws or centre values") from None
    if values.ndim != 2 or values.shape[1] != len(params) or values.shape[0] < 2:
        raise _fail(
            path,
            f"holds draws of shape {values.shape}; expected (n_draws >= 2, {len(params)})",
        )
    if not np.all(np.isfinite(values)) or not all(map(math.isfinite, centre_values.values())):
        raise _fail(path, "holds non-finite values")
    if not isinstance(raw["provenance"], dict):
        raise _fail(path, "has no provenance mapping")
    return PosteriorDraws(
        path=path,
        model=str(raw["model"]),
        model_name=str(raw["model_name"]),
        parameters=tuple(params),
        centre=centre_values,
        values=values,
        provenance=dict(raw["provenance"]),
    )


def load_draws(path: Path | str, *, model_yaml: Path | None = None) -> PosteriorDraws:
    """Read and validate a draws file.

    Parameters
    ----------
    path : Path or str
        The ``*.draws.json`` file.
    model_yaml : Path, optional
        The model YAML the draws must belong to: its SHA-256 must equal the one
        recorded in the draws' provenance (draws of an older calibration are stale).

    Raises
    ------
    DrawsError
        Missing, unreadable, corrupt or stale file; the message names the file and
        the command that recreates it.
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _fail(path, f"cannot be read ({err})") from None
    draws = parse_draws(text, path)
    if model_yaml is not None:
        recorded = draws.provenance.get("model_yaml_sha256")
        actual = model_yaml_hash(model_yaml)
        if recorded != actual:
            raise _fail(
                path,
                f"belongs to another version of {model_yaml} (SHA-256 {str(recorded)[:12]}… "
                f"recorded, {actual[:12]}… now): the model was recalibrated since",
            )
    return draws


def installed_draws(model: str = "calibrated") -> PosteriorDraws:
    """The packaged draws of ``conf/model/<model>.yaml``, checked against that file."""
    return load_draws(draws_path(model), model_yaml=MODEL_DIR / f"{model}.yaml")


def model_value(model: Any, name: str) -> float:
    """Natural value of a dotted parameter path (``"effects.prior_ifn"``)."""
    obj = model
    for part in name.split("."):
        if not hasattr(obj, part):
            raise DrawsError(f"model {type(model).__name__} has no parameter {name!r}")
        obj = getattr(obj, part)
    return float(obj)


def apply_values(model: Any, values: Mapping[str, float]) -> Any:
    """``model`` (a frozen parameter dataclass) with dotted parameters replaced.

    Nested dataclasses are replaced level by level, so each level validates itself.
    """
    top: dict[str, float] = {}
    nested: dict[str, dict[str, float]] = {}
    for name, value in values.items():
        head, _, rest = name.partition(".")
        if not hasattr(model, head):
            raise DrawsError(f"model {type(model).__name__} has no parameter {name!r}")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = float(value)
    changes: dict[str, Any] = dict(top)
    for head, sub in nested.items():
        changes[head] = apply_values(getattr(model, head), sub)
    return dataclasses.replace(model, **changes)


def matches_centre(draws: PosteriorDraws, model_name: str, model: Any) -> bool:
    """Whether ``model`` is the model the draws were made around (same registered model,
    every drawn parameter at its centre value)."""
    if draws.model_name != model_name:
        return False
    try:
        return all(
            math.isclose(model_value(model, p), v, rel_tol=CENTRE_RTOL, abs_tol=1e-300)
            for p, v in draws.centre.items()
        )
    except DrawsError:
        return False


def differing_parameters(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the parameters that differ between two model dataclasses."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type) and type(a) is type(b):
        found: list[str] = []
        for f in dataclasses.fields(a):
            found += differing_parameters(
                getattr(a, f.name), getattr(b, f.name), prefix + f.name + "."
            )
        return found
    return [] if a == b else [prefix.removesuffix(".")]


def check_applies(draws: PosteriorDraws, model_name: str, model: Any, reference: Any) -> None:
    """Refuse draws given explicitly for a model they were not made for.

    Parameters
    ----------
    draws : PosteriorDraws
    model_name, model : str, model dataclass
        The registered model and parameters of the trial to be predicted.
    reference : model dataclass
        The parameters of the model config the draws name (``draws.model``). A draw
        replaces only the drawn parameters, so every other parameter of ``model`` must
        be the one the draws were sampled with.

    Raises
    ------
    DrawsError
        Another registered model, a drawn parameter the model lacks, or other
        parameters that differ from ``draws.model``'s; the message names the file.
    """
    source = f"posterior draws file {draws.path}" if draws.path else "the posterior draws given"
    if draws.model_name != model_name:
        raise DrawsError(
            f"{source} holds draws of a {draws.model_name!r} model; the trial's model is "
            f"{model_name!r} (choose it with model={draws.model})"
        )
    for name in draws.parameters:
        try:
            model_value(model, name)
        except (DrawsError, TypeError, ValueError):
            raise DrawsError(
                f"{source} draws {name!r}, which is not a numeric parameter of the "
                f"trial's {model_name!r} model"
            ) from None
    differ = differing_parameters(
        apply_values(model, draws.centre), apply_values(reference, draws.centre)
    )
    if differ:
        raise DrawsError(
            f"{source} was made around model={draws.model}; the trial's model differs from "
            f"it in parameters the draws do not replace: {differ} (predict with "
            f"model={draws.model} and no model.* overrides of those parameters)"
        )


@functools.lru_cache(maxsize=8)
def _packaged(directory: Path) -> tuple[PosteriorDraws, ...]:
    found = []
    for path in sorted(directory.glob("*.draws.json")):
        found.append(load_draws(path))
    return tuple(found)


def draws_for(model_name: str, model: Any, directory: Path | None = None) -> PosteriorDraws:
    """The packaged draws whose centre is exactly ``model``.

    Raises
    ------
    DrawsError
        When no packaged draws file belongs to this model (e.g. ``model=clonal`` or a
        model with overridden parameters), naming the files looked at.
    """
    folder = directory or MODEL_DIR
    candidates = _packaged(folder)
    for draws in candidates:
        if matches_centre(draws, model_name, model):
            return draws
    looked = [str(d.path) for d in candidates] or [f"{folder}/*.draws.json (none found)"]
    raise DrawsError(
        f"no stored parameter draws belong to this {model_name!r} model (looked at "
        f"{looked}; draws are made around a calibrated model and apply only to it, "
        "unmodified). Use the calibrated model (model=calibrated) or uncertainty=none, "
        f"or create draws with `{RECREATE}`"
    )


def draw_index(n_draws: int, seed: int, replicate: int) -> int:
    """Which stored draw replicate ``replicate`` of a study with root ``seed`` uses.

    Deterministic from ``(seed, replicate)`` through the named stream ``posterior``
    (uniform over the draws, independent between replicates).
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1; got {n_draws}")
    rng = stream("posterior", seed=seed, replicate=replicate)
    return int(rng.integers(n_draws))


def draw_rows(n_draws: int, count: int, seed: int) -> Sequence[int]:
    """``count`` draw indices for a prediction: all draws in order when ``count`` equals
    ``n_draws``, else a deterministic sample with replacement (stream ``posterior``)."""
    if count == n_draws:
        return list(range(n_draws))
    rng = stream("posterior", seed=seed, replicate=0, block=1)
    return [int(i) for i in rng.integers(n_draws, size=count)]
