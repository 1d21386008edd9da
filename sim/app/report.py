"""The validation report: ``ladder validate --out docs/`` writes ``docs/validation.md``.

Generated, never written by hand: it re-evaluates the calibrated Yuyao scenario at fixed seeds
(fit table and out-of-sample checks), measures stylised facts of firm dynamics that a credible
firm model should show and sets each beside its reference, and ranks the uncertain parameters
by a Morris screening. Same seeds → the same document (no dates or timings in it). Every run
goes through the batch engine; its run folders are kept under ``results/validation/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.analysis.calibration import (
    Evaluator,
    fit_table,
    fitted_moments,
    parameter_overrides,
    standard_errors,
)
from sim.analysis.sensitivity import plan_sensitivity, run_sensitivity
from sim.analysis.validation import (
    bunching_ratio,
    exit_profile,
    growth_shape,
    hill_tail_index,
    national_shares,
    panel,
    size_scaling,
)
from sim.batch.runner import BatchOptions, replication_seed
from sim.io.calibration_file import Calibration, load_calibration, value_at
from sim.io.files import load_scenario
from sim.io.results import atomic_write, scenario_hash
from sim.plots.charts import plot_stylised_facts

ROOT = Path(__file__).resolve().parent.parent.parent
CALIBRATION = ROOT / "experiments" / "calibrate-yuyao.toml"
SENSITIVITY = ROOT / "experiments" / "sensitivity-core.toml"
WORK = ROOT / "results" / "validation"
SEED = 7
REPLICATIONS = 8


def _table(frame: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
        return str(v)

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _fit_section(cal: Calibration, scenario: Path, options: BatchOptions) -> tuple[str, pd.DataFrame, str]:
    names = tuple(dict.fromkeys(t.moment for t in cal.targets))
    seeds = [
        replication_seed(cal.calibration.seed, r) for r in range(cal.calibration.final_replications or 20)
    ]
    ev = Evaluator(scenario, list(cal.calibration.overrides), names, seeds, WORK / "fit", options)
    reps = ev.replications([])
    table = fit_table(cal.targets, names, reps)
    shown = pd.DataFrame(
        {
            "target": table["target"],
            "observed": table["observed"],
            "simulated mean": table["simulated_mean"],
            "90 % interval": [
                f"{a:,.4g} – {b:,.4g}"
                for a, b in zip(table["simulated_p05"], table["simulated_p95"], strict=True)
            ],
            "relative error": [f"{e:+.1%}" for e in table["relative_error"]],
            "source": table["source"],
            "use": table["use"],
        }
    )
    errors = _parameter_errors(cal, scenario, names, ev, reps)
    misses = table[table["relative_error"].abs() > 0.10]
    notes = "\n".join(
        f"- **{r.target}** ({r.use}, {r.relative_error:+.0%}): {r.note or 'no explanation recorded.'}"
        for r in misses.itertuples()
    )
    fit = _table(shown[shown["use"] == "fit"].drop(columns="use")) + "\n\n" + errors
    return fit, shown[shown["use"] == "check"].drop(columns="use"), notes or "_None._"


def _parameter_errors(cal, scenario: Path, names: tuple[str, ...], ev: Evaluator, reps) -> str:
    """The shipped fitted values with their standard errors (SMM sandwich at those values)."""
    idx, observed, weights = fitted_moments(cal, names)
    base = load_scenario(scenario, list(cal.calibration.overrides)).model_dump()
    values = [value_at(base, p.path) for p in cal.parameters]

    def moments(vals: list[float]):
        return ev.replications(parameter_overrides(cal, vals)).mean(axis=0)[idx]

    se = standard_errors(cal, values, moments, reps[:, idx], observed, weights)
    shown = pd.DataFrame(
        {
            "parameter": se["parameter"],
            "fitted value": se["value"],
            "bounds": [f"{lo:g} – {hi:g}" for lo, hi in zip(se["low"], se["high"], strict=True)],
            "standard error": [
                f"{v:.3g}" if np.isfinite(v) else "not identified" for v in se["standard_error"]
            ],
            "relative": [f"{v:.0%}" if np.isfinite(v) else "–" for v in se["relative_standard_error"]],
        }
    )
    return (
        "Fitted parameters and their standard errors (simulated method of moments sandwich, "
        "V = (1 + 1/R)(G'WG)⁻¹G'WΩWG(G'WG)⁻¹, G by central differences over 2 % of each range on "
        "common random numbers, Ω over the final replications; `sim.analysis.calibration.standard_errors`):\n\n"
        + _table(shown)
    )


def _sensitivity_section(options: BatchOptions) -> str:
    if not SENSITIVITY.is_file():
        return "_No sensitivity experiment file (experiments/sensitivity-core.toml)._"
    plan = plan_sensitivity(str(SENSITIVITY), "morris", None, 4)
    result = run_sensitivity(plan, WORK / "sensitivity-core-morris", options)
    indices = result.indices
    parts = []
    for outcome, grp in indices.groupby("outcome", sort=False):
        top = grp.sort_values("mu_star", ascending=False)
        rows = pd.DataFrame(
            {
                "rank": range(1, len(top) + 1),
                "parameter": top["parameter"],
                "μ* (mean absolute elementary effect)": top["mu_star"],
                "95 % conf.": top["mu_star_conf"],
                "σ": top["sigma"],
            }
        )
        parts.append(f"**{outcome}**\n\n{_table(rows)}")
    return "\n\n".join(parts)


# Published figures the ladder's behaviour is checked against (each with its source).
REVIEW_PASS = (
    0.57,
    0.83,
    "MIIT's first three little-giant re-reviews: 142 of 248, 1,079 of 1,748, 2,430 of 2,930 kept (中制智库, http://www.anpeicn.cn/nnews.asp?vid=43316)",
)
EXIT_RATE = (
    0.062,
    0.093,
    "yearly death rate of Chinese enterprises, 9.3 % (2008) falling to 6.2 % (2012) (国家工商总局《全国内资企业生存时间分析报告》2013)",
)
HAZARD_PEAK = (
    3,
    "the death rate peaks in the 3rd year of life (9.5 %), stays above 8 % to the 7th, then falls (same report)",
)
CHAMPIONS_PER_GIANT = (
    0.094,
    0.107,
    "national: 848 champion firms to 8,997 little giants (MIIT, 2022-09); ≈ 1,557 to ≈ 14,600 (end-2024)",
)


def _ladder_section(p, cal: Calibration) -> str:
    """The ladder's behaviour against published programme figures: reviews, rationing, demography."""
    s = p.series.sort_values(["key", "year"])
    first, last = s.groupby("key").head(1), s.groupby("key").tail(1)
    sim_years = s[s["year"] > first["year"].min()]
    renewed, removed = sim_years["renewed.little_giant"].sum(), sim_years["removed.little_giant"].sum()
    passed = renewed / (renewed + removed) if renewed + removed else float("nan")
    ratio = lambda rows: rows["stock.single_champion"].sum() / rows["stock.little_giant"].sum()  # noqa: E731
    hazards, rate = exit_profile(p.frames)
    peak = int(hazards.loc[hazards["hazard"].idxmax(), "age"]) + 1  # age at the test + 1 = year of life
    champ, giant = (
        national_shares(p.frames, "held_single_champion"),
        national_shares(p.frames, "held_little_giant"),
    )
    y0, y1 = int(first["year"].min()), int(last["year"].max())

    def within(x: float, lo: float, hi: float) -> str:
        return "inside" if lo <= x <= hi else "outside"

    rd = next(t for t in cal.targets if t.moment == "rd_intensity_above_scale")  # the fit's own target

    rows = pd.DataFrame(
        [
            [
                "Little-giant re-review pass rate (renewed ÷ reviewed)",
                f"{passed:.2f} ({y0 + 1}–{y1})",
                f"{REVIEW_PASS[0]:.2f}–{REVIEW_PASS[1]:.2f}: {REVIEW_PASS[2]}",
                within(passed, *REVIEW_PASS[:2]),
            ],
            [
                "Firm exit rate (exits ÷ firms at risk, ages 1 and up: founding-year exits are not modelled)",
                f"{rate:.3f}",
                f"{EXIT_RATE[0]:.3f}–{EXIT_RATE[1]:.3f}: {EXIT_RATE[2]}",
                within(rate, *EXIT_RATE[:2]),
            ],
            [
                "Year of life with the highest exit hazard",
                f"{peak}",
                f"{HAZARD_PEAK[0]}: {HAZARD_PEAK[1]}",
                "inside" if peak == HAZARD_PEAK[0] else "outside",
            ],
            [
                "Above-scale R&D ÷ revenue (no drift: the R&D trend is not extrapolated)",
                f"{first['rd_intensity_above_scale'].mean():.4f} (end-{y0}) → {last['rd_intensity_above_scale'].mean():.4f} (end-{y1})",
                f"{rd.observed:.4f} ±10 %, the calibration target: {rd.source}",
                within(last["rd_intensity_above_scale"].mean(), rd.observed * 0.9, rd.observed * 1.1),
            ],
            [
                "Little giants' mean R&D intensity",
                f"{first['little_giant_rd_intensity_mean'].mean():.4f} (end-{y0}) → {last['little_giant_rd_intensity_mean'].mean():.4f} (end-{y1})",
                "≈ 0.07: little giants' R&D ÷ revenue, 2024 (MIIT, 单忠德 2025-08-06); Yuyao's: 5.6 % or more (Yuyao reply 2024 L14)",
                "–",
            ],
            [
                f"Single champions per little giant, end-{y1}",
                f"{ratio(last):.3f} (end-{y0}: {ratio(first):.3f})",
                f"{CHAMPIONS_PER_GIANT[0]:.3f}–{CHAMPIONS_PER_GIANT[1]:.3f}: {CHAMPIONS_PER_GIANT[2]}",
                within(ratio(last), CHAMPIONS_PER_GIANT[0] / 2, CHAMPIONS_PER_GIANT[1] * 1.5) + " ½–1½×",
            ],
        ],
        columns=["check", "model", "published", "verdict"],
    )
    ages = hazards.assign(
        age=[f"{a + 1}" if a < hazards["age"].max() else f"{a + 1}+" for a in hazards["age"]],
        exits=hazards["exits"].astype(int),
        at_risk=hazards["at_risk"].astype(int),
    ).rename(columns={"age": "year of life", "at_risk": "firm-years at risk"})
    q = [0.1, 0.5, 0.9]
    shares = pd.DataFrame(
        [
            ["single champions", len(champ), *(np.quantile(champ, q) if len(champ) else [np.nan] * 3)],
            ["little giants", len(giant), *(np.quantile(giant, q) if len(giant) else [np.nan] * 3)],
        ],
        columns=["holders (pooled)", "n", "p10", "median", "p90"],
    )
    inn0, inn1 = first["stock.innovative"].mean(), last["stock.innovative"].mean()
    n0, n1 = first["firms_alive"].mean(), last["firms_alive"].mean()
    ends = [f[f["year"] == f["year"].max()] for f in p.frames]
    via_high_tech = np.mean(
        [
            (e["held_innovative"] & e["held_high_tech"]).sum() / max(e["held_innovative"].sum(), 1)
            for e in ends
        ]
    )
    champions_vs_national = ratio(last) / CHAMPIONS_PER_GIANT[0]
    return f"""{_table(rows)}

Single champions per little giant reach {champions_vs_national:.1f}× the national 2022 ratio by
end-{y1}, from {ratio(first):.3f} at end-{y0}: champion places are a share of the economy's little
giants (miit-2022 rules), and the model's little-giant stock fills from empty over the warm-up
from 2016, while the national champion programme selected about 140 firms a year from 2016, three
years before the first little giants (2019). The ratio rises as the places accumulate; the
provinces' caps (附件3 of the 2021 notice, Taizhou compilation 第51页) that would set the places
directly are not in the source documents.

Exit hazard by year of life (pooled; a firm aged a at the exit test is in year a + 1 of its life):

{_table(ages)}

National niche shares (own main revenue ÷ (own + rivals' sales)) of holders at end-{y1}; the
global share the champion rule tests is this ÷ `population.global_market_multiple`:

{_table(shares)}

**Innovative-SME stock, end-{y0} → end-{y1}:** {inn0:.0f} → {inn1:.0f} (×{inn1 / inn0:.2f}). The
population grows ×{n1 / n0:.2f} over the same years (entry keeps it on the census growth rate,
`dynamics.population_growth`), so the certified share of firms changes ×{(inn1 / n1) / (inn0 / n0):.2f};
at end-{y1}, {via_high_tech:.0%} of innovative SMEs are also high-tech enterprises (a direct pass,
63号 附件1 二(二)). Certificates are not renewed: at expiry a firm must be evaluated again and
re-applies with probability `certification.review_submission.innovative`.
"""


def write_report(out: Path, workers: int = 1) -> Path:
    """Generate ``out/validation.md`` (and its figure); returns the document's path."""
    options = BatchOptions(workers=workers, progress=False)
    scenario_path = ROOT / "scenarios" / "yuyao-2024.toml"
    scenario = load_scenario(scenario_path)
    seeds = [replication_seed(SEED, r) for r in range(REPLICATIONS)]
    cal, cal_scenario = load_calibration(CALIBRATION)
    fit, checks, misses = _fit_section(cal, cal_scenario, options)
    p = panel(scenario_path, seeds, WORK / "panel", options)
    alpha = hill_tail_index(p.revenue_end)
    shape = growth_shape(p.growth)
    scaling = size_scaling(p.growth, p.size)
    ratio, ratio_plain = (
        bunching_ratio(p.rd_intensity, p.notches[0]),
        bunching_ratio(p.rd_intensity_no_bunching, p.notches[0]),
    )
    figures = plot_stylised_facts(p, out / "validation")
    facts = pd.DataFrame(
        [
            [
                "Upper tail of firm size (Hill index, top 5 % by revenue, end year)",
                f"{alpha:.2f}",
                "≈ 1 (Zipf): α = 1.06 for US firms (Axtell 2001, Science 293:1818)",
            ],
            [
                "Growth rates: excess kurtosis",
                f"{shape['excess_kurtosis']:.2f}",
                "fat, tent-shaped tails: Laplace has 3, normal 0 (Bottazzi & Secchi 2006, RAND J. Econ. 37:235)",
            ],
            [
                "Growth rates: log-likelihood gain of Laplace over normal, per firm-year",
                f"{shape['laplace_gain']:+.3f}",
                "> 0: Laplace fits better (Bottazzi & Secchi 2006)",
            ],
            [
                "Mean growth vs log size (slope across size deciles)",
                f"{scaling['mean_slope']:+.4f}",
                "≈ 0 on average (Gibrat's law; Sutton 1997, J. Econ. Lit. 35:40)",
            ],
            [
                "sd of growth vs log size (slope of log sd)",
                f"{scaling['sd_slope']:+.3f}",
                "≈ −0.15 to −0.2 (Stanley et al. 1996, Nature 379:804)",
            ],
            [
                f"R&D intensity bunching at the {p.notches[0]:.0%} notch (firms in the 10 % just above ÷ just below)",
                f"{ratio:.2f} (without bunching: {ratio_plain:.2f})",
                "excess mass just above R&D notches: Chinese high-tech notches (Chen, Liu, Suárez Serrato & Xu 2021, AER 111:2065)",
            ],
        ],
        columns=["stylised fact", "model", "reference"],
    )
    text = f"""# Validation report

_Generated by `ladder validate --out docs/` (sme-ladder {__version__}); do not edit by hand.
Re-running the command with the same seeds reproduces this document._

Scenario: `scenarios/yuyao-2024.toml` (resolved sha256 `{scenario_hash(scenario)[:16]}…`), the
Yuyao economy with the parameters fitted by `experiments/calibrate-yuyao.toml`. Pre-2024 history:
an {scenario.certification.warmup_years}-year warm-up from an empty ladder (see the calibration file).

## 1. Calibration fit (targets used in fitting)

Simulated: mean and 5–95 % interval over the calibration file's final replications (common seeds),
state at the end of 2023.

{fit}

## 2. Out-of-sample checks (targets not used in fitting)

{_table(checks)}

### Targets missed by more than 10 %, and why

{misses}

## 3. The ladder's behaviour against published programme figures

Pooled over {REPLICATIONS} replications of the scenario ({scenario.run.years} simulated years,
seeds from base seed {SEED}).

{_ladder_section(p, cal)}

## 4. Stylised facts of firm dynamics

Pooled over {REPLICATIONS} replications of the scenario ({scenario.run.years} simulated years,
seeds from base seed {SEED}).

{_table(facts)}

![Stylised facts](validation/{figures[0]})

Dotted lines: the R&D-intensity notches of the rule set. The spike at
{scenario.dynamics.rd_liquidity_share:.0%} is not a notch: it is firms without profit whose R&D is
capped by the liquidity limit (`dynamics.rd_liquidity_share`, docs/ODD.md).

## 5. Sensitivity ranking (Morris screening)

Experiment `experiments/sensitivity-core.toml`; parameters ranked by μ*, the mean absolute
elementary effect on each outcome (larger = more influential), with its 95 % bootstrap
confidence half-width; σ large relative to μ* signals interactions or non-linearity.

{_sensitivity_section(options)}
"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "validation.md"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
