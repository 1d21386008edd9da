"""The ``[levers]`` part of a scenario: what a city pays, to whom, and how firms respond.

Each lever is a section that is absent (off) by default. Amounts are in 万元. Parameters that
describe firms' *behavioural response* to a lever are uncertain: they are declared with
:func:`uncertain`, which records their plausible range and its source in the schema so that
experiments can list and vary them (:func:`uncertain_parameters`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from sim.scenario_base import TIER_IDS, Count, Money, Section, Share, uncertain

LEVELS = ("national", "provincial", "city", "county")
LEVER_IDS = (
    "award",
    "rd_subsidy",
    "loan_subsidy",
    "talent_grant",
    "rd_project",
    "key_little_giant_fund",
)
# One source of truth: the literals are built from the tuples (subscripting with a tuple spreads it).
Level = Literal[LEVELS]  # type: ignore[valid-type]
TierId = Literal[TIER_IDS]  # type: ignore[valid-type]


class Budget(Section):
    """Annual caps per paying level and the rule that rations demand above a cap."""

    caps: dict[Level, Money] = Field(default_factory=dict)
    rationing: Literal["rank", "pro_rata", "stop"] = "rank"


class PaymentStep(Section):
    """One instalment: a share of the amount, paid some years after certification."""

    after_years: int = Field(default=0, ge=0, le=10)
    share: Share = 1.0
    review: bool = False


class AwardItem(Section):
    """A one-off (or instalment) award on becoming ``tier``, paid by ``level``."""

    tier: TierId
    level: Level
    amount: Money
    schedule: list[PaymentStep] = Field(default_factory=lambda: [PaymentStep()], min_length=1)

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> AwardItem:
        if any(step.review and step.after_years == 0 for step in self.schedule):
            raise ValueError("a review applies to later instalments only (after_years ≥ 1)")
        total = sum(step.share for step in self.schedule)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"schedule shares must sum to 1 (got {total:g})")
        return self


class PaidLever(Section):
    """What every lever has: a budget, with caps per paying level (award items name their own level)."""

    budget: Budget = Field(default_factory=Budget)


class LeveledLever(PaidLever):
    """A lever paid by one level of government for all its payments."""

    level: Level


class AwardLever(PaidLever):
    """Certification awards (认定奖励), stacked over tiers and paying levels."""

    items: list[AwardItem] = Field(min_length=1)
    on_renewal: bool = False
    first_time_only: bool = True
    review_pass_probability: Share = uncertain(
        0.5,
        1.0,
        default=0.9,
        source="assumption: most funded firms pass the mid-term performance review",
    )
    apply_award_scale: float = uncertain(
        10.0,
        1000.0,
        default=100.0,
        source="assumption: award (万元) at which 63 % of non-applying eligible firms are moved to apply",
    )
    liquidity_share: Share = uncertain(
        0.0,
        1.0,
        default=0.5,
        source="share of award cash that relaxes next year's R&D liquidity limit",
    )


class RdSubsidy(LeveledLever):
    """R&D post-subsidy (研发投入后补助): a rate on last year's (incremental) R&D, capped."""

    rate: Share
    base: Literal["total", "incremental"] = "total"
    cap_per_firm: Money
    min_rd: Money = 0.0
    above_scale_only: bool = False
    min_tier: TierId | None = None
    take_up: Share = 1.0
    additionality: Share = uncertain(
        0.0,
        1.0,
        default=0.4,
        source="0 = full crowding-out, 1 = full additionality; meta-analyses find partial crowding-out "
        "(Dimos & Pugh 2016, Res. Policy 45:797; Chinese listed firms: Boeing 2016, Res. Policy 45:1774)",
    )


class LoanSubsidy(LeveledLever):
    """Loan interest subsidy (贷款贴息) and guarantees (担保) for eligible firms' loans."""

    min_tier: TierId | None = None
    above_scale_only: bool = False
    borrower_share: Share
    loan_to_revenue: Share
    max_loan: Money | None = None
    discount: Share
    guarantee: bool = False
    guarantee_coverage: Share = 0.0
    guarantee_default_rate: Share = 0.0
    credit_to_rd: Share = uncertain(
        0.0,
        1.0,
        default=0.2,
        source="share of subsidised credit that relaxes the R&D liquidity limit (financing constraints "
        "on R&D: Hall & Lerner 2010, Handbook of the Economics of Innovation ch. 14)",
    )


class TalentType(Section):
    """One kind of talent grant (人才): amount per year, years paid, expected hires."""

    id: str
    amount: Money
    years: int = Field(default=1, ge=1, le=10)
    hires_per_100_employees: float = Field(ge=0.0, le=100.0)
    min_tier: TierId | None = None
    rd_staff: bool = True


class TalentGrant(LeveledLever):
    """Talent grants per hire, by type, with an optional cap on grants per year."""

    types: list[TalentType] = Field(min_length=1)
    max_grants_per_year: Count | None = None
    productivity_effect: float = uncertain(
        0.0,
        0.5,
        default=0.05,
        source="assumption: each grant-funded R&D hire raises the firm's patent productivity by this "
        "share while funded",
    )


class RdProject(LeveledLever):
    """Key R&D project funding: city projects, and matching of national/provincial ones."""

    min_tier: TierId | None = None
    min_rd: Money = 0.0
    city_projects_per_year: Count
    city_amount_max: Money
    city_amount_share_of_rd: Share
    higher_projects_rate: Share = 0.0
    higher_amount_median: Money = 0.0
    higher_amount_sigma: float = Field(default=0.5, ge=0.0, le=3.0)  # log-normal spread of grants
    match_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    match_cap: Money | None = None
    additionality: Share = uncertain(
        0.0,
        1.0,
        default=0.4,
        source="share of project funding that adds to the firm's own R&D (as rd_subsidy)",
    )


class Levers(Section):
    """Every lever a city can pull; each is off unless its section is present."""

    award: AwardLever | None = None
    rd_subsidy: RdSubsidy | None = None
    loan_subsidy: LoanSubsidy | None = None
    talent_grant: TalentGrant | None = None
    rd_project: RdProject | None = None
    key_little_giant_fund: AwardLever | None = None


class Target(Section):
    """A policy target, recorded for comparison (not used by the model's behaviour)."""

    tier: str
    by_year: int
    added: Count | None = None
    per_year: Count | None = None
    stock: Count | None = None
    note: str = ""


def uncertain_parameters(model: type[BaseModel], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted path → {range, range_source} of every uncertain parameter in a schema."""
    out: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("uncertain"):
            out[path] = {"range": extra["range"], "range_source": extra["range_source"]}
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out.update(uncertain_parameters(arg, f"{path}."))
    return out
