"""A policy package in action: its levers, their promises and the ledger of what they paid.

Each year the :class:`Policy` acts twice. Before firms choose R&D it gives the model one
:class:`~sim.core.levers.Incentives` record (the R&D price cut of a post-subsidy, liquidity from
last year's cash and credit, patent productivity of funded hires, the application pull of
awards). After certification every lever, in payment order, states its demand, lets its budget
ration it (:mod:`sim.core.ledger`), records the payments and feeds the cash back into next
year's behaviour. A policy without levers (the warm-up, or the no-policy counterfactual) gives
the neutral record and pays nothing. Equations: docs/ODD.md §7.19.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.firms import FirmState
from sim.core.ledger import Commitments, Ledger
from sim.core.levers import LEVERS, Context, Incentives, Levers
from sim.core.rules import RuleSet

if TYPE_CHECKING:
    from sim.core.streams import YearDraws


class Policy:
    """The levers of a package, with their pending commitments and the ledger."""

    def __init__(self, levers: Levers, above_scale_revenue: float) -> None:
        self.levers = [
            cls(config)
            for lever_id, cls in LEVERS.items()
            if (config := getattr(levers, lever_id)) is not None
        ]
        self.above_scale_revenue = above_scale_revenue
        self.ledger = Ledger()
        self.commitments = Commitments()

    @classmethod
    def empty(cls) -> Policy:
        """No levers: neutral incentives, no payments (the warm-up years)."""
        return cls(Levers(), 0.0)

    def _context(self, rules: RuleSet, **year) -> Context:
        return Context(rules, self.above_scale_revenue, self.ledger, self.commitments, **year)

    def incentives(self, s: FirmState, rules: RuleSet, apply_probability: dict[str, float]) -> Incentives:
        """The incentives of this year: what every lever on offer changes in firms' behaviour."""
        out = Incentives(liquidity=s["liquidity_bonus"], apply_probability=dict(apply_probability))
        ctx = self._context(rules)
        for lever in self.levers:
            lever.incentives(s, ctx, out)
        return out

    def pay(
        self,
        s: FirmState,
        year: int,
        certified: dict[str, dict[str, np.ndarray]],
        rules: RuleSet,
        draws: YearDraws,
    ) -> None:
        """Compute, ration, record and deliver every lever's payments for ``year``."""
        s["liquidity_bonus"] = 0.0
        s["rd_bonus"] = 0.0
        s["talent_active"] = 0
        ctx = self._context(rules, year=year, certified=certified, draws=draws)
        for lever in self.levers:
            lever.pay(s, ctx)
