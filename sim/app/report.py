"""The validation report: ``ladder validate --out docs/`` writes ``docs/validation.md``.

Generated, never written by hand: it re-evaluates the calibrated Yuyao scenario at fixed seeds
(fit table and out-of-sample checks), measures stylised facts of firm dynamics that a credible
firm model should show and sets each beside its reference, and ranks the uncertain parameters
by a Morris screening. Same seeds → the same document (no dates or timings in it). Every run
goes through the batch engine; its run folders are kept under ``results/validation/``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim import __version__
from sim.analysis.calibration import Evaluator, fit_table
from sim.analysis.sensitivity import plan_sensitivity, run_sensitivity
from sim.analysis.validation import bunching_ratio, growth_shape, hill_tail_index, panel, size_scaling
from sim.batch.runner import BatchOptions, replication_seed
from sim.io.calibration_file import load_calibration
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


def _fit_section(options: BatchOptions) -> tuple[str, pd.DataFrame, str]:
    cal, scenario = load_calibration(CALIBRATION)
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
    misses = table[table["relative_error"].abs() > 0.10]
    notes = "\n".join(
        f"- **{r.target}** ({r.use}, {r.relative_error:+.0%}): {r.note or 'no explanation recorded.'}"
        for r in misses.itertuples()
    )
    fit = _table(shown[shown["use"] == "fit"].drop(columns="use"))
    return fit, shown[shown["use"] == "check"].drop(columns="use"), notes or "_None._"


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


def write_report(out: Path, workers: int = 1) -> Path:
    """Generate ``out/validation.md`` (and its figure); returns the document's path."""
    options = BatchOptions(workers=workers, progress=False)
    scenario_path = ROOT / "scenarios" / "yuyao-2024.toml"
    scenario = load_scenario(scenario_path)
    seeds = [replication_seed(SEED, r) for r in range(REPLICATIONS)]
    fit, checks, misses = _fit_section(options)
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

## 3. Stylised facts of firm dynamics

Pooled over {REPLICATIONS} replications of the scenario ({scenario.run.years} simulated years,
seeds from base seed {SEED}).

{_table(facts)}

![Stylised facts](validation/{figures[0]})

Dotted lines: the R&D-intensity notches of the rule set. The spike at
{scenario.dynamics.rd_liquidity_share:.0%} is not a notch: it is firms without profit whose R&D is
capped by the liquidity limit (`dynamics.rd_liquidity_share`, docs/ODD.md).

## 4. Sensitivity ranking (Morris screening)

Experiment `experiments/sensitivity-core.toml`; parameters ranked by μ*, the mean absolute
elementary effect on each outcome (larger = more influential), with its 95 % bootstrap
confidence half-width; σ large relative to μ* signals interactions or non-linearity.

{_sensitivity_section(options)}
"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "validation.md"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
