"""What a rule revision does to the same firms: who loses a tier, who gains, and on what criterion.

Two arms of one scenario on the same seeds (common random numbers, :mod:`sim.core.streams`):
the base rule set throughout, and the revision from its year on. Until the switch the two arms
are the same run, firm by firm, so the firms facing the revision are the same firms in both.

* **Firm level**, at the end of the year before the switch: every firm is judged for every tier
  under both rule sets by the certification rule evaluator (``judge(detail=True)``). A holder
  is judged as at its next review (with that year's review exemptions), a non-holder as an
  applicant in the switch year. A holder that passes the base rules and fails the revision
  *loses the tier at its next review* (its figures as they are now), and the revision's
  criteria it fails are its gaps (:mod:`sim.core.gaps`, as in the cultivation lists); a holder
  that fails the base rules and passes the revision *keeps* it; a non-holder *gains* or
  *loses eligibility*, with the criteria of the rules it fails.
* **Summary with intervals**: per tier and change, the number of firms per replication (mean
  and 95 % confidence interval), the criteria behind the losses; and from the paired runs of
  both arms (the compare machinery, :func:`sim.analysis.compare.compare_summary`), the change
  in each tier's stock by year, revision minus base, with its interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.compare import Plan
from sim.analysis.cultivation import gap_table
from sim.analysis.stats import mean_interval
from sim.core.errors import InputError
from sim.core.features import Features
from sim.core.gaps import gaps
from sim.core.rules import RuleSet, judge, review_skips
from sim.core.scenario import Scenario
from sim.io.experiment_file import Arm
from sim.io.files import load_rules, load_scenario

CHANGES = ("loses at review", "keeps at review", "loses eligibility", "gains eligibility")
FIRM_COLUMNS = ["replication", "tier", "firm_id", "change", "year", "criteria", "reasons"]


@dataclass
class ImpactPlan:
    """The two arms of a rule-revision comparison and when the revision takes over."""

    scenario: Scenario  # the base arm
    base: str
    revision: str
    from_year: int
    arms: list[Arm]
    # The rule sets the arms run (loaded from the names or files given), judged firm by firm.
    base_rules: RuleSet
    revised_rules: RuleSet

    @property
    def compare_plan(self) -> Plan:
        """The arms as a comparison: the revision against the base rules, paired by seed."""
        return Plan(self.arms, self.base, self.scenario, {}, self.scenario.meta.name)


def plan_impact(
    path: str | Path,
    revision: str,
    base: str | None = None,
    from_year: int | None = None,
    years: int | None = None,
) -> ImpactPlan:
    """Check the rule sets and the switch year; the base arm and the revised arm of ``path``.

    The revision takes over from ``from_year`` (default: the year it is in force from), which
    must fall in the simulated years after the first (the two arms share the years before it).
    """
    over = [] if years is None else [f"run.years={years}"]
    scenario = load_scenario(path, over)
    base = base or scenario.run.rules
    base_rules, revised_rules = load_rules(base), load_rules(revision)
    if base_rules.meta.id == revised_rules.meta.id:
        raise InputError(f"--rules {revision}: the same rule set as the base ({base}); name a revision")
    start, end = scenario.run.start_year, scenario.run.start_year + scenario.run.years - 1
    year = from_year if from_year is not None else int(revised_rules.meta.in_force_from[:4])
    if not start < year <= end:
        raise InputError(
            f"--from-year {year}: the revision must take over within the simulated years after the first "
            f"({start + 1}–{end}); give --from-year or --years"
        )
    pinned = (*over, f'run.rules="{base}"')
    arms = [
        Arm(base_rules.meta.id, Path(path), overrides=(*pinned, "run.rule_changes=[]")),
        Arm(
            revised_rules.meta.id,
            Path(path),
            overrides=(*pinned, f'run.rule_changes=[{{from_year = {year}, rules = "{revision}"}}]'),
        ),
    ]
    base_scenario = load_scenario(path, list(arms[0].overrides))
    load_scenario(path, list(arms[1].overrides))  # the revised arm validates too
    return ImpactPlan(
        base_scenario, base_rules.meta.id, revised_rules.meta.id, year, arms, base_rules, revised_rules
    )


def firm_changes(
    base: RuleSet,
    revision: RuleSet,
    feats: Features,
    holds: dict[str, np.ndarray],
    firm_ids: np.ndarray,
    expires: dict[str, np.ndarray],
    from_year: int,
) -> pd.DataFrame:
    """Every firm whose verdict on a tier differs between the rule sets, with the criteria why."""
    parts = []
    for tier in revision.order:
        if tier not in base.tiers:
            continue
        old, new = base.tiers[tier], revision.tiers[tier]
        held = holds[tier]
        groups = [(np.flatnonzero(~held), from_year, False)]
        if new.renewable:  # a support period that ends is not reviewed
            review = expires[tier]
            groups += [(np.flatnonzero(held & (review == y)), int(y), True) for y in np.unique(review[held])]
        for rows, year, at_review in groups:
            if not len(rows):
                continue
            sub = feats.subset(rows)
            gathered = {t: h[rows] for t, h in holds.items()}
            skip_old = review_skips(old, year) if at_review else frozenset()
            skip_new = review_skips(new, year) if at_review else frozenset()
            was = judge(old, sub, gathered, skip_old, detail=True)
            now = judge(new, sub, gathered, skip_new, detail=True)
            for change, mask, why, rule in (
                ("loses at review" if at_review else "loses eligibility", was.passed & ~now.passed, now, new),
                ("keeps at review" if at_review else "gains eligibility", ~was.passed & now.passed, was, old),
            ):
                if mask.any():
                    parts.append(_listed(tier, change, year, rule, why, rows, mask, firm_ids, sub))
    if not parts:
        return pd.DataFrame(columns=FIRM_COLUMNS[1:])
    return pd.concat(parts, ignore_index=True)


def _listed(tier, change, year, rule, verdict, rows, mask, firm_ids, sub) -> pd.DataFrame:
    """Firms of one change with the criteria of ``rule`` they fail (the gaps on the cheapest route)."""
    found = gaps(rule, verdict)
    ids = firm_ids[rows]
    table = gap_table(tier, rule, found, ids, np.zeros(len(rows), dtype=np.int64), sub)
    table = table[table["firm_id"].isin(ids[mask])].sort_values(["firm_id", "criterion"])
    grouped = table.groupby("firm_id")
    criteria, reasons = grouped["criterion"].agg("; ".join), grouped["text"].agg("; ".join)
    chosen = ids[mask]
    return pd.DataFrame(
        {
            "tier": tier,
            "firm_id": chosen,
            "change": change,
            "year": year,
            "criteria": [criteria.get(i, "") for i in chosen],
            "reasons": [reasons.get(i, "") for i in chosen],
        }
    )


def change_summary(firms: pd.DataFrame, replications: int, order: list[str]) -> pd.DataFrame:
    """Per tier, change and year (of the review; ``all`` the years together): firms per replication.

    Mean, 95 % confidence interval and 5–95 % spread over replications, and the criteria behind
    the change with the share of those firms that fail each (the five most frequent).
    """
    rows = []
    for tier in order:
        for change in CHANGES:
            mine = firms[(firms["tier"] == tier) & (firms["change"] == change)]
            years = sorted(mine["year"].unique())
            for year in ["all", *years] if len(years) > 1 else ["all"]:
                part = mine if year == "all" else mine[mine["year"] == year]
                counts = part.groupby("replication").size().reindex(range(replications), fill_value=0)
                criteria = part["criteria"].str.split("; ").explode()
                top = criteria[criteria != ""].value_counts().head(5)
                share = ", ".join(f"{name} {n / max(len(part), 1):.0%}" for name, n in top.items())
                shown = year if year == "all" else str(int(year))
                rows.append(
                    {
                        "tier": tier,
                        "change": change,
                        "year": shown,
                        **mean_interval(counts.to_numpy(dtype=float)),
                        "criteria": share,
                    }
                )
    return pd.DataFrame(rows)


def stock_change(summary: pd.DataFrame) -> pd.DataFrame:
    """Per tier and year: the revision's stock minus the base's, paired by seed, with intervals."""
    add = summary[summary["metric"] == "additional"]
    return add[["tier", "year", "mean", "ci_low", "ci_high", "p05", "p95", "n", "status"]].reset_index(
        drop=True
    )
