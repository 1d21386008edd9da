"""The scenario schema: validated, frozen parameters of a run.

A scenario is everything a run needs besides its seed: the population to synthesise, the
behaviour of firms, the rule sets that certify them, and the policy levers. Every section may
carry a ``sources`` table mapping its keys to a citation (document and article or line); the
schema checks that each cited key exists. Reading files is :mod:`sim.io.files`' job.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from sim.core.levers import Levers
from sim.core.schema import Count, NonNegative, PositiveMoney, Rate, Section, Shape, Share, Year, uncertain
from sim.core.vocab import TIER_IDS


class Meta(Section):
    """What the scenario is and where it comes from."""

    name: str
    description: str = ""


class RuleChange(Section):
    """A switch of rule set from a given year (e.g. MIIT 2026 from 2026-04-01)."""

    from_year: Year
    rules: str


class Run(Section):
    """Calendar and rule set of a run."""

    start_year: Year
    years: int = Field(ge=1, le=100)
    rules: str = "miit-2022"
    rule_changes: list[RuleChange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_change_a_year(self) -> Run:
        years = [c.from_year for c in self.rule_changes]
        if twice := sorted({y for y in years if years.count(y) > 1}):
            raise ValueError(f"two rule changes from {twice[0]}: give one rule set per year")
        return self


class SizeTilted(Section):
    """A binary firm trait whose probability rises with size (logistic in log revenue)."""

    share_at_median: Share
    size_slope: float = Field(default=0.0, ge=-5.0, le=5.0)


class Population(Section):
    """Initial population: counts and attribute distributions (see docs/ODD.md §7).

    ``from_file`` names a firm file (CSV or Excel, relative to the scenario file) whose firms
    replace the synthetic draw; ``firms`` is then not used, and the distributions impute what
    the file leaves blank (:mod:`sim.core.firm_records`).
    """

    firms: int = Field(ge=1, le=50_000_000)
    from_file: str | None = None
    above_scale_revenue: PositiveMoney
    revenue_median: PositiveMoney
    revenue_sigma: float = Field(gt=0.0, le=5.0)
    tail_share: Share
    tail_alpha: float = Field(gt=0.5, le=5.0)
    age_mean: float = Field(ge=1.0, le=100.0)
    revenue_per_employee: float = Field(ge=1.0, le=1e5)  # 万元 per employee: 1万元 to 10亿元
    revenue_per_employee_sigma: float = Field(default=0.5, ge=0.0, le=3.0)
    rd_performer_share: Share
    rd_performer_share_above_scale: Share
    rd_intensity_median: Share
    rd_intensity_sigma: float = Field(gt=0.0, le=3.0)
    main_share_a: Shape
    main_share_b: Shape
    niche_market_median: PositiveMoney
    niche_market_sigma: float = Field(gt=0.0, le=5.0)
    global_market_multiple: float = Field(ge=1.0, le=1000.0)
    debt_ratio_mean: Share
    debt_ratio_sd: Share
    net_margin_mean: float = Field(ge=-1.0, le=1.0)
    net_margin_sd: Share
    equity_3y_share: Share
    rd_institution_scale: PositiveMoney
    rd_institution_levels: list[Share] = Field(min_length=4, max_length=4)
    digital_levels: list[Share] = Field(min_length=4, max_length=4)
    chain_positions: list[Share] = Field(min_length=3, max_length=3)
    quality_items_mean: float = Field(ge=0.0, le=100.0)  # items per firm
    distinctiveness_a: Shape
    distinctiveness_b: Shape
    high_tech_revenue_a: Shape
    high_tech_revenue_b: Shape
    new_product_a: Shape
    new_product_b: Shape
    strategic_emerging: SizeTilted
    mgmt_cert: SizeTilted
    own_brand: SizeTilted
    listed: SizeTilted
    standard_drafted: SizeTilted

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Population:
        for key in ("rd_institution_levels", "digital_levels", "chain_positions"):
            total = sum(getattr(self, key))
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{key} must sum to 1 (got {total:g})")
        return self


class Dynamics(Section):
    """Yearly behaviour of firms (each parameter is an equation term in docs/ODD.md §7)."""

    growth_drift: float = Field(ge=-1.0, le=1.0)
    growth_scale: float = Field(gt=0.0, le=2.0)
    growth_size_exponent: float = Field(ge=0.0, le=1.0)
    growth_rd_effect: float = uncertain(
        0.0, 0.3, "return on R&D capital; private returns 0.1–0.3 (Hall, Mairesse & Mohnen 2010)"
    )
    growth_ip_effect: float = Field(ge=0.0, le=1.0)
    growth_firm_sd: float = uncertain(
        0.0,
        0.1,
        "sd of a firm's persistent drift of log growth (ex-ante growth types: Pugsley, Sedláček & "
        "Sterk 2021, AER 111:547, find persistent firm-level heterogeneity dominates growth dispersion)",
        default=0.0,
    )
    niche_market_growth: Rate
    rd_adjustment: Share
    rd_intensity_trend: float = Field(default=0.0, ge=-0.2, le=0.3)
    # The last year the trend applies: it is fitted to the observed history and not extrapolated
    # (a compounding trend drove R&D ÷ revenue to 8.9 % by 2033). Default: the year before the
    # first simulated year, i.e. the trend shapes the warm-up only.
    rd_intensity_trend_end: Year | None = None
    rd_price_elasticity: float = uncertain(
        0.0,
        2.0,
        "R&D user-cost elasticity 0.1–1 short to long run (Bloom, Griffith & Van Reenen 2002)",
    )
    rd_size_elasticity: float = uncertain(
        0.7,
        1.0,
        "elasticity of R&D to revenue among R&D performers: the size–R&D relationship is in general "
        "less than proportional (Lee & Sung 2005, Research Policy 34:914); 1 keeps R&D intensity "
        "independent of size (Cohen & Klepper 1996, Econ. J. 106:925)",
        default=1.0,
    )
    rd_noise: float = Field(ge=0.0, le=2.0)
    rd_liquidity_share: Share
    tax_rate: Share
    super_deduction: float = Field(ge=0.0, le=3.0)
    bunching_probability: float = uncertain(
        0.0, 1.0, "bunching at R&D notches (Chen, Liu, Suárez Serrato & Xu 2021, AER 111:2065)"
    )
    bunching_window: Share
    rd_depreciation: float = Field(gt=0.0, le=1.0)
    patent_scale: NonNegative
    patent_elasticity: float = uncertain(
        0.0, 1.2, "patents–R&D elasticity 0.3–1 (Hausman, Hall & Griliches 1984)"
    )
    class1_share: Share
    class1_lapse: Share
    class2_lapse: Share
    debt_persistence: Share
    debt_sd: Share
    margin_persistence: Share
    margin_sd: Share
    equity_raise_rate: Share
    equity_ip_tilt: NonNegative
    equity_amount_median: PositiveMoney
    equity_amount_sigma: float = Field(gt=0.0, le=5.0)
    specialisation_rate: Share
    main_share_sd: Share
    niche_switch_rate: Share
    rd_staff_per_intensity: NonNegative
    rd_staff_adjustment: Share
    institution_upgrade_scale: PositiveMoney
    digital_upgrade_rate: Share
    trait_acquisition_rate: Share
    st_award_rate: Share
    # Exit hazard in each year of a firm's life (index 0: the founding year), the last value
    # applying to every later year; scaled by size (docs/ODD.md §7.11).
    exit_hazard_by_age: list[Share] = Field(min_length=2, max_length=100)
    exit_hazard_scale: float = uncertain(
        0.5,
        1.5,
        "the age profile is for all domestic enterprises (工商总局 2013); manufacturing SMEs may "
        "exit less often: ±50 % around it",
        default=1.0,
    )
    exit_size_exponent: float = Field(ge=0.0, le=3.0)
    # Net growth of the number of firms a year: entry replaces the year's exits and adds this.
    population_growth: float = Field(ge=-0.2, le=0.3)
    entrant_revenue_median: PositiveMoney
    entrant_revenue_sigma: float = Field(gt=0.0, le=5.0)

    @model_validator(mode="after")
    def _rd_price_positive(self) -> Dynamics:
        if self.tax_rate * self.super_deduction >= 1.0:
            raise ValueError("tax_rate × super_deduction must be below 1 (else R&D is free)")
        return self


class Certification(Section):
    """How firms meet the ladder: who applies, who starts certified, quota units."""

    apply_probability: dict[str, Share]
    review_submission: dict[str, Share] = Field(default_factory=dict)
    initial: dict[str, Count] = Field(default_factory=dict)
    quota_units: dict[str, Count] = Field(default_factory=dict)
    # Per tier with a share quota: the economy's share of the national places relative to its
    # share of the holders the quota is counted on (1: places in proportion; docs/ODD.md §4.6).
    quota_scale: dict[str, Annotated[float, Field(ge=0.0, le=100.0)]] = Field(default_factory=dict)
    warmup_years: int = Field(default=0, ge=0, le=50)

    @model_validator(mode="after")
    def _tier_keys(self) -> Certification:
        for key in ("apply_probability", "review_submission", "initial", "quota_scale"):
            unknown = set(getattr(self, key)) - set(TIER_IDS)
            if unknown:
                allowed = ", ".join(TIER_IDS)
                raise ValueError(f"{key} has unknown tier id(s) {sorted(unknown)}; allowed: {allowed}")
        return self


class PolicyTarget(Section):
    """A policy target of the package (e.g. "+75 little giants by 2027"), reported by compare."""

    tier: str
    by_year: Year
    added: Count | None = None
    per_year: Count | None = None
    stock: Count | None = None
    note: str = ""

    @model_validator(mode="after")
    def _one_goal(self) -> PolicyTarget:
        if sum(v is not None for v in (self.added, self.per_year, self.stock)) != 1:
            raise ValueError("a target needs exactly one of added, per_year, stock")
        return self


class Scenario(Section):
    """A complete, validated scenario."""

    meta: Meta
    run: Run
    population: Population
    dynamics: Dynamics
    certification: Certification
    levers: Levers = Field(default_factory=Levers)
    targets: list[PolicyTarget] = Field(default_factory=list)
