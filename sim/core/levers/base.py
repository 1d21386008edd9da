"""What every lever shares: schema base, payment context and the incentives record.

A lever is one module of this package holding one :class:`Lever` subclass: its config schema
(the ``[levers.<id>]`` section), how it changes firms' behaviour this year
(:meth:`Lever.incentives`) and what it pays after certification (:meth:`Lever.pay`), with its
labels and traits. :mod:`sim.core.levers` discovers the modules, so adding a lever is adding
one file. Equations: docs/ODD.md §7.19.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from sim.core.firms import FirmState
from sim.core.ledger import NO_TIER, Budget, Commitments, Demand, Ledger, occurrence
from sim.core.rules import RuleSet
from sim.core.schema import Section
from sim.core.vocab import PAYING_LEVELS, TIER_IDS, PayingLevel

if TYPE_CHECKING:
    from sim.core.streams import YearDraws

# Traits a lever may declare; analyses select levers by trait, never by id.
AWARD = "award"  # pays on certification to a tier: its money is set against that tier's gain
FUNDS_RD = "funds_rd"  # pays for R&D: its money is the denominator of "R&D induced per 万元"
TRAITS = frozenset({AWARD, FUNDS_RD})


class PaidLever(Section):
    """What every lever's config has: a budget, with caps per paying level."""

    budget: Budget = Field(default_factory=Budget)


class LeveledLever(PaidLever):
    """A lever paid by one level of government for all its payments."""

    level: PayingLevel


@dataclass
class Incentives:
    """What the levers on offer change in firms' behaviour this year (one record per year).

    The model asks the policy for it once a year, after revenue has grown and before firms
    choose R&D; an empty policy (the warm-up) gives the neutral record.
    """

    rd_price_cut: np.ndarray | float = 0.0  # share of a marginal yuan of R&D refunded, as perceived
    liquidity: np.ndarray | float = 0.0  # cash and credit from last year's payments usable for R&D
    patent_productivity: np.ndarray | float = 1.0  # multiplier on knowledge production
    apply_probability: dict[str, float] = field(default_factory=dict)  # per tier


@dataclass
class Context:
    """What a lever sees this year: the rules in force, the ledger, the promises, the year's events."""

    rules: RuleSet
    above_scale_revenue: float
    ledger: Ledger
    commitments: Commitments
    year: int = 0
    certified: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # tier -> new/renewed rows
    draws: YearDraws | None = None

    def at_or_above(self, s: FirmState, tier: str | None) -> np.ndarray:
        """Holds ``tier`` or a tier that requires it (a lever's "tier ≥ X" condition)."""
        if tier is None:
            return np.ones(s.n, dtype=bool)
        out = s[f"held_{tier}"].copy()
        for dep in self.rules.dependants(tier):
            out |= s[f"held_{dep}"]
        return out

    def highest_ladder_tier(self, s: FirmState, rows: np.ndarray) -> np.ndarray:
        """Code of the highest ladder tier each firm in ``rows`` holds (NO_TIER if none).

        Side labels (high-tech enterprise, hidden champion) are not rungs of the ladder, so they
        never tag a payment as the firm's tier.
        """
        code = np.full(len(rows), NO_TIER, dtype=np.int8)
        for tier in self.rules.ladder:
            code = np.where(s[f"held_{tier}"][rows], TIER_IDS.index(tier), code)
        return code

    def demand(
        self,
        s: FirmState,
        lever: str,
        level: str,
        rows: np.ndarray,
        amount: np.ndarray,
        priority: np.ndarray,
        rd_hire: np.ndarray | None = None,
    ) -> Demand:
        """Payments of one paying level to ``rows``, tagged with each firm's highest ladder tier."""
        n = len(rows)
        return Demand(
            lever,
            s["firm_id"][rows],
            amount,
            level_codes(level, n),
            self.highest_ladder_tier(s, rows),
            priority,
            rd_hire=rd_hire,
        )

    def due(self, s: FirmState, lever: str, pass_probability: float) -> Demand:
        """Commitments due this year for firms still alive that pass any performance review.

        They are marked committed: what was promised is paid before new demand when a cap binds.
        """
        due, review = self.commitments.due(lever, self.year)
        alive = s.rows_of(due.firm_id) >= 0
        u = self.draws.uniform(f"review.{lever}", due.firm_id, occurrence(due.firm_id))
        passed = ~review | (u < pass_probability)
        return due.select(alive & passed).as_committed()

    def settle(self, demand: Demand, budget: Budget) -> np.ndarray:
        """Let the budget ration this year's demand; record and return what is paid."""
        return self.ledger.settle(self.year, demand, budget, self.draws)


def level_codes(level: str, n: int) -> np.ndarray:
    """``n`` copies of a paying level's code."""
    return np.full(n, PAYING_LEVELS.index(level), dtype=np.int8)


def tier_codes(tier: str | None, n: int) -> np.ndarray:
    """``n`` copies of a tier's code (NO_TIER for None)."""
    return np.full(n, NO_TIER if tier is None else TIER_IDS.index(tier), dtype=np.int8)


class Lever:
    """A policy lever: its schema, the behaviour it changes and the payments it makes.

    A subclass declares itself in its class line, e.g. ``class Award(Lever, id="award", order=10,
    config=AwardConfig, traits={AWARD})``, names itself in ``label_en`` and ``label_zh``, and
    implements :meth:`pay` (and :meth:`incentives` if it changes behaviour before it pays).
    ``order`` fixes when the lever pays within a year: levers draw random numbers in this order.
    """

    id: ClassVar[str]
    order: ClassVar[int]
    Config: ClassVar[type[PaidLever]]
    label_en: ClassVar[str]
    label_zh: ClassVar[str]
    traits: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(
        cls,
        *,
        id: str,
        order: int,
        config: type[PaidLever],
        traits: frozenset[str] | set[str] = frozenset(),
        **kwargs,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if unknown := set(traits) - TRAITS:
            raise TypeError(f"lever {id}: unknown trait(s) {sorted(unknown)}")
        cls.id, cls.order, cls.Config, cls.traits = id, order, config, frozenset(traits)

    def __init__(self, config: PaidLever) -> None:
        self.config = config

    @classmethod
    def label(cls) -> str:
        """English and Chinese name, for charts and tables."""
        return f"{cls.label_en} {cls.label_zh}"

    def incentives(self, s: FirmState, ctx: Context, out: Incentives) -> None:
        """Add this lever's effect on this year's behaviour to ``out`` (default: none)."""

    def pay(self, s: FirmState, ctx: Context) -> None:
        """Compute this year's demand, let the budget ration it, deliver what is paid."""
        raise NotImplementedError
