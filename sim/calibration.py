"""Calibration to observed counts by the simulated method of moments.

A calibration file names a scenario, the parameters to fit (dotted paths with bounds), and the
observed targets, each a *moment* of the model's state at the end of its warm-up (the last
observed year) with a weight and a role: ``fit`` targets enter the objective, ``check`` targets
are kept aside as out-of-sample checks. The objective is

    J(θ) = Σ_fit w_k · ((m̄_k(θ) − o_k) / o_k)²,

with m̄_k the mean of moment k over R replications on common random numbers (the same seeds at
every θ, so J is a deterministic function of θ). It is minimised with scipy's bounded
Nelder–Mead in the unit cube (parameters mapped linearly or logarithmically to their bounds).
Outputs: the fitted values as a scenario overlay that ``extends`` the scenario, the fit table
(observed, simulated mean and 90 % interval, relative error) and the objective per evaluation.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import tomli_w
from pydantic import Field, ValidationError, model_validator
from scipy.optimize import minimize

from sim import __version__
from sim.runner import replication_seed
from sim.scenario import ScenarioError, Section, file_hash, format_error, load

# ------------------------------------------------------------------------------- moments


def _held(model, tier: str) -> np.ndarray:
    return model.firms[f"held_{tier}"]


def _above(model) -> np.ndarray:
    return model.firms["revenue"] >= model.scenario.population.above_scale_revenue


def _mean_over(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else np.nan


def _rd_intensity(model) -> np.ndarray:
    rev = model.firms["revenue"]
    return np.divide(model.firms["rd"], rev, out=np.zeros_like(rev), where=rev > 0)


MOMENTS: dict[str, Callable] = {
    "above_scale_firms": lambda m: float(_above(m).sum()),
    "rd_total_above_scale": lambda m: float(m.firms["rd"][_above(m)].sum()),
    "rd_intensity_above_scale": lambda m: float(
        m.firms["rd"][_above(m)].sum() / max(m.firms["revenue"][_above(m)].sum(), 1e-9)
    ),
    "class1_ip_total": lambda m: float(m.firms["class1_ip"].sum()),
    "class1_ip_holders": lambda m: float((m.firms["class1_ip"] > 0).sum()),
    "little_giant_rd_intensity_mean": lambda m: _mean_over(_rd_intensity(m), _held(m, "little_giant")),
    "little_giant_class1_ip_mean": lambda m: _mean_over(
        m.firms["class1_ip"].astype(float), _held(m, "little_giant")
    ),
}


def moment(model, name: str) -> float:
    """Value of a named moment: the registry above, or ``stock|new|renewed|removed.<tier>``."""
    if name in MOMENTS:
        return MOMENTS[name](model)
    kind, _, tier = name.partition(".")
    if kind == "stock":
        return float(_held(model, tier).sum())
    return float(model.flows.counts[tier][kind])


def known_moment(name: str) -> bool:
    """Whether ``name`` is a moment this module can compute."""
    from sim.certification import FLOWS
    from sim.scenario import TIER_IDS

    kind, _, tier = name.partition(".")
    return name in MOMENTS or (kind in ("stock", *FLOWS) and tier in TIER_IDS)


# ------------------------------------------------------------------------------- the file


class Parameter(Section):
    """A fitted input: dotted path, bounds, scale, optional start (default: scenario value)."""

    path: str
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    start: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Parameter:
        if not self.low < self.high:
            raise ValueError(f"{self.path}: low must be below high")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"{self.path}: a log scale needs low > 0")
        if self.start is not None and not self.low <= self.start <= self.high:
            raise ValueError(f"{self.path}: start must lie within [low, high]")
        return self

    def to_value(self, u: float) -> float:
        """Unit-cube coordinate → parameter value."""
        u = float(np.clip(u, 0.0, 1.0))
        if self.scale == "log":
            value = float(np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low))))
        else:
            value = self.low + u * (self.high - self.low)
        return float(round(value)) if self.integer else value

    def to_unit(self, value: float) -> float:
        """Parameter value → unit-cube coordinate."""
        if self.scale == "log":
            return float((np.log(value) - np.log(self.low)) / (np.log(self.high) - np.log(self.low)))
        return float((value - self.low) / (self.high - self.low))


class Target(Section):
    """An observed moment with its weight, role and citation."""

    name: str
    moment: str
    observed: float
    weight: float = Field(default=1.0, ge=0.0)
    use: Literal["fit", "check"] = "fit"
    source: str
    note: str = ""  # why the model may miss it (shown in the validation report)

    @model_validator(mode="after")
    def _known(self) -> Target:
        if not known_moment(self.moment):
            raise ValueError(
                f"unknown moment {self.moment!r}; known: stock/new/renewed/removed.<tier>, "
                f"{', '.join(MOMENTS)}"
            )
        if self.observed == 0:
            raise ValueError(f"target {self.name}: observed must be non-zero (errors are relative)")
        return self


class CalibrationMeta(Section):
    """Which scenario, how many replications, and how hard to search."""

    name: str
    description: str = ""
    scenario: str
    replications: int = Field(ge=1, le=1000)
    final_replications: int = Field(default=0, ge=0, le=10000)
    seed: int = 0
    max_evaluations: int = Field(default=200, ge=1, le=100_000)
    overrides: list[str] = Field(default_factory=list)


class Calibration(Section):
    """A validated calibration file."""

    calibration: CalibrationMeta
    parameters: list[Parameter] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_fit_targets(self) -> Calibration:
        if not any(t.use == "fit" for t in self.targets):
            raise ValueError("at least one target must have use = 'fit'")
        return self


def load_calibration(path: str | Path) -> tuple[Calibration, Path]:
    """Validate a calibration file; return it and its scenario path."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: file not found")
    try:
        cal = Calibration.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ScenarioError(format_error(str(path), exc)) from None
    scenario = (path.parent / cal.calibration.scenario).resolve()
    try:
        load(scenario, cal.calibration.overrides)
        for p in cal.parameters:
            load(scenario, [*cal.calibration.overrides, f"{p.path}={p.to_value(0.5)!r}"])
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return cal, scenario


def _overrides(cal: Calibration, values: list[float]) -> list[str]:
    return [f"{p.path}={v!r}" for p, v in zip(cal.parameters, values, strict=False)]


# ------------------------------------------------------------------------------- evaluation


def simulate_moments(
    scenario: str, overrides: tuple[str, ...], seed: int, names: tuple[str, ...]
) -> list[float]:
    """Moments of one replication: the model's state at the end of its warm-up."""
    from sim.model import LadderModel

    model = LadderModel(load(scenario, list(overrides)), rng=seed, agents=False)
    return [moment(model, name) for name in names]


@dataclass
class Evaluator:
    """Mean moments over replications with common random numbers, run in parallel."""

    scenario: Path
    base_overrides: list[str]
    names: tuple[str, ...]
    seeds: list[int]
    workers: int
    pool: ProcessPoolExecutor | None = field(default=None, repr=False)

    def __enter__(self) -> Evaluator:
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def replications(self, overrides: list[str], seeds: list[int] | None = None) -> np.ndarray:
        """Moments per replication: array (replications, moments)."""
        task = partial(
            simulate_moments, str(self.scenario), tuple([*self.base_overrides, *overrides]), names=self.names
        )
        seeds = seeds or self.seeds
        rows = list(self.pool.map(task, seeds)) if self.pool else [task(s) for s in seeds]
        return np.array(rows, dtype=float)


def objective(simulated_mean: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> float:
    """Weighted sum of squared relative errors (NaN moments count as a 100 % miss)."""
    rel = (simulated_mean - observed) / observed
    rel = np.where(np.isfinite(rel), rel, 1.0)
    return float(np.sum(weights * rel**2))


@dataclass
class Fit:
    """Result of a calibration."""

    values: list[float]
    objective: float
    history: pd.DataFrame
    table: pd.DataFrame


def calibrate(cal: Calibration, scenario: Path, workers: int = 1, progress: Callable | None = None) -> Fit:
    """Minimise the objective over the parameters; return the fit and its table."""
    meta = cal.calibration
    fit_targets = [t for t in cal.targets if t.use == "fit"]
    names = tuple(dict.fromkeys(t.moment for t in cal.targets))
    fit_idx = [names.index(t.moment) for t in fit_targets]
    observed = np.array([t.observed for t in fit_targets])
    weights = np.array([t.weight for t in fit_targets])
    seeds = [replication_seed(meta.seed, r) for r in range(meta.replications)]
    base = load(scenario, list(meta.overrides))
    starts = [p.start if p.start is not None else _current(base, p.path) for p in cal.parameters]
    x0 = np.clip([p.to_unit(v) for p, v in zip(cal.parameters, starts, strict=True)], 0.0, 1.0)
    history: list[dict] = []

    with Evaluator(scenario, list(meta.overrides), names, seeds, workers) as ev:

        def j(u: np.ndarray) -> float:
            values = [p.to_value(x) for p, x in zip(cal.parameters, u, strict=True)]
            sims = ev.replications(_overrides(cal, values)).mean(axis=0)[fit_idx]
            value = objective(sims, observed, weights)
            history.append(
                {
                    "evaluation": len(history) + 1,
                    "objective": value,
                    **{p.path: v for p, v in zip(cal.parameters, values, strict=True)},
                }
            )
            if progress:
                progress(len(history), value)
            return value

        minimize(
            j,
            x0,
            method="Nelder-Mead",
            bounds=[(0.0, 1.0)] * len(x0),
            options={
                "maxfev": meta.max_evaluations,
                "xatol": 1e-3,
                "fatol": 1e-5,
                "initial_simplex": _simplex(x0),
            },
        )
        best = min(history, key=lambda h: h["objective"])
        values = [best[p.path] for p in cal.parameters]
        final_seeds = [
            replication_seed(meta.seed, r) for r in range(meta.final_replications or meta.replications)
        ]
        reps = ev.replications(_overrides(cal, values), final_seeds)
    return Fit(values, best["objective"], pd.DataFrame(history), fit_table(cal.targets, names, reps))


def _simplex(x0: np.ndarray) -> np.ndarray:
    """A starting simplex of 20 % steps, reflected inwards at the bounds."""
    pts = [x0]
    for i in range(len(x0)):
        p = x0.copy()
        p[i] = p[i] + 0.2 if p[i] + 0.2 <= 1.0 else p[i] - 0.2
        pts.append(p)
    return np.array(pts)


def _current(scenario, path: str) -> float:
    node = scenario.model_dump()
    for part in path.split("."):
        node = node[part]
    return float(node)


def fit_table(targets: list[Target], names: tuple[str, ...], reps: np.ndarray) -> pd.DataFrame:
    """Observed vs simulated (mean and 5–95 % interval over replications) per target."""
    rows = []
    for t in targets:
        col = reps[:, names.index(t.moment)]
        mean = float(np.nanmean(col))
        rows.append(
            {
                "target": t.name,
                "moment": t.moment,
                "use": t.use,
                "observed": t.observed,
                "simulated_mean": mean,
                "simulated_p05": float(np.nanpercentile(col, 5)),
                "simulated_p95": float(np.nanpercentile(col, 95)),
                "relative_error": (mean - t.observed) / t.observed,
                "source": t.source,
                "note": t.note,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- outputs


def overlay(
    cal: Calibration,
    scenario: Path,
    values: list[float],
    out: Path,
    calibration_file: Path,
    objective_value: float,
) -> Path:
    """Write the fitted values as a scenario that extends the calibrated one; return its path."""
    data: dict = {
        "extends": os.path.relpath(scenario, out.resolve()),
        "meta": {
            "name": f"{scenario.stem}-fitted",
            "description": f"{scenario.stem} with parameters fitted by {calibration_file.name}",
        },
    }
    cite = f"fitted by {calibration_file.name} (simulated method of moments, objective {objective_value:.4g})"
    for p, value in zip(cal.parameters, values, strict=True):
        *sections, key = p.path.split(".")
        node = data
        for s in sections:
            node = node.setdefault(s, {})
        node[key] = int(value) if p.integer else value
        owner_path, cited_key = _citation_slot(p.path)
        owner = data
        for s in owner_path:
            owner = owner.setdefault(s, {})
        owner.setdefault("sources", {})[cited_key] = cite
    path = out / f"{scenario.stem}-fitted.toml"
    path.write_text(
        f"# Written by `ladder calibrate {calibration_file}`; do not edit by hand.\n" + tomli_w.dumps(data),
        encoding="utf-8",
    )
    return path


def _citation_slot(path: str) -> tuple[list[str], str]:
    """Where a value's citation goes: the innermost scenario section on the path, and its key."""
    from sim.scenario import Scenario

    parts = path.split(".")
    cls: type = Scenario
    for depth, part in enumerate(parts):
        info = cls.model_fields.get(part)
        inner = [a for a in (info.annotation, *getattr(info.annotation, "__args__", ())) if info]
        section = next((a for a in inner if isinstance(a, type) and issubclass(a, Section)), None)
        if section is None or depth == len(parts) - 1:
            return parts[:depth], part
        cls = section
    return parts[:-1], parts[-1]


def write_outputs(
    cal: Calibration,
    scenario: Path,
    fit: Fit,
    out: Path,
    calibration_file: Path,
    argv: list[str],
    seconds: float,
) -> dict[str, Path]:
    """Overlay, fit table, history, objective plot and manifest."""
    from sim.plots import plot_objective

    out.mkdir(parents=True, exist_ok=True)
    paths = {"overlay": overlay(cal, scenario, fit.values, out, calibration_file, fit.objective)}
    fit.table.to_csv(out / "fit.csv", index=False)
    fit.history.to_csv(out / "history.csv", index=False)
    paths["fit"] = out / "fit.csv"
    paths["plot"] = plot_objective(fit.history, out / "objective.png")
    meta = cal.calibration
    manifest = {
        "calibration": {"path": str(calibration_file), "sha256": file_hash(calibration_file)},
        "scenario": {"path": str(scenario), "sha256": file_hash(scenario)},
        "replications": meta.replications,
        "final_replications": meta.final_replications or meta.replications,
        "base_seed": meta.seed,
        "evaluations": len(fit.history),
        "objective": fit.objective,
        "fitted": {p.path: v for p, v in zip(cal.parameters, fit.values, strict=True)},
        "package": {"name": "sme-ladder", "version": __version__},
        "command": argv,
        "wall_seconds": round(seconds, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return paths


def run_calibration(
    path: Path, out: Path | None, workers: int, quiet: bool, argv: list[str]
) -> tuple[Fit, dict]:
    """Load, fit and write everything; returns the fit and the written paths."""
    cal, scenario = load_calibration(path)
    out = out or Path("results") / cal.calibration.name
    started = time.perf_counter()
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=cal.calibration.max_evaluations, unit="eval", desc="calibrating")

    def progress(n: int, value: float) -> None:
        if bar is not None:
            bar.update()
            bar.set_postfix(objective=f"{value:.4g}")

    try:
        fit = calibrate(cal, scenario, workers, progress)
    finally:
        if bar is not None:
            bar.close()
    return fit, write_outputs(cal, scenario, fit, out, path, argv, time.perf_counter() - started)
