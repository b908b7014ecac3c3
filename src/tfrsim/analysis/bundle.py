"""The whole analysis stage: KM, log-rank and Cox on one patient table."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tfrsim.analysis.cox import CoxResult, fit_cox
from tfrsim.analysis.km import KMResult, fit_km
from tfrsim.analysis.logrank import LogRankResult, logrank_by_group
from tfrsim.config.params import AnalysisParams
from tfrsim.jsonsafe import json_safe

LONG_COLUMNS: tuple[str, ...] = ("section", "term", "month", "quantity", "value")


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [
        {c: json_safe(v) for c, v in zip(columns, row, strict=True)}
        for row in frame[columns].itertuples(index=False, name=None)
    ]


@dataclass(frozen=True)
class AnalysisResult:
    """Everything the analysis stage reports for one simulated study.

    Parameters
    ----------
    km : KMResult
        Kaplan–Meier curves, numbers at risk and milestones.
    logrank : LogRankResult
        Log-rank test across Sokal groups.
    cox : CoxResult
        Cox model and proportional-hazards test.
    """

    km: KMResult
    logrank: LogRankResult
    cox: CoxResult

    def summary_dict(self) -> dict[str, Any]:
        """Key results as plain, JSON-serialisable Python (NaN -> None).

        Returns
        -------
        dict
            ``milestones`` (list of {group, month, survival, lower, upper}),
            ``cox`` (list of {covariate, hr, lower, upper, p}), ``cox_converged``,
            ``cox_message``, ``logrank`` ({statistic, p, df}) and ``ph_test``
            (list of {covariate, statistic, p}).
        """
        return {
            "milestones": _records(
                self.km.milestones, ["group", "month", "survival", "lower", "upper"]
            ),
            "cox": _records(self.cox.table, ["covariate", "hr", "lower", "upper", "p"]),
            "cox_converged": bool(self.cox.converged),
            "cox_message": str(self.cox.message),
            "logrank": {
                "statistic": json_safe(float(self.logrank.statistic)),
                "p": json_safe(float(self.logrank.p)),
                "df": int(self.logrank.df),
            },
            "ph_test": _records(self.cox.ph_test, ["covariate", "statistic", "p"]),
        }

    def to_frame(self) -> pd.DataFrame:
        """Return every reported number as one long tidy table.

        Columns ``section`` ("milestone", "cox", "logrank", "ph_test"), ``term``
        (group or covariate; empty for the log-rank test), ``month`` (float,
        NaN when not a milestone), ``quantity`` (e.g. "survival", "hr", "p") and
        ``value`` (float).
        """
        parts = [
            _melt(self.km.milestones, "milestone", "group", ["survival", "lower", "upper"]),
            _melt(self.cox.table, "cox", "covariate", ["coef", "se", "hr", "lower", "upper", "p"]),
            _melt(self.cox.ph_test, "ph_test", "covariate", ["statistic", "p"]),
            _melt(
                self.logrank.to_frame().assign(term=""),
                "logrank",
                "term",
                ["statistic", "p", "df"],
            ),
        ]
        return pd.concat(parts, ignore_index=True)[list(LONG_COLUMNS)]


def _melt(frame: pd.DataFrame, section: str, term: str, values: list[str]) -> pd.DataFrame:
    ids = [term, "month"] if "month" in frame.columns else [term]
    long = frame.melt(id_vars=ids, value_vars=values, var_name="quantity", value_name="value")
    long = long.rename(columns={term: "term"}).assign(section=section)
    if "month" not in long.columns:
        long["month"] = np.nan
    return long.astype({"value": float, "month": float, "term": str})


def analyse(data: pd.DataFrame, params: AnalysisParams) -> AnalysisResult:
    """Run the Kaplan–Meier, log-rank and Cox analyses on one patient table.

    Parameters
    ----------
    data : pandas.DataFrame
        Patient table as written to ``patients.parquet``, one row per patient.
    params : AnalysisParams
        Analysis settings.

    Returns
    -------
    AnalysisResult
        The three analyses; failures of the Cox fit or log-rank test are recorded
        in the results, not raised.
    """
    return AnalysisResult(
        km=fit_km(data, params), logrank=logrank_by_group(data), cox=fit_cox(data, params)
    )
