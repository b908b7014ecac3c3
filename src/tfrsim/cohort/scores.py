"""Prognostic scores at diagnosis: Sokal (1984) and ELTS (2016).

Formulas and cut-offs from the calibration reference
(``prognostic_scores`` in tfr_calibration_data.yaml):

* Sokal JE et al. Blood 1984;63:789 (formula as tabulated in Cancer Sci
  2014;105:105, Table 1): ``exp(0.0116 (age - 43.4) + 0.0345 (spleen - 7.51)
  + 0.188 ((platelets / 700)^2 - 0.563) + 0.0887 (blasts - 2.10))``;
  low < 0.8 <= intermediate <= 1.2 < high.
* ELTS, Pfirrmann M et al. Leukemia 2016;30:48: ``0.0025 (age / 10)^3
  + 0.0615 spleen + 0.1052 blasts + 0.4104 (platelets / 1000)^(-0.5)``;
  low <= 1.5680 < intermediate <= 2.2185 < high.

Units: age in years, spleen in cm below the costal margin, platelets in 10^9/L,
blasts in % of peripheral blood, all at diagnosis.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray

SOKAL_CUTOFFS = (0.8, 1.2)
ELTS_CUTOFFS = (1.5680, 2.2185)


def sokal_score(
    age_years: ArrayLike, spleen_cm: ArrayLike, platelets: ArrayLike, blasts_pct: ArrayLike
) -> NDArray[np.float64]:
    """Sokal relative risk (dimensionless), elementwise."""
    age, spleen, plt, blasts = (
        np.asarray(a, dtype=float) for a in (age_years, spleen_cm, platelets, blasts_pct)
    )
    return np.exp(
        0.0116 * (age - 43.4)
        + 0.0345 * (spleen - 7.51)
        + 0.188 * ((plt / 700.0) ** 2 - 0.563)
        + 0.0887 * (blasts - 2.10)
    )


def elts_score(
    age_years: ArrayLike, spleen_cm: ArrayLike, platelets: ArrayLike, blasts_pct: ArrayLike
) -> NDArray[np.float64]:
    """EUTOS long-term survival (ELTS) score, elementwise."""
    age, spleen, plt, blasts = (
        np.asarray(a, dtype=float) for a in (age_years, spleen_cm, platelets, blasts_pct)
    )
    return (
        0.0025 * (age / 10.0) ** 3
        + 0.0615 * spleen
        + 0.1052 * blasts
        + 0.4104 * (plt / 1000.0) ** -0.5
    )


def sokal_group(score: ArrayLike) -> NDArray[np.int8]:
    """Sokal group codes 0 = low (< 0.8), 1 = intermediate (0.8-1.2), 2 = high (> 1.2)."""
    s = np.asarray(score, dtype=float)
    # Intermediate includes both cut-offs (0.8 <= s <= 1.2).
    return ((s >= SOKAL_CUTOFFS[0]).astype(np.int8) + (s > SOKAL_CUTOFFS[1])).astype(np.int8)


def elts_group(score: ArrayLike) -> NDArray[np.int8]:
    """ELTS group codes 0 = low (<= 1.5680), 1 = intermediate (<= 2.2185), 2 = high."""
    s = np.asarray(score, dtype=float)
    return ((s > ELTS_CUTOFFS[0]).astype(np.int8) + (s > ELTS_CUTOFFS[1])).astype(np.int8)
