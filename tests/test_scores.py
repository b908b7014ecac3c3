"""Sokal and ELTS scores against values computed by hand from the published formulas."""

import math

import numpy as np
import pytest

from tfrsim.cohort.scores import elts_group, elts_score, sokal_group, sokal_score


def test_sokal_hand_computed() -> None:
    # Age 50 y, spleen 10 cm, platelets 700e9/L, blasts 3 % (Sokal, Blood 1984):
    # 0.0116*(50-43.4) = 0.07656; 0.0345*(10-7.51) = 0.085905;
    # 0.188*((700/700)^2 - 0.563) = 0.082156; 0.0887*(3-2.10) = 0.07983
    # exponent = 0.324451
    assert sokal_score(50, 10, 700, 3) == pytest.approx(math.exp(0.324451), rel=1e-12)
    # Age 43.4, spleen 7.51, platelets 700*sqrt(0.563), blasts 2.10: every term is 0.
    assert sokal_score(43.4, 7.51, 700 * math.sqrt(0.563), 2.10) == pytest.approx(1.0, abs=1e-12)
    # Age 30, spleen 0, platelets 350, blasts 0:
    # 0.0116*(-13.4) = -0.15544; 0.0345*(-7.51) = -0.259095;
    # 0.188*(0.25 - 0.563) = -0.058844; 0.0887*(-2.10) = -0.18627 -> -0.659649
    assert sokal_score(30, 0, 350, 0) == pytest.approx(math.exp(-0.659649), rel=1e-12)


def test_elts_hand_computed() -> None:
    # Age 50, spleen 10, blasts 3, platelets 700 (Pfirrmann, Leukemia 2016):
    # 0.0025*(5)^3 = 0.3125; 0.0615*10 = 0.615; 0.1052*3 = 0.3156;
    # 0.4104*(0.7)^-0.5 = 0.4104/0.8366600265 = 0.4905219...
    expected = 0.3125 + 0.615 + 0.3156 + 0.4104 / 0.8366600265340756
    assert elts_score(50, 10, 700, 3) == pytest.approx(expected, rel=1e-12)
    # Age 70, spleen 0, blasts 0, platelets 250: 0.0025*343 = 0.8575; 0.4104*2 = 0.8208.
    assert elts_score(70, 0, 250, 0) == pytest.approx(0.8575 + 0.8208, rel=1e-12)


def test_sokal_cutoffs_are_inclusive_for_intermediate() -> None:
    scores = np.array([0.5, 0.7999, 0.8, 1.0, 1.2, 1.2001, 3.0])
    assert sokal_group(scores).tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_elts_cutoffs() -> None:
    scores = np.array([1.0, 1.5680, 1.5681, 2.2185, 2.2186])
    assert elts_group(scores).tolist() == [0, 0, 1, 1, 2]


def test_scores_vectorised() -> None:
    age = np.array([50.0, 30.0])
    out = sokal_score(age, [10, 0], [700, 350], [3, 0])
    assert out.shape == (2,)
    assert out[0] == pytest.approx(math.exp(0.324451))
