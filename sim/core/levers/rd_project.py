"""Key R&D project funding (重点研发项目): city projects and matching of higher ones.

City projects go to the strongest applicants; national and provincial projects won by the
city's firms are matched.

Part of the funding (``additionality``) adds to the firm's own R&D next year. docs/ODD.md §7.19.6.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from sim.core.firms import FirmState
from sim.core.levers.base import FUNDS_RD, Context, LeveledLever, Lever
from sim.core.schema import Count, Money, Share, uncertain
from sim.core.vocab import TierId


class RdProjectConfig(LeveledLever):
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
    additionality: Share = uncertain(
        0.0,
        1.0,
        default=0.4,
        source="share of project funding that adds to the firm's own R&D (as rd_subsidy)",
    )
    match_cap: Money | None = None


class RdProject(Lever, id="rd_project", order=60, config=RdProjectConfig, traits={FUNDS_RD}):
    """Key R&D projects (重点研发项目)."""

    label_en = "Key R&D projects"
    label_zh = "重点研发项目"

    def pay(self, s: FirmState, ctx: Context) -> None:
        """City key R&D projects to the strongest applicants, and matching of higher projects."""
        lever = self.config
        eligible = ctx.at_or_above(s, lever.min_tier) & (s["rd"] >= lever.min_rd) & (s["rd"] > 0)
        cand = np.flatnonzero(eligible)
        strongest = cand[np.argsort(-s["rd_stock"][cand], kind="stable")]
        city = strongest[: lever.city_projects_per_year]
        city_amount = np.minimum(lever.city_amount_max, lever.city_amount_share_of_rd * s["rd"][city])
        wins = cand[ctx.draws.uniform("higher_project", s["firm_id"][cand]) < lever.higher_projects_rate]
        grant = lever.higher_amount_median * np.exp(
            lever.higher_amount_sigma * ctx.draws.normal("higher_grant", s["firm_id"][wins])
        )
        match = lever.match_ratio * grant
        if lever.match_cap is not None:
            match = np.minimum(match, lever.match_cap)
        rows = np.concatenate([city, wins])
        amount = np.concatenate([city_amount, match])
        demand = ctx.demand(s, self.id, lever.level, rows, amount, s["rd_stock"][rows])
        paid = ctx.settle(demand, lever.budget)
        np.add.at(s["rd_bonus"], rows, lever.additionality * paid)
