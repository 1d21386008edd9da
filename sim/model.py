"""The Mesa model: one step is one calendar year of the ladder.

Wiring of a year: firm dynamics → certification → exit and entry → data collection. The model
owns the only random generator (seeded with ``rng=``), the columnar firm state and the Mesa
agents that are the per-firm view of it.
"""

from __future__ import annotations

import gc
from functools import partial

import mesa
import numpy as np

from sim import dynamics
from sim.certification import FLOWS, Flows, run_cycle, seed_initial_tiers
from sim.features import Features
from sim.firms import Firm, FirmState
from sim.levers import Policy
from sim.population import synthesise
from sim.rules import RuleSet, load_rules
from sim.scenario import TIER_IDS, Scenario, ScenarioError


class LadderModel(mesa.Model):
    """SMEs climbing the gradient-cultivation ladder (梯度培育) under one scenario."""

    def __init__(self, scenario: Scenario, rng: int | None = None, agents: bool = True) -> None:
        """Build the initial population (and its Mesa agents unless ``agents`` is False).

        Batch runs pass ``agents=False``: creating a Mesa agent costs about 10 µs, more than a
        firm's whole yearly step, and batches read only the columns. :meth:`firm` still gives
        any firm's agent on demand.
        """
        super().__init__(rng=rng)
        self.eager_agents = agents
        self.scenario = scenario
        run, cert = scenario.run, scenario.certification
        self.rule_sets: dict[str, RuleSet] = {
            name: load_rules(name) for name in {run.rules, *(c.rules for c in run.rule_changes)}
        }
        _check_quota_units(self.rule_sets.values(), dict(cert.quota_units))
        self.ref_revenue = scenario.population.revenue_median
        self.firms = FirmState()
        self._agent_of: list[Firm | None] = [None]  # index = firm id (ids count from 1)
        self.year = run.start_year - 1 - cert.warmup_years
        self.origin_year = self.year  # the year the population is drawn (R&D trend origin)
        self.flows = Flows.zero()
        self.placed: dict[str, int] = {}
        self.policy: Policy | None = None  # levers start with the first simulated year

        self._add_firms(
            synthesise(
                self.rng,
                scenario.population.firms,
                scenario.population,
                scenario.dynamics,
                self.year,
                1,
            )
        )
        if cert.initial:
            self.placed = seed_initial_tiers(
                self.firms, self.rules, self.features(), self.year, cert.initial, self.rng
            )
        for _ in range(cert.warmup_years):
            self.step()
        # The initial row reports the last warm-up year's flows (zero without a warm-up).
        self.policy = Policy(scenario.levers, self.rules, scenario.population.above_scale_revenue)
        self.datacollector = mesa.DataCollector(model_reporters=_reporters())
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ wiring
    @property
    def rules(self) -> RuleSet:
        """The rule set in force this year (the last change at or before it)."""
        name = self.scenario.run.rules
        for change in sorted(self.scenario.run.rule_changes, key=lambda c: c.from_year):
            if change.from_year <= self.year:
                name = change.rules
        return self.rule_sets[name]

    def features(self) -> Features:
        """Rule attributes of all live firms this year."""
        return Features(self.firms, self.year, self.scenario.population.global_market_multiple)

    def step(self) -> None:
        """Advance one calendar year."""
        self.year += 1
        s, p, rng = self.firms, self.scenario.dynamics, self.rng
        rules = self.rules

        dynamics.roll_history(s)
        dynamics.grow_revenue(s, p, rng, self.ref_revenue)
        policy = self.policy
        if policy:
            policy.rules = rules
        subsidy = policy.rd_subsidy_rate(s) if policy else 0.0
        price = dynamics.rd_price(s, p, subsidy)
        extra = policy.extra_liquidity(s) if policy else 0.0
        dynamics.spend_on_rd(
            s, p, rng, price, rules.notches("rd_intensity"), extra, self.year - self.origin_year
        )
        dynamics.produce_ip(s, p, rng, policy.patent_productivity(s) if policy else 1.0)
        dynamics.adjust_staff(s, p)
        dynamics.evolve_finance(s, p, rng)
        dynamics.specialise(s, p, rng)
        dynamics.upgrade_capabilities(s, p, rng, self.year)

        cert = self.scenario.certification
        apply = dict(cert.apply_probability)
        self.flows = run_cycle(
            s,
            rules,
            self.features(),
            self.year,
            policy.apply_probability(apply) if policy else apply,
            dict(cert.review_submission),
            dict(cert.quota_units),
            rng,
        )
        if policy:
            policy.pay(s, self.year, self.flows.certified, rng)

        leaving = dynamics.exit_firms(s, p, rng, self.ref_revenue)
        for tier in TIER_IDS:
            self.flows.add(tier, "exited", np.count_nonzero(leaving & s[f"held_{tier}"]))
        n_new = dynamics.entrants(p, rng, s.n - int(np.count_nonzero(leaving)))
        pop, first_id = self.scenario.population, len(self._agent_of)
        new = synthesise(rng, n_new, pop, p, self.year, first_id, newborn=True) if n_new else None
        for firm_id in s.renew(new).tolist():  # exits archived and entrants added in one pass
            agent = self._agent_of[firm_id]
            if agent is not None:
                agent.remove()
                self._agent_of[firm_id] = None
        if new is not None:
            self._register(new["firm_id"])
        if hasattr(self, "datacollector"):
            self.datacollector.collect(self)

    def _add_firms(self, columns: dict[str, np.ndarray]) -> None:
        """Append firms to the columns and register them."""
        self.firms.append(columns)
        self._register(columns["firm_id"])

    def _register(self, firm_ids: np.ndarray) -> None:
        """Give new firms their Mesa agents (eager mode) or a slot for one made on demand."""
        if self.eager_agents:
            # The collector would walk every new agent repeatedly; agents hold no cycles.
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                self._agent_of.extend(Firm(self, firm_id) for firm_id in firm_ids.tolist())
            finally:
                if was_enabled:
                    gc.enable()
        else:
            self._agent_of.extend([None] * len(firm_ids))

    def firm(self, firm_id: int) -> Firm:
        """The Mesa agent of a live firm, created on first use when agents are lazy."""
        if self.firms.row_of_id[firm_id] < 0 if firm_id < len(self.firms.row_of_id) else True:
            raise LookupError(f"no live firm {firm_id}")
        agent = self._agent_of[firm_id]
        if agent is None:
            agent = self._agent_of[firm_id] = Firm(self, firm_id)
        return agent


def _check_quota_units(rule_sets, units: dict[str, int]) -> None:
    """Every per-unit quota of the rule sets needs its unit count in the scenario."""
    for rules in rule_sets:
        for tier, rule in rules.tiers.items():
            unit = rule.quota.unit if rule.quota else None
            if unit is not None and unit not in units:
                raise ScenarioError(
                    f"certification.quota_units: rule set {rules.meta.id} caps {tier} per "
                    f"{unit!r}; give quota_units.{unit} (a count ≥ 0)"
                )


# ---------------------------------------------------------------------- reporters
def year_of(model: LadderModel) -> int:
    """Calendar year of the row."""
    return model.year


def tier_flow(model: LadderModel, tier: str, flow: str) -> int:
    """One flow count of one tier this year."""
    return model.flows.counts[tier][flow]


def tier_stock(model: LadderModel, tier: str) -> int:
    """Firms holding ``tier`` at the end of the year."""
    return int(np.count_nonzero(model.firms[f"held_{tier}"]))


def firms_alive(model: LadderModel) -> int:
    """Live firms at the end of the year."""
    return model.firms.n


def above_scale(model: LadderModel) -> int:
    """Above-designated-size (规上) firms: revenue at or above the scenario's gate."""
    return int(np.count_nonzero(model.firms["revenue"] >= model.scenario.population.above_scale_revenue))


def column_total(model: LadderModel, column: str, above_scale_only: bool = False) -> float:
    """Sum of a state column over live firms (or above-scale firms only)."""
    values = model.firms[column]
    if above_scale_only:
        values = values[model.firms["revenue"] >= model.scenario.population.above_scale_revenue]
    return float(values.sum())


def rd_intensity(model: LadderModel, above_scale_only: bool = False) -> float:
    """Aggregate R&D ÷ revenue."""
    rev = column_total(model, "revenue", above_scale_only)
    return column_total(model, "rd", above_scale_only) / rev if rev > 0 else 0.0


def entrants(model: LadderModel) -> int:
    """Firms born this year."""
    return int(np.count_nonzero(model.firms["born_year"] == model.year))


def _reporters() -> dict[str, object]:
    reporters: dict[str, object] = {
        "year": year_of,
        "firms_alive": firms_alive,
        "above_scale_firms": above_scale,
        "entrants": entrants,
        "revenue_total": partial(column_total, column="revenue"),
        "rd_total": partial(column_total, column="rd"),
        "rd_intensity": rd_intensity,
        "rd_total_above_scale": partial(column_total, column="rd", above_scale_only=True),
        "rd_intensity_above_scale": partial(rd_intensity, above_scale_only=True),
        "class1_ip_total": partial(column_total, column="class1_ip"),
        "class2_ip_total": partial(column_total, column="class2_ip"),
    }
    for tier in TIER_IDS:
        reporters[f"{tier}.stock"] = partial(tier_stock, tier=tier)
        for flow in FLOWS:
            reporters[f"{tier}.{flow}"] = partial(tier_flow, tier=tier, flow=flow)
    return reporters
