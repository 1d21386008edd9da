"""Validation statistics: stylised facts of firm dynamics measured on pooled replications.

The firm-year observations come from the batch engine (runs that keep a panel); the report
that sets them beside their references is :mod:`sim.app.report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.batch.runner import BatchOptions, RunSpec, run_batch
from sim.io.files import load_rules, load_scenario
from sim.io.run_store import RUNS_DIR, load_table


@dataclass
class Panel:
    """Firm-level observations pooled over replications of the scenario."""

    revenue_end: np.ndarray  # revenue of live firms at the end year, 万元
    growth: np.ndarray  # yearly log revenue growth of surviving firms
    size: np.ndarray  # log revenue at the start of each growth year
    rd_intensity: np.ndarray  # R&D ÷ revenue of R&D performers, all firm-years
    rd_intensity_no_bunching: np.ndarray
    notches: np.ndarray  # the rule set's R&D-intensity thresholds
    frames: list[pd.DataFrame]  # each replication's firm-year panel (live firms after each year)
    series: pd.DataFrame  # each replication's year-level outcomes (column ``key``)


def _collect(
    scenario_path: Path, seeds: list[int], overrides: list[str], out: Path, options: BatchOptions
) -> tuple[list, list, list, list, list, pd.DataFrame]:
    specs = [
        RunSpec("validation", str(scenario_path), tuple(overrides), r, seed, panel=True)
        for r, seed in enumerate(seeds)
    ]
    keys = run_batch(specs, out, options)
    revenue, growth, size, intensity, frames = [], [], [], [], []
    for key in keys:
        rows = pd.read_parquet(out / RUNS_DIR / key / "panel.parquet")
        frames.append(rows)
        for _, s in rows.groupby("year", sort=True):
            old = s["revenue_prev"].to_numpy() > 0
            rev, prev, rd = (s[c].to_numpy() for c in ("revenue", "revenue_prev", "rd"))
            growth.append(np.log(rev[old] / prev[old]))
            size.append(np.log(prev[old]))
            has_rd = rd > 0
            intensity.append(rd[has_rd] / rev[has_rd])
        revenue.append(rev)
    return revenue, growth, size, intensity, frames, load_table(out, keys, "series")


def panel(scenario_path: Path, seeds: list[int], out: Path, options: BatchOptions) -> Panel:
    """Run the scenario at ``seeds`` through the batch engine and pool the observations."""
    rev, growth, size, intensity, frames, series = _collect(scenario_path, seeds, [], out, options)
    plain = _collect(scenario_path, seeds, ["dynamics.bunching_probability=0.0"], out, options)[3]
    notches = load_rules(load_scenario(scenario_path).run.rules).notches("rd_intensity")
    return Panel(
        np.concatenate(rev),
        np.concatenate(growth),
        np.concatenate(size),
        np.concatenate(intensity),
        np.concatenate(plain),
        notches,
        frames,
        series,
    )


def exit_profile(frames: list[pd.DataFrame], oldest: int = 12) -> tuple[pd.DataFrame, float]:
    """Exit hazard by age at the exit test, and the overall exit rate, pooled over replications.

    A firm in year t's panel but not in year t + 1's exited in t + 1, at age (its age in t) + 1
    (ages from ``oldest`` on are pooled). Returns the table (age, firms at risk, exits, hazard)
    and exits ÷ firms at risk over all ages.
    """
    at_risk = np.zeros(oldest + 1)
    exits = np.zeros(oldest + 1)
    for frame in frames:
        years = sorted(frame["year"].unique())
        by_year = {y: g for y, g in frame.groupby("year")}
        for y, nxt in zip(years, years[1:], strict=False):
            now = by_year[y]
            age = np.minimum(now["age"].to_numpy() + 1, oldest)
            gone = ~now["firm_id"].isin(by_year[nxt]["firm_id"]).to_numpy()
            at_risk += np.bincount(age, minlength=oldest + 1)
            exits += np.bincount(age[gone], minlength=oldest + 1)
    table = pd.DataFrame({"age": np.arange(1, oldest + 1), "at_risk": at_risk[1:], "exits": exits[1:]})
    table["hazard"] = table["exits"] / table["at_risk"].where(table["at_risk"] > 0)
    return table, float(exits.sum() / at_risk.sum())


def national_shares(frames: list[pd.DataFrame], held: str) -> np.ndarray:
    """National niche shares, own ÷ (own + rivals), of the holders of ``held`` in each end year."""
    shares = []
    for frame in frames:
        end = frame[(frame["year"] == frame["year"].max()) & frame[held]]
        own = (end["revenue"] * end["main_share"]).to_numpy()
        shares.append(own / (own + end["niche_rivals"].to_numpy()))
    return np.concatenate(shares)


def hill_tail_index(x: np.ndarray, top_share: float = 0.05) -> float:
    """Hill estimator of the Pareto tail index from the largest ``top_share`` of values."""
    x = np.sort(x[x > 0])[::-1]
    k = max(int(len(x) * top_share), 10)
    return float(1.0 / np.mean(np.log(x[:k] / x[k])))


def growth_shape(g: np.ndarray) -> dict[str, float]:
    """Excess kurtosis and the log-likelihood gain of a Laplace over a normal fit per observation."""
    g = g[np.isfinite(g)]
    loc, scale = stats.laplace.fit(g)
    mu, sd = stats.norm.fit(g)
    gain = np.mean(stats.laplace.logpdf(g, loc, scale) - stats.norm.logpdf(g, mu, sd))
    return {
        "excess_kurtosis": float(stats.kurtosis(g)),
        "laplace_gain": float(gain),
        "laplace_scale": float(scale),
    }


def size_scaling(g: np.ndarray, size: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Slopes of mean growth and of log sd(growth) on log size across size deciles."""
    edges = np.quantile(size, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, size, side="right") - 1, 0, bins - 1)
    centres = np.array([size[which == b].mean() for b in range(bins)])
    means = np.array([g[which == b].mean() for b in range(bins)])
    sds = np.array([g[which == b].std() for b in range(bins)])
    return {
        "mean_slope": float(np.polyfit(centres, means, 1)[0]),
        "sd_slope": float(np.polyfit(centres, np.log(sds), 1)[0]),
    }


def bunching_ratio(x: np.ndarray, notch: float, width: float = 0.1) -> float:
    """Firms just above a notch over firms just below it (within ``width`` relative)."""
    above = np.count_nonzero((x >= notch) & (x < notch * (1 + width)))
    below = np.count_nonzero((x >= notch * (1 - width)) & (x < notch))
    return above / below if below else np.inf
