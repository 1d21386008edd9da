"""Talent grants (人才奖补) per hire, by type, one-off or yearly for N years, capped per year.

Grant-funded R&D hires raise the firm's R&D staff share (new hires) and its patent productivity
while funded. docs/ODD.md §7.19.5.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from sim.core.firms import FirmState
from sim.core.ledger import Demand
from sim.core.levers.base import Context, Incentives, LeveledLever, Lever
from sim.core.schema import Count, Money, Section, uncertain
from sim.core.vocab import TierId


class TalentType(Section):
    """One kind of talent grant (人才): amount per year, years paid, expected hires."""

    id: str
    amount: Money
    years: int = Field(default=1, ge=1, le=10)
    hires_per_100_employees: float = Field(ge=0.0, le=100.0)
    min_tier: TierId | None = None
    rd_staff: bool = True


class TalentGrantConfig(LeveledLever):
    """Talent grants per hire, by type, with an optional cap on grants per year."""

    types: list[TalentType] = Field(min_length=1)
    productivity_effect: float = uncertain(
        0.0,
        0.5,
        default=0.05,
        source="assumption: each grant-funded R&D hire raises the firm's patent productivity by this "
        "share while funded",
    )
    max_grants_per_year: Count | None = None


class TalentGrant(Lever, id="talent_grant", order=50, config=TalentGrantConfig):
    """Talent grants (人才奖补)."""

    label_en = "Talent grants"
    label_zh = "人才奖补"

    def incentives(self, s: FirmState, ctx: Context, out: Incentives) -> None:
        """Patent productivity of firms with grant-funded R&D hires: 1 + effect × hires."""
        out.patent_productivity = out.patent_productivity * (
            1.0 + self.config.productivity_effect * s["talent_active"]
        )

    def pay(self, s: FirmState, ctx: Context) -> None:
        """Grants per hire by type; multi-year grants become commitments."""
        lever = self.config
        hires = []
        for ttype in lever.types:
            # drawn only for the firms the type is open to (draws are keyed by firm: the same counts)
            rows = np.flatnonzero(ctx.at_or_above(s, ttype.min_tier))
            rate = ttype.hires_per_100_employees * s["employees"][rows] / 100.0
            count = np.zeros(s.n, dtype=np.int64)
            count[rows] = ctx.draws.poisson(f"hires.{ttype.id}", s["firm_id"][rows], rate)
            hires.append(count)
        counts = np.stack(hires) if hires else np.zeros((0, s.n), dtype=np.int64)
        total = int(counts.sum())
        if lever.max_grants_per_year is not None and total > lever.max_grants_per_year:
            # a capped lottery couples the applicants anyway: its own stream, shifting no other
            # Drawn over the (type, firm) entries with a hire only: NumPy's "marginals" method
            # walks every entry, and a city has ~100 times more firms than hires.
            lottery = ctx.draws.generator("talent_cap")
            flat = counts.ravel()
            hired = np.flatnonzero(flat)
            flat[hired] = lottery.multivariate_hypergeometric(flat[hired], lever.max_grants_per_year)
        parts = [ctx.due(s, self.id, 1.0)]
        for ttype, count in zip(lever.types, counts, strict=True):
            rows = np.repeat(np.arange(s.n), count)  # one entry per grant
            n = len(rows)
            if not n:
                continue
            hire = np.full(n, ttype.rd_staff)
            demand = ctx.demand(s, self.id, lever.level, rows, np.full(n, ttype.amount), np.zeros(n), hire)
            parts.append(demand)
            for later in range(1, ttype.years):
                ctx.commitments.add(np.full(n, ctx.year + later), demand, np.zeros(n, bool))
        demand = Demand.concat(self.id, parts)
        paid = ctx.settle(demand, lever.budget)
        # Only funded R&D hires count: for patent productivity, and (new ones) for staff share.
        rows = s.rows_of(demand.firm_id)
        funded_rd = (paid > 0) & demand.rd_hire
        np.add.at(s["talent_active"], rows, funded_rd.astype(np.int32))
        new_hire = funded_rd & ~demand.committed
        staff = s["rd_staff_share"]
        np.add.at(staff, rows[new_hire], 1.0 / np.maximum(s["employees"][rows[new_hire]], 1))
        s["rd_staff_share"] = np.minimum(staff, 1.0)
