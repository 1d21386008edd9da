"""Charts of saved results, labelled in English with the Chinese name of each tier."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

TIER_LABELS: dict[str, str] = {
    "high_tech": "High-tech enterprise 高新技术企业",
    "innovative": "Innovative SME 创新型中小企业",
    "srdi": "SRDI SME 专精特新中小企业",
    "hidden_champion": "Hidden champion 隐形冠军",
    "little_giant": "Little giant 专精特新“小巨人”",
    "key_little_giant": "Key little giant 重点“小巨人”",
    "single_champion": "Single champion 制造业单项冠军",
}


def two_lines(tier: str) -> str:
    """English name over the Chinese name (for tick labels)."""
    english, _, chinese = TIER_LABELS[tier].rpartition(" ")
    return f"{english}\n{chinese}"


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


LEVER_LABELS: dict[str, str] = {
    "award": "Certification awards 认定奖励",
    "rd_subsidy": "R&D post-subsidy 研发投入后补助",
    "loan_subsidy": "Loan interest subsidy 贷款贴息",
    "talent_grant": "Talent grants 人才奖补",
    "rd_project": "Key R&D projects 重点研发项目",
    "key_little_giant_fund": "Key little giant fund 重点小巨人资金",
}
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


def plot_tiers(tiers: pd.DataFrame, path: Path, title: str, fmt: str = "png") -> None:
    """Stock of each tier over the years (one line per tier that ever has a holder)."""
    _use_cjk_font()
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    shown = [t for t in TIER_LABELS if tiers.loc[tiers["tier"] == t, "stock"].max() > 0]
    for k, tier in enumerate(shown):
        rows = tiers[tiers["tier"] == tier]
        ax.plot(
            rows["year"],
            rows["stock"],
            linestyle=STYLES[k % len(STYLES)],
            marker=MARKERS[k % len(MARKERS)],
            color="black" if k % 2 == 0 else "0.45",
            label=TIER_LABELS[tier],
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
LADDER = ["innovative", "srdi", "little_giant", "key_little_giant", "single_champion"]


def _save(fig, folder: Path, stem: str) -> list[Path]:
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, format=path.suffix[1:])
    plt.close(fig)
    return paths


def _batch_series(folder: Path) -> pd.DataFrame:
    """Year-level series of every run spec of a batch folder, labelled by scenario."""
    index = pd.read_parquet(folder / "index.parquet")
    parts = {k: pd.read_parquet(folder / "runs" / k / "series.parquet") for k in index["key"].unique()}
    frames = [parts[row.key].assign(label=row.label, key=row.key) for row in index.itertuples()]
    return pd.concat(frames, ignore_index=True)


def plot_tier_bands(series: pd.DataFrame, labels: list[str], folder: Path) -> list[Path]:
    """Stock of each ladder tier over the years: mean and 5–95 % band per scenario."""
    tiers = [t for t in LADDER if series[f"stock.{t}"].max() > 0]
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
        ax.set_title(TIER_LABELS[tier], fontsize=9)
        ax.set_xlabel("Year 年末")
        _integer_years(ax)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("Firms (mean, 5–95 % band) 企业数")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return _save(fig, folder, "tiers_bands")


def plot_budget_by_scenario(series: pd.DataFrame, labels: list[str], folder: Path) -> list[Path]:
    """Mean yearly spend stacked by lever, one panel per scenario (万元)."""
    levers = [lv for lv in LEVER_LABELS if f"spend.{lv}" in series.columns]
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


def plot_pyramid(summary: pd.DataFrame, labels: list[str], folder: Path) -> list[Path]:
    """The ladder at the end year as a funnel: mean firms per tier, one funnel per scenario."""
    stock = summary[summary["metric"] == "stock"]
    last = stock.groupby("scenario")["year"].transform("max")
    end = stock[stock["year"] == last]
    fig, axes = plt.subplots(
        1, len(labels), figsize=(4.2 * len(labels), 4.2), dpi=110, sharey=True, squeeze=False
    )
    for ax, label in zip(axes[0], labels, strict=True):
        mine = end[end["scenario"] == label].set_index("tier")
        values = [float(mine.loc[t, "mean"]) for t in LADDER]
        widths = np.log10(np.asarray(values) + 1.0)
        y = np.arange(len(LADDER))
        ax.barh(y, widths, left=-widths / 2, color="0.75", edgecolor="black", height=0.8)
        for yi, v in zip(y, values, strict=True):
            ax.text(0, yi, f"{v:,.0f}", ha="center", va="center", fontsize=9)
        ax.set_yticks(y, [two_lines(t) for t in LADDER], fontsize=7)
        ax.set_xticks([])
        ax.set_title(f"{label} (end of {int(mine['year'].max())})", fontsize=9)
    axes[0][0].set_xlabel("width ∝ log10(firms + 1)")
    fig.tight_layout()
    return _save(fig, folder, "pyramid")


def plot_cost_per_additional(summary: pd.DataFrame, folder: Path) -> list[Path]:
    """Cost per additional certified firm with 95 % intervals, where the gain is significant.

    A ratio whose denominator (the paired gain in firms) may be zero is meaningless, so a tier
    whose gain interval includes zero is marked "n.s." instead of drawn.
    """
    cpa = summary[(summary["metric"] == "cost_per_additional") & summary["tier"].isin(LADDER)]
    gain = summary[(summary["metric"] == "additional") & summary["tier"].isin(LADDER)]
    if cpa.empty:
        return []
    labels = list(dict.fromkeys(cpa["scenario"]))
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    width = 0.8 / len(labels)
    for k, label in enumerate(labels):
        mine = cpa[cpa["scenario"] == label].set_index("tier").reindex(LADDER)
        ok = gain[gain["scenario"] == label].set_index("tier").reindex(LADDER)["ci_low"] > 0
        x = np.arange(len(LADDER)) + k * width
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
    ax.set_xticks(np.arange(len(LADDER)) + 0.4 - width / 2, [two_lines(t) for t in LADDER], fontsize=7)
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


def plot_folder(folder: Path) -> list[Path]:
    """Every chart a compare or sweep folder supports; returns the files written."""
    _use_cjk_font()
    folder = Path(folder)
    written: list[Path] = []
    if (folder / "summary.parquet").is_file():
        summary = pd.read_parquet(folder / "summary.parquet")
        labels = list(dict.fromkeys(summary["scenario"]))
        series = _batch_series(folder)
        series = series[series["label"].isin(labels)]
        written += plot_tier_bands(series, labels, folder)
        written += plot_budget_by_scenario(series, labels, folder)
        written += plot_pyramid(summary, labels, folder)
        written += plot_cost_per_additional(summary, folder)
    if (folder / "runs.parquet").is_file():
        written += plot_sweep(pd.read_parquet(folder / "runs.parquet"), folder)
    if (folder / "indices.parquet").is_file():
        from sim.sensitivity import plot_indices

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
