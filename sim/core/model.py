"""The Mesa model: one step is one calendar year of the ladder.

Wiring of a year: firm dynamics → certification → policy payments → exit and entry → data
collection. The model owns the run's random streams (seeded with ``rng=``; every draw is keyed
by year, submodel and firm, :mod:`sim.core.streams`), the columnar firm state and the Mesa agents
that are the per-firm view of it. Its lifecycle is Mesa's: build the
model (population, initial tiers, the warm-up years that fill the ladder before the first
simulated year), then ``run_model()`` steps until ``running`` is cleared at the end of the
horizon.
"""

from __future__ import annotations

import gc
import numbers
from collections.abc import Mapping

import mesa
import numpy as np

from sim.core import dynamics
from sim.core.agent import Firm
from sim.core.certification import Flows, place_held, run_cycle, seed_initial_tiers
from sim.core.errors import InputError
from sim.core.features import Features
from sim.core.firm_records import FirmRecords
from sim.core.firms import STATE_BYTES, FirmState
from sim.core.outcomes import reporters
from sim.core.policy import Policy
from sim.core.population import synthesise
from sim.core.rules import RuleSet
from sim.core.scenario import Scenario
from sim.core.streams import Streams, entrant_ids
from sim.core.vocab import TIER_IDS


class LadderModel(mesa.Model):
    """SMEs climbing the gradient-cultivation ladder (梯度培育) under one scenario."""

    def __init__(
        self,
        scenario: Scenario,
        rule_sets: Mapping[str, RuleSet],
        rng: int | None = None,
        agents: bool = True,
        firms: FirmRecords | None = None,
    ) -> None:
        """Build the initial population (and its Mesa agents unless ``agents`` is False).

        ``rule_sets`` maps each rule-set name the scenario uses to its loaded rules
        (:func:`sim.io.files.rule_sets_of`). Batch runs pass ``agents=False``: creating a Mesa
        agent costs about 10 µs, more than a firm's whole yearly step, and batches read only the
        columns. :meth:`firm` still gives any firm's agent on demand.

        ``firms`` are the firms of the scenario's ``population.from_file``
        (:func:`sim.io.firm_file.firms_of`): they replace the synthetic draw, observed at the
        end of the year before the first simulated year, holding the tiers the file gives; there
        is then no warm-up and no seeding of initial tier counts.
        """
        super().__init__(rng=rng)
        self.eager_agents = agents
        self.scenario = scenario
        run, cert = scenario.run, scenario.certification
        names = {run.rules, *(c.rules for c in run.rule_changes)}
        if missing := names - set(rule_sets):
            raise InputError(f"run.rules: rule set(s) {sorted(missing)} not loaded")
        self.rule_sets: dict[str, RuleSet] = {name: rule_sets[name] for name in names}
        check_quota_units(self.rule_sets.values(), dict(cert.quota_units))
        if (scenario.population.from_file is None) != (firms is None):
            raise InputError(
                "population.from_file: the firm file must be loaded and passed with the scenario that names it"
            )
        self.warmup_years = 0 if firms is not None else cert.warmup_years
        self.ref_revenue = scenario.population.revenue_median
        bound = live_bound(scenario, None if firms is None else len(firms), self.warmup_years)
        self.firms = FirmState(capacity=int(1.05 * bound) + 64)  # 5 %: chance
        self._agents: dict[int, Firm] = {}  # firm id -> its Mesa agent (all live firms if eager)
        self.streams = Streams(
            int(rng) if isinstance(rng, numbers.Integral) else int(self.rng.integers(2**63))
        )
        # Certificates started (new or renewed) in the simulated years, per tier: firm ids.
        self.certified_log: dict[str, list[np.ndarray]] = {t: [] for t in TIER_IDS}
        self.year = run.start_year - 1 - self.warmup_years
        self.origin_year = self.year  # the year the population is drawn (R&D trend origin)
        self.end_year = run.start_year + run.years - 1
        self.flows = Flows.zero()
        self.placed: dict[str, int] = {}
        self.quota_carry: dict[str, float] = {}  # fractional places of share quotas, per tier

        cohort = self.streams.cohort(self.year, "initial")
        if firms is not None:
            ids = np.arange(1, len(firms) + 1, dtype=np.int64)
            given = firms.given()
            self._add_firms(
                synthesise(cohort, ids, scenario.population, scenario.dynamics, self.year, given=given)
            )
            self.placed = place_held(self.firms, self.rules, firms.since())
        else:
            ids = np.arange(1, scenario.population.firms + 1, dtype=np.int64)
            self._add_firms(synthesise(cohort, ids, scenario.population, scenario.dynamics, self.year))
        if cert.initial and firms is None:
            draws = self.streams.year(self.year)
            self.placed = seed_initial_tiers(
                self.firms, self.rules, self.features(), self.year, cert.initial, draws
            )
        self.policy = Policy.empty()
        self.warm_up()
        self.policy = Policy(scenario.levers, scenario.population.above_scale_revenue)
        self.datacollector = mesa.DataCollector(model_reporters=reporters())
        # The initial row is the state before the first simulated year, with the last warm-up
        # year's flows (zero without a warm-up).
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ lifecycle
    def warm_up(self) -> None:
        """The years before the first simulated year: the ladder fills, no levers, nothing recorded."""
        for _ in range(self.warmup_years):
            self.advance()

    def step(self) -> None:
        """One simulated year, recorded; ``running`` is cleared after the last year."""
        self.advance()
        for tier, ids in self.certified_ids.items():
            self.certified_log[tier].append(ids)
        self.datacollector.collect(self)
        if self.year >= self.end_year:
            self.running = False

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

    def advance(self) -> None:
        """Advance the economy one calendar year."""
        self.year += 1
        s, p, d = self.firms, self.scenario.dynamics, self.streams.year(self.year)
        rules = self.rules
        cert = self.scenario.certification

        dynamics.roll_history(s)
        dynamics.grow_revenue(s, p, d, self.ref_revenue)
        offer = self.policy.incentives(s, rules, dict(cert.apply_probability))
        price = dynamics.rd_price(s, p, offer.rd_price_cut)
        trend_end = p.rd_intensity_trend_end or self.scenario.run.start_year - 1
        dynamics.spend_on_rd(
            s,
            p,
            d,
            price,
            rules.notches("rd_intensity"),
            offer.liquidity,
            min(self.year, trend_end) - self.origin_year,
            self.ref_revenue,
        )
        dynamics.produce_ip(s, p, d, offer.patent_productivity)
        dynamics.adjust_staff(s, p)
        dynamics.evolve_finance(s, p, d)
        anchored = np.zeros(s.n, dtype=bool)
        for tier in rules.tiers_testing("niche_years"):
            anchored |= s[f"held_{tier}"]
        dynamics.specialise(s, p, d, anchored)
        dynamics.upgrade_capabilities(s, p, d, self.year)

        self.flows = run_cycle(
            s,
            rules,
            self.features(),
            self.year,
            offer.apply_probability,
            dict(cert.review_submission),
            dict(cert.quota_units),
            d,
            dict(cert.quota_scale),
            self.quota_carry,
        )
        self.policy.pay(s, self.year, self.flows.certified, rules, d)
        live_ids = s["firm_id"]  # rows change at turnover below: keep who was certified by id
        self.certified_ids = {
            tier: np.concatenate([live_ids[rows] for rows in events.values()])
            if events
            else live_ids[:0].copy()
            for tier, events in self.flows.certified.items()
        }

        leaving = dynamics.exit_firms(s, p, d, self.ref_revenue)
        for tier in TIER_IDS:
            self.flows.add(tier, "exited", np.count_nonzero(leaving & s[f"held_{tier}"]))
        n_new = dynamics.entrants(p, d, s.n, int(np.count_nonzero(leaving)))
        new = None
        if n_new:
            cohort = self.streams.cohort(self.year, "entrants")
            ids = entrant_ids(self.year, n_new)
            new = synthesise(cohort, ids, self.scenario.population, p, self.year, newborn=True)
        for firm_id in s.turnover(new).tolist():  # exits archived and entrants added in one pass
            agent = self._agents.pop(firm_id, None)
            if agent is not None:
                agent.remove()
        if new is not None:
            self._register(new["firm_id"])

    def _add_firms(self, columns: dict[str, np.ndarray]) -> None:
        """Append firms to the columns and register them; empties ``columns``.

        The state copies the columns in, so they are dropped before the agents are made: at a
        million firms the cohort's arrays and the agents would otherwise be resident together.
        """
        ids = columns["firm_id"]
        self.firms.append(columns)
        columns.clear()
        self._register(ids)

    def _register(self, firm_ids: np.ndarray) -> None:
        """Give new firms their Mesa agents (eager mode; lazy agents are made on demand)."""
        if self.eager_agents:
            # The collector would walk every new agent repeatedly; agents hold no cycles.
            was_enabled = gc.isenabled()
            gc.disable()
            try:
                self._agents.update((firm_id, Firm(self, firm_id)) for firm_id in firm_ids.tolist())
            finally:
                if was_enabled:
                    gc.enable()

    def firm(self, firm_id: int) -> Firm:
        """The Mesa agent of a live firm, created on first use when agents are lazy."""
        if self.firms.rows_of(np.array([firm_id]))[0] < 0:
            raise LookupError(f"no live firm {firm_id}")
        agent = self._agents.get(firm_id)
        if agent is None:
            agent = self._agents[firm_id] = Firm(self, firm_id)
        return agent


def check_quota_units(rule_sets, units: dict[str, int]) -> None:
    """Every per-unit quota of the rule sets needs its unit count, and every count a quota."""
    used = set()
    for rules in rule_sets:
        for tier, rule in rules.tiers.items():
            unit = rule.quota.unit if rule.quota else None
            used.add(unit)
            if unit is not None and unit not in units:
                raise InputError(
                    f"certification.quota_units: rule set {rules.meta.id} caps {tier} per "
                    f"{unit!r}; give quota_units.{unit} (a count ≥ 0)"
                )
    if unknown := sorted(set(units) - used):
        allowed = ", ".join(sorted(u for u in used if u)) or "none: no quota of these rules is per unit"
        raise InputError(
            f"certification.quota_units.{unknown[0]}: no quota is counted per it (allowed: {allowed})"
        )


# Memory per firm ever simulated: the state (spare capacity, archive, the output copies) is
# about three times its columns; an eager Mesa agent adds about 550 B (measured, benchmarks/).
STATE_COPIES = 3
AGENT_BYTES = 550


def live_bound(scenario: Scenario, initial: int | None = None, warmup_years: int | None = None) -> float:
    """Live firms at the end of the horizon (warm-up included) if the population grows at g a year.

    Entry replaces the year's exits plus the net growth g, so this is the expected maximum
    (before chance): the capacity :class:`FirmState` reserves. ``initial`` and ``warmup_years``
    default to the scenario's; a firm file gives its own number of firms and no warm-up.
    """
    warmup = scenario.certification.warmup_years if warmup_years is None else warmup_years
    growth = max(scenario.dynamics.population_growth, 0.0)
    start = scenario.population.firms if initial is None else initial
    return start * (1.0 + growth) ** (scenario.run.years + warmup)


def memory_need(scenario: Scenario, agents: bool) -> int:
    """Bytes one run needs at its peak, estimated from an upper bound of firms ever simulated.

    Entry replaces the year's exits plus the net growth g, so the live firms number about
    ``firms × (1 + g)^t`` and firms ever simulated (live plus archived) are at most
    ``firms × (1 + g)^T × (1 + h_max · T)`` over T years (warm-up included), with h_max the
    largest exit hazard of the age profile.
    """
    dyn = scenario.dynamics
    years = scenario.run.years + scenario.certification.warmup_years
    h_max = min(dyn.exit_hazard_scale * max(dyn.exit_hazard_by_age), 1.0)
    ever = live_bound(scenario) * (1.0 + h_max * years)
    per_firm = STATE_COPIES * STATE_BYTES + (AGENT_BYTES if agents else 0)
    return int(ever * per_firm)
