"""Every new result's summary() is JSON-safe and its to_frame() a tidy table."""

import json

import numpy as np
import pandas as pd

from tfrsim.analysis.concordance import concordance_index
from tfrsim.analysis.cox_stats import cox_fit_statistics
from tfrsim.analysis.cure import fit_cure_model
from tfrsim.analysis.efron import fit_efron
from tfrsim.analysis.interval import fit_interval_cure_weibull, fit_turnbull
from tfrsim.analysis.survfit import km_estimate, median_survival, rmst
from tfrsim.analysis.zph import cox_zph


def test_summaries_are_json_safe_and_frames_tidy() -> None:
    """json.dumps(allow_nan=False) of each summary (NaN medians and reference-group
    p-values must become null), and to_frame() returns a non-empty DataFrame."""
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=(n, 2))
    latent = np.where(rng.random(n) < 0.4, np.inf, rng.exponential(8 * np.exp(-x[:, 0])))
    c = rng.uniform(3, 36, n)
    t = np.ceil(np.minimum(latent, c) / 3) * 3
    e = latent <= c
    groups = np.where(x[:, 1] > 0, "high", "low")
    coef = fit_efron(x, t, e).coef
    left = np.where(e, t - 3, t)
    right = np.where(e, t, np.inf)
    results = [
        cox_zph(t, e, x, coef, {"a": [0], "b": [1]}),
        concordance_index(t, e, x @ coef),
        cox_fit_statistics(t, e, x, coef),
        km_estimate(t, e, ci_transform="log"),
        rmst(t, e, 24.0, groups=groups),
        median_survival(t, e, groups=groups),
        fit_cure_model(t, e, x[:, 1], x[:, 0], profiles={"x=0": [0.0], "x=1": [1.0]}),
        fit_turnbull(left, right, [3.0, 12.0]),
        fit_interval_cure_weibull(left, right, [3.0, 12.0]),
    ]
    for result in results:
        json.dumps(result.summary(), allow_nan=False)
        frame = result.to_frame()
        assert isinstance(frame, pd.DataFrame)
        assert len(frame) > 0
