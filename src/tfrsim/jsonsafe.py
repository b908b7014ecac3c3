"""Plain, JSON-safe Python values (for summary.json and other JSON outputs)."""

import math
from typing import Any

import numpy as np
import pandas as pd


def json_safe(value: Any) -> Any:
    """``value`` as plain Python that ``json.dumps(..., allow_nan=False)`` accepts.

    Mappings and sequences are converted recursively (keys become str), numpy scalars
    become Python scalars, and NaN or infinite floats become None.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: "pd.DataFrame", columns: list[str]) -> list[dict[str, Any]]:
    """Rows of ``frame[columns]`` as JSON-safe dicts."""
    return [
        {c: json_safe(v) for c, v in zip(columns, row, strict=True)}
        for row in frame[columns].itertuples(index=False, name=None)
    ]
