"""The ladder as data: rule sets loaded from TOML and evaluated over all firms at once.

A rule set (``scenarios/rules/<id>.toml``) defines, per tier, its eligibility as a tree of
criteria (``all`` / ``any`` / ``at_least ... of``, threshold tests on firm attributes, tiers
held, the tier's score), an optional points score with per-category minimums, its validity,
prerequisites and yearly quota, each with the citation it comes from. This module validates
those files and evaluates them; no threshold value lives in Python. Reading the files is
:func:`sim.io.files.load_rules`' job.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.core.features import ATTRIBUTES, VOCABULARIES, Features
from sim.core.vocab import TIER_IDS

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
# Which way a threshold is nudged so that a value on it in decimal (3 % of 4288万 is 128.64万,
# whose float ratio is 0.029999999999999995) is judged as on it, not one rounding error off.
NUDGE = {">=": -1.0, ">": 1.0, "<=": 1.0, "<": -1.0, "==": 0.0}
REL_TOL = 1e-9
# Slack when sums of points are compared with category limits (points are decimals, summed in floats).
SCORE_TOL = 1e-9


def tolerant(threshold: np.ndarray | float, direction: float) -> np.ndarray | float:
    """``threshold`` moved by a relative tolerance in ``direction`` (−1 down, +1 up)."""
    return threshold + direction * REL_TOL * np.maximum(1.0, np.abs(threshold))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _check_attr(attr: str) -> None:
    if attr not in ATTRIBUTES:
        raise ValueError(f"unknown firm attribute {attr!r}; known: {', '.join(sorted(ATTRIBUTES))}")


def _level_code(attr: str, value: str) -> int:
    levels = VOCABULARIES.get(attr)
    if levels is None or value not in levels:
        allowed = ", ".join(levels) if levels else "numbers (not a categorical attribute)"
        raise ValueError(f"{attr}: unknown level {value!r}; allowed: {allowed}")
    return levels.index(value)


class Criterion(_Strict):
    """One node of an eligibility tree; exactly one kind of test per node."""

    id: str | None = None
    attr: str | None = None
    op: Literal[">=", ">", "<=", "<", "=="] | None = None
    value: float | bool | str | None = None
    all: list[Criterion] | None = Field(default=None, min_length=1)  # empty: nothing to combine
    any: list[Criterion] | None = Field(default=None, min_length=1)
    at_least: int | None = Field(default=None, ge=1)
    of: list[Criterion] | None = Field(default=None, min_length=1)
    holds: str | None = None
    score: bool | None = None
    source: str | None = None
    note: str | None = None
    # Whether this test was read in the official text (False: from a secondary copy). Unset, a
    # criterion is as verified as its rule set (``meta.verified``).
    verified: bool | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Criterion:
        kinds = [
            self.attr is not None,
            self.all is not None,
            self.any is not None,
            self.of is not None,
            self.holds is not None,
            self.score is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError("a criterion needs exactly one of attr, all, any, of, holds, score")
        if self.score is False:
            raise ValueError(
                "score = false: only score = true (the tier's score passes); there is no failing test"
            )
        self._check_test()
        self._check_count()
        if self.holds is not None and self.holds not in TIER_IDS:
            raise ValueError(f"holds: unknown tier {self.holds!r}; allowed: {', '.join(TIER_IDS)}")
        return self

    def _check_test(self) -> None:
        """An attribute test needs op and value; on any other node they would be silently ignored."""
        if self.attr is None:
            if self.op is not None or self.value is not None:
                raise ValueError(
                    "op and value go with attr (a test on a firm attribute), not with other kinds"
                )
            return
        _check_attr(self.attr)
        if self.op is None or self.value is None:
            raise ValueError(f"criterion on {self.attr} needs op and value")
        if isinstance(self.value, str):
            _level_code(self.attr, self.value)

    def _check_count(self) -> None:
        """``at_least`` counts the criteria of ``of``: asking for more than there are never passes."""
        if (self.of is None) != (self.at_least is None):
            raise ValueError("'at_least' and 'of' go together")
        if self.of is not None and (self.at_least or 0) > len(self.of):
            raise ValueError(
                f"at_least = {self.at_least}: at most {len(self.of)}, the number of criteria in 'of'"
            )

    def threshold(self) -> float:
        """The numeric value compared against (level code for categorical attributes)."""
        if isinstance(self.value, str):
            return float(_level_code(self.attr or "", self.value))
        return float(self.value)  # type: ignore[arg-type]

    @cached_property
    def cut(self) -> float:
        """The threshold as compared: nudged by the tolerance in the operator's direction."""
        op = self.op or ">="
        return float(tolerant(self.threshold(), NUDGE[op]))

    def walk(self):
        """Yield this node and every node below it."""
        yield self
        for child in (*(self.all or ()), *(self.any or ()), *(self.of or ())):
            yield from child.walk()


class ScoreItem(_Strict):
    """Points for one indicator: by bins, by categorical level, per step, scaled, or best of."""

    id: str
    category: str | None = None
    attr: str | None = None
    bins: list[float] | None = None
    points: list[float] | None = None
    closed: Literal["left", "right"] = "left"
    levels: dict[str, float] | None = None
    step: float | None = Field(default=None, gt=0)
    step_points: float | None = None
    scale: float | None = None
    best_of: list[ScoreItem] | None = Field(default=None, min_length=1)
    cap: float | None = Field(default=None, ge=0)
    source: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScoreItem:
        kinds = [
            self.bins is not None,
            self.levels is not None,
            self.step is not None,
            self.scale is not None,
            self.best_of is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(f"score item {self.id}: needs one of bins, levels, step, scale, best_of")
        self._check_attr()
        self._check_companions()
        if self.bins is not None:
            if self.points is None or len(self.points) != len(self.bins) + 1:
                raise ValueError(f"score item {self.id}: points must have len(bins) + 1 values")
            if list(self.bins) != sorted(self.bins):
                raise ValueError(f"score item {self.id}: bins must be increasing")
        if self.levels is not None:
            for name in self.levels:
                _level_code(self.attr or "", name)
        if self.step is not None and self.step_points is None:
            raise ValueError(f"score item {self.id}: step needs step_points")
        return self

    def _check_attr(self) -> None:
        """Every kind but ``best_of`` scores one attribute; ``best_of`` scores its items' attributes."""
        if self.best_of is not None:
            if self.attr is not None:
                raise ValueError(f"score item {self.id}: best_of takes no attr (its items name theirs)")
            return
        if self.attr is None:
            raise ValueError(f"score item {self.id}: needs attr")
        _check_attr(self.attr)

    def _check_companions(self) -> None:
        """``points`` belong to ``bins`` and ``step_points`` to ``step``: elsewhere they are ignored.

        Ignored, but not harmlessly: :meth:`max_points` reads ``points`` first, so stray points
        would misstate the most an item can give.
        """
        if self.points is not None and self.bins is None:
            raise ValueError(f"score item {self.id}: points go with bins")
        if self.step_points is not None and self.step is None:
            raise ValueError(f"score item {self.id}: step_points goes with step")

    @cached_property
    def cuts(self) -> tuple[float, ...]:
        """Bin edges as compared: nudged so that a value on an edge counts as on it.

        A tuple, not an array: pydantic compares cached values when comparing models.
        """
        return tuple(
            tolerant(np.asarray(self.bins, dtype=np.float64), 1.0 if self.closed == "right" else -1.0)
        )

    def max_points(self) -> float:
        """Most points the item can give."""
        if self.best_of is not None:
            best = max(item.max_points() for item in self.best_of)
        elif self.points is not None:
            best = max(self.points)
        elif self.levels is not None:
            best = max(self.levels.values())
        else:
            best = self.cap if self.cap is not None else float("inf")
        return min(best, self.cap) if self.cap is not None else best

    def evaluate(self, feats: Features) -> np.ndarray:
        """Points of every firm in ``feats``."""
        if self.best_of is not None:
            pts = np.max([item.evaluate(feats) for item in self.best_of], axis=0)
        else:
            x = feats[self.attr or ""]
            if self.bins is not None:
                idx = np.digitize(x, self.cuts, right=self.closed == "right")
                pts = np.asarray(self.points, dtype=np.float64)[idx]
            elif self.levels is not None:
                table = np.zeros(len(VOCABULARIES[self.attr or ""]))
                for name, value in self.levels.items():
                    table[_level_code(self.attr or "", name)] = value
                pts = table[np.asarray(x, dtype=np.int64)]
            elif self.step is not None:
                pts = np.floor(np.asarray(x, dtype=np.float64) / self.step) * (self.step_points or 0)
            else:
                pts = np.asarray(x, dtype=np.float64) * (self.scale or 0.0)
        return np.minimum(pts, self.cap) if self.cap is not None else pts


class Category(_Strict):
    """A score category with its maximum and the minimum a firm must reach in it."""

    max: float = Field(gt=0)
    min: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _min_within_max(self) -> Category:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} exceeds max {self.max:g}: no firm could reach it")
        return self


class Score(_Strict):
    """A points score: pass mark, categories and the items that feed them."""

    pass_mark: float = Field(ge=0)
    categories: dict[str, Category]
    items: list[ScoreItem] = Field(min_length=1)  # no items: every firm scores 0
    source: str | None = None

    @model_validator(mode="after")
    def _items_fit_categories(self) -> Score:
        for item in self.items:
            if item.category not in self.categories:
                raise ValueError(f"score item {item.id}: category {item.category!r} not declared")
        reachable = 0.0
        for name, cat in self.categories.items():
            top = sum(i.max_points() for i in self.items if i.category == name)
            if top > cat.max + SCORE_TOL:
                raise ValueError(f"category {name}: items can give {top:g} > max {cat.max:g}")
            if cat.min > top + SCORE_TOL:
                raise ValueError(
                    f"category {name}: min {cat.min:g} is more than its items can give ({top:g})"
                )
            reachable += top
        if self.pass_mark > reachable + SCORE_TOL:
            raise ValueError(
                f"pass_mark {self.pass_mark:g} is more than the categories can give ({reachable:g}): nobody could pass"
            )
        return self

    def evaluate(
        self, feats: Features, subtotals: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Total score and whether it passes (pass mark and every category minimum).

        ``subtotals``, if given, receives each category's points (the evidence of a failed minimum).
        """
        total = np.zeros(len(feats))
        ok = np.ones(len(feats), dtype=bool)
        for name, cat in self.categories.items():
            sub = np.zeros(len(feats))
            for item in self.items:
                if item.category == name:
                    sub += item.evaluate(feats)
            sub = np.minimum(sub, cat.max)
            if subtotals is not None:
                subtotals[name] = sub
            total += sub
            ok &= sub >= cat.min
        return total, ok & (total >= self.pass_mark)


class Quota(_Strict):
    """Most new certificates per year: a fixed number, per unit, or a share of holders.

    Per unit: e.g. per association. A share of another tier's holders: national places scaled
    to the economy, e.g. key little giants, a funded number of places in batches shared out in
    proportion to little giants.
    """

    per_year: int | None = Field(default=None, ge=0)
    per_unit: int | None = Field(default=None, ge=0)
    unit: str | None = None
    share: float | None = Field(default=None, ge=0.0, le=1.0)
    of_holders: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Quota:
        kinds = (self.per_year is not None, self.per_unit is not None, self.share is not None)
        if sum(kinds) != 1:
            raise ValueError("quota needs exactly one of per_year, per_unit, share")
        if (self.per_unit is None) != (self.unit is None):
            raise ValueError("quota per_unit needs unit")
        if (self.share is None) != (self.of_holders is None):
            raise ValueError("quota share needs of_holders (the tier whose holders it is a share of)")
        if self.of_holders is not None and self.of_holders not in TIER_IDS:
            raise ValueError(f"of_holders: unknown tier {self.of_holders!r}; allowed: {', '.join(TIER_IDS)}")
        return self


class ReviewExemption(_Strict):
    """A criterion that a dated notice no longer applies at re-review (new applicants still meet it)."""

    criterion: str  # the id of an eligibility criterion of the tier
    from_year: int = Field(ge=1990, le=2100)
    verified: bool = False  # True only when the national text itself was read
    source: str


class TierRule(_Strict):
    """Everything that decides who holds one tier."""

    name_en: str
    name_zh: str
    issued_by: Literal["national", "provincial", "city"]
    validity_years: int = Field(ge=1, le=20)
    requires: list[str] = Field(default_factory=list)
    eligibility: Criterion
    score: Score | None = None
    quota: Quota | None = None
    rank_by: str = "score"
    side_label: bool = False
    # False: a fixed support period, not a title — it ends at expiry without re-review (flow
    # "ended"), and the firm may be selected again in a later batch.
    renewable: bool = True
    # True: the certificate ends when a required tier is lost (only where a text ties it so).
    lost_with_prerequisite: bool = False
    review_exemptions: list[ReviewExemption] = Field(default_factory=list)
    source: str

    @model_validator(mode="after")
    def _consistent(self) -> TierRule:
        for tier in self.requires:
            if tier not in TIER_IDS:
                raise ValueError(f"requires: unknown tier {tier!r}")
        ids = {node.id for node in self.eligibility.walk() if node.id}
        for exemption in self.review_exemptions:
            if exemption.criterion not in ids:
                raise ValueError(
                    f"review_exemptions: no eligibility criterion with id {exemption.criterion!r}; "
                    f"allowed: {', '.join(sorted(ids))}"
                )
        uses_score = any(node.score for node in self.eligibility.walk())
        if uses_score and self.score is None:
            raise ValueError("eligibility uses the score but no [score] is defined")
        if self.rank_by != "score":
            _check_attr(self.rank_by)
        elif self.score is None:
            raise ValueError("rank_by = 'score' needs a [score]; give rank_by an attribute otherwise")
        return self


class RuleSetMeta(_Strict):
    """Identity of a rule set and how far it can be trusted."""

    id: str
    title: str
    verified: bool
    in_force_from: str
    note: str = ""


class RuleSet(_Strict):
    """A complete, dated ladder: tiers in processing order (lower rungs first)."""

    meta: RuleSetMeta
    order: list[str]
    tiers: dict[str, TierRule]

    @model_validator(mode="after")
    def _order_matches(self) -> RuleSet:
        unknown = set(self.tiers) - set(TIER_IDS)
        if unknown:
            raise ValueError(f"unknown tier id(s) {sorted(unknown)}; allowed: {', '.join(TIER_IDS)}")
        if sorted(self.order) != sorted(self.tiers):
            raise ValueError("order must list every tier exactly once")
        for pos, tier in enumerate(self.order):
            for req in self.tiers[tier].requires:
                if req not in self.order[:pos]:
                    raise ValueError(f"{tier} requires {req}, which must come earlier in order")
        self._check_holds()
        return self

    def _check_holds(self) -> None:
        """A ``holds`` test on a tier this rule set does not define would fail for every firm."""
        for tier, rule in self.tiers.items():
            for node in rule.eligibility.walk():
                if node.holds is not None and node.holds not in self.tiers:
                    raise ValueError(
                        f"tiers.{tier}.eligibility: holds {node.holds!r}, a tier this rule set does not "
                        f"define; defined: {', '.join(self.order)}"
                    )

    @cached_property
    def _memo(self) -> dict:
        return {}

    @cached_property
    def ladder(self) -> tuple[str, ...]:
        """The rungs of the ladder in order: every tier that is not a side label."""
        return tuple(t for t in self.order if not self.tiers[t].side_label)

    def notches(self, attr: str) -> np.ndarray:
        """Distinct lower thresholds on ``attr`` in any eligibility rule (for bunching)."""
        key = ("notches", attr)
        if key not in self._memo:
            self._memo[key] = tuple(self._notches(attr))
        return np.array(self._memo[key])

    def _notches(self, attr: str) -> list[float]:
        values = {
            node.threshold()
            for rule in self.tiers.values()
            for node in rule.eligibility.walk()
            if node.attr == attr and node.op in (">=", ">")
        }
        return sorted(values)

    def tiers_testing(self, attr: str) -> tuple[str, ...]:
        """Tiers whose eligibility tests ``attr`` (e.g. the titles earned by niche years)."""
        key = ("testing", attr)
        if key not in self._memo:
            self._memo[key] = tuple(
                t for t in self.order if any(n.attr == attr for n in self.tiers[t].eligibility.walk())
            )
        return self._memo[key]

    def dependants(self, tier: str) -> list[str]:
        """Tiers that require ``tier``, directly or through another tier."""
        key = ("dependants", tier)
        if key not in self._memo:
            self._memo[key] = tuple(self._dependants(tier))
        return list(self._memo[key])

    def _dependants(self, tier: str) -> list[str]:
        out: list[str] = []
        for other in self.order:
            rule = self.tiers[other]
            if tier in rule.requires or any(r in out for r in rule.requires):
                out.append(other)
        return out


@dataclass(frozen=True)
class Check:
    """One test of a tier's rule, as judged for every firm: what was compared, with what, who passed.

    The evidence behind a verdict. Certification needs only the verdict; the cultivation lists
    and the rule-revision impact read the checks of the same judgement (``judge(detail=True)``),
    so the gaps a planner sees are the tests the certification cycle applies, never a second
    reading of the rules.

    ``kind``: ``attr`` (a threshold test on a firm attribute), ``holds`` (a tier held),
    ``requires`` (a prerequisite tier), ``score`` (the total score against the pass mark),
    ``category`` (a score category against its minimum). ``threshold`` is what the text states
    (the level code for a categorical attribute, 1 for "true"); ``value`` is the firm's, in the
    same units.
    """

    label: str
    kind: Literal["attr", "holds", "requires", "score", "category"]
    op: str
    threshold: float
    value: np.ndarray
    passed: np.ndarray
    attr: str | None = None
    source: str | None = None


@dataclass
class Trace:
    """Every node's verdict (by its path in the tree, root ``"0"``) and every leaf's check."""

    passed: dict[str, np.ndarray] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)


@dataclass
class Judgement:
    """Result of checking one tier's rule over a set of firms.

    ``trace`` (with ``judge(detail=True)``) holds the evidence: each criterion's value,
    threshold and pass/fail (:class:`Check`).
    """

    passed: np.ndarray
    score: np.ndarray | None
    criteria: dict[str, np.ndarray] = field(default_factory=dict)
    trace: Trace | None = None


def node_label(node: Criterion, parent: str) -> str:
    """A readable, stable name of a node: its id, or its parent's name and what it tests."""
    if node.id:
        return node.id
    if node.attr is not None:
        value = node.value if isinstance(node.value, str) else f"{node.value:g}"
        return f"{parent}:{node.attr}{node.op}{value}"
    if node.holds is not None:
        return f"{parent}:holds_{node.holds}"
    return f"{parent}:score" if node.score else parent


def _leaf_check(node: Criterion, label: str, feats: Features, out: np.ndarray) -> Check:
    if node.attr is not None:
        value = np.asarray(feats[node.attr], dtype=np.float64)
        return Check(label, "attr", node.op or ">=", node.threshold(), value, out, node.attr, node.source)
    return Check(label, "holds", "==", 1.0, out.astype(np.float64), out, node.holds, node.source)


@dataclass(frozen=True)
class ScoreParts:
    """A tier's score as judged: the table, each firm's total and each category's points."""

    score: Score
    total: np.ndarray
    subtotals: dict[str, np.ndarray]

    def checks(self, label: str, source: str | None) -> list[Check]:
        """The total against the pass mark and each category with a minimum, as separate checks.

        The comparisons are those of :meth:`Score.evaluate`, so the checks pass exactly where the
        score does.
        """
        score, total = self.score, self.total
        checks = [Check(label, "score", ">=", score.pass_mark, total, total >= score.pass_mark, None, source)]
        for name, cat in score.categories.items():
            if cat.min > 0:
                sub = self.subtotals[name]
                checks.append(
                    Check(f"{label}.{name}", "category", ">=", cat.min, sub, sub >= cat.min, None, source)
                )
        return checks


def _eval(
    node: Criterion,
    feats: Features,
    holds: dict[str, np.ndarray],
    score_ok: np.ndarray | None,
    record: dict[str, np.ndarray],
    skip: frozenset[str] = frozenset(),
    trace: tuple[Trace, str, str, ScoreParts | None] | None = None,
) -> np.ndarray:
    """A node's verdict for every firm.

    With ``trace`` (the trace, this node's path, its parent's label and the tier's score parts)
    it also records every node's verdict and every leaf's check.
    """
    label = node_label(node, trace[2]) if trace else ""

    def below(child: Criterion, k: int) -> np.ndarray:
        sub = (trace[0], f"{trace[1]}.{k}", label, trace[3]) if trace else None
        return _eval(child, feats, holds, score_ok, record, skip, sub)

    if node.id in skip:  # not applied (at review, under a dated exemption)
        out = np.ones(len(feats), dtype=bool)
    elif node.attr is not None:
        out = OPS[node.op or ">="](feats[node.attr], node.cut)
    elif node.all is not None or node.any is not None:
        children = node.all if node.all is not None else node.any
        combine = np.logical_and if node.all is not None else np.logical_or
        out = below(children[0], 0).copy()
        for k, child in enumerate(children[1:], start=1):
            combine(out, below(child, k), out=out)
    elif node.of is not None:
        hits = np.zeros(len(feats), dtype=np.int16)
        for k, child in enumerate(node.of):
            hits += below(child, k)
        out = hits >= (node.at_least or 1)
    elif node.holds is not None:
        out = holds[node.holds]
    else:
        assert score_ok is not None  # guaranteed by TierRule validation
        out = score_ok
    if node.id:
        record[node.id] = out
    if trace:
        tr, path, _, parts = trace
        tr.passed[path] = out
        if node.id in skip:
            pass  # an exempted test is not a check
        elif node.attr is not None or node.holds is not None:
            tr.checks[path] = _leaf_check(node, label, feats, out)
        elif node.score:
            assert parts is not None
            for k, check in enumerate(parts.checks(label, node.source or parts.score.source)):
                tr.checks[f"{path}.{k}"] = check
    return out


def judge(
    rule: TierRule,
    feats: Features,
    holds: dict[str, np.ndarray],
    skip: frozenset[str] = frozenset(),
    detail: bool = False,
) -> Judgement:
    """Check ``rule`` for every firm in ``feats``; ``holds`` gives tiers held, same rows.

    ``skip`` names criteria not applied (those a review exemption lifts, :func:`review_skips`).
    ``detail`` also records each criterion's value, threshold and pass/fail (``trace``), the
    evidence the cultivation gaps are read from; the verdict is the same either way.
    """
    subtotals: dict[str, np.ndarray] = {}
    score, score_ok = (
        rule.score.evaluate(feats, subtotals if detail else None) if rule.score else (None, None)
    )
    record: dict[str, np.ndarray] = {}
    trace = Trace() if detail else None
    parts = ScoreParts(rule.score, score, subtotals) if detail and rule.score and score is not None else None
    passed = _eval(
        rule.eligibility, feats, holds, score_ok, record, skip, (trace, "0", "", parts) if trace else None
    )
    for req in rule.requires:
        if trace is not None:
            trace.checks[f"requires.{req}"] = Check(
                f"requires_{req}",
                "requires",
                "==",
                1.0,
                holds[req].astype(np.float64),
                holds[req].copy(),
                req,
                rule.source,
            )
        passed &= holds[req]
    return Judgement(passed=passed, score=score, criteria=record, trace=trace)


def review_skips(rule: TierRule, year: int) -> frozenset[str]:
    """Criteria not applied at a re-review in ``year``: the exemptions dated on or before it."""
    return frozenset(e.criterion for e in rule.review_exemptions if e.from_year <= year)
