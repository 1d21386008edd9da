"""Cultivation lists: for every firm and every tier it does not hold, what stands in its way.

Cities keep cultivation pools (高企培育库, 隐形冠军培育库; Yuyao reply 2024 L10, Taizhou
compilation 第83页) of the firms closest to a title. This module turns the gaps of the rule
evaluator (:func:`sim.core.rules.judge` with ``detail=True``, :func:`sim.core.gaps.gaps`) into
two tables: ``gaps`` (one row per firm × tier × criterion it fails on its cheapest route: the
value, the threshold, the change needed, in the attribute's unit and, for a share of revenue, in
万元) and ``ranking`` (one row per firm × tier: criteria missed, and the firm's rank among those
not holding the tier, closest first). Judged as an applicant: no review exemption applies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.core.features import DESCRIPTIONS, PER, VOCABULARIES, Features
from sim.core.firm_records import FirmRecords, from_file
from sim.core.gaps import Gaps, gaps
from sim.core.rules import Check, RuleSet, TierRule, judge

WHOLE = ("count", "years", "persons")
ELIGIBLE = "meets every criterion now (not certified: it did not apply, or a quota was full)"
SHOWN_OP = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
GAP_COLUMNS = [
    "tier",
    "firm_id",
    "rank",
    "criterion",
    "kind",
    "attribute",
    "description",
    "unit",
    "op",
    "value",
    "threshold",
    "gap",
    "gap_wan",
    "text",
    "source",
]
RANKING_COLUMNS = [
    "tier",
    "name_en",
    "name_zh",
    "rank",
    "firm_id",
    "missed",
    "distance",
    "revenue_wan",
    "rd_wan",
    "gaps",
]


def cultivation_lists(
    rules: RuleSet,
    feats: Features,
    holds: dict[str, np.ndarray],
    firm_ids: np.ndarray,
    records: FirmRecords | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(ranking, gaps)`` for every firm in ``feats`` and every tier of ``rules`` it does not hold.

    With ``records`` (our own firms, judged as read: firm id k is row k of the file), each gap
    says whether its value comes from the file or was imputed (``value_from``): a gap on an
    imputed value is the model's guess, not the firm's figure.
    """
    rankings, gap_parts = [], []
    for tier in rules.order:
        rule = rules.tiers[tier]
        rows = np.flatnonzero(~holds[tier])
        if not len(rows):
            continue
        sub = feats.subset(rows)
        verdict = judge(rule, sub, {t: h[rows] for t, h in holds.items()}, detail=True)
        found = gaps(rule, verdict)
        ids = firm_ids[rows]
        order = np.lexsort((ids, found.distance, found.missed))
        rank = np.empty(len(rows), dtype=np.int64)
        rank[order] = np.arange(1, len(rows) + 1)
        part = pd.DataFrame(
            {
                "tier": tier,
                "name_en": rule.name_en,
                "name_zh": rule.name_zh,
                "rank": rank,
                "firm_id": ids,
                "missed": found.missed,
                "distance": np.round(found.distance, 4),
                "revenue_wan": np.round(sub["revenue"], 1),
                "rd_wan": np.round(sub["rd"], 1),
            }
        )
        tier_gaps = gap_table(tier, rule, found, ids, rank, sub, records)
        joined = tier_gaps.sort_values(["firm_id", "criterion"]).groupby("firm_id")["text"].agg("; ".join)
        part["gaps"] = [joined.get(firm, ELIGIBLE) for firm in ids]
        rankings.append(part.sort_values("rank", kind="stable"))
        gap_parts.append(tier_gaps.sort_values(["rank", "criterion"], kind="stable"))
    ranking = pd.concat(rankings, ignore_index=True) if rankings else pd.DataFrame(columns=RANKING_COLUMNS)
    columns = [*GAP_COLUMNS, "value_from"] if records is not None else GAP_COLUMNS
    all_gaps = pd.concat(gap_parts, ignore_index=True) if gap_parts else pd.DataFrame(columns=columns)
    return ranking[RANKING_COLUMNS], all_gaps.reindex(columns=columns)


def gap_table(
    tier: str,
    rule: TierRule,
    found: Gaps,
    ids: np.ndarray,
    rank: np.ndarray,
    feats: Features,
    records: FirmRecords | None = None,
) -> pd.DataFrame:
    """The gaps of one tier's judgement: one row per firm and check failed on its cheapest route."""
    parts = []
    for path, check in found.checks.items():
        on = found.route[path]
        if not on.any():
            continue
        frame = _gap_rows(tier, check, ids[on], rank[on], feats, np.flatnonzero(on))
        if records is not None:
            known = from_file(records, _attributes(rule, check))
            frame["value_from"] = np.where(known[frame["firm_id"].to_numpy() - 1], "file", "imputed")
            frame.loc[frame["value_from"] == "imputed", "text"] += " [imputed]"
        parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=GAP_COLUMNS)


def _attributes(rule: TierRule, check: Check) -> set[str]:
    """The firm attributes a check's value depends on (a score: every item's attribute)."""
    if check.kind == "attr":
        return {check.attr or ""}
    if check.kind in ("score", "category") and rule.score is not None:
        category = check.label.rsplit(".", 1)[-1] if check.kind == "category" else None
        items = [i for i in rule.score.items if category is None or i.category == category]
        return {sub.attr for i in items for sub in (i.best_of or [i]) if sub.attr}
    return set()  # tiers held: given by the file


def _gap_rows(
    tier: str, check: Check, ids: np.ndarray, rank: np.ndarray, feats: Features, rows: np.ndarray
) -> pd.DataFrame:
    """One row per failing firm of one check: value, threshold, change needed, and a sentence."""
    value = check.value[rows]
    # a strict test on whole numbers needs the next whole number (employees < 1000: at most 999)
    step = {">": 1.0, "<": -1.0}.get(check.op, 0.0) if unit_of(check) in WHOLE else 0.0
    needed = check.threshold + step - value
    description, unit = _described(check)
    gap_wan = np.full(len(rows), np.nan)
    if unit == "万元":
        gap_wan = needed
    elif check.attr in PER:
        gap_wan = needed * np.asarray(feats[PER[check.attr]], dtype=np.float64)[rows]
    if unit in ("yes/no", "level") or check.kind in ("holds", "requires"):
        shown_gap = np.full(len(rows), np.nan)
    else:
        shown_gap = needed
    texts = [
        _text(check, description, unit, v, g, w) for v, g, w in zip(value, shown_gap, gap_wan, strict=True)
    ]
    return pd.DataFrame(
        {
            "tier": tier,
            "firm_id": ids,
            "rank": rank,
            "criterion": check.label,
            "kind": check.kind,
            "attribute": check.attr if check.kind == "attr" else None,
            "description": description,
            "unit": unit,
            "op": check.op,
            "value": value,
            "threshold": check.threshold,
            "gap": shown_gap,
            "gap_wan": gap_wan,
            "text": texts,
            "source": check.source,
        }
    )


def unit_of(check: Check) -> str:
    """The unit a check's value and threshold are stated in."""
    return _described(check)[1]


def _described(check: Check) -> tuple[str, str]:
    if check.kind == "attr":
        return DESCRIPTIONS[check.attr or ""]
    if check.kind in ("holds", "requires"):
        return f"holds {check.attr}", "yes/no"
    if check.kind == "category":
        return f"score category {check.label.rsplit('.', 1)[-1]}", "points"
    return "score", "points"


def _number(x: float, unit: str, digits: int = 2) -> str:
    if unit == "share":
        return f"{x:.{digits}%}"
    if unit == "万元":
        return f"{x:,.0f}万" if abs(x) >= 100 else f"{x:,.1f}万" if abs(x) >= 1 else f"{x:,.2f}万"
    if unit == "points":
        return f"{x:.1f}"
    return f"{x:g}"


def _text(check: Check, description: str, unit: str, value: float, gap: float, gap_wan: float) -> str:
    """E.g. "R&D share of revenue 2.7 %, needs ≥ 3.0 %: +36万"."""
    op = SHOWN_OP[check.op]
    if check.kind in ("holds", "requires"):
        return f"needs {check.attr} held"
    if unit == "yes/no":
        return f"{description}: {'yes' if value else 'no'}, needs {'yes' if check.threshold else 'no'}"
    if unit == "level":
        levels = VOCABULARIES[check.attr or ""]
        return f"{description} {levels[int(value)]}, needs {op} {levels[int(check.threshold)]}"
    shown = _number(value, unit)
    if unit == "share" and shown == _number(check.threshold, unit):  # a miss rounding would hide
        shown = _number(value, unit, 4)
    text = f"{description} {shown}, needs {op} {_number(check.threshold, unit)}"
    if unit == "share" and np.isfinite(gap_wan):
        text += f": {_signed(gap_wan, '万元')}"
    elif unit != "share":
        text += f": {gap:+,.1f}" if unit == "points" else f": {_signed(gap, unit)}"
    return text


def _signed(x: float, unit: str) -> str:
    return ("+" if x >= 0 else "−") + _number(abs(x), unit)
