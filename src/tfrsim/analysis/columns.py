"""Checks and views of the patient table shared by the analysis functions.

The analysis stage reads the table written to ``patients.parquet`` (one row per
patient). These helpers validate the columns every analysis needs and split the
patients into the groups that are reported: all patients, then each non-empty
Sokal group in increasing order of risk.
"""

from collections.abc import Iterator

import numpy as np
import pandas as pd

from tfrsim.analysis.grid import unique_inverse
from tfrsim.cohort.params import SOKAL_GROUPS

#: Label of the group made of every patient.
ALL_GROUP: str = "all"
#: Columns every analysis function needs.
SURVIVAL_COLUMNS: tuple[str, ...] = ("duration_months", "event", "sokal_group")


def check_survival_columns(data: pd.DataFrame, *, argument: str = "data") -> None:
    """Validate the columns needed by the survival analyses.

    Parameters
    ----------
    data : pandas.DataFrame
        Patient table, one row per patient.
    argument : str
        Name of the argument being checked, used in error messages.

    Raises
    ------
    ValueError
        If a column is missing, a duration is negative or not finite, an event flag
        is missing, or a Sokal group is not one of :data:`SOKAL_GROUPS`.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{argument} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in SURVIVAL_COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(
            f"{argument} is missing required column(s) {missing}; "
            f"required columns are {list(SURVIVAL_COLUMNS)}"
        )
    durations = pd.to_numeric(data["duration_months"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(durations) | (durations < 0)
    if bad.any():
        raise ValueError(
            f"{argument}['duration_months'] must be finite and >= 0 months; "
            f"{int(bad.sum())} row(s) are not, first value {durations[np.argmax(bad)]!r}"
        )
    if data["event"].isna().any():
        raise ValueError(
            f"{argument}['event'] must be a boolean relapse flag without missing values; "
            f"{int(data['event'].isna().sum())} row(s) are missing"
        )
    coded = sokal_codes(data["sokal_group"])
    if coded is not None:  # categorical: look at the categories in use, not every row
        codes, categories = coded
        used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(categories)))
        unknown = sorted({categories[i] for i in used} - set(SOKAL_GROUPS))
        has_missing = bool((codes < 0).any())
    else:
        labels = data["sokal_group"].astype("string")
        unknown = sorted(set(labels.dropna().unique()) - set(SOKAL_GROUPS))
        has_missing = bool(labels.isna().any())
    if unknown or has_missing:
        raise ValueError(
            f"{argument}['sokal_group'] must take values in {list(SOKAL_GROUPS)}; "
            f"found {unknown if unknown else 'missing values'}"
        )


def sokal_codes(column: pd.Series) -> tuple[np.ndarray, list[str]] | None:
    """Integer codes and category labels of a categorical column of str labels.

    The patient table stores Sokal groups as a categorical: comparing its codes is
    what comparing its labels as strings gives, without making a string per row.
    None for any other column (callers then compare the labels as strings).
    """
    dtype = column.dtype
    if not isinstance(dtype, pd.CategoricalDtype):
        return None
    categories = list(dtype.categories)
    if not all(isinstance(c, str) for c in categories):
        return None
    return np.asarray(column.cat.codes.to_numpy()), categories


def group_mask(column: pd.Series, group: str) -> np.ndarray:
    """Rows of ``column`` whose label, as a string, is ``group`` (bool, ``(n,)``)."""
    coded = sokal_codes(column)
    if coded is None:
        return np.asarray(column.astype("string").to_numpy(dtype=object) == group, dtype=bool)
    codes, categories = coded
    if group not in categories:
        return np.zeros(len(column), dtype=bool)
    return np.asarray(codes == categories.index(group))


def durations_events(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return durations (months, float, shape ``(n,)``) and event flags (bool, ``(n,)``)."""
    durations = data["duration_months"].to_numpy(dtype=float)
    events = data["event"].to_numpy(dtype=bool)
    return durations, events


def iter_groups(
    data: pd.DataFrame, *, include_all: bool = True
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(label, mask)`` for each reported group that has at least one patient.

    The order is ``"all"`` (if ``include_all``) then the Sokal groups in increasing
    order of risk; ``mask`` is a boolean array of shape ``(n,)``.
    """
    n = len(data)
    if include_all and n > 0:
        yield ALL_GROUP, np.ones(n, dtype=bool)
    coded = sokal_codes(data["sokal_group"])
    labels = None if coded else data["sokal_group"].astype("string").to_numpy(dtype=object)
    for group in SOKAL_GROUPS:
        mask = group_mask(data["sokal_group"], group) if labels is None else labels == group
        if mask.any():
            yield group, mask


def collapse(
    durations: np.ndarray, events: np.ndarray, masks: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each group's distinct ``(duration, event)`` rows and how many patients share them.

    On the visit grid a million patients share a few dozen durations: KM curves and
    log-rank tests computed from these frequency-weighted rows (lifelines' ``weights``)
    have the same event tables, hence the same numbers, as from one row per patient.

    Parameters
    ----------
    durations : float array, (n,)
    events : bool array, (n,)
    masks : list of bool arrays, (n,)
        Rows of each group.

    Returns
    -------
    list of (durations, events, counts)
        Per group, ascending durations (censored before events at a tie), bool
        events and float counts (integers, as lifelines' weights).
    """
    times, inverse = unique_inverse(durations)  # one sort for all groups
    key = inverse.reshape(-1) * 2 + np.asarray(events, dtype=bool)
    out = []
    for mask in masks:
        counts = np.bincount(key[mask], minlength=2 * times.size)
        cells = np.flatnonzero(counts)
        out.append((times[cells // 2], (cells % 2).astype(bool), counts[cells].astype(float)))
    return out
