"""Loan interest subsidy (贷款贴息) and guarantees (担保) for eligible firms' new loans.

Cost = loan × (discount + default rate × coverage when guaranteed); the subsidised credit
relaxes the R&D liquidity limit by ``credit_to_rd`` of the loan. docs/ODD.md §7.19.4.
"""

from __future__ import annotations

import numpy as np

from sim.core.firms import FirmState
from sim.core.levers.base import Context, LeveledLever, Lever
from sim.core.schema import Money, Share, uncertain
from sim.core.vocab import TierId


class LoanSubsidyConfig(LeveledLever):
    """Loan interest subsidy and guarantees for eligible firms' loans."""

    min_tier: TierId | None = None
    above_scale_only: bool = False
    borrower_share: Share
    loan_to_revenue: Share
    max_loan: Money | None = None
    discount: Share
    guarantee: bool = False
    guarantee_coverage: Share = 0.0
    credit_to_rd: Share = uncertain(
        0.0,
        1.0,
        default=0.2,
        source="share of subsidised credit that relaxes the R&D liquidity limit (financing constraints "
        "on R&D: Hall & Lerner 2010, Handbook of the Economics of Innovation ch. 14)",
    )
    guarantee_default_rate: Share = 0.0


class LoanSubsidy(Lever, id="loan_subsidy", order=40, config=LoanSubsidyConfig):
    """Loan interest subsidy and guarantees (贷款贴息与担保)."""

    label_en = "Loan interest subsidy"
    label_zh = "贷款贴息"

    def pay(self, s: FirmState, ctx: Context) -> None:
        """Interest discount (and guarantee losses) on eligible firms' new loans."""
        lever = self.config
        eligible = ctx.at_or_above(s, lever.min_tier)
        if lever.above_scale_only:
            eligible &= s["revenue"] >= ctx.above_scale_revenue
        rows = np.flatnonzero(eligible & (ctx.draws.uniform("borrower", s["firm_id"]) < lever.borrower_share))
        loan = lever.loan_to_revenue * s["revenue"][rows]
        if lever.max_loan is not None:
            loan = np.minimum(loan, lever.max_loan)
        losses = lever.guarantee_default_rate * lever.guarantee_coverage if lever.guarantee else 0.0
        cost = loan * (lever.discount + losses)
        demand = ctx.demand(s, self.id, lever.level, rows, cost, s["revenue"][rows])
        paid = ctx.settle(demand, lever.budget)
        funded = np.divide(paid, cost, out=np.ones_like(paid), where=cost > 0)  # free: funded
        s["liquidity_bonus"][rows] += lever.credit_to_rd * loan * funded
