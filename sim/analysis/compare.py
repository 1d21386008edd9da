"""Policy packages compared on one economy: paired effects, honest cost-effectiveness, targets.

A comparison runs every package on the same economy and, always, that economy's no-policy
counterfactual, replication *i* of each on the same seed. Draws are keyed by firm
(:mod:`sim.core.streams`), so replication *i* of two packages differs only through what the
policies do; effects are paired differences, replication by replication, against the reference
(the no-policy run, or the package ``--versus`` names). Comparing two economies is refused
(:func:`plan`): a difference between places is not a policy effect.

Every effect carries a status: ``gain`` or ``loss`` where its 95 % confidence interval excludes
zero, ``n.s.`` otherwise. A ratio (money per additional firm) is given only for a significant
gain; a loss is reported as a loss, never as a negative cost. Intervals: ``ci_low``/``ci_high``
— 95 % confidence interval of the mean (Student t; paired percentile bootstrap for ratios);
``p05``/``p95`` — where 90 % of replications fall.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.runs import end_outcomes
from sim.analysis.stats import mean_interval, ratio_interval
from sim.core.errors import InputError
from sim.core.levers import AWARD, FUNDS_RD, LEVERS, with_trait
from sim.core.outcomes import RUN_OUTCOMES
from sim.core.rules import RuleSet
from sim.core.scenario import PolicyTarget, Scenario
from sim.core.vocab import PAYING_LEVELS, TIER_IDS
from sim.io.experiment_file import Arm
from sim.io.files import economy_differences, load_scenario, rule_sets_of
from sim.io.run_store import RUNS_DIR, load_table

NO_POLICY = "no-policy"
NO_POLICY_OVERRIDES = ("levers={}", "targets=[]")
COLUMNS = [
    "package",
    "metric",
    "tier",
    "lever",
    "level",
    "year",
    "versus",
    "mean",
    "ci_low",
    "ci_high",
    "p05",
    "p95",
    "n",
    "status",
    "note",
]


# ---------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What a comparison runs: the packages, the no-policy counterfactual, the reference."""

    arms: list[Arm]  # no-policy first, then the packages
    reference: str
    economy: Scenario  # the no-policy scenario: the economy every package runs on
    targets: dict[str, list[PolicyTarget]]
    economy_name: str = ""

    @property
    def labels(self) -> list[str]:
        """Every arm's label, no-policy first."""
        return [arm.label for arm in self.arms]

    @property
    def rules(self) -> RuleSet:
        """The rule set in force at the start (tier names and ladder order)."""
        return rule_sets_of(self.economy)[self.economy.run.rules]


def plan(arms: list[Arm], versus: str | None = None, years: int | None = None) -> Plan:
    """Check that every arm runs on one economy; add its no-policy counterfactual.

    Refuses (one line naming the differing keys) arms whose economies or calendars differ.
    """
    over = [] if years is None else [f"run.years={years}"]
    scenarios = {arm.label: load_scenario(arm.scenario, [*arm.overrides, *over], arm.package) for arm in arms}
    first = arms[0]
    for arm in arms[1:]:
        differing = economy_differences(scenarios[first.label], scenarios[arm.label])
        if differing:
            shown = ", ".join(differing[:6]) + (
                f" and {len(differing) - 6} more" if len(differing) > 6 else ""
            )
            raise InputError(
                f"compare: {arm.label} runs on another economy than {first.label} (differing: {shown}); "
                "a difference between economies is not a policy effect: lay the packages on one economy "
                "(ladder compare --economy ECONOMY.toml PACKAGE.toml ...)"
            )
    if NO_POLICY in scenarios:
        raise InputError(f"compare: the label {NO_POLICY!r} is reserved for the no-policy counterfactual")
    base = replace(first, label=NO_POLICY, overrides=(*first.overrides, *NO_POLICY_OVERRIDES))
    economy = load_scenario(base.scenario, [*base.overrides, *over], base.package)
    labels = [NO_POLICY, *scenarios]
    if versus is not None and versus not in labels:
        raise InputError(f"--versus {versus}: not one of the compared packages ({', '.join(labels)})")
    targets = {label: list(sc.targets) for label, sc in scenarios.items()}
    name = load_scenario(first.scenario).meta.name if first.package else f"the economy of {first.label}"
    return Plan([base, *arms], versus or NO_POLICY, economy, targets, name)


# ---------------------------------------------------------------------------- summary


def _row(package: str, metric: str, stats: dict, **keys) -> dict:
    return {"package": package, "metric": metric, **keys, **stats}


def _status(stats: dict) -> str:
    if stats["n"] < 2 or not np.isfinite(stats["ci_low"]):
        return "n.s."
    if stats["ci_low"] > 0:
        return "gain"
    if stats["ci_high"] < 0:
        return "loss"
    return "n.s."


def _paired(a: pd.DataFrame, b: pd.DataFrame, column: str) -> np.ndarray:
    """Replication-by-replication difference a − b of one column (frames indexed by replication)."""
    common = a.index.intersection(b.index)
    return (a.loc[common, column] - b.loc[common, column]).to_numpy(dtype=float)


def compare_summary(out_dir: Path, index: pd.DataFrame, the_plan: Plan) -> pd.DataFrame:
    """The long summary table of a comparison (columns: :data:`COLUMNS`)."""
    runs = load_table(out_dir, list(index["key"]), "series")
    series = index[["key", "label", "replication"]].merge(runs)
    # reduce each run once, then label: two labels may share one run (identical resolved scenarios)
    ends = index[["key", "label", "replication"]].merge(end_outcomes(runs), left_on="key", right_index=True)
    ledger = _ledger(out_dir, index)
    start, end = (
        the_plan.economy.run.start_year,
        the_plan.economy.run.start_year + the_plan.economy.run.years - 1,
    )
    rows: list[dict] = []
    ref = the_plan.reference
    by_label = {label: ends[ends["label"] == label].set_index("replication") for label in the_plan.labels}
    reps = sorted(by_label[ref].index)

    for label in the_plan.labels:
        mine = series[series["label"] == label]
        for tier in TIER_IDS:
            for year, grp in mine.groupby("year"):
                rows.append(
                    _row(label, "stock", mean_interval(grp[f"stock.{tier}"]), tier=tier, year=int(year))
                )
        rows += _cost_rows(label, ledger[ledger["label"] == label], reps, start, end)
        rows.append(_row(label, "cost_total", mean_interval(by_label[label]["spend_total"])))

    ref_series = series[series["label"] == ref].set_index(["replication", "year"])
    for label in the_plan.labels:
        if label == ref:
            continue
        a, b = by_label[label], by_label[ref]
        mine = series[series["label"] == label].set_index(["replication", "year"])
        common = mine.index.intersection(ref_series.index)
        for tier in TIER_IDS:
            diff = (mine.loc[common, f"stock.{tier}"] - ref_series.loc[common, f"stock.{tier}"]).groupby(
                level="year"
            )
            for year, values in diff:
                stats = mean_interval(values.to_numpy(dtype=float))
                rows.append(
                    _row(
                        label,
                        "additional",
                        stats,
                        tier=tier,
                        year=int(year),
                        versus=ref,
                        status=_status(stats),
                    )
                )
            stats = mean_interval(_paired(a, b, f"newly_certified.{tier}"))
            rows.append(_row(label, "additional_first", stats, tier=tier, versus=ref, status=_status(stats)))
        rows += _cost_effectiveness(out_dir, index, label, ref, a, b, ledger)
        rows += _rd_induced(label, ref, a, b)
        for outcome in RUN_OUTCOMES.values():  # every run outcome of the registry, paired: one entry adds one
            if outcome.paired:
                stats = mean_interval(_paired(a, b, outcome.name))
                rows.append(
                    _row(
                        label,
                        f"effect.{outcome.name}",
                        stats,
                        versus=ref,
                        status=_status(stats),
                        note=outcome.unit,
                    )
                )
    for label in the_plan.labels:
        for outcome in RUN_OUTCOMES.values():
            rows.append(
                _row(
                    label,
                    f"outcome.{outcome.name}",
                    mean_interval(by_label[label][outcome.name]),
                    note=outcome.unit,
                )
            )
    for label, targets in the_plan.targets.items():
        rows += _target_rows(label, targets, series[series["label"] == label], start, end)
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _ledger(out_dir: Path, index: pd.DataFrame) -> pd.DataFrame:
    """Every run's aggregated ledger, labelled by package and replication."""
    table = load_table(out_dir, list(index["key"]), "ledger")
    if table.empty:
        table = pd.DataFrame(columns=["year", "lever", "level", "tier", "firms", "amount_wan", "key"])
    return index[["key", "label", "replication"]].merge(table, on="key")


def _cost_rows(label: str, ledger: pd.DataFrame, reps: list[int], start: int, end: int) -> list[dict]:
    """Spend per year × lever × paying level: mean and 90 % interval over replications."""
    rows = []
    years = list(range(start, end + 1))
    per = ledger.groupby(["lever", "level", "year", "replication"])["amount_wan"].sum()
    for (lever, level), grp in per.groupby(level=["lever", "level"]):
        table = (
            grp.droplevel(["lever", "level"])
            .unstack("year")
            .reindex(index=reps, columns=years, fill_value=0.0)
        )
        table = table.fillna(0.0)
        for year in years:
            stats = mean_interval(table[year].to_numpy())
            rows.append(_row(label, "cost", stats, lever=lever, level=level, year=year))
        rows.append(
            _row(label, "cost", mean_interval(table.sum(axis=1).to_numpy()), lever=lever, level=level)
        )
    return rows


def _cost_effectiveness(
    out_dir: Path,
    index: pd.DataFrame,
    label: str,
    ref: str,
    a: pd.DataFrame,
    b: pd.DataFrame,
    ledger: pd.DataFrame,
) -> list[dict]:
    """Award money per additional first certification, package cost per additional firm, deadweight."""
    rows = []
    common = a.index.intersection(b.index)
    awarded = ledger[ledger["lever"].isin(with_trait(AWARD))]
    award_by_tier = awarded[awarded["label"] == label].groupby(["tier", "replication"])["amount_wan"].sum()
    ref_by_tier = awarded[awarded["label"] == ref].groupby(["tier", "replication"])["amount_wan"].sum()
    d_cost = _paired(a, b, "spend_total")
    dead = _deadweight(out_dir, index, label, ref, list(common))
    for tier in TIER_IDS:
        gain = _paired(a, b, f"newly_certified.{tier}")
        status = _status(mean_interval(gain))
        paid = _per_rep(award_by_tier, tier, common)
        if paid.sum() > 0:  # award money beyond the reference's (none unless --versus names a package)
            money = paid - _per_rep(ref_by_tier, tier, common)
            rows.append(_ratio_row(label, "award_cost_per_first", money, gain, status, tier=tier, versus=ref))
        end_gain = _paired(a, b, f"stock.{tier}")
        if np.any(d_cost):
            note = "the whole package's cost set against this tier alone: not additive across tiers"
            rows.append(
                _ratio_row(
                    label,
                    "package_cost_per_additional",
                    d_cost,
                    end_gain,
                    _status(mean_interval(end_gain)),
                    tier=tier,
                    versus=ref,
                    note=note,
                )
            )
        if tier in dead:
            count, awarded, dead_money, all_money = dead[tier]
            rows.append(
                _row(label, "deadweight_count", ratio_interval(count, awarded), tier=tier, versus=ref)
            )
            rows.append(
                _row(label, "deadweight_money", ratio_interval(dead_money, all_money), tier=tier, versus=ref)
            )
    if dead:
        total = [np.sum([dead[t][k] for t in dead], axis=0) for k in range(4)]
        rows.append(
            _row(label, "deadweight_count", ratio_interval(total[0], total[1]), tier="all", versus=ref)
        )
        rows.append(
            _row(label, "deadweight_money", ratio_interval(total[2], total[3]), tier="all", versus=ref)
        )
    return rows


def _per_rep(money: pd.Series, tier: str, replications) -> np.ndarray:
    """A tier's money per replication (0 where none was paid)."""
    return money.get(tier, pd.Series(dtype=float)).reindex(replications, fill_value=0.0).to_numpy(dtype=float)


def _ratio_row(label: str, metric: str, num: np.ndarray, den: np.ndarray, status: str, **keys) -> dict:
    """A ratio with its bootstrap interval where the denominator's gain is significant; else its status."""
    if status != "gain":
        empty = {"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": len(den)}
        return _row(label, metric, empty, status=status, **keys)
    return _row(label, metric, ratio_interval(num, den), status="gain", **keys)


def _deadweight(
    out_dir: Path, index: pd.DataFrame, label: str, ref: str, replications: list[int]
) -> dict[str, tuple[np.ndarray, ...]]:
    """Per tier and replication: awarded firms certified anyway, all awarded firms, and their money.

    Firm ids are the same in paired runs (firm-level common random numbers), so "the same firm"
    is the same id: a firm is deadweight for a tier when the reference run also certified it to
    that tier for the first time within the horizon.
    """
    keys = index.set_index(["label", "replication"])["key"]
    per: dict[str, list[list[float]]] = {}
    for k, rep in enumerate(replications):
        awards = pd.read_parquet(out_dir / RUNS_DIR / keys[(label, rep)] / "awards.parquet")
        if awards.empty:
            continue
        base = pd.read_parquet(out_dir / RUNS_DIR / keys[(ref, rep)] / "certified.parquet").assign(
            anyway=True
        )
        both = awards.merge(base, on=["firm_id", "tier"], how="left")
        both["anyway"] = both["anyway"].fillna(False).astype(bool)
        for tier, grp in both.groupby("tier"):
            cells = per.setdefault(tier, [[0.0] * len(replications) for _ in range(4)])
            cells[0][k] = float(grp["anyway"].sum())
            cells[1][k] = float(len(grp))
            cells[2][k] = float(grp.loc[grp["anyway"], "amount_wan"].sum())
            cells[3][k] = float(grp["amount_wan"].sum())
    return {tier: tuple(np.array(c) for c in cells) for tier, cells in per.items()}


def _rd_induced(label: str, ref: str, a: pd.DataFrame, b: pd.DataFrame) -> list[dict]:
    """Additional cumulative R&D per 万元 of R&D-type spending (levers that fund R&D)."""
    gross = sum((a[f"spend.{lever}"] for lever in with_trait(FUNDS_RD)), start=pd.Series(0.0, index=a.index))
    if not gross.any():
        return []
    spend = sum(_paired(a, b, f"spend.{lever}") for lever in with_trait(FUNDS_RD))  # beyond the reference's
    d_rd = _paired(a, b, "rd_cumulative")
    return [_ratio_row(label, "rd_induced_per_wan", d_rd, spend, _status(mean_interval(d_rd)), versus=ref)]


# ---------------------------------------------------------------------------- targets


def _target_rows(
    label: str, targets: list[PolicyTarget], series: pd.DataFrame, start: int, end: int
) -> list[dict]:
    """Probability of meeting each target by its year, and the expected shortfall."""
    rows = []
    for k, target in enumerate(targets):
        kind, goal = _goal(target)
        keys = {"tier": target.tier, "year": target.by_year, "lever": f"target[{k}] {kind}"}
        tiers = target.tier.split("+")
        if any(t not in TIER_IDS for t in tiers):
            rows.append(
                _row(label, "target_probability", {}, status="not a model tier", note=target.note, **keys)
            )
            continue
        if not start <= target.by_year <= end:
            note = f"target year {target.by_year} outside the simulated years {start}–{end}"
            rows.append(_row(label, "target_probability", {}, status="outside horizon", note=note, **keys))
            continue
        achieved = _achieved(series, tiers, kind, start, target.by_year)
        scale = float(series.loc[series["year"] == target.by_year, "firms_alive"].max())
        if goal > scale:
            note = f"the economy has at most {scale:,.0f} live firms in {target.by_year}; the target asks for {goal:,}"
            rows.append(_row(label, "target_probability", {}, status="out of reach", note=note, **keys))
            continue
        met = (achieved >= goal).astype(float)
        shortfall = np.maximum(goal - achieved, 0.0)
        rows.append(
            _row(label, "target_probability", mean_interval(met), note=f"goal {goal:,} ({kind})", **keys)
        )
        rows.append(_row(label, "target_shortfall", mean_interval(shortfall), **keys))
    return rows


def _goal(target: PolicyTarget) -> tuple[str, int]:
    for kind in ("stock", "added", "per_year"):
        value = getattr(target, kind)
        if value is not None:
            return kind, int(value)
    return "stock", 0


def _achieved(series: pd.DataFrame, tiers: list[str], kind: str, start: int, year: int) -> np.ndarray:
    """Per replication: the stock in ``year``, the new certificates up to it, or the fewest in a year.

    ``added`` counts new certificates from ``start`` to ``year``; ``per_year`` is met when every
    one of those years has at least the goal, so it is judged on its smallest year.
    """
    window = series[(series["year"] >= start) & (series["year"] <= year)]
    if kind == "stock":
        at = series[series["year"] == year].set_index("replication")
        return at[[f"stock.{t}" for t in tiers]].sum(axis=1).sort_index().to_numpy(dtype=float)
    new = window.set_index("replication")[[f"new.{t}" for t in tiers]].sum(axis=1)
    grouped = new.groupby(level="replication")
    return (grouped.sum() if kind == "added" else grouped.min()).sort_index().to_numpy(dtype=float)


# ---------------------------------------------------------------------------- planner tables


def tier_names(rules: RuleSet) -> pd.DataFrame:
    """Tier id with its English and Chinese names and the level of government that issues it."""
    return pd.DataFrame(
        [(t, rules.tiers[t].name_en, rules.tiers[t].name_zh, rules.tiers[t].issued_by) for t in rules.order],
        columns=["tier", "name_en", "name_zh", "issued_by"],
    )


def tiers_by_year(summary: pd.DataFrame, rules: RuleSet) -> pd.DataFrame:
    """Wide: package × tier × statistic (mean, p05, p95) by year — the stock of each tier."""
    stock = summary[summary["metric"] == "stock"]
    long = stock.melt(
        id_vars=["package", "tier", "year"], value_vars=["mean", "p05", "p95"], var_name="statistic"
    )
    wide = long.pivot_table(
        index=["package", "tier", "statistic"], columns="year", values="value", sort=False
    )
    wide.columns = [str(int(c)) for c in wide.columns]
    return (
        tier_names(rules)
        .merge(wide.reset_index(), on="tier")
        .pipe(_first, ["package", "tier", "name_en", "name_zh", "issued_by"])
    )


def cost_by_year(summary: pd.DataFrame) -> pd.DataFrame:
    """Wide: package × lever × paying level × statistic (mean, p05, p95) by year, and the total."""
    cost = summary[summary["metric"] == "cost"].copy()
    if cost.empty:
        return pd.DataFrame(columns=["package", "lever", "lever_name", "level", "statistic"])
    cost["year"] = cost["year"].map(lambda y: "total" if pd.isna(y) else str(int(y)))
    long = cost.melt(
        id_vars=["package", "lever", "level", "year"], value_vars=["mean", "p05", "p95"], var_name="statistic"
    )
    wide = long.pivot_table(
        index=["package", "lever", "level", "statistic"], columns="year", values="value", sort=False
    )
    years = sorted((c for c in wide.columns if c != "total"), key=int)
    wide = wide[[*years, "total"]].reset_index()
    wide.insert(2, "lever_name", wide["lever"].map(lambda lv: LEVERS[lv].label()))
    order = {lv: k for k, lv in enumerate(LEVERS)}
    return wide.sort_values(
        ["package", "lever", "level", "statistic"],
        key=lambda col: (
            col.map(order)
            if col.name == "lever"
            else col.map(PAYING_LEVELS.index)
            if col.name == "level"
            else col
        ),
        kind="stable",
    ).reset_index(drop=True)


def effects(summary: pd.DataFrame, rules: RuleSet) -> pd.DataFrame:
    """Per package × ladder tier: additional firms, first certifications, money per firm, deadweight."""
    end = summary.loc[summary["metric"] == "additional", "year"].max()
    rows = []
    for package in summary.loc[summary["metric"] == "additional", "package"].unique():
        mine = summary[summary["package"] == package]
        for tier in rules.ladder:

            def pick(metric, year=None, tier=tier, mine=mine):
                sel = mine[(mine["metric"] == metric) & (mine["tier"] == tier)]
                if year is not None:
                    sel = sel[sel["year"] == year]
                return sel.iloc[0] if len(sel) else None

            add, first = pick("additional", end), pick("additional_first")
            row = {
                "package": package,
                "tier": tier,
                "name_en": rules.tiers[tier].name_en,
                "name_zh": rules.tiers[tier].name_zh,
                "versus": add["versus"],
                "end_year": int(end),
                "additional_end": add["mean"],
                "additional_end_ci_low": add["ci_low"],
                "additional_end_ci_high": add["ci_high"],
                "additional_end_status": add["status"],
                "additional_first": first["mean"],
                "additional_first_ci_low": first["ci_low"],
                "additional_first_ci_high": first["ci_high"],
                "additional_first_status": first["status"],
            }
            for metric in (
                "award_cost_per_first",
                "package_cost_per_additional",
                "deadweight_count",
                "deadweight_money",
            ):
                got = pick(metric)
                row[metric] = got["mean"] if got is not None else np.nan
                row[f"{metric}_ci_low"] = got["ci_low"] if got is not None else np.nan
                row[f"{metric}_ci_high"] = got["ci_high"] if got is not None else np.nan
                if metric in ("award_cost_per_first", "package_cost_per_additional"):
                    row[f"{metric}_status"] = got["status"] if got is not None else "no such spending"
            rows.append(row)
    return pd.DataFrame(rows)


def targets_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per package and target: probability of meeting it, expected shortfall, or why it is not assessed."""
    prob = summary[summary["metric"] == "target_probability"]
    short = summary[summary["metric"] == "target_shortfall"].set_index(["package", "lever"])
    out = prob[["package", "tier", "year", "lever", "mean", "status", "note"]].rename(
        columns={"lever": "target", "mean": "probability", "year": "by_year"}
    )
    out["expected_shortfall"] = [
        short["mean"].get((p, t), np.nan) for p, t in zip(out["package"], out["target"], strict=True)
    ]
    out["by_year"] = out["by_year"].astype("Int64")
    return out.reset_index(drop=True)


def output_tables(summary: pd.DataFrame, rules: RuleSet) -> dict[str, pd.DataFrame]:
    """The CSV tables of a comparison, by file name: the long summary and its four readings."""
    return {
        "summary.csv": summary,
        "effects.csv": effects(summary, rules),
        "tiers_by_year.csv": tiers_by_year(summary, rules),
        "cost_by_year.csv": cost_by_year(summary),
        "targets.csv": targets_table(summary),
    }


def _first(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return frame[[*cols, *(c for c in frame.columns if c not in cols)]]


# ---------------------------------------------------------------------------- the terminal


def _fmt_effect(row) -> str:
    if row is None:
        return "–"
    mark = "" if row["status"] == "gain" else " (n.s.)" if row["status"] == "n.s." else " (loss)"
    return f"{row['mean']:+.1f} [{row['ci_low']:+.1f}, {row['ci_high']:+.1f}]{mark}"


def print_table(summary: pd.DataFrame, the_plan: Plan) -> str:
    """What a planner reads first: per package, the effect per tier, what it costs, the targets."""
    rules = the_plan.rules
    ref = the_plan.reference
    sc = the_plan.economy
    end = sc.run.start_year + sc.run.years - 1
    eff = effects(summary, rules)
    lines = [
        f"economy: {the_plan.economy_name}, {sc.run.start_year}–{end}; every package against {ref} on the same "
        f"economy, paired replications (n = {int(summary.loc[summary.metric == 'cost_total', 'n'].max())})",
        "",
        f"additional firms holding each tier at the end of {end} vs {ref}: mean [95 % CI]",
    ]
    for package in eff["package"].unique():
        lines.append(f"  {package}")
        for row in eff[eff["package"] == package].itertuples():
            add = {
                "mean": row.additional_end,
                "ci_low": row.additional_end_ci_low,
                "ci_high": row.additional_end_ci_high,
                "status": row.additional_end_status,
            }
            first = {
                "mean": row.additional_first,
                "ci_low": row.additional_first_ci_low,
                "ci_high": row.additional_first_ci_high,
                "status": row.additional_first_status,
            }
            text = f"    {row.tier:<18} end stock {_fmt_effect(add):<30} first certifications {_fmt_effect(first)}"
            if row.award_cost_per_first_status == "gain":
                text += (
                    f"; award money {row.award_cost_per_first:,.0f} 万元 per additional first certification"
                )
            if row.package_cost_per_additional_status == "gain":
                text += f"; whole package {row.package_cost_per_additional:,.0f} 万元 per additional firm (not additive)"
            lines.append(text)
        dead = summary[(summary.package == package) & (summary.tier == "all")].set_index("metric")
        if "deadweight_count" in dead.index:
            c, m = dead.loc["deadweight_count"], dead.loc["deadweight_money"]
            lines.append(
                f"    deadweight: {c['mean']:.0%} of awarded firms [{c['ci_low']:.0%}, {c['ci_high']:.0%}] and "
                f"{m['mean']:.0%} of award money went to firms the {ref} run certified too"
            )
        rd = summary[(summary.package == package) & (summary.metric == "rd_induced_per_wan")]
        if len(rd):
            r = rd.iloc[0]
            if r["status"] == "gain":
                lines.append(
                    f"    R&D induced: {r['mean']:.2f} 万元 per 万元 of R&D-type spending [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                )
            else:
                lines.append(
                    f"    R&D induced per 万元 of R&D-type spending: {r['status']} (no significant change in R&D)"
                )
    lines += ["", "spend per year (万元, mean [90 % of replications]) by lever × paying level:"]
    cost = summary[(summary.metric == "cost") & summary.year.isna()]
    for package in the_plan.labels:
        mine = cost[cost.package == package]
        total = summary[(summary.package == package) & (summary.metric == "cost_total")].iloc[0]
        if mine.empty:
            lines.append(f"  {package}: no payments")
            continue
        years = sc.run.years
        lines.append(
            f"  {package}: {total['mean'] / years:,.0f} a year, {total['mean']:,.0f} over {years} years"
        )
        for r in mine.itertuples():
            lines.append(
                f"    {r.lever:<22} {r.level:<11} {r.mean / years:>10,.0f} a year [{r.p05 / years:,.0f}, {r.p95 / years:,.0f}]"
            )
    tt = targets_table(summary)
    if len(tt):
        lines += ["", "targets: probability of meeting each by its year"]
        for r in tt.itertuples():
            what = f"{r.package:<16} {r.tier:<30} by {r.by_year}: "
            if r.status and isinstance(r.status, str):
                lines.append(f"  {what}{r.status} — {r.note}")
            else:
                lines.append(
                    f"  {what}P = {r.probability:.2f}, expected shortfall {r.expected_shortfall:,.1f} ({r.note})"
                )
    return "\n".join(lines)
