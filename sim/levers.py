"""Policy levers: their effect on firms' behaviour and the payments they cause.

Each year the :class:`Policy` acts twice. Before firms choose R&D it sets the *expected*
incentives (the R&D price cut of a post-subsidy, liquidity from last year's cash and credit,
patent productivity of funded hires, the application pull of awards). After certification it
computes each lever's demand, lets the lever's budget ration it (:mod:`sim.ledger`), records the
payments and feeds the cash back into next year's behaviour. Equations: docs/ODD.md §7.19.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.firms import FirmState
from sim.ledger import NO_TIER, Demand, Ledger
from sim.lever_config import LEVELS, AwardLever, Levers
from sim.rules import RuleSet
from sim.scenario_base import TIER_IDS


@dataclass
class Commitments:
    """Payments promised for later years: instalments of awards and multi-year grants."""

    parts: list[tuple[np.ndarray, Demand, np.ndarray]] = field(default_factory=list)

    def add(self, due_year: np.ndarray, demand: Demand, review: np.ndarray) -> None:
        """Promise ``demand`` entries for ``due_year`` (``review``: paid only if it passes)."""
        if len(demand.amount):
            self.parts.append((due_year, demand, review))

    def outstanding(self) -> float:
        """Money still promised for later years (万元), e.g. after the last simulated year."""
        return float(sum(demand.amount.sum() for _, demand, _ in self.parts))

    def due(self, lever: str, year: int) -> tuple[Demand, np.ndarray]:
        """Remove and return this lever's payments due in ``year`` with their review flags."""
        taken, kept, flags = [], [], []
        for due_year, demand, review in self.parts:
            if demand.lever != lever:
                kept.append((due_year, demand, review))
                continue
            now = due_year == year
            taken.append(demand.select(now))
            flags.append(review[now])
            if (~now).any():
                kept.append((due_year[~now], demand.select(~now), review[~now]))
        self.parts = kept
        return Demand.concat(lever, taken), np.concatenate(flags) if flags else np.zeros(0, bool)


def _award_pull(levers: Levers) -> dict[str, list[tuple[float, float]]]:
    """Per tier, each award lever's total amount (all paying levels) and its response scale."""
    pull: dict[str, list[tuple[float, float]]] = {}
    for lever in (levers.award, levers.key_little_giant_fund):
        if lever is None:
            continue
        totals: dict[str, float] = {}
        for item in lever.items:
            totals[item.tier] = totals.get(item.tier, 0.0) + item.amount
        for tier, amount in totals.items():
            pull.setdefault(tier, []).append((amount, lever.apply_award_scale))
    return pull


def _level(level: str, n: int) -> np.ndarray:
    return np.full(n, LEVELS.index(level), dtype=np.int8)


def _tier(tier: str | None, n: int) -> np.ndarray:
    return np.full(n, NO_TIER if tier is None else TIER_IDS.index(tier), dtype=np.int8)


class Policy:
    """All levers of a scenario, their pending commitments and the ledger of what they paid."""

    def __init__(self, levers: Levers, rules: RuleSet, above_scale_revenue: float) -> None:
        self.levers = levers
        self.rules = rules
        self.above_scale_revenue = above_scale_revenue
        self.ledger = Ledger()
        self.commitments = Commitments()
        self.award_pull = _award_pull(levers)  # fixed per scenario: tier -> (total award, A_s)

    # ------------------------------------------------------------------ eligibility
    def _at_or_above(self, s: FirmState, tier: str | None) -> np.ndarray:
        """Holds ``tier`` or a tier that requires it (the lever's "tier ≥ X" condition)."""
        if tier is None:
            return np.ones(s.n, dtype=bool)
        out = s[f"held_{tier}"].copy()
        for dep in self.rules.dependants(tier):
            out |= s[f"held_{dep}"]
        return out

    def _demand(
        self,
        s: FirmState,
        lever_id: str,
        level: str,
        rows: np.ndarray,
        amount: np.ndarray,
        priority: np.ndarray,
        flag: np.ndarray | None = None,
    ) -> Demand:
        """Payments of a non-award lever to ``rows``, tagged with each firm's highest tier."""
        return Demand(
            lever_id,
            s["firm_id"][rows],
            amount,
            _level(level, len(rows)),
            self._highest_tier(s, rows),
            priority,
            flag,
        )

    def _highest_tier(self, s: FirmState, rows: np.ndarray) -> np.ndarray:
        """Code of the highest ladder tier each firm in ``rows`` holds (NO_TIER if none)."""
        code = np.full(len(rows), NO_TIER, dtype=np.int8)
        for tier in self.rules.order:
            code = np.where(s[f"held_{tier}"][rows], TIER_IDS.index(tier), code)
        return code

    # ------------------------------------------------------------------ incentives
    def rd_subsidy_rate(self, s: FirmState) -> np.ndarray | float:
        """Perceived marginal R&D price cut: additionality × rate × take-up, below the cap.

        A post-subsidy on this year's R&D is paid next year; firms that expect to be eligible
        see their marginal price fall unless the cap already binds (then the margin is unpaid).
        """
        lever = self.levers.rd_subsidy
        if lever is None:
            return 0.0
        # Next year's claim is judged on this year's revenue.
        eligible, base = self._rd_subsidy_claim(s, s["revenue"])
        below_cap = lever.rate * base < lever.cap_per_firm
        cut = lever.additionality * lever.rate * lever.take_up
        return np.where(eligible & below_cap, cut, 0.0)

    def _rd_subsidy_claim(self, s: FirmState, revenue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Who may claim the R&D post-subsidy on last year's R&D, and its base (total or increment)."""
        lever = self.levers.rd_subsidy
        assert lever is not None
        eligible = self._at_or_above(s, lever.min_tier) & (s["rd_prev"] >= lever.min_rd)
        if lever.above_scale_only:
            eligible &= revenue >= self.above_scale_revenue
        if lever.base == "total":
            return eligible, s["rd_prev"]
        return eligible, np.maximum(s["rd_prev"] - s["rd_prev2"], 0.0)

    def extra_liquidity(self, s: FirmState) -> np.ndarray:
        """Cash and credit from last year's payments that can fund R&D this year."""
        return s["liquidity_bonus"]

    def patent_productivity(self, s: FirmState) -> np.ndarray | float:
        """Multiplier on knowledge production from grant-funded R&D hires."""
        lever = self.levers.talent_grant
        if lever is None:
            return 1.0
        return 1.0 + lever.productivity_effect * s["talent_active"]

    def apply_probability(self, base: dict[str, float]) -> dict[str, float]:
        """Application probability per tier, raised by the awards on offer.

        p = p0 + (1 − p0)·(1 − exp(−A / A_s)), A = total award for the tier (all levels).
        """
        out = dict(base)
        for tier, pulls in self.award_pull.items():
            for amount, scale in pulls:
                p0 = out.get(tier, 0.0)
                out[tier] = p0 + (1.0 - p0) * (1.0 - np.exp(-amount / scale))
        return out

    # ------------------------------------------------------------------ payments
    def pay(
        self,
        s: FirmState,
        year: int,
        certified: dict[str, dict[str, np.ndarray]],
        rng: np.random.Generator,
    ) -> None:
        """Compute, ration, record and deliver every lever's payments for ``year``."""
        s["liquidity_bonus"] = 0.0
        s["rd_bonus"] = 0.0
        s["talent_active"] = 0
        lv = self.levers
        if lv.award is not None:
            self._pay_award("award", lv.award, s, year, certified, rng)
        if lv.key_little_giant_fund is not None:
            self._pay_award("key_little_giant_fund", lv.key_little_giant_fund, s, year, certified, rng)
        if lv.rd_subsidy is not None:
            self._pay_rd_subsidy(s, year, rng)
        if lv.loan_subsidy is not None:
            self._pay_loan_subsidy(s, year, rng)
        if lv.talent_grant is not None:
            self._pay_talent(s, year, rng)
        if lv.rd_project is not None:
            self._pay_rd_project(s, year, rng)

    def _due(
        self, s: FirmState, lever: str, year: int, pass_probability: float, rng: np.random.Generator
    ) -> Demand:
        """Commitments due now for firms still alive that pass any performance review.

        They rank ahead of new demand: what was promised is paid first when a cap binds.
        """
        due, review = self.commitments.due(lever, year)
        alive = s.row_of_id[due.firm_id] >= 0
        passed = ~review | (rng.random(len(review)) < pass_probability)
        return due.select(alive & passed).first()

    def _pay_award(
        self,
        lever_id: str,
        lever: AwardLever,
        s: FirmState,
        year: int,
        certified: dict[str, dict[str, np.ndarray]],
        rng: np.random.Generator,
    ) -> None:
        parts = [self._due(s, lever_id, year, lever.review_pass_probability, rng)]
        for item in lever.items:
            events = certified.get(item.tier, {})
            rows = events.get("new", np.empty(0, np.int64))
            if lever.first_time_only:  # not again for a firm that regains a lost title
                rows = rows[s[f"first_{item.tier}"][rows] == year]
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
                    lever_id,
                    ids,
                    np.full(n, item.amount * step.share),
                    _level(item.level, n),
                    _tier(item.tier, n),
                    priority,
                )
                if step.after_years == 0:
                    parts.append(demand)
                else:
                    self.commitments.add(np.full(n, year + step.after_years), demand, np.full(n, step.review))
        demand = Demand.concat(lever_id, parts)
        paid = self.ledger.settle(year, demand, lever.budget, rng)
        rows = s.row_of_id[demand.firm_id]
        np.add.at(s["liquidity_bonus"], rows, lever.liquidity_share * paid)

    def _pay_rd_subsidy(self, s: FirmState, year: int, rng: np.random.Generator) -> None:
        """Post-subsidy of last year's R&D (eligibility judged on last year's accounts)."""
        lever = self.levers.rd_subsidy
        assert lever is not None
        eligible, base = self._rd_subsidy_claim(s, s["revenue_prev"])
        eligible &= rng.random(s.n) < lever.take_up
        rows = np.flatnonzero(eligible & (base > 0))  # base > 0 implies last year's R&D > 0
        amount = np.minimum(lever.rate * base[rows], lever.cap_per_firm)
        demand = self._demand(s, "rd_subsidy", lever.level, rows, amount, s["rd_prev"][rows])
        paid = self.ledger.settle(year, demand, lever.budget, rng)
        s["liquidity_bonus"][rows] += paid

    def _pay_loan_subsidy(self, s: FirmState, year: int, rng: np.random.Generator) -> None:
        """Interest discount (and guarantee losses) on eligible firms' new loans."""
        lever = self.levers.loan_subsidy
        assert lever is not None
        eligible = self._at_or_above(s, lever.min_tier)
        if lever.above_scale_only:
            eligible &= s["revenue"] >= self.above_scale_revenue
        rows = np.flatnonzero(eligible & (rng.random(s.n) < lever.borrower_share))
        loan = lever.loan_to_revenue * s["revenue"][rows]
        if lever.max_loan is not None:
            loan = np.minimum(loan, lever.max_loan)
        losses = lever.guarantee_default_rate * lever.guarantee_coverage if lever.guarantee else 0.0
        cost = loan * (lever.discount + losses)
        demand = self._demand(s, "loan_subsidy", lever.level, rows, cost, s["revenue"][rows])
        paid = self.ledger.settle(year, demand, lever.budget, rng)
        funded = np.divide(paid, cost, out=np.ones_like(paid), where=cost > 0)  # free: funded
        s["liquidity_bonus"][rows] += lever.credit_to_rd * loan * funded

    def _pay_talent(self, s: FirmState, year: int, rng: np.random.Generator) -> None:
        """Grants per hire by type; multi-year grants become commitments."""
        lever = self.levers.talent_grant
        assert lever is not None
        hires = []
        for ttype in lever.types:
            rate = ttype.hires_per_100_employees * s["employees"] / 100.0
            hires.append(np.where(self._at_or_above(s, ttype.min_tier), rng.poisson(rate), 0))
        counts = np.stack(hires) if hires else np.zeros((0, s.n), dtype=np.int64)
        total = int(counts.sum())
        if lever.max_grants_per_year is not None and total > lever.max_grants_per_year:
            flat = rng.multivariate_hypergeometric(counts.ravel(), lever.max_grants_per_year)
            counts = flat.reshape(counts.shape)
        parts = [self._due(s, "talent_grant", year, 1.0, rng)]
        for ttype, count in zip(lever.types, counts, strict=True):
            rows = np.repeat(np.arange(s.n), count)  # one entry per grant
            n = len(rows)
            if not n:
                continue
            hire = np.full(n, ttype.rd_staff)
            demand = self._demand(
                s, "talent_grant", lever.level, rows, np.full(n, ttype.amount), np.zeros(n), hire
            )
            parts.append(demand)
            for later in range(1, ttype.years):
                self.commitments.add(np.full(n, year + later), demand, np.zeros(n, bool))
        demand = Demand.concat("talent_grant", parts)
        paid = self.ledger.settle(year, demand, lever.budget, rng)
        # Only funded R&D hires count: for patent productivity, and (new ones) for staff share.
        rows = s.row_of_id[demand.firm_id]
        funded_rd = (paid > 0) & demand.flag
        np.add.at(s["talent_active"], rows, funded_rd.astype(np.int32))
        new_hire = funded_rd & ~np.isinf(demand.priority)
        staff = s["rd_staff_share"]
        np.add.at(staff, rows[new_hire], 1.0 / np.maximum(s["employees"][rows[new_hire]], 1))
        s["rd_staff_share"] = np.minimum(staff, 1.0)

    def _pay_rd_project(self, s: FirmState, year: int, rng: np.random.Generator) -> None:
        """City key R&D projects to the strongest applicants, and matching of higher projects."""
        lever = self.levers.rd_project
        assert lever is not None
        eligible = self._at_or_above(s, lever.min_tier) & (s["rd"] >= lever.min_rd) & (s["rd"] > 0)
        cand = np.flatnonzero(eligible)
        strongest = cand[np.argsort(-s["rd_stock"][cand], kind="stable")]
        city = strongest[: lever.city_projects_per_year]
        city_amount = np.minimum(lever.city_amount_max, lever.city_amount_share_of_rd * s["rd"][city])
        wins = cand[rng.random(len(cand)) < lever.higher_projects_rate]
        grant = lever.higher_amount_median * np.exp(
            lever.higher_amount_sigma * rng.standard_normal(len(wins))
        )
        match = lever.match_ratio * grant
        if lever.match_cap is not None:
            match = np.minimum(match, lever.match_cap)
        rows = np.concatenate([city, wins])
        amount = np.concatenate([city_amount, match])
        demand = self._demand(s, "rd_project", lever.level, rows, amount, s["rd_stock"][rows])
        paid = self.ledger.settle(year, demand, lever.budget, rng)
        np.add.at(s["rd_bonus"], rows, lever.additionality * paid)
