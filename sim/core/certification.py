"""The yearly certification cycle: review, cascade, apply, judge, quota, certify.

Per tier, in the rule set's order (lower rungs first): certificates that expire this year are
re-reviewed under the rule set in force now and renewed or removed (有进有出); a firm that
loses a tier also loses every tier that requires it; firms not holding the tier apply with a
probability, are judged, and — where a quota binds — the best-ranked are certified.
Prerequisites are checked against the tiers held at the start of the cycle, so nobody climbs
two rungs in one year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.features import Features
from sim.core.firms import NO_YEAR, FirmState
from sim.core.rules import RuleSet, TierRule, judge
from sim.core.streams import YearDraws
from sim.core.vocab import TIER_IDS

FLOWS = ("new", "first", "renewed", "removed", "exited")  # first: new certificates that are the firm's first


@dataclass
class Flows:
    """Counts of one year's certificate movements, per tier."""

    counts: dict[str, dict[str, int]]
    certified: dict[str, dict[str, np.ndarray]]  # tier -> "new"/"renewed" -> firm rows

    @classmethod
    def zero(cls) -> Flows:
        """All flows zero (the initial state, and each year before the cycle runs)."""
        return cls({t: dict.fromkeys(FLOWS, 0) for t in TIER_IDS}, {t: {} for t in TIER_IDS})

    def add(self, tier: str, flow: str, n: int) -> None:
        """Count ``n`` more certificates in ``flow`` for ``tier``."""
        self.counts[tier][flow] += int(n)


def quota_for(rule: TierRule, units: dict[str, int]) -> int | None:
    """The year's cap on new certificates, or None when the rule sets none."""
    if rule.quota is None:
        return None
    if rule.quota.per_year is not None:
        return rule.quota.per_year
    return (rule.quota.per_unit or 0) * units.get(rule.quota.unit or "", 0)


def rank_order(key: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Indices from best to worst by ``key``, ties broken by each firm's own uniform draw."""
    return np.lexsort((tiebreak, -key))


class _Gathered(dict):
    """Tiers held, restricted to some rows, gathered only for the tiers a rule asks about."""

    def __init__(self, full: dict[str, np.ndarray], rows: np.ndarray) -> None:
        super().__init__()
        self.full, self.rows = full, rows

    def __missing__(self, tier: str) -> np.ndarray:
        self[tier] = value = self.full[tier][self.rows]
        return value


def _holds(state: FirmState, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    cols = {t: state[f"held_{t}"] for t in TIER_IDS}
    return cols if rows is None else {t: v[rows] for t, v in cols.items()}


def certify(state: FirmState, rows: np.ndarray, tier: str, validity: int, year: int) -> None:
    """Start certificates for ``rows`` this year."""
    state[f"held_{tier}"][rows] = True
    state[f"since_{tier}"][rows] = year
    state[f"expires_{tier}"][rows] = year + validity
    first = state[f"first_{tier}"]
    first[rows] = np.where(first[rows] == NO_YEAR, year, first[rows])


def revoke(state: FirmState, rows: np.ndarray, tier: str) -> None:
    """End certificates for ``rows``."""
    state[f"held_{tier}"][rows] = False
    state[f"expires_{tier}"][rows] = NO_YEAR


def run_cycle(
    state: FirmState,
    rules: RuleSet,
    feats: Features,
    year: int,
    apply_probability: dict[str, np.ndarray | float],
    review_submission: dict[str, float],
    quota_units: dict[str, int],
    d: YearDraws,
) -> Flows:
    """One year of certification over all live firms; returns the flows."""
    flows = Flows.zero()
    ids = state["firm_id"]
    start = {t: v.copy() for t, v in _holds(state).items()}
    for tier in rules.order:
        rule = rules.tiers[tier]
        held = state[f"held_{tier}"]
        due = np.flatnonzero(held & (state[f"expires_{tier}"] == year))
        # Applicants: not holding the tier (and not just reviewed), holding its prerequisites.
        eligible = ~held
        for req in rule.requires:
            eligible &= start[req] & state[f"held_{req}"]
        cand = np.flatnonzero(eligible)
        p_apply = apply_probability.get(tier, 0.0)
        if not isinstance(p_apply, float):
            p_apply = p_apply[cand]
        applicants = cand[d.uniform(f"apply.{tier}", ids[cand]) < p_apply]
        judged = np.concatenate([due, applicants])
        if not len(judged):
            continue
        sub = feats.subset(judged)
        verdict = judge(rule, sub, _Gathered(start, judged))

        if len(due):
            submits = d.uniform(f"review.{tier}", ids[due]) < review_submission.get(tier, 1.0)
            ok = verdict.passed[: len(due)] & submits
            certify(state, due[ok], tier, rule.validity_years, year)
            revoke(state, due[~ok], tier)
            flows.add(tier, "renewed", ok.sum())
            flows.add(tier, "removed", (~ok).sum())
            flows.certified[tier]["renewed"] = due[ok]
            for dep in rules.dependants(tier):
                lost = due[~ok][state[f"held_{dep}"][due[~ok]]]
                revoke(state, lost, dep)
                flows.add(dep, "removed", len(lost))

        passed = verdict.passed[len(due) :]
        winners = applicants[passed]
        cap = quota_for(rule, quota_units)
        if cap is not None and len(winners) > cap:
            key = verdict.score if rule.rank_by == "score" else sub[rule.rank_by]
            key = np.asarray(key, dtype=np.float64)[len(due) :][passed]
            winners = winners[rank_order(key, d.uniform(f"rank.{tier}", ids[winners]))[:cap]]
        flows.add(tier, "first", np.count_nonzero(state[f"first_{tier}"][winners] == NO_YEAR))
        certify(state, winners, tier, rule.validity_years, year)
        flows.add(tier, "new", len(winners))
        flows.certified[tier]["new"] = winners
    return flows


def seed_initial_tiers(
    state: FirmState,
    rules: RuleSet,
    feats: Features,
    year: int,
    counts: dict[str, int],
    d: YearDraws,
) -> dict[str, int]:
    """Give the initial population its observed tier counts (the explicit initial mix).

    For each tier with a count, the best-ranked firms that pass the rule now (and hold its
    prerequisites) are certified, with start years spread evenly over the last validity period
    so that re-reviews are staggered as in reality. Returns how many could be placed.
    """
    placed: dict[str, int] = {}
    for tier in rules.order:
        want = counts.get(tier, 0)
        if want <= 0:
            continue
        rule = rules.tiers[tier]
        verdict = judge(rule, feats, _holds(state))
        passing = np.flatnonzero(verdict.passed)
        key = verdict.score if rule.rank_by == "score" else feats[rule.rank_by]
        key = np.asarray(key, dtype=np.float64)[passing]
        ids = state["firm_id"]
        chosen = passing[rank_order(key, d.uniform(f"initial_rank.{tier}", ids[passing]))[:want]]
        certify(state, chosen, tier, rule.validity_years, year)
        spread = d.uniform(f"initial_start.{tier}", ids[chosen]) * rule.validity_years
        started = year - np.floor(spread).astype(np.int32)
        state[f"since_{tier}"][chosen] = started
        state[f"first_{tier}"][chosen] = started
        state[f"expires_{tier}"][chosen] = started + rule.validity_years
        placed[tier] = len(chosen)
    return placed
