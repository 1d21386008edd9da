"""Analysis of finished batches: distributions, paired differences, cost-effectiveness.

Reads the run folders a batch wrote (never a running model). Intervals:

* ``lo95``/``hi95`` — the 2.5th and 97.5th percentiles over replications: where 95 % of
  outcomes fall (the uncertainty a planner faces in one realisation);
* ``ci_low``/``ci_high`` — the 95 % confidence interval of the mean (Student t over
  replications; for ratios a paired percentile bootstrap with a fixed seed).

Comparisons are paired: replication ``i`` of every scenario shares its seed (common random
numbers), so differences are taken replication by replication.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.lever_config import LEVELS, LEVER_IDS
from sim.runner import RUNS
from sim.scenario import ScenarioError
from sim.scenario_base import TIER_IDS

BOOTSTRAP = 2000
RD_LEVERS = ("rd_subsidy", "rd_project")


def mean_interval(values: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean, t confidence interval of the mean, and the 2.5–97.5 % spread of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(x.mean()) if n else np.nan
    if n > 1 and np.ptp(x) > 0:
        half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    else:
        half = 0.0 if n else np.nan
    lo, hi = np.percentile(x, [2.5, 97.5]) if n else (np.nan, np.nan)
    return {
        "mean": mean,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "lo95": float(lo),
        "hi95": float(hi),
        "n": n,
    }


def ratio_interval(num: np.ndarray, den: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Ratio of means with a paired percentile-bootstrap 95 % interval (NaN if den ≈ 0)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    n = len(num)
    if n == 0 or abs(den.mean()) < 1e-12:
        return {"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n}
    idx = np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP, n))
    d = den[idx].mean(axis=1)
    ratios = np.where(np.abs(d) > 1e-12, num[idx].mean(axis=1) / np.where(d == 0, 1, d), np.nan)
    lo, hi = np.nanpercentile(ratios, [2.5, 97.5])
    return {"mean": float(num.mean() / den.mean()), "ci_low": float(lo), "ci_high": float(hi), "n": n}


# ---------------------------------------------------------------------------- loading


def batch_index(specs, keys: list[str]) -> pd.DataFrame:
    """One row per run spec: key, label, scenario, replication, seed and swept parameters.

    Built from the specs, not from the run folders: two specs that resolve to the same scenario
    and seed share one run (and its folder) but keep their own labels.
    """
    rows = []
    for spec, key in zip(specs, keys, strict=True):
        params = {f"param.{path}": value for path, value in spec.params}
        rows.append(
            {
                "key": key,
                "label": spec.label,
                "scenario": spec.scenario,
                "replication": spec.replication,
                "seed": spec.seed,
                **params,
            }
        )
    return pd.DataFrame(rows)


def load_table(out_dir: Path, keys: list[str], name: str) -> pd.DataFrame:
    """One table of every run in ``keys``, with a ``key`` column."""
    unique = list(dict.fromkeys(keys))
    parts = [pd.read_parquet(out_dir / RUNS / k / f"{name}.parquet").assign(key=k) for k in unique]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def outcome_names() -> set[str]:
    """Every scalar outcome :func:`end_outcomes` can give, for checking requests before a batch."""
    names = {"spend_total", "rd_cumulative", "rd_end", "firms_alive_end"}
    names |= {f"{kind}.{tier}" for kind in ("stock", "added") for tier in TIER_IDS}
    return names | {f"spend.{lever}" for lever in LEVER_IDS} | {f"spend_level.{lv}" for lv in LEVELS}


def check_outcomes(path: str, outcomes: list[str], extra: set[str] = frozenset()) -> None:
    """Refuse unknown outcome names with one line naming the file and key (before any run)."""
    known = outcome_names() | extra
    unknown = [o for o in outcomes if o not in known]
    if unknown:
        raise ScenarioError(
            f"{path}: experiment.outcomes: unknown outcome(s) {unknown}; known: {', '.join(sorted(known))}"
        )


def end_outcomes(series: pd.DataFrame) -> pd.DataFrame:
    """Scalar outcomes per run: end stocks, cumulative new, spend, R&D (indexed by key).

    A ``spend.<lever>`` / ``spend_level.<level>`` column exists only where something was paid.
    """
    last = series.sort_values("year").groupby("key").tail(1).set_index("key")
    body = series[series["year"] > series.groupby("key")["year"].transform("min")]
    sums = body.groupby("key").sum(numeric_only=True)
    out = pd.DataFrame(index=last.index)
    for tier in TIER_IDS:
        out[f"stock.{tier}"] = last[f"stock.{tier}"]
        out[f"added.{tier}"] = sums[f"new.{tier}"]
    for col in (c for c in series.columns if c.startswith(("spend.", "spend_level."))):
        out[col] = sums[col]
    out["spend_total"] = sums["spend_total"]
    out["rd_cumulative"] = sums["rd_total"]
    out["rd_end"] = last["rd_total"]
    out["firms_alive_end"] = last["firms_alive"]
    return out


# ---------------------------------------------------------------------------- compare


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
        for lever in RD_LEVERS:
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
        awards = pd.read_parquet(out_dir / RUNS / keys[(label, rep)] / "awards.parquet")
        base = pd.read_parquet(out_dir / RUNS / keys[(base_label, rep)] / "certified.parquet")
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


# ---------------------------------------------------------------------------- sweep


def sweep_tables(
    out_dir: Path, index: pd.DataFrame, outcomes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs`` (one row per run: parameters, seed, outcomes) and ``series`` (per run-year)."""
    series = load_table(out_dir, list(index["key"]), "series")
    ends = end_outcomes(series)
    if outcomes:  # names checked by check_outcomes; spend of a lever that never paid is 0
        ends = ends.reindex(columns=outcomes, fill_value=0.0)
    runs = index.merge(ends, left_on="key", right_index=True)
    return runs, series
