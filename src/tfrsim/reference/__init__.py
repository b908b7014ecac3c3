"""Published facts tfrsim calibrates against, shipped with the package.

The data live in ``published.yaml`` (package data) with the citation of every
point: MRFS curves and relapse timing of STIM1, STIM2 and TWISTER, their design
(eligibility, relapse rule, monitoring, follow-up, baseline) and published
covariate effect sizes.
"""

from tfrsim.reference.loader import (
    MRFS_COLUMNS,
    PLOT_COLUMNS,
    SE_BASES,
    TRIALS,
    Z95,
    MrfsPoint,
    load_reference,
    mrfs_points,
    published_for_plot,
    published_mrfs,
    timing_facts,
    trial_facts,
)

__all__ = [
    "MRFS_COLUMNS",
    "PLOT_COLUMNS",
    "SE_BASES",
    "TRIALS",
    "Z95",
    "MrfsPoint",
    "load_reference",
    "mrfs_points",
    "published_for_plot",
    "published_mrfs",
    "timing_facts",
    "trial_facts",
]
