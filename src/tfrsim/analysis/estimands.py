"""One tidy long schema for every reported number (an *estimand* row).

Used by :meth:`tfrsim.analysis.AnalysisResult.to_frame`, ``summary.json``'s
``estimands`` list and the sweep table, so that a new analysis appears in all three by
returning rows of this shape.

Columns (:data:`ESTIMAND_COLUMNS`): ``analysis`` (registered analysis that produced
it), ``estimand`` (``mrfs``, ``hr``, ``ph_test``, ``logrank``, ...), ``group`` (KM
group: ``all`` or a Sokal group; empty if none), ``covariate`` (model term; empty if
none), ``month`` (NaN if not a time point), ``value`` (survival, hazard ratio,
months, count...), ``lower``, ``upper`` (its interval), ``p`` and ``statistic``.
Fields that do not apply are NaN or empty.
"""

from typing import Any

import numpy as np
import pandas as pd

ESTIMAND_COLUMNS: tuple[str, ...] = (
    "analysis",
    "estimand",
    "group",
    "covariate",
    "month",
    "value",
    "lower",
    "upper",
    "p",
    "log10_p",
    "statistic",
)
_TEXT = ("analysis", "estimand", "group", "covariate")


def _num(value: Any) -> float:
    return np.nan if value is None else float(value)


def estimand(analysis: str, name: str, **fields: Any) -> dict[str, Any]:
    """One row: text fields default to ``""``, numbers to NaN."""
    unknown = set(fields) - set(ESTIMAND_COLUMNS)
    if unknown:
        raise ValueError(f"unknown estimand fields {sorted(unknown)}; valid: {ESTIMAND_COLUMNS}")
    row: dict[str, Any] = {c: ("" if c in _TEXT else np.nan) for c in ESTIMAND_COLUMNS}
    row.update(analysis=analysis, estimand=name)
    for key, value in fields.items():
        row[key] = str(value) if key in _TEXT else _num(value)
    if "log10_p" not in fields and row["p"] > 0:
        row["log10_p"] = float(np.log10(row["p"]))
    return row


def estimand_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a frame with exactly :data:`ESTIMAND_COLUMNS` and stable dtypes."""
    # Column by column (a frame from a list of dicts, then a cast per column, cost
    # ~2.5 ms per replicate of a power sweep); missing fields are NaN, as there.
    columns = {
        col: (
            np.array([str(row.get(col, np.nan)) for row in rows], dtype=object)
            if col in _TEXT
            else np.array([row.get(col, np.nan) for row in rows], dtype=float)
        )
        for col in ESTIMAND_COLUMNS
    }
    return pd.DataFrame(columns)
