"""Read the published calibration facts shipped in ``published.yaml``.

The YAML is package data (``importlib.resources``), so an installed tfrsim needs no
file outside the package. It is parsed once and cached; every public function
returns fresh objects, so callers cannot change what later callers see.
"""

import copy
import functools
import math
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

#: Keys of the calibration trials, as used in ``published.yaml`` and trial configs.
TRIALS: tuple[str, ...] = ("stim1", "stim2", "twister")
#: How the SE of an MRFS point is derived (see ``published.yaml`` header).
SE_BASES: tuple[str, ...] = ("ci95", "binomial", "none")
#: Two-sided 95 % standard-normal quantile, to turn a 95 % CI width into an SE.
Z95: float = 1.959964
#: Columns of :func:`published_mrfs`.
MRFS_COLUMNS: tuple[str, ...] = (
    "trial",
    "month",
    "survival",
    "lower",
    "upper",
    "se",
    "se_basis",
    "n",
    "target",
    "source",
    "citation",
    "confirmed",
    "note",
)
#: Columns of :func:`published_for_plot` (what ``tfrsim.plots.survival`` overlays).
PLOT_COLUMNS: tuple[str, ...] = ("month", "survival", "lower", "upper", "label")

_PACKAGE = "tfrsim.reference"
_RESOURCE = "published.yaml"
_TOP_KEYS = frozenset({"schema_version", "trials", "covariate_effects", "sources"})


@dataclass(frozen=True, slots=True)
class MrfsPoint:
    """One published MRFS point, on the probability scale.

    Attributes
    ----------
    trial : str
        Trial key, one of :data:`TRIALS`.
    month : float
        Months after stopping imatinib.
    survival : float
        Molecular-relapse-free survival, probability in [0, 1] (published % / 100).
    lower, upper : float
        Published 95 % CI as probabilities; NaN when none is used.
    se : float
        Standard error (probability scale) from ``se_basis``; NaN for ``"none"``.
    se_basis : str
        ``"ci95"``, ``"binomial"`` or ``"none"``.
    n : float
        Number of patients the estimate is based on; NaN when not stated.
    target : bool
        Whether calibration fits this point.
    source : str
        Source key(s), joined by ``"; "`` when a point combines several.
    citation : str
        Full text of the source(s), joined by ``" | "``.
    confirmed : bool
        Whether the value was read in the cited source (False = recalled).
    note : str
        Context; for a non-target, why it is not a target.
    """

    trial: str
    month: float
    survival: float
    lower: float
    upper: float
    se: float
    se_basis: str
    n: float
    target: bool
    source: str
    citation: str
    confirmed: bool
    note: str


def _source_keys(source: Any) -> tuple[str, ...]:
    """Source keys of a fact: ``null`` (not retrieved), one key or a list of keys."""
    if source is None:
        return ()
    if isinstance(source, str):
        return (source,)
    return tuple(str(s) for s in source)


def _walk_sources(node: Any, path: str) -> list[tuple[str, str]]:
    """All ``(path, key)`` pairs of ``source`` entries below ``node``."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source":
                found.extend((path, s) for s in _source_keys(value))
            else:
                found.extend(_walk_sources(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_walk_sources(value, f"{path}[{i}]"))
    return found


def _validate(data: Any) -> None:
    """Fail loudly on a malformed ``published.yaml`` rather than mis-calibrate later."""
    if not isinstance(data, dict) or set(data) != _TOP_KEYS:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{_RESOURCE}: top-level keys must be {sorted(_TOP_KEYS)}, got {got}")
    if tuple(data["trials"]) != TRIALS:
        raise ValueError(f"{_RESOURCE}: trials must be {TRIALS}, got {tuple(data['trials'])}")
    sources = data["sources"]
    unknown = [f"{p}: {k}" for p, k in _walk_sources(data, "") if k not in sources]
    if unknown:
        raise ValueError(f"{_RESOURCE}: source keys not defined under 'sources': {unknown}")
    for trial in TRIALS:
        for i, point in enumerate(data["trials"][trial]["mrfs"]):
            where = f"{_RESOURCE}: trials.{trial}.mrfs[{i}]"
            basis = point["se_basis"]
            if basis not in SE_BASES:
                raise ValueError(f"{where}: se_basis must be one of {SE_BASES}, got {basis!r}")
            if basis == "ci95" and point["ci95"] is None:
                raise ValueError(f"{where}: se_basis 'ci95' needs a ci95")
            if basis == "binomial" and not point["n"]:
                raise ValueError(f"{where}: se_basis 'binomial' needs n")
            if point["target"] and basis == "none":
                raise ValueError(f"{where}: a target needs an SE (ci95 or binomial)")
            if not _source_keys(point["source"]) or not str(point.get("note") or "").strip():
                raise ValueError(f"{where}: every point needs a source and a note")


@functools.lru_cache(maxsize=1)
def _cached() -> dict[str, Any]:
    """Parse and validate the packaged YAML once. Never hand this object out."""
    text = resources.files(_PACKAGE).joinpath(_RESOURCE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    _validate(data)
    return data


def _check_trial(trial: str) -> str:
    if trial not in TRIALS:
        raise ValueError(f"trial must be one of {', '.join(TRIALS)}; got {trial!r}")
    return trial


def _citation(source: Any) -> str:
    """Full text of the source key(s) of a fact."""
    sources = _cached()["sources"]
    return " | ".join(sources[k] for k in _source_keys(source))


def load_reference() -> dict[str, Any]:
    """The parsed ``published.yaml``.

    Returns
    -------
    dict
        Top-level keys ``schema_version``, ``trials`` (``stim1``, ``stim2``,
        ``twister``), ``covariate_effects`` and ``sources``. A deep copy of the
        cached parse: changing it does not affect later calls.
    """
    return copy.deepcopy(_cached())


def _point(trial: str, raw: dict[str, Any]) -> MrfsPoint:
    p = float(raw["survival"]) / 100.0
    ci = raw["ci95"]
    lower, upper = (math.nan, math.nan) if ci is None else (ci[0] / 100.0, ci[1] / 100.0)
    n = math.nan if raw["n"] is None else float(raw["n"])
    basis = raw["se_basis"]
    if basis == "ci95":
        se = (upper - lower) / (2.0 * Z95)
    elif basis == "binomial":
        # Ignores censoring, so it understates the KM SE; used only where no CI is usable.
        se = math.sqrt(p * (1.0 - p) / n)
    else:
        se = math.nan
    return MrfsPoint(
        trial=trial,
        month=float(raw["month"]),
        survival=p,
        lower=lower,
        upper=upper,
        se=se,
        se_basis=basis,
        n=n,
        target=bool(raw["target"]),
        source="; ".join(_source_keys(raw["source"])),
        citation=_citation(raw["source"]),
        confirmed=bool(raw["confirmed"]),
        note=" ".join(str(raw["note"]).split()),
    )


def mrfs_points(trial: str, *, targets_only: bool = False) -> tuple[MrfsPoint, ...]:
    """Published MRFS points of one trial as records, in file order.

    Parameters
    ----------
    trial : str
        One of :data:`TRIALS`.
    targets_only : bool, default False
        Keep only the points that calibration fits.

    Returns
    -------
    tuple of MrfsPoint

    Raises
    ------
    ValueError
        If ``trial`` is not one of :data:`TRIALS`.
    """
    raw = _cached()["trials"][_check_trial(trial)]["mrfs"]
    points = tuple(_point(trial, r) for r in raw)
    return tuple(p for p in points if p.target) if targets_only else points


def published_mrfs(trial: str, *, targets_only: bool = False) -> pd.DataFrame:
    """Published MRFS points of one trial, with SEs and citations.

    Parameters
    ----------
    trial : str
        One of :data:`TRIALS`.
    targets_only : bool, default False
        Keep only the points that calibration fits.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MRFS_COLUMNS`. ``survival``, ``lower``, ``upper`` and ``se``
        are probabilities (published % / 100); ``lower``/``upper``/``n`` are NaN when
        not used or not stated. ``se`` is ``(upper - lower) / (2 * 1.959964)`` for
        ``se_basis == "ci95"``, ``sqrt(p (1 - p) / n)`` for ``"binomial"`` and NaN
        for ``"none"``. Sorted by ``month``, then targets first.

    Raises
    ------
    ValueError
        If ``trial`` is not one of :data:`TRIALS`.
    """
    rows = [asdict(p) for p in mrfs_points(trial, targets_only=targets_only)]
    frame = pd.DataFrame(rows, columns=list(MRFS_COLUMNS))
    frame = frame.sort_values(["month", "target"], ascending=[True, False], kind="stable")
    return frame.reset_index(drop=True)


def published_for_plot(trial: str) -> pd.DataFrame:
    """Calibration targets of one trial, ready to overlay on a KM figure.

    A target without a usable published CI (``se_basis == "binomial"``) gets
    ``lower, upper = survival -/+ 1.959964 * se``, clipped to [0, 1]: the plot then
    shows the binomial interval used in calibration, not a published CI.

    Parameters
    ----------
    trial : str
        One of :data:`TRIALS`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PLOT_COLUMNS` (the input of
        ``tfrsim.plots.survival.plot_km(published=...)``); probabilities in [0, 1];
        ``label`` is the trial's plot label, e.g.
        ``"TWISTER (Ross Blood 2013)"``, the same for every row.

    Raises
    ------
    ValueError
        If ``trial`` is not one of :data:`TRIALS`.
    """
    frame = published_mrfs(trial, targets_only=True)
    survival = frame["survival"].to_numpy(dtype=float)
    half = Z95 * frame["se"].to_numpy(dtype=float)
    lower = frame["lower"].to_numpy(dtype=float)
    upper = frame["upper"].to_numpy(dtype=float)
    no_ci = np.isnan(lower) | np.isnan(upper)
    lower = np.where(no_ci, np.clip(survival - half, 0.0, 1.0), lower)
    upper = np.where(no_ci, np.clip(survival + half, 0.0, 1.0), upper)
    return pd.DataFrame(
        {
            "month": frame["month"].to_numpy(dtype=float),
            "survival": survival,
            "lower": lower,
            "upper": upper,
            "label": _cached()["trials"][trial]["plot_label"],
        },
        columns=list(PLOT_COLUMNS),
    )


def timing_facts(trial: str) -> dict[str, Any]:
    """Published facts on when relapses happen in one trial.

    Parameters
    ----------
    trial : str
        One of :data:`TRIALS`.

    Returns
    -------
    dict
        Fact name -> plain mapping with ``value``, ``target``, ``source``,
        ``confirmed``, ``citation`` (full source text) and, where published,
        ``range``, ``of``, ``note``, ``se`` and ``acceptance``. For ``"stim2"`` only
        the approximate share of non-relapsers with a positive test. A copy:
        changing it does not affect later calls.

    Raises
    ------
    ValueError
        If ``trial`` is not one of :data:`TRIALS`.
    """
    facts = copy.deepcopy(_cached()["trials"][_check_trial(trial)]["timing"])
    for fact in facts.values():
        fact["citation"] = _citation(fact["source"])
    return dict(facts)


def trial_facts(trial: str) -> dict[str, Any]:
    """Design facts of one trial (everything but the MRFS points and timing).

    Parameters
    ----------
    trial : str
        One of :data:`TRIALS`.

    Returns
    -------
    dict
        Keys ``trial``, ``name``, ``plot_label``, ``citation``, ``n_patients``,
        ``eligibility`` (``tki``, ``min_tki_years``,
        ``min_deep_response_years``, ``depth`` with our ``level``),
        ``relapse_rule`` (``rule`` is our rule name, ``text`` as published),
        ``monitoring`` (``text``, ``confirmed``), ``follow_up`` and ``baseline``.
        Facts are mappings with ``value``, ``source`` and ``confirmed``. A copy:
        changing it does not affect later calls.

    Raises
    ------
    ValueError
        If ``trial`` is not one of :data:`TRIALS`.
    """
    block = _cached()["trials"][_check_trial(trial)]
    facts = {k: copy.deepcopy(v) for k, v in block.items() if k not in ("mrfs", "timing")}
    return {"trial": trial, **facts}
