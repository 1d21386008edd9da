"""Certification awards (认定奖励): money on becoming a tier, stacked over tiers and paying levels.

Paid once on first certification by default (``first_time_only``; ``on_renewal`` adds renewed
certificates), optionally in instalments of which later ones need a performance review. Awards
on offer raise the probability that an eligible firm applies; paid cash relaxes next year's
R&D liquidity limit. docs/ODD.md §7.19.2.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from sim.core.firms import FirmState
from sim.core.ledger import Demand
from sim.core.levers.base import AWARD, Context, Incentives, Lever, PaidLever, level_codes, tier_codes
from sim.core.schema import Money, Section, Share, uncertain
from sim.core.vocab import PayingLevel, TierId


class PaymentStep(Section):
    """One instalment: a share of the amount, paid some years after certification."""

    after_years: int = Field(default=0, ge=0, le=10)
    share: Share = 1.0
    review: bool = False


class AwardItem(Section):
    """A one-off (or instalment) award on becoming ``tier``, paid by ``level``."""

    tier: TierId
    level: PayingLevel
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


class AwardConfig(PaidLever):
    """Certification awards, stacked over tiers and paying levels."""

    items: list[AwardItem] = Field(min_length=1)
    on_renewal: bool = False
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
    first_time_only: bool = True


class Award(Lever, id="award", order=10, config=AwardConfig, traits={AWARD}):
    """Certification awards (认定奖励)."""

    label_en = "Certification awards"
    label_zh = "认定奖励"

    def __init__(self, config: AwardConfig) -> None:
        super().__init__(config)
        self.totals: dict[str, float] = {}  # tier -> award on offer, all paying levels
        for item in config.items:
            self.totals[item.tier] = self.totals.get(item.tier, 0.0) + item.amount

    def incentives(self, s: FirmState, ctx: Context, out: Incentives) -> None:
        """Raise each tier's application probability by the award on offer.

        p = p0 + (1 − p0)·(1 − exp(−A / A_s)), A = total award for the tier (all levels).
        """
        probs = out.apply_probability
        for tier, amount in self.totals.items():
            p0 = probs.get(tier, 0.0)
            probs[tier] = p0 + (1.0 - p0) * (1.0 - np.exp(-amount / self.config.apply_award_scale))

    def pay(self, s: FirmState, ctx: Context) -> None:
        """Instalments due (if their review passes) and this year's new awards, then cash to firms."""
        lever = self.config
        parts = [ctx.due(s, self.id, lever.review_pass_probability)]
        for item in lever.items:
            events = ctx.certified.get(item.tier, {})
            rows = events.get("new", np.empty(0, np.int64))
            if lever.first_time_only:  # not again for a firm that regains a lost title
                rows = rows[s[f"first_{item.tier}"][rows] == ctx.year]
            if lever.on_renewal:
                rows = np.concatenate([rows, events.get("renewed", np.empty(0, np.int64))])
            if not len(rows):
                continue
            n = len(rows)
            ids = s["firm_id"][rows]
            priority = np.divide(
                s["rd"][rows], s["revenue"][rows], out=np.zeros(n), where=s["revenue"][rows] > 0
            )
            for step in item.schedule:
                demand = Demand(
                    self.id,
                    ids,
                    np.full(n, item.amount * step.share),
                    level_codes(item.level, n),
                    tier_codes(item.tier, n),
                    priority,
                )
                if step.after_years == 0:
                    parts.append(demand)
                else:
                    ctx.commitments.add(
                        np.full(n, ctx.year + step.after_years), demand, np.full(n, step.review)
                    )
        demand = Demand.concat(self.id, parts)
        paid = ctx.settle(demand, lever.budget)
        rows = s.rows_of(demand.firm_id)
        np.add.at(s["liquidity_bonus"], rows, lever.liquidity_share * paid)
