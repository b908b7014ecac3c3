"""Registry of analyses, chosen by ``analysis.methods``.

An analysis is a function ``run(patients, params) -> output`` whose output has
``tables()`` (file stem -> DataFrame, written as ``STEM.csv`` in the run folder),
``summary()`` (JSON-ready mapping merged into ``summary.json``) and ``estimands()``
(rows of :mod:`tfrsim.analysis.estimands`, which reach ``summary.json``'s
``estimands`` list, :meth:`AnalysisResult.to_frame` and the sweep table). Adding an
analysis is one module that calls :func:`register_analysis`; a module outside the
package does it from the ``tfrsim.plugins`` entry-point group (:mod:`tfrsim.plugins`).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

#: Held around ``warnings.catch_warnings`` blocks: the warnings filters and hooks are
#: process-wide, and analyses may run side by side in threads (:func:`analyse`).
WARNINGS_LOCK = threading.RLock()


class AnalysisOutput(Protocol):
    """What every registered analysis returns."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tables to write, by file stem (``"km"`` -> ``km.csv``)."""
        ...

    def summary(self) -> dict[str, Any]:
        """JSON-ready key results, merged into ``summary.json``."""
        ...

    def estimands(self) -> list[dict[str, Any]]:
        """Tidy estimand rows (see :mod:`tfrsim.analysis.estimands`)."""
        ...


@dataclass(frozen=True)
class Analysis:
    """A registered analysis.

    Attributes
    ----------
    name : str
        Name used in ``analysis.methods``.
    run : callable
        ``run(patients: DataFrame, params: AnalysisParams) -> AnalysisOutput``; records
        failures in its output rather than raising where it can.
    columns : tuple of str
        Patient-table columns it reads beyond the survival columns (kept in memory
        when the patient table is streamed to disk).
    cost : int
        Rough relative run time on a large table (1: a pass or two over the rows).
        When analyses run in threads the costliest start first, so the longest one
        does not start last. Never affects results.
    threaded : bool
        ``run`` takes a ``threads`` keyword: how many threads it may use for its own
        independent pieces (:func:`tfrsim.analysis.analyse` passes its own count).
        Never affects results.
    """

    name: str
    run: Callable[..., AnalysisOutput]
    columns: tuple[str, ...] = ()
    cost: int = 1
    threaded: bool = False


ANALYSES: dict[str, Analysis] = {}


def register_analysis(analysis: Analysis) -> Analysis:
    """Register ``analysis`` under its name (re-registering a name replaces it)."""
    ANALYSES[analysis.name] = analysis
    return analysis


def get_analysis(name: str) -> Analysis:
    """Look up an analysis; the error lists the valid names."""
    try:
        return ANALYSES[name]
    except KeyError:
        raise KeyError(f"unknown analysis {name!r}; valid analyses: {sorted(ANALYSES)}") from None


def register_lazy(name: str, module: str, function: str, columns: tuple[str, ...] = ()) -> Analysis:
    """Register an analysis whose module is imported only when it first runs.

    For analyses with heavy imports (scipy.optimize): registering them must not slow
    down translating a config (e.g. refusing an oversized run in well under 2 s).
    """
    from importlib import import_module

    def run(data: pd.DataFrame, params: Any) -> AnalysisOutput:
        real = getattr(import_module(module), function)
        output: AnalysisOutput = real(data, params)
        return output

    run.__doc__ = f"``{module}.{function}`` (imported on first use)."
    return register_analysis(Analysis(name, run, columns))
