"""One job folder -> tidy rows of the sweep table (one row per estimand).

Columns of a row (:data:`ESTIMAND_COLUMNS`): ``estimand`` (``mrfs``, ``hr``,
``ph_test``, ``logrank``, ``detection_delay``, ``n_events``, ...), ``group`` (KM group:
``all`` or a Sokal group), ``covariate`` (Cox term), ``month``, ``value`` (survival,
hazard ratio, median delay in months, count...), ``lower``, ``upper`` (its interval),
``p`` and ``statistic``. Fields that do not apply are NaN / empty.
"""

from typing import Any

import numpy as np

#: Columns describing one estimand of one job, in order.
ESTIMAND_COLUMNS: tuple[str, ...] = (
    "estimand",
    "group",
    "covariate",
    "month",
    "value",
    "lower",
    "upper",
    "p",
    "statistic",
)


def _num(value: Any) -> float:
    """JSON number or null -> float (NaN for null)."""
    return np.nan if value is None else float(value)


def _row(estimand: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ESTIMAND_COLUMNS, np.nan)
    row.update(estimand=estimand, group="", covariate="")
    row.update(fields)
    return row


def summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The estimands of one run's ``summary.json`` as tidy rows."""
    rows = [
        _row(
            "mrfs",
            group=m["group"],
            month=_num(m["month"]),
            value=_num(m["survival"]),
            lower=_num(m["lower"]),
            upper=_num(m["upper"]),
        )
        for m in summary.get("milestones", [])
    ]
    rows += [
        _row(
            "hr",
            covariate=c["covariate"],
            value=_num(c["hr"]),
            lower=_num(c["lower"]),
            upper=_num(c["upper"]),
            p=_num(c["p"]),
        )
        for c in summary.get("cox", [])
    ]
    rows += [
        _row("ph_test", covariate=t["covariate"], p=_num(t["p"]), statistic=_num(t["statistic"]))
        for t in summary.get("ph_test", [])
    ]
    logrank = summary.get("logrank")
    if logrank:
        rows.append(_row("logrank", p=_num(logrank["p"]), statistic=_num(logrank["statistic"])))
    rows.append(_row("n_events", value=_num(summary.get("n_events"))))
    obs = summary.get("observation") or {}
    if "delay_median_months" in obs:
        rows.append(
            _row(
                "detection_delay",
                value=_num(obs["delay_median_months"]),
                lower=_num(obs["delay_q25_months"]),
                upper=_num(obs["delay_q75_months"]),
            )
        )
        rows.append(_row("detection_delay_mean", value=_num(obs["delay_mean_months"])))
        rows.append(_row("n_detected_relapses", value=_num(obs["n_detected_relapses"])))
    if "median_relapse_month" in obs:
        rows.append(_row("median_relapse_month", value=_num(obs["median_relapse_month"])))
    return rows
