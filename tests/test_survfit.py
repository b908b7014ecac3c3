"""KM confidence transforms, RMST and median survival against lifelines, hand
computations and a simulation."""

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy.stats import norm

from tfrsim.analysis.km import _curve
from tfrsim.analysis.survfit import confidence_interval, km_estimate, median_survival, rmst


def _sample(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.exponential(12, n)
    c = rng.uniform(0, 36, n)
    return np.ceil(np.minimum(t, c) / 3) * 3, t <= c


def test_log_log_interval_equals_lifelines() -> None:
    """Greenwood + log-log equals lifelines' exponential Greenwood CI (1e-10).
    Catches a Greenwood sum with n (n + d) or a swapped lower/upper."""
    t, e = _sample(1, 800)
    km = km_estimate(t, e, ci_transform="log-log")
    kmf = KaplanMeierFitter().fit(t, e)
    ref = kmf.confidence_interval_survival_function_.loc[km.time]
    np.testing.assert_allclose(km.survival, kmf.survival_function_.loc[km.time].iloc[:, 0])
    np.testing.assert_allclose(km.lower, ref.iloc[:, 0], atol=1e-10)
    np.testing.assert_allclose(km.upper, ref.iloc[:, 1], atol=1e-10)


def test_log_and_plain_intervals_by_hand() -> None:
    """Six patients, computed by hand: times 1,2,2,3,4,5 with events 1,1,0,1,0,1.

    At month 3: S = (5/6)(4/5)(2/3) = 4/9; var(log S) = 1/30 + 1/20 + 1/6 = 1/4.
    Catches a CI on the wrong scale (log vs plain) and a missing cap at 1.
    """
    t = np.array([1, 2, 2, 3, 4, 5], dtype=float)
    e = np.array([1, 1, 0, 1, 0, 1], dtype=bool)
    z = norm.ppf(0.975)
    s, se = 4 / 9, 0.5
    log = km_estimate(t, e, ci_transform="log").at([3.0])
    assert log["lower"].iloc[0] == pytest.approx(s * np.exp(-z * se), abs=1e-12)
    assert log["upper"].iloc[0] == pytest.approx(min(s * np.exp(z * se), 1.0), abs=1e-12)
    plain = km_estimate(t, e, ci_transform="plain").at([3.0])
    assert plain["lower"].iloc[0] == pytest.approx(max(s - z * se * s, 0.0), abs=1e-12)
    assert plain["upper"].iloc[0] == pytest.approx(s + z * se * s, abs=1e-12)
    first = km_estimate(t, e, ci_transform="log")
    assert first.upper[0] == pytest.approx(min((5 / 6) * np.exp(z * np.sqrt(1 / 30)), 1.0))


def test_fit_km_curve_transform_keyword() -> None:
    """The KM table keeps lifelines' log-log limits by default and takes R's log
    limits on request (catches misaligned months when replacing the limits)."""
    t, e = _sample(2, 300)
    t[:2] = 0.0  # relapses at month 0: the table gains a (0, 1) start row
    default = _curve(t, e, 0.05)
    log = _curve(t, e, 0.05, "log")
    np.testing.assert_array_equal(default["survival"], log["survival"])
    ref = km_estimate(t, e, ci_transform="log").at(log["month"].iloc[1:])
    np.testing.assert_allclose(log["lower"].iloc[1:], ref["lower"], atol=1e-12)
    assert log["lower"].iloc[0] == 1.0
    with pytest.raises(ValueError, match="ci_transform"):
        _curve(t, e, 0.05, "arcsin")  # type: ignore[arg-type]


def test_rmst_area_equals_lifelines_and_difference() -> None:
    """Area under KM to tau equals lifelines' integral (1e-10), including tau
    between and beyond observed times; the difference CI and p follow from the
    group SEs (catches a variance summed on the wrong side of each time); the reference
    group's difference with itself is 0 with a zero-width interval."""
    t, e = _sample(3, 600)
    groups = np.where(np.arange(t.size) % 3 == 0, "high", "low")
    t[groups == "high"] *= 0.7
    for tau in (10.0, 24.0, 60.0):
        result = rmst(t, e, tau, groups=groups, reference="low")
        for g in ("high", "low"):
            m = groups == g
            kmf = KaplanMeierFitter().fit(t[m], e[m])
            area = restricted_mean_survival_time(kmf, t=tau)
            assert result.rmst[result.groups.index(g)] == pytest.approx(area, abs=1e-10)
    table = result.to_frame().set_index("group")
    se = np.hypot(table.loc["high", "se"], table.loc["low", "se"])
    assert table.loc["high", "difference_se"] == pytest.approx(se)
    z = table.loc["high", "difference"] / se
    assert table.loc["high", "p"] == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    assert np.isnan(table.loc["low", "p"])
    # The reference against itself: a difference of 0 with a degenerate interval.
    ref = table.loc["low", ["difference", "difference_se", "difference_lower", "difference_upper"]]
    assert ref.tolist() == [0.0, 0.0, 0.0, 0.0]
    high = table.loc["high"]
    assert high["difference_lower"] < high["difference"] < high["difference_upper"]
    assert result.summary()["reference"] == "low"


@pytest.mark.statistical
def test_rmst_se_matches_sampling_sd() -> None:
    """The survmean SE equals the SD of RMST over 400 simulated samples of 300.

    SD estimated from 400 replicates has relative SE about 1/sqrt(2 * 400) = 3.5%;
    tolerance 3 SE = 11%. Catches a variance with missing squares or terms.
    """
    rng = np.random.default_rng(11)
    estimates, ses = [], []
    for _ in range(400):
        t = rng.exponential(12, 300)
        c = rng.uniform(0, 36, 300)
        r = rmst(np.minimum(t, c), t <= c, 24.0)
        estimates.append(r.rmst[0])
        ses.append(r.se[0])
    assert np.mean(ses) == pytest.approx(np.std(estimates, ddof=1), rel=0.11)


def test_median_conventions_by_hand() -> None:
    """Four events at 1..4: S hits exactly 0.5 on [2, 3), so the median is 2.5
    (R's mid-point rule); a curve that stays above 0.5 has no median (NaN)."""
    t = np.array([1.0, 2, 3, 4])
    result = median_survival(t, np.ones(4, dtype=bool))
    assert result.median[0] == pytest.approx(2.5)
    never = median_survival(np.array([1.0, 2, 3]), np.array([True, False, False]))
    assert np.isnan(never.median[0])
    assert never.summary()["groups"][0]["median"] is None


def test_median_and_ci_from_curves() -> None:
    """Median CI = where the pointwise limits cross 0.5, checked against the KM
    table itself (catches a lower limit taken from the upper curve)."""
    t, e = _sample(4, 500)
    result = median_survival(t, e, groups=pd.Series(["a"] * 500), ci_transform="log")
    km = km_estimate(t, e, ci_transform="log").to_frame()
    assert result.median[0] == km.loc[km["survival"] < 0.5, "month"].iloc[0]
    assert result.lower[0] == km.loc[km["lower"] < 0.5, "month"].iloc[0]
    assert result.upper[0] == km.loc[km["upper"] < 0.5, "month"].iloc[0]
    assert result.lower[0] <= result.median[0] <= result.upper[0]


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.05, 1.5])
def test_confidence_level_must_be_strictly_between_0_and_1(alpha: float) -> None:
    """Catches an alpha of 0 (an infinitely wide, useless interval: z = inf) or of 1
    accepted silently: alpha must lie in the open interval (0, 1)."""
    with pytest.raises(ValueError, match="alpha"):
        confidence_interval([0.8], [0.1], alpha=alpha)
    lower, upper = confidence_interval([0.8], [0.1], alpha=0.05)
    assert 0 < lower[0] < 0.8 < upper[0] < 1


def test_km_at_is_one_before_the_first_time_and_carried_forward() -> None:
    """Catches a wrong value before the first event time (survival and both CI limits
    are exactly 1 there, as in R's ``summary(survfit, times)``) or a curve not carried
    forward past the last time: compared with the curve's own first and last rows."""
    t, e = _sample(5, 200)
    km = km_estimate(t, e)
    frame = km.to_frame()
    first = float(frame["month"].min())
    at = km.at([0.0, first / 2, frame["month"].max() + 100.0])
    assert at.loc[:1, ["survival", "lower", "upper"]].to_numpy().tolist() == [[1.0] * 3] * 2
    last = frame.iloc[-1]
    assert at.loc[2, ["survival", "lower", "upper"]].tolist() == pytest.approx(
        [last["survival"], last["lower"], last["upper"]], nan_ok=True
    )
