"""Charts of saved results, labelled in English with the Chinese name of each tier."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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


def plot_budget(ledger: pd.DataFrame, years: list[int], path: Path, title: str,
                fmt: str = "png") -> None:  # fmt: skip
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
        ax.text(0.5, 0.5, "no payments (no levers on) 无政策支出", transform=ax.transAxes,
                ha="center", va="center")  # fmt: skip
    ax.set_xlabel("Year 年份")
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
    ax.set_ylabel("Firms holding the tier 企业数")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, format=fmt)
    plt.close(fig)
