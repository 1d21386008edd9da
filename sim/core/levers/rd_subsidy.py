"""R&D post-subsidy (研发投入后补助): a rate on last year's total or incremental R&D, capped per firm.

Firms that expect to be eligible see the marginal price of R&D fall (× additionality) unless the
cap already binds; the subsidy is paid on last year's accounts and its cash relaxes next year's
R&D liquidity limit. docs/ODD.md §7.19.3.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sim.core.firms import FirmState
from sim.core.levers.base import FUNDS_RD, Context, Incentives, LeveledLever, Lever
from sim.core.schema import Money, Share, uncertain
from sim.core.vocab import TierId


class RdSubsidyConfig(LeveledLever):
    """R&D post-subsidy: a rate on last year's (incremental) R&D, capped."""

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


class RdSubsidy(Lever, id="rd_subsidy", order=30, config=RdSubsidyConfig, traits={FUNDS_RD}):
    """R&D post-subsidy (研发投入后补助)."""

    label_en = "R&D post-subsidy"
    label_zh = "研发投入后补助"

    def claim(self, s: FirmState, ctx: Context, revenue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Who may claim on last year's R&D, and the claim's base (total or increment)."""
        lever = self.config
        eligible = ctx.at_or_above(s, lever.min_tier) & (s["rd_prev"] >= lever.min_rd)
        if lever.above_scale_only:
            eligible &= revenue >= ctx.above_scale_revenue
        if lever.base == "total":
            return eligible, s["rd_prev"]
        return eligible, np.maximum(s["rd_prev"] - s["rd_prev2"], 0.0)

    def incentives(self, s: FirmState, ctx: Context, out: Incentives) -> None:
        """Perceived marginal R&D price cut: additionality × rate × take-up, below the cap.

        A post-subsidy on this year's R&D is paid next year; firms that expect to be eligible
        see their marginal price fall unless the cap already binds (then the margin is unpaid).
        Next year's claim is judged on this year's revenue.
        """
        lever = self.config
        eligible, base = self.claim(s, ctx, s["revenue"])
        below_cap = lever.rate * base < lever.cap_per_firm
        cut = lever.additionality * lever.rate * lever.take_up
        out.rd_price_cut = out.rd_price_cut + np.where(eligible & below_cap, cut, 0.0)

    def pay(self, s: FirmState, ctx: Context) -> None:
        """Post-subsidy of last year's R&D (eligibility judged on last year's accounts)."""
        lever = self.config
        eligible, base = self.claim(s, ctx, s["revenue_prev"])
        eligible &= ctx.draws.uniform("take_up.rd_subsidy", s["firm_id"]) < lever.take_up
        rows = np.flatnonzero(eligible & (base > 0))  # base > 0 implies last year's R&D > 0
        amount = np.minimum(lever.rate * base[rows], lever.cap_per_firm)
        demand = ctx.demand(s, self.id, lever.level, rows, amount, s["rd_prev"][rows])
        paid = ctx.settle(demand, lever.budget)
        s["liquidity_bonus"][rows] += paid
