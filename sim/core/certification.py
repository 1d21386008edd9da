"""The yearly certification cycle: review, apply, judge, quota, certify.

Per tier, in the rule set's order (lower rungs first): certificates that expire this year are
re-reviewed under the rule set in force now and renewed or removed (有进有出), except a fixed
support period (``renewable = false``: key little giants), which simply ends; a firm that loses
a tier loses a tier that requires it only where the rule says so (``lost_with_prerequisite``:
no text makes a little giant lose its title with the provincial SRDI one); firms not holding
the tier apply with a probability, are judged, and — where a quota binds — the best-ranked are
certified.
Prerequisites are checked against the tiers held at the start of the cycle, so nobody climbs
two rungs in one year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.features import Features
from sim.core.firms import NO_YEAR, FirmState
from sim.core.rules import RuleSet, TierRule, judge, review_skips
from sim.core.streams import YearDraws
from sim.core.vocab import TIER_IDS

# first: new certificates that are the firm's first; ended: support periods that ran out
FLOWS = ("new", "first", "renewed", "removed", "ended", "exited")


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


def quota_for(
    rule: TierRule, units: dict[str, int], holders: dict[str, np.ndarray], scale: float, carry: float
) -> tuple[int | None, float]:
    """The year's cap on new certificates (None when the rule sets none) and the carry to next year.

    A share quota gives ``share × scale × holders`` places; the fraction of a place left over is
    carried to the next batch, so a small economy gets its places on average instead of never.
    ``scale`` is the economy's share of the national places relative to its share of holders
    (``certification.quota_scale``).
    """
    quota = rule.quota
    if quota is None:
        return None, carry
    if quota.per_year is not None:
        return quota.per_year, carry
    if quota.per_unit is not None:
        return quota.per_unit * units.get(quota.unit or "", 0), carry
    places = (quota.share or 0.0) * scale * int(np.count_nonzero(holders[quota.of_holders])) + carry
    whole = int(np.floor(places + 1e-9))
    return whole, places - whole


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
    quota_scale: dict[str, float] | None = None,
    carry: dict[str, float] | None = None,
) -> Flows:
    """One year of certification over all live firms; returns the flows.

    ``carry`` holds each share quota's fractional place between years (updated in place).
    """
    flows = Flows.zero()
    quota_scale = quota_scale or {}
    carry = carry if carry is not None else {}
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
        skip = review_skips(rule, year)
        if skip and len(due):  # the due firms are judged without the exempted criteria
            reviewed = judge(rule, feats.subset(due), _Gathered(start, due), skip)
            verdict.passed[: len(due)] = reviewed.passed

        if len(due) and not rule.renewable:
            revoke(state, due, tier)
            flows.add(tier, "ended", len(due))
        elif len(due):
            submits = d.uniform(f"review.{tier}", ids[due]) < review_submission.get(tier, 1.0)
            ok = verdict.passed[: len(due)] & submits
            certify(state, due[ok], tier, rule.validity_years, year)
            revoke(state, due[~ok], tier)
            flows.add(tier, "renewed", ok.sum())
            flows.add(tier, "removed", (~ok).sum())
            flows.certified[tier]["renewed"] = due[ok]
            for dep in rules.order:
                if tier in rules.tiers[dep].requires and rules.tiers[dep].lost_with_prerequisite:
                    lost = due[~ok][state[f"held_{dep}"][due[~ok]]]
                    revoke(state, lost, dep)
                    flows.add(dep, "removed", len(lost))

        passed = verdict.passed[len(due) :]
        winners = applicants[passed]
        cap, carry[tier] = quota_for(
            rule, quota_units, start, quota_scale.get(tier, 1.0), carry.get(tier, 0.0)
        )
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


def place_held(state: FirmState, rules: RuleSet, since: dict[str, np.ndarray]) -> dict[str, int]:
    """Certificates a firm file says its firms hold, each started in its given year (NaN: not held).

    A certificate is re-reviewed ``validity_years`` after it started, as one certified by the
    cycle; the start year also counts as the first certification (the file gives no earlier one).
    Returns how many were placed per tier.
    """
    placed: dict[str, int] = {}
    for tier, years in since.items():
        rows = np.flatnonzero(~np.isnan(years))
        if not len(rows):
            continue
        started = years[rows].astype(np.int32)
        state[f"held_{tier}"][rows] = True
        state[f"since_{tier}"][rows] = started
        state[f"first_{tier}"][rows] = started
        state[f"expires_{tier}"][rows] = started + rules.tiers[tier].validity_years
        placed[tier] = len(rows)
    return placed
