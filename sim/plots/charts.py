"""Charts of saved results, labelled in English and Chinese.

Tier names come from the rule set (``name_en``, ``name_zh``), lever names from each lever's
module: no label is restated here.
"""

from __future__ import annotations

import json
import textwrap
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from sim.core.levers import LEVERS  # noqa: E402
from sim.core.outcomes import RUN_OUTCOMES  # noqa: E402
from sim.core.rules import RuleSet  # noqa: E402
from sim.core.vocab import PAYING_LEVEL_NAMES_ZH, PAYING_LEVELS  # noqa: E402
from sim.io.files import load_rules  # noqa: E402
from sim.io.run_store import RUNS_DIR  # noqa: E402

if TYPE_CHECKING:  # the analysis stack (SciPy's statistics, SALib) loads only for the charts that need it
    from sim.analysis.validation import Panel

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

    def wrapped(self, tier: str, width: int = 22) -> str:
        """The English name wrapped to ``width`` characters, over the Chinese name (narrow ticks)."""
        rule = self.rules.tiers[tier]
        return "\n".join([*textwrap.wrap(rule.name_en, width), rule.name_zh])


def names_of(rules: str | RuleSet = DEFAULT_RULES) -> TierNames:
    """Tier names of a rule set given by name or loaded."""
    return TierNames(load_rules(rules) if isinstance(rules, str) else rules)


def _integer_years(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


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


def _grid(n: int, ncols: int, width: float, height: float, **kw):
    """A grid of n panels (rows × ncols), surplus panels hidden."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kw)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _fixed_margins(fig, left: float, bottom: float, top: float, hspace: float, wspace: float) -> None:
    """Margins in inches, set without measuring the text.

    ``tight_layout`` draws the figure once more to measure it: half the cost of a ``ladder run`` chart.
    """
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width,
        right=1.0 - 0.15 / width,
        bottom=bottom / height,
        top=1.0 - top / height,
        hspace=hspace,
        wspace=wspace,
    )


def _year_panel(ax, title: str | None) -> None:
    """A small-multiple panel over the years: integer ticks, a light grid, the column title on top."""
    _integer_years(ax)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title, fontsize=8)


def _matrix(nrows: int, ncols: int, width: float, height: float, **kw):
    """A rows × columns grid of panels (a package per row), with room for a title and legend."""
    size = (width * ncols, height * nrows + 0.7)
    return plt.subplots(nrows, ncols, figsize=size, dpi=110, squeeze=False, **kw)


def _stacked_levers(ax, per: pd.DataFrame) -> None:
    """Bars of spend per year stacked by lever (columns of ``per``), hatched for black and white."""
    bottom = np.zeros(len(per))
    for k, lever in enumerate(LEVER_LABELS):  # one shade and hatch per lever in every panel
        if lever not in per.columns or not per[lever].any():
            continue
        ax.bar(
            per.index,
            per[lever].to_numpy(),
            bottom=bottom,
            label=LEVER_LABELS[lever],
            color=str(0.35 + 0.1 * k),
            edgecolor="black",
            hatch=HATCHES[k % len(HATCHES)],
        )
        bottom += per[lever].to_numpy()
    _integer_years(ax)
    ax.grid(True, axis="y", alpha=0.3)


def plot_budget(ledger: pd.DataFrame, years: list[int], path: Path, title: str, fmt: str = "png") -> None:
    """Spend per year stacked by lever (万元), one panel per paying level.

    Only for a ledger with payments: a chart of no payments says nothing, so the caller reports
    "no payments" in words instead.
    """
    _use_cjk_font()
    levels = [lv for lv in PAYING_LEVELS if (ledger["level"] == lv).any()]
    fig, axes = _grid(len(levels), 2, 6.0, 4.2, dpi=120, sharey=True)
    for ax, level in zip(axes, levels, strict=True):
        mine = ledger[ledger["level"] == level]
        per = mine.pivot_table(index="year", columns="lever", values="amount_wan", aggfunc="sum")
        _stacked_levers(ax, per.reindex(years, fill_value=0.0).fillna(0.0))
        ax.set_title(f"paid by the {level} level 支付层级: {PAYING_LEVEL_NAMES_ZH[level]}", fontsize=9)
        ax.set_xlabel("Year 年份")
        ax.set_ylabel("Spend 支出 (万元)")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=10)
    _fixed_margins(fig, left=0.95, bottom=1.0, top=0.65, hspace=0.45, wspace=0.2)
    fig.savefig(path, format=fmt)
    plt.close(fig)


def plot_tiers(tiers: pd.DataFrame, names: TierNames, path: Path, title: str, fmt: str = "png") -> None:
    """Stock of each tier over the years: one linear panel per tier that ever has a holder."""
    _use_cjk_font()
    shown = [t for t in names.order if tiers.loc[tiers["tier"] == t, "stock"].max() > 0]
    fig, axes = _grid(len(shown), 4, 3.6, 3.0, dpi=120)
    for ax, tier in zip(axes, shown, strict=True):
        rows = tiers[tiers["tier"] == tier]
        ax.plot(rows["year"], rows["stock"], color="black", marker="o", markersize=3)
        ax.set_title(names.two_lines(tier), fontsize=8)
        ax.set_ylim(bottom=0)
        _integer_years(ax)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
    for ax in axes[:: min(4, len(axes))]:
        ax.set_ylabel("Firms (end of year) 年末企业数", fontsize=8)
    fig.suptitle(title, fontsize=10)
    _fixed_margins(fig, left=0.75, bottom=0.45, top=0.85, hspace=0.45, wspace=0.22)
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
    """Year-level series of every run spec of a batch folder, labelled by package."""
    index = pd.read_parquet(folder / "index.parquet")
    parts = {k: pd.read_parquet(folder / RUNS_DIR / k / "series.parquet") for k in index["key"].unique()}
    frames = [parts[row.key].assign(label=row.label, key=row.key) for row in index.itertuples()]
    return pd.concat(frames, ignore_index=True)


BAND = "5–95 % of replications"


def plot_tier_bands(
    series: pd.DataFrame, labels: list[str], reference: str, names: TierNames, folder: Path
) -> list[Path]:
    """Stock of each ladder tier over the years, one panel per tier × package.

    Each panel holds two bands only: the package and its reference (mean line and 5–95 % band).
    """
    tiers = [t for t in names.ladder if series[f"stock.{t}"].max() > 0]
    packages = [lab for lab in labels if lab != reference] or [reference]
    fig, axes = _matrix(len(packages), len(tiers), 3.2, 2.6)
    for i, package in enumerate(packages):
        for j, tier in enumerate(tiers):
            ax = axes[i][j]
            for k, label in enumerate(dict.fromkeys([reference, package])):
                grp = series[series["label"] == label].groupby("year")[f"stock.{tier}"]
                q = grp.quantile([0.05, 0.95]).unstack()
                ax.fill_between(
                    q.index,
                    q[0.05],
                    q[0.95],
                    facecolor="0.85" if k == 0 else "none",
                    hatch="" if k == 0 else "///",
                    edgecolor="0.4",
                    linewidth=0,
                    label=f"{label}: {BAND}",
                )
                ax.plot(
                    grp.mean().index,
                    grp.mean(),
                    color="black",
                    linestyle="--" if k == 0 else "-",
                    marker=None if k == 0 else "o",
                    markersize=2.5,
                    label=f"{label}: mean",
                )
            ax.set_ylim(bottom=0)
            _year_panel(ax, names.two_lines(tier) if i == 0 else None)
            if j == 0:
                ax.set_ylabel(f"{package}\nfirms 企业数", fontsize=8)
            if i == len(packages) - 1:
                ax.set_xlabel("Year 年末", fontsize=8)
            if j == len(tiers) - 1:
                ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        f"Firms holding each tier, {BAND} (the spread of one realisation; the policy effect is effects.png)",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, folder, "tiers_bands")


def plot_effects(summary: pd.DataFrame, names: TierNames, folder: Path) -> list[Path]:
    """Additional firms holding each tier, year by year: the paired policy effect with its 95 % CI.

    One panel per package × tier. This, not the overlap of the stock bands, says whether a
    package changes a tier: paired replications share every firm's shocks.
    """
    eff = summary[(summary["metric"] == "additional") & summary["tier"].isin(names.ladder)]
    if eff.empty:
        return []
    packages = list(dict.fromkeys(eff["package"]))
    tiers = list(names.ladder)
    fig, axes = _matrix(len(packages), len(tiers), 3.2, 2.4)
    for i, package in enumerate(packages):
        for j, tier in enumerate(tiers):
            ax = axes[i][j]
            mine = eff[(eff["package"] == package) & (eff["tier"] == tier)].sort_values("year")
            ax.fill_between(
                mine["year"], mine["ci_low"], mine["ci_high"], color="0.8", label="95 % CI of the mean"
            )
            ax.plot(mine["year"], mine["mean"], color="black", marker="o", markersize=2.5, label="mean")
            ax.axhline(0, color="black", linewidth=0.6)
            _year_panel(ax, names.two_lines(tier) if i == 0 else None)
            if j == 0:
                versus = mine["versus"].iloc[0] if len(mine) else "?"
                ax.set_ylabel(f"{package}\nvs {versus}\nadditional firms 新增企业", fontsize=7)
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(
        "Policy effect: additional firms holding each tier (paired replications, 95 % CI)", fontsize=9
    )
    fig.tight_layout()
    return _save(fig, folder, "effects")


def plot_budget_by_package(summary: pd.DataFrame, labels: list[str], folder: Path) -> list[Path]:
    """Mean spend per year stacked by lever, one row per package, one column per paying level."""
    cost = summary[(summary["metric"] == "cost") & summary["year"].notna()]
    cost = cost[cost["mean"] > 0]
    packages = [lab for lab in labels if (cost["package"] == lab).any()]
    if not packages:
        return []
    levels = [lv for lv in PAYING_LEVELS if (cost["level"] == lv).any()]
    fig, axes = _matrix(len(packages), len(levels), 4.2, 2.8, sharey=True)
    years = sorted(summary.loc[summary["metric"] == "cost", "year"].dropna().astype(int).unique())
    for i, package in enumerate(packages):
        for j, level in enumerate(levels):
            ax = axes[i][j]
            mine = cost[(cost["package"] == package) & (cost["level"] == level)]
            if mine.empty:
                ax.text(
                    0.5,
                    0.5,
                    "no payments at this level\n此层级无支出",
                    transform=ax.transAxes,
                    ha="center",
                    fontsize=8,
                )
                ax.set_xticks([])
            else:
                per = mine.pivot_table(index="year", columns="lever", values="mean", aggfunc="sum")
                _stacked_levers(ax, per.reindex(years, fill_value=0.0).fillna(0.0))
            if i == 0:
                ax.set_title(f"paid by the {level} level {PAYING_LEVEL_NAMES_ZH[level]}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{package}\nmean spend 万元", fontsize=8)
            ax.tick_params(labelsize=7)
    handles, names = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in names:
                handles.append(h)
                names.append(lab)
    fig.legend(handles, names, fontsize=7, loc="lower center", ncol=3)
    fig.suptitle("Spend per year by lever and paying level (mean over replications)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return _save(fig, folder, "budget_by_level")


def plot_pyramid(summary: pd.DataFrame, labels: list[str], names: TierNames, folder: Path) -> list[Path]:
    """The ladder at the end year: one bar per tier, its width proportional to the mean number of firms."""
    stock = summary[summary["metric"] == "stock"]
    end = stock[stock["year"] == stock["year"].max()]
    fig, axes = _grid(len(labels), 3, 4.4, 3.6, dpi=110, sharex=True)
    top = max(float(end[end["tier"].isin(names.ladder)]["mean"].max()), 1.0)
    for ax, label in zip(axes, labels, strict=True):
        mine = end[end["package"] == label].set_index("tier")
        values = np.array([float(mine.loc[t, "mean"]) for t in names.ladder])
        y = np.arange(len(names.ladder))
        ax.barh(y, values, left=-values / 2, color="0.8", edgecolor="black", height=0.8)
        for yi, v in zip(y, values, strict=True):
            ax.text(top * 0.55, yi, f"{v:,.0f}", ha="left", va="center", fontsize=8)
        ax.set_yticks(y, [names.two_lines(t) for t in names.ladder], fontsize=7)
        ax.set_xlim(-top * 0.55, top * 0.85)
        ax.set_xticks([])
        ax.set_title(f"{label} (end of {int(end['year'].max())})", fontsize=9)
    fig.supxlabel("bar width ∝ mean number of firms at the end 宽度与年末企业数成正比", fontsize=8)
    fig.tight_layout()
    return _save(fig, folder, "pyramid")


def plot_cost_per_additional(summary: pd.DataFrame, names: TierNames, folder: Path) -> list[Path]:
    """Award money per additional first certification, per tier, with 95 % intervals.

    A tier whose gain is not significant (or is a loss) has no ratio: it is marked in words, above
    the axis, instead of drawn.
    """
    cpa = summary[(summary["metric"] == "award_cost_per_first") & summary["tier"].isin(names.ladder)]
    if cpa.empty:
        return []
    ladder = [t for t in names.ladder if (cpa["tier"] == t).any()]  # tiers some package pays awards for
    labels = list(dict.fromkeys(cpa["package"]))
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    width = 0.8 / len(labels)
    top = np.nanmax(cpa["ci_high"].to_numpy(dtype=float)) if cpa["ci_high"].notna().any() else 1.0
    for k, label in enumerate(labels):
        mine = cpa[cpa["package"] == label].set_index("tier").reindex(ladder)
        x = np.arange(len(ladder)) + k * width
        mean = mine["mean"].to_numpy(dtype=float)
        err = np.vstack(
            [mean - mine["ci_low"].to_numpy(dtype=float), mine["ci_high"].to_numpy(dtype=float) - mean]
        )
        versus = mine["versus"].dropna().iloc[0] if mine["versus"].notna().any() else "?"
        ax.bar(
            x,
            np.nan_to_num(mean),
            width,
            yerr=np.nan_to_num(np.abs(err)),
            capsize=3,
            color=str(0.3 + 0.15 * k),
            edgecolor="black",
            hatch=HATCHES[k % len(HATCHES)],
            label=f"{label} vs {versus}",
        )
        for xi, status, m in zip(x, mine["status"], mean, strict=True):
            if not np.isfinite(m) and isinstance(status, str):
                ax.text(xi, top * 0.03, status, ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(np.arange(len(ladder)) + 0.4 - width / 2, [names.wrapped(t) for t in ladder], fontsize=7)
    ax.set_ylabel(
        "award money per additional first certification (万元)\n每新增一家认定企业的奖励资金", fontsize=8
    )
    ax.set_title(
        "Award cost per additional first certification, 95 % intervals (n.s.: no significant gain)",
        fontsize=9,
    )
    ax.set_ylim(bottom=0)
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


def _folder_manifest(folder: Path) -> dict:
    """A batch folder's manifest (empty if it has none yet)."""
    manifest = folder / "manifest.json"
    return json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}


def plot_folder(folder: Path, rules: str | RuleSet | None = None, reference: str | None = None) -> list[Path]:
    """Every chart a compare, sweep or sensitivity folder supports; returns the files written.

    ``rules`` and ``reference`` default to the folder's manifest (a folder being written has
    none yet: its writer passes them).
    """
    _use_cjk_font()
    folder = Path(folder)
    names = names_of(rules if rules is not None else _folder_manifest(folder).get("rules", DEFAULT_RULES))
    written: list[Path] = []
    if (folder / "summary.parquet").is_file():
        summary = pd.read_parquet(folder / "summary.parquet")
        labels = list(dict.fromkeys(summary["package"]))
        reference = reference or _folder_manifest(folder).get("reference", labels[0])
        series = _batch_series(folder)
        series = series[series["label"].isin(labels)]
        written += plot_effects(summary, names, folder)
        written += plot_tier_bands(series, labels, reference, names, folder)
        written += plot_budget_by_package(summary, labels, folder)
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
    from sim.analysis.sensitivity import BLOCKS

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
    from sim.analysis.sensitivity import COST_PREFIX

    if outcome.startswith(COST_PREFIX):
        return "万元 per firm"
    return RUN_OUTCOMES[outcome].unit if outcome in RUN_OUTCOMES else ""


def plot_stylised_facts(p: Panel, out: Path) -> list[str]:
    """Size distribution, growth-rate density and R&D bunching at the notches; returns file names."""
    from scipy import stats

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


def plot_pareto(trials: pd.DataFrame, front: pd.DataFrame, goals: list, folder: Path) -> list[Path]:
    """Cost against expected additional firms of every package tried, one panel per goal.

    Grey: every package tried; black line: the packages within budget no other beats on both;
    open markers: packages over budget; a star: packages that meet every goal within budget.
    """
    _use_cjk_font()
    fig, axes = _grid(len(goals), 2, 5.2, 4.0, dpi=110)
    for k, (ax, goal) in enumerate(zip(axes, goals, strict=True)):
        col = f"goal{k}_additional"
        within = trials[trials["within_budget"]]
        over = trials[~trials["within_budget"]]
        ax.scatter(within["cost_mean"], within[col], s=14, color="0.55", label="within budget 预算内")
        if len(over):
            ax.scatter(
                over["cost_mean"],
                over[col],
                s=14,
                facecolors="none",
                edgecolors="0.55",
                label="over budget 超预算",
            )
        met = trials[trials["feasible"]]
        if len(met):
            ax.scatter(
                met["cost_mean"], met[col], s=60, marker="*", color="black", label="meets every goal 达标"
            )
        part = front[front["goal"] == k].sort_values("cost_mean")
        ax.plot(
            part["cost_mean"],
            part[col],
            color="black",
            marker="o",
            markersize=3,
            drawstyle="steps-post",
            lw=1.2,
            label="Pareto front 帕累托前沿",
        )
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xlabel("mean cost over the years searched, 万元 (平均成本)", fontsize=8)
        ax.set_ylabel(
            f"additional {goal.tier} by {goal.by_year}\nvs no policy (新增企业, 对比无政策)", fontsize=8
        )
        ax.set_title(
            f"{goal.tier}: goal {goal.added or goal.stock or goal.per_year:,} by {goal.by_year}", fontsize=9
        )
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle("Packages tried: cost against additional firms 政策组合: 成本与新增企业", fontsize=10)
    fig.tight_layout()
    return _save(fig, folder, "pareto")
