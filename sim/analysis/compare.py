"""Comparisons of replicated scenarios: paired differences and cost-effectiveness.

Comparisons are paired: replication ``i`` of every scenario shares its seed (common random
numbers), so differences are taken replication by replication. Intervals: :mod:`sim.analysis.stats`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.runs import end_outcomes
from sim.analysis.stats import mean_interval, ratio_interval
from sim.core.levers import FUNDS_RD, with_trait
from sim.core.vocab import TIER_IDS
from sim.io.run_store import RUNS_DIR, load_table


def compare_summary(out_dir: Path, index: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Long summary of a compare batch (see README: columns and meanings)."""
    runs = load_table(out_dir, list(index["key"]), "series")
    series = index[["key", "label", "replication"]].merge(runs, on="key")
    ends = index[["key", "label", "replication"]].merge(end_outcomes(runs), left_on="key", right_index=True)
    rows: list[dict] = []

    for label in labels:
        mine = series[series["label"] == label]
        for tier in TIER_IDS:
            for year, grp in mine.groupby("year"):
                rows.append(
                    {
                        "scenario": label,
                        "metric": "stock",
                        "tier": tier,
                        "year": year,
                        **mean_interval(grp[f"stock.{tier}"]),
                    }
                )
        end = ends[ends["label"] == label]
        for col in (c for c in end.columns if c.startswith(("spend.", "spend_level."))):
            kind, _, what = col.partition(".")
            by = "lever" if kind == "spend" else "level"
            rows.append({"scenario": label, "metric": "cost", by: what, **mean_interval(end[col])})
        rows.append({"scenario": label, "metric": "cost_total", **mean_interval(end["spend_total"])})

    base_label = labels[0]
    base = ends[ends["label"] == base_label].set_index("replication")
    for label in labels[1:]:
        alt = ends[ends["label"] == label].set_index("replication")
        common = base.index.intersection(alt.index)
        b, a = base.loc[common], alt.loc[common]
        d_cost = (a["spend_total"] - b["spend_total"]).to_numpy()
        for tier in TIER_IDS:
            d_stock = (a[f"stock.{tier}"] - b[f"stock.{tier}"]).to_numpy()
            rows.append(
                {
                    "scenario": label,
                    "metric": "additional",
                    "tier": tier,
                    "versus": base_label,
                    **mean_interval(d_stock),
                }
            )
            rows.append(
                {
                    "scenario": label,
                    "metric": "cost_per_additional",
                    "tier": tier,
                    "versus": base_label,
                    **ratio_interval(d_cost, d_stock),
                }
            )
        d_rd = (a["rd_cumulative"] - b["rd_cumulative"]).to_numpy()
        rd_spend = np.zeros(len(common))
        for lever in with_trait(FUNDS_RD):
            if f"spend.{lever}" in a:
                rd_spend += a[f"spend.{lever}"].fillna(0.0).to_numpy()
        rows.append(
            {
                "scenario": label,
                "metric": "rd_induced_per_wan",
                "versus": base_label,
                **ratio_interval(d_rd, rd_spend),
            }
        )
        share = deadweight(out_dir, index, label, base_label, common)
        rows.append(
            {
                "scenario": label,
                "metric": "deadweight_share",
                "versus": base_label,
                **ratio_interval(share[0], share[1]),
            }
        )
    cols = [
        "scenario",
        "metric",
        "tier",
        "lever",
        "level",
        "year",
        "versus",
        "mean",
        "ci_low",
        "ci_high",
        "lo95",
        "hi95",
        "n",
    ]
    return pd.DataFrame(rows).reindex(columns=cols)


def deadweight(
    out_dir: Path, index: pd.DataFrame, label: str, base_label: str, replications
) -> tuple[np.ndarray, np.ndarray]:
    """Per replication: award money to firms the paired baseline certified too, and all award money.

    A firm (same id: populations coincide under common random numbers) counts as deadweight
    for a tier when the baseline run also certified it to that tier within the horizon.
    """
    keys = index.set_index(["label", "replication"])["key"]
    dead, total = [], []
    for rep in replications:
        awards = pd.read_parquet(out_dir / RUNS_DIR / keys[(label, rep)] / "awards.parquet")
        base = pd.read_parquet(out_dir / RUNS_DIR / keys[(base_label, rep)] / "certified.parquet")
        both = awards.merge(base, on=["firm_id", "tier"], how="inner")
        dead.append(both["amount_wan"].sum())
        total.append(awards["amount_wan"].sum())
    return np.array(dead), np.array(total)


def print_table(summary: pd.DataFrame, labels: list[str]) -> str:
    """Terminal table: end-year stocks with 95 % spread, cost, and gains over the first."""
    stock = summary[summary["metric"] == "stock"]
    tiers = ["innovative", "srdi", "little_giant", "single_champion"]
    head = f"{'scenario':<26}{'end':>6}" + "".join(f"{t:>22}" for t in tiers) + f"{'cost 万元':>16}"
    lines = ["end-of-run stock per tier: mean [95 % of runs]", head, "-" * len(head)]
    for label in labels:
        mine = stock[stock["scenario"] == label]
        end = mine["year"].max()
        cells = []
        for tier in tiers:
            r = mine[(mine["tier"] == tier) & (mine["year"] == end)].iloc[0]
            cells.append(f"{r['mean']:>8.1f} [{r['lo95']:>4.0f},{r['hi95']:>5.0f}]")
        cost = summary[(summary.scenario == label) & (summary.metric == "cost_total")]
        row = f"{label:<26}{int(end):>6}" + "".join(f"{c:>22}" for c in cells)
        lines.append(row + f"{cost['mean'].iloc[0]:>16,.0f}")
    extra = summary[summary.metric.isin(["additional", "cost_per_additional"])]
    if len(extra):
        lines += ["", f"versus {labels[0]} (paired replications; mean [95 % CI]):"]
        for label in labels[1:]:
            for tier in ("srdi", "little_giant"):
                pick = (extra.scenario == label) & (extra.tier == tier)
                add = extra[pick & (extra.metric == "additional")].iloc[0]
                cpa = extra[pick & (extra.metric == "cost_per_additional")].iloc[0]
                gained = f"{add['mean']:+.1f} [{add['ci_low']:+.1f}, {add['ci_high']:+.1f}] firms"
                if add["ci_low"] > 0:
                    cost = f"{cpa['mean']:,.0f} 万元 per extra firm [{cpa['ci_low']:,.0f}, {cpa['ci_high']:,.0f}]"
                else:
                    cost = "no significant gain: cost per extra firm not defined"
                lines.append(f"  {label:<24} {tier:<14} {gained}; {cost}")
    return "\n".join(lines)
