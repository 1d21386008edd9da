"""How far a firm is from a tier: the fewest failed checks that stand between it and the tier.

Read from a detailed judgement (:func:`sim.core.rules.judge` with ``detail=True``), never from a
second reading of the rules, so a gap is exactly a test the certification cycle applies. A rule
is a tree (``all`` / ``any`` / ``at_least … of``), and a firm that fails it may have several
routes to passing: for an ``any`` the cheapest alternative counts (fewest failed checks, then the
smallest relative shortfall), for ``at_least k of`` the cheapest children that make up k. The
checks on that route that fail are the firm's gaps; their number is the criteria it misses.
Vectorised over firms, as the judgement is.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count as count_from
from itertools import takewhile

import numpy as np

from sim.core.rules import Check, Criterion, Judgement, TierRule, Trace

MAX_SHORTFALL = 1e3  # a relative shortfall beyond this ranks no further back


def shortfall(check: Check) -> np.ndarray:
    """How far each firm is from passing ``check``, relative to its threshold (0 where it passes).

    A threshold test counts the distance as a share of the threshold (1 for a threshold of 0);
    a yes/no test, a tier held or a prerequisite counts 1.
    """
    fails = ~check.passed
    if check.kind in ("holds", "requires") or check.op == "==":
        return fails.astype(np.float64)
    scale = abs(check.threshold) or 1.0
    distance = np.abs(check.threshold - check.value) / scale
    return np.where(fails, np.minimum(distance, MAX_SHORTFALL), 0.0)


def _key(count: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """One number that orders routes by failed checks, then by relative shortfall."""
    return count + rel / (1.0 + rel)


@dataclass
class Gaps:
    """Per firm: the checks it fails on its cheapest route to the tier, and how many."""

    missed: np.ndarray  # failed checks on the cheapest route (0: eligible now)
    distance: np.ndarray  # missed + a fraction for the relative shortfall: lower is closer
    route: dict[str, np.ndarray]  # check path -> firm fails it and it is on its cheapest route
    checks: dict[str, Check]


def gaps(rule: TierRule, verdict: Judgement) -> Gaps:
    """The gaps of every firm of ``verdict`` to ``rule`` (a judgement made with ``detail=True``)."""
    trace = verdict.trace
    if trace is None:
        raise ValueError("gaps need a judgement made with detail=True")
    n = len(verdict.passed)
    choice: dict[str, np.ndarray] = {}

    def own_checks(path: str) -> list[str]:
        """The checks of a node that has no children: its own test, or its score's checks."""
        if path in trace.checks:
            return [path]
        return list(takewhile(lambda p: p in trace.checks, (f"{path}.{k}" for k in count_from())))

    def cost(node: Criterion, path: str) -> tuple[np.ndarray, np.ndarray]:
        children = node.all or node.any or node.of
        if children is None or _skipped(trace, path):
            # one criterion, however many checks it has (a score: its total and its category minimums)
            leaves = own_checks(path)
            fails = [~trace.checks[p].passed for p in leaves]
            count = np.logical_or.reduce(fails).astype(np.int64) if fails else np.zeros(n, np.int64)
            rel = sum(shortfall(trace.checks[p]) for p in leaves) if leaves else np.zeros(n)
        else:
            parts = [cost(child, f"{path}.{k}") for k, child in enumerate(children)]
            counts = np.stack([c for c, _ in parts])
            rels = np.stack([r for _, r in parts])
            if node.all is not None:
                count, rel = counts.sum(axis=0), rels.sum(axis=0)
            elif node.any is not None:
                best = np.argmin(_key(counts, rels), axis=0)
                choice[path] = best
                count, rel = counts[best, np.arange(n)], rels[best, np.arange(n)]
            else:
                order = np.argsort(_key(counts, rels), axis=0, kind="stable")
                take = order[: node.at_least or 1]
                choice[path] = np.argsort(order, axis=0, kind="stable")  # rank of each child
                count = np.take_along_axis(counts, take, axis=0).sum(axis=0)
                rel = np.take_along_axis(rels, take, axis=0).sum(axis=0)
        return count, rel

    route: dict[str, np.ndarray] = {}

    def mark(node: Criterion, path: str, active: np.ndarray) -> None:
        children = node.all or node.any or node.of
        if children is None or _skipped(trace, path):
            for p in own_checks(path):
                route[p] = active & ~trace.checks[p].passed
            return
        for k, child in enumerate(children):
            if node.all is not None:
                on = active
            elif node.any is not None:
                on = active & (choice[path] == k)
            else:
                on = active & (choice[path][k] < (node.at_least or 1))
            mark(child, f"{path}.{k}", on)

    count, rel = cost(rule.eligibility, "0")
    mark(rule.eligibility, "0", np.ones(n, dtype=bool))
    for path, check in trace.checks.items():
        if check.kind == "requires":
            route[path] = ~check.passed
            count = count + (~check.passed)
            rel = rel + shortfall(check)
    return Gaps(missed=count.astype(np.int64), distance=_key(count, rel), route=route, checks=trace.checks)


def _skipped(trace: Trace, path: str) -> bool:
    """An exempted composite node: judged as passing without judging its children."""
    return f"{path}.0" not in trace.passed
