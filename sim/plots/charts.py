"""Charts of saved results, labelled in English and Chinese.

Tier names come from the rule set (``name_en``, ``name_zh``), lever names from each lever's
module: no label is restated here.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from scipy import stats  # noqa: E402

from sim.analysis.sensitivity import BLOCKS, COST_PREFIX  # noqa: E402
from sim.analysis.validation import Panel  # noqa: E402
from sim.core.levers import LEVERS  # noqa: E402
from sim.core.outcomes import RUN_OUTCOMES  # noqa: E402
from sim.core.rules import RuleSet  # noqa: E402
from sim.io.files import load_rules  # noqa: E402
from sim.io.run_store import RUNS_DIR  # noqa: E402

DEFAULT_RULES = "miit-2022"
LEVER_LABELS: dict[str, str] = {lever_id: cls.label() for lever_id, cls in LEVERS.items()}


class TierNames:
    """English and Chinese tier names of a rule set, and its ladder (side labels apart)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.order = list(rules.order)
        self.ladder = list(rules.ladder)

    def label(self, tier: str) -> str:
        """``English 中文`` on one line."""
        rule = self.rules.tiers[tier]
        return f"{rule.name_en} {rule.name_zh}"

    def two_lines(self, tier: str) -> str:
        """English name over the Chinese name (for tick labels)."""
        rule = self.rules.tiers[tier]
        return f"{rule.name_en}\n{rule.name_zh}"


def names_of(rules: str | RuleSet = DEFAULT_RULES) -> TierNames:
    """Tier names of a rule set given by name or loaded."""
    return TierNames(load_rules(rules) if isinstance(rules, str) else rules)


def _integer_years(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# Distinct line styles and markers keep the lines apart when printed in black and white.
STYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


def _use_cjk_font() -> None:
    """Register the Noto Sans CJK font shipped by ``mplfonts`` so Chinese labels render."""
    try:
        path = resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"
    except ModuleNotFoundError:
        return
    if path.is_file():
        font_manager.fontManager.addfont(str(path))
        name = font_manager.FontProperties(fname=str(path)).get_name()
        plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
        plt.rcParams["font.family"] = "sans-serif"


HATCHES = ["", "//", "..", "xx", "\\\\", "oo"]


def plot_budget(ledger: pd.DataFrame, years: list[int], path: Path, title: str, fmt: str = "png") -> None:
    """Spend per year stacked by lever (万元), hatched so it reads in black and white."""
    _use_cjk_font()
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    per = ledger.pivot_table(index="year", columns="lever", values="amount_wan", aggfunc="sum")
    per = per.reindex(years, fill_value=0.0).fillna(0.0)
    bottom = pd.Series(0.0, index=per.index)
    for k, lever in enumerate(lv for lv in LEVER_LABELS if lv in per.columns):
        ax.bar(
            per.index,
            per[lever],
            bottom=bottom,
            label=LEVER_LABELS[lever],
            color=str(0.25 + 0.12 * k),
            edgecolor="black",
            hatch=HATCHES[k % len(HATCHES)],
        )
        bottom += per[lever]
    if per.empty or not per.to_numpy().any():
        ax.text(
            0.5,
            0.5,
            "no payments (no levers on) 无政策支出",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    ax.set_xlabel("Year 年份")
    _integer_years(ax)
    ax.set_ylabel("Spend (万元) 支出")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    if len(ax.get_legend_handles_labels()[0]):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, format=fmt)
    plt.close(fig)


def plot_tiers(tiers: pd.DataFrame, names: TierNames, path: Path, title: str, fmt: str = "png") -> None:
    """Stock of each tier over the years (one line per tier that ever has a holder)."""
    _use_cjk_font()
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    shown = [t for t in names.order if tiers.loc[tiers["tier"] == t, "stock"].max() > 0]
    for k, tier in enumerate(shown):
        rows = tiers[tiers["tier"] == tier]
        ax.plot(
            rows["year"],
            rows["stock"],
            linestyle=STYLES[k % len(STYLES)],
            marker=MARKERS[k % len(MARKERS)],
            color="black" if k % 2 == 0 else "0.45",
            label=names.label(tier),
        )
    ax.set_xlabel("Year (end of year) 年末")
    _integer_years(ax)
    ax.set_ylabel("Firms holding the tier 企业数")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, format=fmt)
    plt.close(fig)


# ---------------------------------------------------------------------- batch folders


def _save(fig, folder: Path, stem: str) -> list[Path]:
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, format=path.suffix[1:])
    plt.close(fig)
    return paths


def _batch_series(folder: Path) -> pd.DataFrame:
    """Year-level series of every run spec of a batch folder, labelled by scenario."""
    index = pd.read_parquet(folder / "index.parquet")
    parts = {k: pd.read_parquet(folder / RUNS_DIR / k / "series.parquet") for k in index["key"].unique()}
    frames = [parts[row.key].assign(label=row.label, key=row.key) for row in index.itertuples()]
    return pd.concat(frames, ignore_index=True)


def plot_tier_bands(series: pd.DataFrame, labels: list[str], names: TierNames, folder: Path) -> list[Path]:
    """Stock of each ladder tier over the years: mean and 5–95 % band per scenario."""
    tiers = [t for t in names.ladder if series[f"stock.{t}"].max() > 0]
    fig, axes = plt.subplots(1, len(tiers), figsize=(3.6 * len(tiers), 4.2), dpi=110, squeeze=False)
    for ax, tier in zip(axes[0], tiers, strict=True):
        for k, label in enumerate(labels):
            grp = series[series["label"] == label].groupby("year")[f"stock.{tier}"]
            q = grp.quantile([0.05, 0.95]).unstack()
            shade = str(0.35 + 0.5 * k / max(1, len(labels)))
            ax.fill_between(
                q.index,
                q[0.05],
                q[0.95],
                color=shade,
                alpha=0.35,
                hatch=HATCHES[k % len(HATCHES)],
                edgecolor="0.3",
                linewidth=0,
            )
            ax.plot(
                grp.mean().index,
                grp.mean(),
                color="black",
                linestyle=STYLES[k % len(STYLES)],
                marker=MARKERS[k % len(MARKERS)],
                markersize=3,
                label=label,
            )
        ax.set_title(names.label(tier), fontsize=9)
        ax.set_xlabel("Year 年末")
        _integer_years(ax)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("Firms (mean, 5–95 % band) 企业数")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return _save(fig, folder, "tiers_bands")


def plot_budget_by_scenario(series: pd.DataFrame, labels: list[str], folder: Path) -> list[Path]:
    """Mean yearly spend stacked by lever, one panel per scenario (万元)."""
    levers = [lv for lv in LEVER_LABELS if series[f"spend.{lv}"].sum() > 0]
    fig, axes = plt.subplots(
        1, len(labels), figsize=(4 * len(labels), 4.2), dpi=110, sharey=True, squeeze=False
    )
    for ax, label in zip(axes[0], labels, strict=True):
        mine = series[series["label"] == label]
        mine = mine[mine["year"] > mine["year"].min()]
        bottom = None
        for k, lever in enumerate(levers):
            per = mine.groupby("year")[f"spend.{lever}"].mean().fillna(0.0)
            ax.bar(
                per.index,
                per,
                bottom=bottom,
                color=str(0.25 + 0.12 * k),
                edgecolor="black",
                hatch=HATCHES[k % len(HATCHES)],
                label=LEVER_LABELS[lever],
            )
            bottom = per if bottom is None else bottom + per
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("Year 年份")
        _integer_years(ax)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].set_ylabel("Mean spend (万元) 平均支出")
    if levers:
        axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return _save(fig, folder, "budget_by_lever")


def plot_pyramid(summary: pd.DataFrame, labels: list[str], names: TierNames, folder: Path) -> list[Path]:
    """The ladder at the end year as a funnel: mean firms per tier, one funnel per scenario."""
    stock = summary[summary["metric"] == "stock"]
    last = stock.groupby("scenario")["year"].transform("max")
    end = stock[stock["year"] == last]
    fig, axes = plt.subplots(
        1, len(labels), figsize=(4.2 * len(labels), 4.2), dpi=110, sharey=True, squeeze=False
    )
    for ax, label in zip(axes[0], labels, strict=True):
        mine = end[end["scenario"] == label].set_index("tier")
        values = [float(mine.loc[t, "mean"]) for t in names.ladder]
        widths = np.log10(np.asarray(values) + 1.0)
        y = np.arange(len(names.ladder))
        ax.barh(y, widths, left=-widths / 2, color="0.75", edgecolor="black", height=0.8)
        for yi, v in zip(y, values, strict=True):
            ax.text(0, yi, f"{v:,.0f}", ha="center", va="center", fontsize=9)
        ax.set_yticks(y, [names.two_lines(t) for t in names.ladder], fontsize=7)
        ax.set_xticks([])
        ax.set_title(f"{label} (end of {int(mine['year'].max())})", fontsize=9)
    axes[0][0].set_xlabel("width ∝ log10(firms + 1)")
    fig.tight_layout()
    return _save(fig, folder, "pyramid")


def plot_cost_per_additional(summary: pd.DataFrame, names: TierNames, folder: Path) -> list[Path]:
    """Cost per additional certified firm with 95 % intervals, where the gain is significant.

    A ratio whose denominator (the paired gain in firms) may be zero is meaningless, so a tier
    whose gain interval includes zero is marked "n.s." instead of drawn.
    """
    ladder = names.ladder
    cpa = summary[(summary["metric"] == "cost_per_additional") & summary["tier"].isin(ladder)]
    gain = summary[(summary["metric"] == "additional") & summary["tier"].isin(ladder)]
    if cpa.empty:
        return []
    labels = list(dict.fromkeys(cpa["scenario"]))
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    width = 0.8 / len(labels)
    for k, label in enumerate(labels):
        mine = cpa[cpa["scenario"] == label].set_index("tier").reindex(ladder)
        ok = gain[gain["scenario"] == label].set_index("tier").reindex(ladder)["ci_low"] > 0
        x = np.arange(len(ladder)) + k * width
        mean = mine["mean"].where(ok)
        err = np.vstack([mean - mine["ci_low"], mine["ci_high"] - mean])
        versus = mine["versus"].dropna().iloc[0]
        ax.bar(
            x,
            mean,
            width,
            yerr=np.abs(err),
            capsize=3,
            color=str(0.3 + 0.15 * k),
            edgecolor="black",
            hatch=HATCHES[k % len(HATCHES)],
            label=f"{label} vs {versus}",
        )
        for xi in x[~ok.to_numpy()]:
            ax.text(xi, 0, "n.s.", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(np.arange(len(ladder)) + 0.4 - width / 2, [names.two_lines(t) for t in ladder], fontsize=7)
    ax.set_ylabel("万元 per additional firm at end 每增加一家企业的成本")
    ax.set_title("Cost per additional certified firm (n.s.: no significant gain)", fontsize=9)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, folder, "cost_per_additional")


def plot_sweep(runs: pd.DataFrame, folder: Path) -> list[Path]:
    """Each outcome against each swept parameter: replication means with 5–95 % range."""
    params = [c for c in runs.columns if c.startswith("param.")]
    outcomes = [c for c in runs.columns if c.startswith(("stock.", "spend_total"))]
    outcomes = [c for c in outcomes if runs[c].max() > 0][:6]
    if not params or not outcomes:
        return []
    fig, axes = plt.subplots(
        len(outcomes), len(params), dpi=110, squeeze=False, figsize=(4 * len(params), 2.6 * len(outcomes))
    )
    for i, outcome in enumerate(outcomes):
        for j, param in enumerate(params):
            ax = axes[i][j]
            grp = runs.groupby(param)[outcome]
            q = grp.quantile([0.05, 0.95]).unstack()
            ax.fill_between(q.index, q[0.05], q[0.95], color="0.8")
            ax.plot(grp.mean().index, grp.mean(), color="black", marker="o", markersize=3)
            ax.set_xlabel(param.removeprefix("param."), fontsize=7)
            ax.set_ylabel(outcome, fontsize=7)
            ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, folder, "sweep")


def _folder_rules(folder: Path) -> str:
    """The rule set a batch folder's runs used (from its manifest), else the default."""
    manifest = folder / "manifest.json"
    if manifest.is_file():
        return json.loads(manifest.read_text(encoding="utf-8")).get("rules", DEFAULT_RULES)
    return DEFAULT_RULES


def plot_folder(folder: Path, rules: str | RuleSet | None = None) -> list[Path]:
    """Every chart a compare, sweep or sensitivity folder supports; returns the files written."""
    _use_cjk_font()
    folder = Path(folder)
    names = names_of(rules if rules is not None else _folder_rules(folder))
    written: list[Path] = []
    if (folder / "summary.parquet").is_file():
        summary = pd.read_parquet(folder / "summary.parquet")
        labels = list(dict.fromkeys(summary["scenario"]))
        series = _batch_series(folder)
        series = series[series["label"].isin(labels)]
        written += plot_tier_bands(series, labels, names, folder)
        written += plot_budget_by_scenario(series, labels, folder)
        written += plot_pyramid(summary, labels, names, folder)
        written += plot_cost_per_additional(summary, names, folder)
    if (folder / "runs.parquet").is_file():
        written += plot_sweep(pd.read_parquet(folder / "runs.parquet"), folder)
    if (folder / "indices.parquet").is_file():
        written += plot_indices(pd.read_parquet(folder / "indices.parquet"), folder)
    return written


def plot_objective(history: pd.DataFrame, path: Path) -> Path:
    """Calibration objective per evaluation, with the best value so far."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(
        history["evaluation"],
        history["objective"],
        color="0.6",
        marker=".",
        linestyle="none",
        label="evaluation",
    )
    ax.plot(history["evaluation"], history["objective"].cummin(), color="black", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("Evaluation")
    ax.set_ylabel("Objective (weighted squared relative error)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_indices(indices: pd.DataFrame, folder: Path) -> list[Path]:
    """One panel per outcome: μ* (Morris) or ST beside S1 (Sobol) with 95 % intervals."""
    _use_cjk_font()
    outcomes = list(dict.fromkeys(indices["outcome"]))
    method = indices["method"].iloc[0]
    bars = [("mu_star", "mu_star_conf", "μ*")] if method == "morris" else [("ST", "ST_conf", "total ST")]
    if method == "sobol":
        bars.append(("S1", "S1_conf", "first-order S1"))
    n_params = indices["parameter"].nunique()
    ncols = min(2, len(outcomes))
    nrows = -(-len(outcomes) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, squeeze=False, dpi=110, figsize=(7.5 * ncols, (1.2 + 0.32 * n_params) * nrows + 0.6)
    )
    height = 0.8 / len(bars)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        rows = indices[indices["outcome"] == outcome].sort_values(bars[0][0])
        ypos = np.arange(len(rows))
        for j, (col, conf, label) in enumerate(bars):
            ax.barh(
                ypos + (j - (len(bars) - 1) / 2) * height,
                rows[col],
                height=height,
                xerr=rows[conf],
                color="white" if j == 0 else "0.75",
                edgecolor="black",
                hatch=HATCHES[j % len(HATCHES)],
                error_kw={"ecolor": "black", "capsize": 2, "linewidth": 0.8},
                label=label,
            )
        ax.set_yticks(ypos, rows["parameter"], fontsize=7)
        used, total = rows["blocks_used"].iloc[0], rows["blocks_total"].iloc[0]
        ax.set_title(
            outcome + (f" ({used} of {total} {BLOCKS[method]} defined)" if used < total else ""),
            fontsize=9,
        )
        ax.set_xlabel(f"μ* ({_unit(outcome)})" if method == "morris" else "share of variance", fontsize=7)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes.flat[len(outcomes) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Sensitivity indices ({method}; whiskers: 95 % confidence intervals)", fontsize=10)
    fig.tight_layout()
    return _save(fig, folder, "sensitivity")


def _unit(outcome: str) -> str:
    """Unit of an outcome, for Morris effects (which are in the outcome's own unit)."""
    if outcome.startswith(COST_PREFIX):
        return "万元 per firm"
    return RUN_OUTCOMES[outcome].unit if outcome in RUN_OUTCOMES else ""


def plot_stylised_facts(p: Panel, out: Path) -> list[str]:
    """Size distribution, growth-rate density and R&D bunching at the notches; returns file names."""
    _use_cjk_font()
    out.mkdir(parents=True, exist_ok=True)
    names = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    x = np.sort(p.revenue_end)[::-1]
    axes[0].loglog(x, np.arange(1, len(x) + 1) / len(x), color="black", linewidth=1)
    axes[0].set(xlabel="revenue (万元)", ylabel="share of firms ≥ x", title="Firm size: complementary CDF")
    g = p.growth[np.abs(p.growth) < 1.5]
    axes[1].hist(g, bins=120, density=True, color="0.7", log=True)
    grid = np.linspace(-1.5, 1.5, 300)
    axes[1].plot(grid, stats.laplace.pdf(grid, *stats.laplace.fit(g)), "k-", label="Laplace fit")
    axes[1].plot(grid, stats.norm.pdf(grid, *stats.norm.fit(g)), "k--", label="normal fit")
    axes[1].set(xlabel="log growth rate", ylabel="density (log scale)", title="Growth rates")
    axes[1].legend(fontsize=8)
    bins = np.linspace(0.0, 0.08, 81)
    axes[2].hist(p.rd_intensity_no_bunching, bins=bins, histtype="step", color="0.5", label="no bunching")
    axes[2].hist(p.rd_intensity, bins=bins, histtype="step", color="black", label="model")
    for notch in p.notches:
        axes[2].axvline(notch, color="black", linestyle=":", linewidth=0.8)
    axes[2].set(xlabel="R&D ÷ revenue", ylabel="firm-years", title="R&D intensity near the notches")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    path = out / "stylised-facts.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    names.append(path.name)
    return names
