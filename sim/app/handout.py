"""``ladder report DIR``: one self-contained, bilingual HTML page to hand on, from a results folder.

The page is made from a finished compare, sweep or target folder (its manifest verified first)
and from nothing else but the package files it names and the validation report
(``docs/validation.md``): the question, the economy and the packages with their sources, the
tier table by year with intervals, cost by year × lever × paying level, cost per additional
firm, deadweight, target probabilities, the search's result for a target folder, and a "how far
to trust this" box. Charts are embedded as ``data:`` URIs and the styles are inline, so the
page needs no network and no other file; print styles keep tables and charts whole on paper
(print to PDF from the browser).

Every figure says what it is set against, as the tables it is read from do: effects are paired
differences against the folder's reference run, ``n.s.`` where the 95 % confidence interval
includes zero, ratios only for significant gains.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import pandas as pd

from sim.analysis.compare import NO_POLICY
from sim.core.errors import InputError
from sim.io.files import PACKAGE_KEYS, load_raw
from sim.io.folder import verified

ROOT = Path(__file__).resolve().parent.parent.parent
VALIDATION = ROOT / "docs" / "validation.md"
PAGE = "report.html"
KINDS = ("compare", "sweep", "target")

# Charts a folder may hold, in reading order, with a bilingual caption each.
CHARTS = {
    "pareto": "Packages tried: cost against additional firms, and the Pareto front · 政策组合的成本与新增企业（帕累托前沿）",
    "effects": "Additional firms per tier and year against the reference, 95 % CI of the paired mean · 各层级新增企业（对比参照，95%置信区间）",
    "tiers_bands": "Stock of each tier, package and reference, 5–95 % of replications · 各层级企业存量（5–95%区间）",
    "budget_by_level": "Spend by year, lever and paying level · 按年度、政策工具和出资层级的支出",
    "pyramid": "The ladder at the end: firms per tier · 期末梯度结构",
    "cost_per_additional": "Cost per additional firm (significant gains only) · 每新增一家企业的成本（仅显著增益）",
    "sweep": "Outcomes across the swept parameters · 参数扫描结果",
}


def esc(value: object) -> str:
    """Text made safe for HTML."""
    return html.escape("" if value is None else str(value))


def _num(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _interval(mean: float, low: float, high: float, digits: int = 1, sign: bool = False) -> str:
    fmt = f"{{:+,.{digits}f}}" if sign else f"{{:,.{digits}f}}"
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (mean, low, high)):
        return "–" if not (isinstance(mean, int | float) and math.isfinite(mean)) else fmt.format(mean)
    return f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]"


def _effect(mean: float, low: float, high: float, status: str) -> str:
    """A paired effect: its interval where significant, else ``n.s.`` with the mean in brackets."""
    if status in ("gain", "loss"):
        return _interval(mean, low, high, sign=True)
    return f"n.s. ({mean:+,.1f})" if isinstance(mean, int | float) and math.isfinite(mean) else "n.s."


def table(frame: pd.DataFrame, ident: str, caption: str) -> str:
    """A captioned HTML table (``id`` for checks and links)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False)
    )
    return (
        f'<table id="{ident}"><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def section(number: int, en: str, zh: str, body: str) -> str:
    """A bilingual section: English heading · 中文标题."""
    return f"<section><h2>{number}. {esc(en)} · {esc(zh)}</h2>{body}</section>"


def charts(folder: Path, files: dict[str, str]) -> str:
    """Every chart of the folder as an embedded PNG, in reading order, each with its caption."""
    out = []
    for stem, caption in CHARTS.items():
        name = f"{stem}.png"
        if name not in files:
            continue
        data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
        out.append(
            f'<figure id="chart-{stem}"><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    return "".join(out) or "<p>No charts in this folder. 本文件夹无图表。</p>"


# ---------------------------------------------------------------------------- packages


def _lever_rows(lever_id: str, config: object) -> list[tuple[str, str, str, str]]:
    """(lever, setting, value, source) for every value a package sets on one lever."""
    if not isinstance(config, dict):
        return [(lever_id, "", esc(config), "")]
    sources = config.get("sources", {})
    rows = []
    for key, value in config.items():
        if key == "sources":
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for k, item in enumerate(value):
                text = ", ".join(
                    f"{a} = {b}" for a, b in item.items() if a != "sources" and not isinstance(b, list | dict)
                )
                cite = "; ".join(f"{a}: {b}" for a, b in item.get("sources", {}).items())
                rows.append((lever_id, f"{key}[{k}]", text, cite or sources.get(key, "")))
        elif isinstance(value, dict):
            text = ", ".join(f"{a} = {b}" for a, b in value.items() if a != "sources")
            rows.append((lever_id, key, text, sources.get(key, "")))
        else:
            rows.append((lever_id, key, str(value), sources.get(key, "")))
    return rows


def packages(paths: list[Path]) -> str:
    """Each policy package named: its description, its source and every lever value with its citation."""
    out = []
    for path in paths:
        try:
            raw = load_raw(path)
        except InputError:
            out.append(f"<p>{esc(path.name)}: file no longer readable here.</p>")
            continue
        if not set(raw) <= set(PACKAGE_KEYS):
            continue  # an economy or scenario file: described in the economy paragraph
        meta = raw.get("meta", {})
        rows = [r for lever_id, cfg in raw.get("levers", {}).items() for r in _lever_rows(lever_id, cfg)]
        body = (
            f"<h3>{esc(meta.get('name', path.stem))} <span class=file>({esc(path.name)})</span></h3>"
            f"<p>{esc(meta.get('description', ''))}<br><i>Source 来源:</i> {esc(meta.get('sources', {}).get('name', 'not given'))}</p>"
        )
        if rows:
            frame = pd.DataFrame(
                rows, columns=["lever 政策工具", "setting 参数", "value 取值", "source 来源"]
            )
            body += table(
                frame, f"levers-{esc(path.stem)}", f"Levers of {meta.get('name', path.stem)} · 政策工具"
            )
        else:
            body += "<p>No levers (the package pays nothing). 无政策工具。</p>"
        out.append(body)
    return "".join(out)


# ---------------------------------------------------------------------------- compare tables


def tiers_table(summary: pd.DataFrame, tiers: dict[str, str]) -> pd.DataFrame:
    """Package × tier by year: the stock, mean (5–95 % of replications), and the paired effect."""
    stock = summary[summary["metric"] == "stock"]
    add = summary[summary["metric"] == "additional"].set_index(["package", "tier", "year"])
    years = sorted(int(y) for y in stock["year"].dropna().unique())
    rows = []
    for (package, tier), grp in stock.groupby(["package", "tier"], sort=False):
        if tier not in tiers:
            continue
        by_year = grp.set_index("year")
        cells = []
        for year in years:
            r = by_year.loc[year]
            text = f"{r['mean']:,.1f} ({r['p05']:,.0f}–{r['p95']:,.0f})"
            if (package, tier, year) in add.index:
                a = add.loc[(package, tier, year)]
                text += f"; {_effect(a['mean'], a['ci_low'], a['ci_high'], a['status'])}"
            cells.append(text)
        rows.append([package, tiers[tier], *cells])
    return pd.DataFrame(rows, columns=["package 政策组合", "tier 层级", *map(str, years)])


def cost_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Package × lever × paying level by year: mean spend (5–95 % of replications), and the total."""
    cost = summary[summary["metric"] == "cost"]
    if cost.empty:
        return pd.DataFrame()
    years = sorted(int(y) for y in cost["year"].dropna().unique())
    rows = []
    for (package, lever, level), grp in cost.groupby(["package", "lever", "level"], sort=False):
        cells = []
        for year in [*years, None]:
            r = grp[grp["year"].isna()] if year is None else grp[grp["year"] == year]
            cells.append(
                "–"
                if r.empty
                else f"{r['mean'].iloc[0]:,.0f} ({r['p05'].iloc[0]:,.0f}–{r['p95'].iloc[0]:,.0f})"
            )
        rows.append([package, lever, level, *cells])
    return pd.DataFrame(
        rows, columns=["package 政策组合", "lever 工具", "level 层级", *map(str, years), "total 合计"]
    )


def money_table(effects: pd.DataFrame) -> pd.DataFrame:
    """Per package × tier: money per additional firm (significant gains only) and deadweight."""
    rows = []
    for r in effects.itertuples():
        award = (
            _interval(
                r.award_cost_per_first, r.award_cost_per_first_ci_low, r.award_cost_per_first_ci_high, 0
            )
            if r.award_cost_per_first_status == "gain"
            else str(r.award_cost_per_first_status or "–")
        )
        whole = (
            _interval(
                r.package_cost_per_additional,
                r.package_cost_per_additional_ci_low,
                r.package_cost_per_additional_ci_high,
                0,
            )
            if r.package_cost_per_additional_status == "gain"
            else str(r.package_cost_per_additional_status or "–")
        )
        dead = "–"
        if isinstance(r.deadweight_count, float) and math.isfinite(r.deadweight_count):
            dead = f"{r.deadweight_count:.0%} of firms / {r.deadweight_money:.0%} of money"
        rows.append([r.package, f"{r.name_en} {r.name_zh}", award, whole, dead])
    return pd.DataFrame(
        rows,
        columns=[
            "package 政策组合",
            "tier 层级",
            "award 万元 per additional first certificate 每新增首次认定奖励",
            "whole package 万元 per additional firm (not additive) 每新增企业总成本",
            "deadweight 无谓损失",
        ],
    )


def targets_html(targets: pd.DataFrame) -> str:
    """Probability of meeting each target by its year, with the expected shortfall."""
    if targets.empty:
        return "<p>No targets in these packages. 无目标。</p>"
    rows = []
    for r in targets.itertuples():
        if isinstance(r.status, str) and r.status:
            rows.append([r.package, r.tier, r.by_year, r.status, "–", r.note])
        else:
            rows.append(
                [r.package, r.tier, r.by_year, f"{r.probability:.2f}", _num(r.expected_shortfall), r.note]
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "package 政策组合",
            "tier 层级",
            "by 年份",
            "P(met) 达成概率",
            "expected shortfall 预期缺口",
            "goal 目标",
        ],
    )
    return table(frame, "targets", "Targets: share of replications that meet each · 目标达成概率")


# ---------------------------------------------------------------------------- trust


def trust_box(economy: str) -> str:
    """The validation checks that miss and the assumptions that drive the answer most."""
    if not VALIDATION.is_file():
        return '<aside class="box" id="trust"><h2>How far to trust this · 可信度</h2><p>No validation report (docs/validation.md) found.</p></aside>'
    text = VALIDATION.read_text(encoding="utf-8")
    missed = re.search(r"### Targets missed by more than 10 %, and why\n\n(.*?)\n\n##", text, re.S)
    bullets = [b[2:].strip() for b in (missed.group(1).splitlines() if missed else []) if b.startswith("- ")]
    ranking = _top_parameters(text)
    scope = (
        "The validation is of the calibrated Yuyao economy (docs/validation.md)."
        if "yuyao" in economy.lower()
        else f"The validation is of the calibrated Yuyao economy (docs/validation.md), not of this folder's economy ({economy}): it does not vouch for it."
    )
    items = "".join(f"<li>{_markdown(b)}</li>" for b in bullets) or "<li>none</li>"
    ranks = "".join(
        f"<li><b>{esc(outcome)}</b>: {esc(', '.join(params))}</li>" for outcome, params in ranking
    )
    return (
        '<aside class="box" id="trust"><h2>How far to trust this · 可信度</h2>'
        f"<p>{esc(scope)} Intervals are over the model's random draws only: they leave out the uncertainty of its "
        "fitted and assumed parameters, so the true uncertainty is wider. 区间仅反映随机抽样，不含参数不确定性。</p>"
        f"<h3>Validation checks that miss by more than 10 % · 偏差超过10%的校验</h3><ul>{items}</ul>"
        "<h3>Assumptions that drive the answer most (Morris screening of experiments/sensitivity-core.toml, top 3 per outcome) · 最关键的假设</h3>"
        f"<ul>{ranks or '<li>no sensitivity ranking recorded</li>'}</ul></aside>"
    )


def _top_parameters(text: str, top: int = 3) -> list[tuple[str, list[str]]]:
    """The first ``top`` parameters of each outcome's table in the sensitivity section."""
    part = re.split(r"^## \d+\. Sensitivity ranking", text, maxsplit=1, flags=re.M)
    if len(part) < 2:
        return []
    out = []
    for block in re.finditer(r"\*\*(.+?)\*\*\n\n\|.*?\n\|[-| ]+\n((?:\|.*\n?)+)", part[1]):
        params = [line.split("|")[2].strip() for line in block.group(2).splitlines()[:top]]
        out.append((block.group(1), params))
    return out


def _markdown(text: str) -> str:
    """Bold and code spans of the validation report's bullets, escaped."""
    out = esc(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


# ---------------------------------------------------------------------------- kinds


def _compare_body(folder: Path, manifest: dict, n: int) -> tuple[list[str], int]:
    summary = pd.read_parquet(folder / "summary.parquet")
    effects = pd.read_csv(folder / "effects.csv", encoding="utf-8-sig")
    names = dict(zip(effects["tier"], effects["name_en"] + " " + effects["name_zh"], strict=False))
    ref = manifest.get("reference", NO_POLICY)
    out = []
    eff = effects.assign(
        additional=[
            _effect(
                r.additional_end, r.additional_end_ci_low, r.additional_end_ci_high, r.additional_end_status
            )
            for r in effects.itertuples()
        ],
        first=[
            _effect(
                r.additional_first,
                r.additional_first_ci_low,
                r.additional_first_ci_high,
                r.additional_first_status,
            )
            for r in effects.itertuples()
        ],
    )[["package", "name_en", "name_zh", "end_year", "additional", "first"]]
    eff.columns = [
        "package 政策组合",
        "tier",
        "层级",
        "end 年末",
        "additional firms 新增企业",
        "additional first certificates 新增首次认定",
    ]
    out.append(
        section(
            n,
            "What the packages buy",
            "政策效果",
            f"<p>Additional firms holding each tier at the end of the horizon, and additional first certifications, "
            f"each package against <b>{esc(ref)}</b> on the same seeds: mean [95 % confidence interval]; n.s. where "
            "the interval includes zero. 对比参照的配对差异。</p>"
            + table(eff, "effects", "Effects · 政策效果"),
        )
    )
    out.append(
        section(
            n + 1,
            "Tiers by year",
            "各层级逐年存量",
            "<p>Each cell: the stock, mean (5–95 % of replications); after the semicolon, the additional firms against "
            f"{esc(ref)}, mean [95 % CI] or n.s. 每格：存量均值（5–95%）；分号后为对比参照的新增。</p>"
            + table(tiers_table(summary, names), "tiers-by-year", "Tiers by year · 逐年层级"),
        )
    )
    cost = cost_table(summary)
    out.append(
        section(
            n + 2,
            "Cost by year, lever and paying level",
            "按年度、工具和出资层级的成本",
            "<p>万元, mean over replications (5–95 % of replications). 万元，均值（5–95%）。</p>"
            + (table(cost, "cost-by-year", "Cost · 成本") if len(cost) else "<p>No payments. 无支出。</p>"),
        )
    )
    out.append(
        section(
            n + 3,
            "Cost per additional firm and deadweight",
            "每新增企业成本与无谓损失",
            "<p>A ratio only where the gain is significant; a loss is a loss. The whole package's cost is set against "
            "each tier alone, so those figures do not add up across tiers. Deadweight: share of awarded firms (and of "
            f"award money) that {esc(ref)} certified too. 仅对显著增益给出比率。</p>"
            + table(money_table(effects), "cost-per-additional", "Cost per additional firm · 每新增企业成本"),
        )
    )
    targets = pd.read_csv(folder / "targets.csv", encoding="utf-8-sig")
    out.append(section(n + 4, "Targets", "目标达成", targets_html(targets)))
    return out, n + 5


def _target_body(folder: Path, manifest: dict, n: int) -> tuple[list[str], int]:
    trials = pd.read_csv(folder / "trials.csv", encoding="utf-8-sig")
    front = pd.read_csv(folder / "pareto.csv", encoding="utf-8-sig")
    goals = manifest.get("goals", [])
    conf = manifest.get("confirmation")
    parts = [
        f"<p>{len(trials)} packages tried, each on {manifest.get('replications')} replications against the "
        "economy's no-policy run on the same seeds. 共尝试 "
        f"{len(trials)} 个政策组合。</p><ol>" + "".join(f"<li>{esc(g)}</li>" for g in goals) + "</ol>"
    ]
    if manifest.get("reported") == "cheapest feasible":
        parts.append(
            '<p class="verdict">A package within the bounds meets every goal within budget: the cheapest is reported below. 存在达标的最低成本组合。</p>'
        )
    else:
        parts.append(
            '<p class="verdict">No package within the bounds meets every goal within budget. 在给定范围内没有组合能达成全部目标。 Best reachable within budget:</p>'
        )
        rows = [
            [
                r["goal"],
                r["tier"],
                r.get("trial"),
                _num(r.get("probability"), 2),
                _num(r.get("shortfall")),
                _num(r.get("additional"))
                + (f" (trial {r['additional_trial']})" if r.get("additional_trial") is not None else ""),
            ]
            for r in manifest.get("best_reachable", [])
        ]
        frame = pd.DataFrame(
            rows,
            columns=[
                "goal 目标",
                "tier 层级",
                "trial",
                "best P 最高概率",
                "its expected shortfall 缺口",
                "largest mean additional firms of a package within budget (search replications, biased upward) 最多新增",
            ],
        )
        parts.append(table(frame, "best-reachable", "Best reachable · 可达到的最好结果"))
    if conf:
        f = conf["figures"]
        rows = [
            ["mean cost 万元 平均成本", _interval(f["cost_mean"], f["cost_ci_low"], f["cost_ci_high"], 0)]
        ]
        for k, _ in enumerate(goals):
            rows.append(
                [
                    f"goal {k}: P(met) 达成概率",
                    _interval(
                        f[f"goal{k}_probability"],
                        f[f"goal{k}_probability_ci_low"],
                        f[f"goal{k}_probability_ci_high"],
                        2,
                    ),
                ]
            )
            rows.append(
                [
                    f"goal {k}: additional firms vs no policy 新增",
                    _effect(
                        f[f"goal{k}_additional"],
                        f[f"goal{k}_additional_ci_low"],
                        f[f"goal{k}_additional_ci_high"],
                        f[f"goal{k}_additional_status"],
                    ),
                ]
            )
        parts.append(
            f"<p>The reported package ({esc(manifest.get('reported'))}, {esc(conf['trial'])}, written as "
            f"<code>{esc(conf['package'])}</code>) re-run on {conf['replications']} fresh replications (base seed "
            f"{conf['base_seed']}): mean [95 % CI]. 以新随机种子复核。</p>"
            + table(
                pd.DataFrame(rows, columns=["figure 指标", "value 数值"]),
                "confirmation",
                "Confirmation · 复核",
            )
        )
    goal_cols = [
        c for c in front.columns if c.startswith("goal") and c.endswith("_additional") and c[4:-11].isdigit()
    ]
    shown = front[["goal", "trial", "cost_mean", *goal_cols]].round(1)
    parts.append(
        table(
            shown, "pareto", "Pareto front within budget: cost against expected additional firms · 帕累托前沿"
        )
    )
    return [section(n, "The search for the cheapest package", "最低成本政策组合搜索", "".join(parts))], n + 1


def _sweep_body(folder: Path, manifest: dict, n: int) -> tuple[list[str], int]:
    runs = pd.read_parquet(folder / "runs.parquet")
    params = [c for c in runs.columns if c.startswith("param.")]
    skip = {"key", "label", "scenario", "replication", "seed", *params}
    outcomes = [c for c in runs.columns if c not in skip and pd.api.types.is_numeric_dtype(runs[c])]
    grouped = runs.groupby(["label", *params], sort=True)[outcomes]
    mean, low, high = grouped.mean(), grouped.quantile(0.05), grouped.quantile(0.95)
    frame = mean.copy().astype(object)
    for col in outcomes:
        frame[col] = [
            f"{m:,.1f} ({lo:,.0f}–{hi:,.0f})"
            for m, lo, hi in zip(mean[col], low[col], high[col], strict=True)
        ]
    frame = frame.reset_index()
    body = (
        f"<p>{manifest.get('design_points')} design points × {manifest.get('replications')} replications; each cell: mean "
        "(5–95 % of replications). Levels, not effects: no paired reference. 各设计点的均值（5–95%）。</p>"
        + table(frame, "sweep", "Outcomes by design point · 各设计点结果")
    )
    return [section(n, "Outcomes across the design", "参数扫描结果", body)], n + 1


# ---------------------------------------------------------------------------- the page


STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei",sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#111;font-size:14px;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;border-bottom:1px solid #999;padding-bottom:.15em;margin-top:1.4em}
h3{font-size:1em} .file{font-weight:normal;color:#555} .meta{color:#444}
table{border-collapse:collapse;width:100%;margin:.6em 0 1em;font-size:12px}
caption{text-align:left;font-weight:bold;padding:.2em 0}
th,td{border:1px solid #bbb;padding:.2em .4em;vertical-align:top;text-align:left;overflow-wrap:break-word}
thead th{background:#eee}
figure{margin:1em 0;text-align:center} figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:12px;color:#333}
.box{border:2px solid #333;background:#f6f6f6;padding:.6em 1em;margin:1.5em 0}
.verdict{font-weight:bold}
@page{size:A4;margin:12mm}
@media print{body{max-width:none;margin:0;font-size:10px}table{font-size:8px}
figure,.box,tr,caption{break-inside:avoid;page-break-inside:avoid} thead{display:table-header-group}
h2,h3{break-after:avoid;page-break-after:avoid} figure img{max-height:240mm}}
"""


# Marks each chart with its decoded width once the page has loaded, so that a headless browser's
# DOM dump shows whether every embedded chart decoded (a broken data URI decodes to width 0).
MARK_DECODED = (
    "addEventListener('load',()=>{for(const i of document.images)i.dataset.decodedWidth=i.naturalWidth})"
)


def render(folder: Path, charts_checked: bool = True) -> str:
    """The page for a finished compare, sweep or target folder.

    ``charts_checked=False`` leaves the charts out of the manifest check (the caller has just
    drawn them); the data files are always checked.
    """
    folder = Path(folder)
    manifest = verified(folder, charts=charts_checked)
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise InputError(
            f"{folder}: a report is made from a compare, sweep or target folder (this one is {kind!r})"
        )
    files = {p.name: "" for p in folder.glob("*.png")}
    economy = str(manifest.get("economy") or "")
    paths = [Path(s["path"]) for s in manifest.get("scenarios", [])]
    if kind == "target":
        economy = Path(economy).stem if economy else ""
        conf = manifest.get("confirmation")
        paths = [folder / conf["package"]] if conf else [Path(manifest["package_searched"])]
    question = {
        "compare": f"What do these packages buy on the {economy or 'same'} economy, against {manifest.get('reference', NO_POLICY)}, and at what cost? "
        "这些政策组合带来什么、花费多少？",
        "sweep": "How do the outcomes change across the swept parameters? 结果如何随参数变化？",
        "target": f"What is the cheapest package that meets the goals on the {economy} economy? 达成目标的最低成本政策组合是什么？",
    }[kind]
    body = [
        section(1, "The question", "问题", f"<p>{esc(question)}</p>"),
        section(
            2,
            "The economy and the packages",
            "经济体与政策组合",
            f"<p>Economy 经济体: <b>{esc(economy or 'see the scenario files')}</b>; rules 规则: {esc(manifest.get('rules', 'not recorded in the folder'))}; "
            f"replications 重复次数: {esc(manifest.get('replications'))}; base seed 随机种子: {esc(manifest.get('base_seed'))}. "
            "Money in 万元 throughout. 金额单位：万元。</p>" + packages(paths),
        ),
    ]
    n = 3
    if kind == "target":
        more, n = _target_body(folder, manifest, n)
        body += more
    if (folder / "summary.parquet").is_file() and kind in ("compare", "target"):
        more, n = _compare_body(folder, manifest, n)
        body += more
    if kind == "sweep":
        more, n = _sweep_body(folder, manifest, n)
        body += more
    body.append(section(n, "Charts", "图表", charts(folder, files)))
    body.append(trust_box(economy))
    title = f"{kind} {folder.name}"
    command = " ".join(manifest.get("command", []))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} · 政策报告</title><style>{STYLE}</style></head><body>"
        f"<h1>Policy report · 政策报告: {esc(folder.name)}</h1>"
        f'<p class="meta">From the {esc(kind)} folder <code>{esc(folder)}</code>, written by <code>{esc(command)}</code> '
        f"(sme-ladder {esc(manifest.get('package', {}).get('version', ''))}).</p>"
        + "".join(body)
        + f"<script>{MARK_DECODED}</script></body></html>"
    )
