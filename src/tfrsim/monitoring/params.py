"""Parameters of the observation stage: schedule, assay, relapse rule, follow-up.

Each dataclass validates itself on construction (``__post_init__``); a broken rule
raises :class:`~tfrsim.checks.ConfigError` naming the field relative to the dataclass
(the translation step prefixes the config path), the rule and the value.
"""

from dataclasses import dataclass, field, replace

from tfrsim import checks as c
from tfrsim.monitoring.registry import RULES

#: Average days per month (Gregorian year / 12): converts jitter in days to months.
DAYS_PER_MONTH = 365.25 / 12
#: Loss of major molecular response: BCR-ABL1 IS above 0.1 % (ross2018_enestfreedom).
MMR_PCT: float = 0.1
#: Loss of MR4: BCR-ABL1 IS above 0.01 % (ross2018_enestfreedom; bloodadv2020_late).
MR4_PCT: float = 0.01
#: Smallest visit interval accepted (months). ASSUMPTION: no protocol tests more often
#: than weekly; a finer grid is almost surely a unit mistake (days for months).
MIN_VISIT_INTERVAL_MONTHS: float = 7 / DAYS_PER_MONTH


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class ScheduleSegment:
    """Visits every ``every_months`` up to and including ``until_month``."""

    until_month: float
    every_months: float

    def __post_init__(self) -> None:
        _set(self, "until_month", c.positive("until_month", self.until_month, "months"))
        every = c.positive("every_months", self.every_months, "months")
        if every < MIN_VISIT_INTERVAL_MONTHS:
            raise c.ConfigError(
                "every_months",
                f"must be >= {MIN_VISIT_INTERVAL_MONTHS:.3f} months (one week)",
                every,
                "did you give days instead of months?",
            )
        _set(self, "every_months", every)


@dataclass(frozen=True)
class ScheduleParams:
    """When molecular tests happen.

    Parameters
    ----------
    segments : tuple of ScheduleSegment
        Piecewise visit intervals, in increasing ``until_month``; the last interval
        continues to the end of follow-up.
    jitter_days : float
        Each visit moves by a uniform offset in ``[-jitter_days, +jitter_days]`` days.
    missed_visit_prob : float
        Probability that a planned visit has no test (independently per visit).
    """

    segments: tuple[ScheduleSegment, ...]
    jitter_days: float = 0.0
    missed_visit_prob: float = 0.0

    def __post_init__(self) -> None:
        if not self.segments:
            raise c.ConfigError("segments", "must have at least one segment", list(self.segments))
        previous = 0.0
        for i, seg in enumerate(self.segments):
            if seg.until_month <= previous:
                raise c.ConfigError(
                    f"segments[{i}].until_month",
                    f"must increase along the schedule (previous {previous:g})",
                    seg.until_month,
                )
            previous = seg.until_month
        jitter = c.non_negative("jitter_days", self.jitter_days, "days")
        shortest_days = min(seg.every_months for seg in self.segments) * DAYS_PER_MONTH
        if jitter >= shortest_days / 2:
            raise c.ConfigError(
                "jitter_days",
                f"must be below half the shortest visit interval ({shortest_days / 2:.1f} days), "
                "so that visits keep their order",
                jitter,
            )
        _set(self, "jitter_days", jitter)
        _set(self, "missed_visit_prob", c.fraction("missed_visit_prob", self.missed_visit_prob))


@dataclass(frozen=True)
class AssayParams:
    """RQ-PCR measurement of BCR-ABL1 at a visit (DESIGN §5).

    ABL1 control copies per sample are log-normal; BCR-ABL1 copies are Poisson with
    mean ``true % IS / 100 * ABL1 copies``; a positive result carries multiplicative
    log-normal technical noise. An undetectable result carries its sensitivity, the
    MR level ``log10(ABL1 copies / min_bcr_copies)`` it could have shown (MR4.5 needs
    >= 32,000 ABL1 copies; Cross et al. 2015 via DESIGN §5).

    Parameters
    ----------
    abl_median_copies : float
        Median ABL1 copies per sample.
    abl_sigma_log10 : float
        SD of log10 ABL1 copies across samples.
    noise_sd_log10 : float
        SD of log10 technical noise of a positive result.
    min_bcr_copies : int
        BCR-ABL1 copies needed to call a sample positive.
    """

    abl_median_copies: float
    abl_sigma_log10: float
    noise_sd_log10: float
    min_bcr_copies: int = 1

    def __post_init__(self) -> None:
        _set(
            self,
            "abl_median_copies",
            c.positive("abl_median_copies", self.abl_median_copies, "copies"),
        )
        _set(self, "abl_sigma_log10", c.non_negative("abl_sigma_log10", self.abl_sigma_log10))
        _set(self, "noise_sd_log10", c.non_negative("noise_sd_log10", self.noise_sd_log10))
        _set(self, "min_bcr_copies", c.positive_int("min_bcr_copies", self.min_bcr_copies))


@dataclass(frozen=True)
class RuleParams:
    """Relapse rule (see :mod:`tfrsim.monitoring.rules` for the registered names).

    Parameters
    ----------
    name : str
        A registered rule: ``loss_of_mmr``, ``loss_of_mmr_confirmed``, ``stim``,
        ``twister``, ``loss_of_mr4``, or one registered by a plugin.
    mmr_threshold_pct : float
        Loss of MMR: a measured level above this (% IS).
    mr4_threshold_pct : float
        Loss of MR4: a measured level above this (% IS); below the MMR threshold.
    rise_log10 : float
        Rise (log10) that confirms a positive test in the ``stim`` rule.
    event_at : {"confirming", "first"}
        Date the relapse at the test that completes the rule, or at the first test of
        a confirmed pair.
    settings : dict of str to float
        Parameters of rules registered with their own settings (see
        :mod:`tfrsim.monitoring.registry`); missing ones take the rule's defaults.
    """

    name: str
    mmr_threshold_pct: float = MMR_PCT
    mr4_threshold_pct: float = MR4_PCT
    rise_log10: float = 1.0
    event_at: str = "confirming"
    settings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        c.one_of("name", self.name, RULES)
        mmr = c.in_range(
            "mmr_threshold_pct",
            self.mmr_threshold_pct,
            0.0,
            100.0,
            "percent IS",
            "did you pass a fraction? MMR is 0.1 (% IS)",
        )
        mr4 = c.in_range(
            "mr4_threshold_pct",
            self.mr4_threshold_pct,
            0.0,
            100.0,
            "percent IS",
            "did you pass a fraction? MR4 is 0.01 (% IS)",
        )
        if mr4 >= mmr:
            raise c.ConfigError(
                "mr4_threshold_pct",
                f"must be below mmr_threshold_pct ({mmr:g} % IS): MR4 is a deeper response "
                "than MMR",
                mr4,
            )
        _set(self, "mmr_threshold_pct", mmr)
        _set(self, "mr4_threshold_pct", mr4)
        _set(self, "rise_log10", c.positive("rise_log10", self.rise_log10, "(log10)"))
        c.one_of("event_at", self.event_at, ("confirming", "first"))
        declared = RULES[self.name].settings
        known = {k for rule in RULES.values() for k in rule.settings}
        settings = dict(declared)
        for key, value in dict(self.settings).items():
            if key not in known:
                raise c.ConfigError(
                    f"settings.{key}",
                    f"is not a setting of any registered rule (known: {sorted(known)})",
                    value,
                )
            settings[key] = c.finite(f"settings.{key}", value)
        _set(self, "settings", settings)

    def setting(self, key: str) -> float:
        """A rule-specific setting (its default unless configured)."""
        return self.settings[key]


@dataclass(frozen=True)
class AmendmentParams:
    """A protocol amendment: the relapse rule a trial used before a calendar date.

    Tests done before calendar month ``calendar_month`` of the trial (months after its
    first patient stopped, :class:`FollowUpParams`) are judged by ``earlier_rule``,
    later ones by ``monitoring.rule``; a relapse called under the earlier rule stands
    (treatment was restarted). STIM1's interim reports of 2008 and 2009 define
    relapse as "RQ-PCR positivity confirmed in two successive assessments"
    (stim_ash2008, stim_asco2009), the 2010 and 2017 analyses as a confirmed 1-log rise
    or loss of MMR (etienne2017_abs).

    Parameters
    ----------
    calendar_month : float, default 0
        Calendar month from which ``monitoring.rule`` applies; 0: no amendment.
    earlier_rule : str, default "consecutive_positive"
        Registered rule before that month (thresholds and ``event_at`` as
        ``monitoring.rule``).
    """

    calendar_month: float = 0.0
    earlier_rule: str = "consecutive_positive"

    def __post_init__(self) -> None:
        _set(
            self,
            "calendar_month",
            c.non_negative("calendar_month", self.calendar_month, "months", "0 means no amendment"),
        )
        c.one_of("earlier_rule", self.earlier_rule, RULES)

    @property
    def active(self) -> bool:
        """Whether an earlier rule applies to any test (``calendar_month > 0``)."""
        return self.calendar_month > 0.0


@dataclass(frozen=True)
class MonitoringParams:
    """How relapse is observed: visit schedule, assay, relapse rule, and any protocol
    amendment of the rule."""

    schedule: ScheduleParams
    assay: AssayParams
    rule: RuleParams
    amendment: AmendmentParams = field(default_factory=AmendmentParams)

    def earlier_rule(self) -> RuleParams:
        """The rule before the amendment, with ``rule``'s thresholds and dating."""
        return replace(self.rule, name=self.amendment.earlier_rule)


@dataclass(frozen=True)
class FollowUpParams:
    """Censoring: staggered accrual, analysis cut-off and dropout.

    Patient *i* stops the TKI at ``entry_i ~ Uniform(0, accrual_months)`` (calendar
    months after the first stop); the analysis is ``followup_months`` after the last
    possible stop, so administrative censoring falls at
    ``followup_months + accrual_months - entry_i`` (every patient can be followed at
    least ``followup_months``).
    Dropout is exponential with ``dropout_rate_per_month``. A censored patient's
    duration is the last visit attended.
    """

    followup_months: float
    accrual_months: float = 0.0
    dropout_rate_per_month: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "followup_months", c.positive("followup_months", self.followup_months, "months"))
        _set(
            self, "accrual_months", c.non_negative("accrual_months", self.accrual_months, "months")
        )
        _set(
            self,
            "dropout_rate_per_month",
            c.non_negative(
                "dropout_rate_per_month",
                self.dropout_rate_per_month,
                "per month",
                "a rate cannot be negative; use 0 for no dropout",
            ),
        )
