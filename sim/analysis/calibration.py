"""Calibration to observed counts by the simulated method of moments.

The file (:mod:`sim.io.calibration_file`) names the parameters and the observed moments. The
objective is

    J(θ) = Σ_fit w_k · ((m̄_k(θ) − o_k) / o_k)²,

with m̄_k the mean of moment k over R replications on common random numbers (the same seeds at
every θ, so J is a deterministic function of θ). A moment is a per-year outcome of the registry
read at the end of the warm-up (the first row of a run's series). Every evaluation is a batch
through :func:`sim.batch.runner.run_batch`, so an interrupted calibration, run again, replays
its finished evaluations from disk. J is minimised with scipy's bounded Nelder–Mead in the unit
cube (parameters mapped linearly or logarithmically to their bounds). Outputs: the fitted
values as a scenario overlay that ``extends`` the scenario, the fit table (observed, simulated
mean and 90 % interval, relative error) and the objective per evaluation (``history.csv``,
written as the fit goes), and each fitted parameter's standard error (:func:`standard_errors`).

Resuming: Nelder–Mead is deterministic and J depends only on the runs, which are stored by run
key under ``<out>/runs/``. Run again, the same calibration proposes the same points, finds their
runs on disk and executes only the runs it had not finished. ``runs/`` is the journal a resumed
calibration needs; ``history.csv`` is rewritten from the replayed evaluations.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w
from scipy.optimize import minimize

from sim.batch.runner import BatchOptions, RunSpec, pooled, replication_seed, run_batch
from sim.io.calibration_file import Calibration, ObservedTarget, overlay_layer, value_at
from sim.io.files import file_hash, load_scenario
from sim.io.results import write_csv
from sim.io.run_store import load_table

# A calibration run needs only the state at the end of the warm-up: one simulated year.
MOMENT_OVERRIDES = ("run.years=1",)
HISTORY = "history.csv"


def parameter_overrides(cal: Calibration, values: list[float]) -> list[str]:
    """``--set`` items that put the calibration's parameters at ``values``."""
    return [f"{p.path}={v!r}" for p, v in zip(cal.parameters, values, strict=False)]


# ------------------------------------------------------------------------------- evaluation


@dataclass
class Evaluator:
    """Moments per replication of a scenario at given parameters, through the batch engine.

    Runs are stored under ``out``; an evaluation already on disk is read back, not re-run.
    """

    scenario: Path
    base_overrides: list[str]
    names: tuple[str, ...]
    seeds: list[int]
    out: Path
    options: BatchOptions

    def replications(self, overrides: list[str], seeds: list[int] | None = None) -> np.ndarray:
        """Moments per replication: array (replications, moments)."""
        seeds = seeds or self.seeds
        ovr = (*self.base_overrides, *overrides, *MOMENT_OVERRIDES)
        specs = [
            RunSpec(label="calibration", scenario=str(self.scenario), overrides=ovr, replication=r, seed=s)
            for r, s in enumerate(seeds)
        ]
        keys = run_batch(specs, self.out, self.options)
        series = load_table(self.out, keys, "series")
        first = series.sort_values("year").groupby("key").head(1).set_index("key")
        return first.loc[keys, list(self.names)].to_numpy(dtype=float)


def objective(simulated_mean: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> float:
    """Weighted sum of squared relative errors (NaN moments count as a 100 % miss)."""
    rel = (simulated_mean - observed) / observed
    rel = np.where(np.isfinite(rel), rel, 1.0)
    return float(np.sum(weights * rel**2))


class History:
    """The objective per evaluation, appended to ``history.csv`` as each evaluation completes.

    Each row is flushed, so a killed calibration leaves every evaluation it finished. The file
    is rewritten from the first evaluation on every run rather than appended to: a resumed
    calibration replays its evaluations from the runs on disk, so the rows come back without
    duplicates and are always those of the current calibration file (a journal of objective
    values would go stale if the targets were edited, while the runs cannot).
    """

    def __init__(self, path: Path, parameters: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parameters = parameters
        self.rows: list[dict] = []
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(
            self._file, ["evaluation", "objective", *parameters], lineterminator="\n"
        )
        self._writer.writeheader()
        self._file.flush()

    def add(self, objective_value: float, values: list[float]) -> None:
        """Record one evaluation (floats are written exactly: ``repr`` round-trips)."""
        row = {
            "evaluation": len(self.rows) + 1,
            "objective": objective_value,
            **dict(zip(self.parameters, values, strict=True)),
        }
        self.rows.append(row)
        self._writer.writerow(row)
        self._file.flush()

    def best(self) -> dict:
        """The evaluation with the lowest objective (the first of equals)."""
        return min(self.rows, key=lambda row: row["objective"])

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


@dataclass
class Fit:
    """Result of a calibration."""

    values: list[float]
    objective: float
    history: pd.DataFrame
    table: pd.DataFrame
    parameters: pd.DataFrame  # value, bounds and standard error per fitted parameter


def fitted_moments(cal: Calibration, names: tuple[str, ...]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The ``fit`` targets: their moments' positions in ``names``, observed values and weights."""
    fit_targets = [t for t in cal.targets if t.use == "fit"]
    return (
        [names.index(t.moment) for t in fit_targets],
        np.array([t.observed for t in fit_targets]),
        np.array([t.weight for t in fit_targets]),
    )


def calibrate(
    cal: Calibration, scenario: Path, out: Path, options: BatchOptions, progress: Callable | None = None
) -> Fit:
    """Minimise the objective over the parameters; return the fit and its table.

    Each evaluation is appended to ``<out>/history.csv`` as it completes.
    """
    meta = cal.calibration
    names = tuple(dict.fromkeys(t.moment for t in cal.targets))
    fit_idx, observed, weights = fitted_moments(cal, names)
    seeds = [replication_seed(meta.seed, r) for r in range(meta.replications)]
    base = load_scenario(scenario, list(meta.overrides)).model_dump()
    starts = [p.start if p.start is not None else value_at(base, p.path) for p in cal.parameters]
    x0 = np.clip([p.to_unit(v) for p, v in zip(cal.parameters, starts, strict=True)], 0.0, 1.0)

    with History(out / HISTORY, [p.path for p in cal.parameters]) as history, pooled(options) as opts:
        ev = Evaluator(scenario, list(meta.overrides), names, seeds, out, opts)

        def j(u: np.ndarray) -> float:
            values = [p.to_value(x) for p, x in zip(cal.parameters, u, strict=True)]
            sims = ev.replications(parameter_overrides(cal, values)).mean(axis=0)[fit_idx]
            value = objective(sims, observed, weights)
            history.add(value, values)
            if progress:
                progress(len(history.rows), value)
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
        best = history.best()
        values = [best[p.path] for p in cal.parameters]
        final_seeds = [
            replication_seed(meta.seed, r) for r in range(meta.final_replications or meta.replications)
        ]
        reps = ev.replications(parameter_overrides(cal, values), final_seeds)

        def moments(vals: list[float]) -> np.ndarray:
            return ev.replications(parameter_overrides(cal, vals)).mean(axis=0)[fit_idx]

        errors = standard_errors(cal, values, moments, reps[:, fit_idx], observed, weights)
    table = fit_table(cal.targets, names, reps)
    return Fit(values, best["objective"], pd.DataFrame(history.rows), table, errors)


SE_STEP = 0.02  # finite-difference step in the unit cube (2 % of each parameter's range)


def standard_errors(
    cal: Calibration,
    values: list[float],
    moments: Callable[[list[float]], np.ndarray],
    replicated: np.ndarray,
    observed: np.ndarray,
    weights: np.ndarray,
) -> pd.DataFrame:
    """Standard errors of the fitted parameters by the simulated-method-of-moments sandwich.

    V(θ̂) = (1 + 1/R) · (G'WG)⁻¹ G'WΩWG (G'WG)⁻¹ (Gouriéroux & Monfort 1996, *Simulation-Based
    Econometric Methods*, ch. 2; McFadden 1989): G = ∂m̄/∂θ by central differences on common
    random numbers, W = diag(w_k / o_k²) the objective's weights, Ω the covariance of the
    moments over the R final replications at θ̂. The observed counts are one realisation of
    the economy, so Ω is their sampling variance too. A parameter the moments do not pin down
    (G'WG singular) gets no error (empty, ``identified`` false), never a small one; with one
    final replication Ω cannot be estimated and every error is empty.
    """
    G = np.empty((len(observed), len(values)))
    for i, p in enumerate(cal.parameters):
        u = p.to_unit(values[i])
        lo, hi = max(u - SE_STEP, 0.0), min(u + SE_STEP, 1.0)
        down, up = list(values), list(values)
        down[i], up[i] = p.to_value(lo), p.to_value(hi)
        if up[i] == down[i]:  # an integer parameter whose step rounds away
            G[:, i] = 0.0
            continue
        G[:, i] = (moments(up) - moments(down)) / (up[i] - down[i])
    W = np.diag(weights / observed**2)
    r = len(replicated)
    bread = G.T @ W @ G
    se = np.full(len(values), np.nan)
    identified = bool(np.linalg.matrix_rank(bread) == len(values))
    if identified and r >= 2:  # Ω needs two replications at least
        omega = np.atleast_2d(np.cov(replicated, rowvar=False))
        inv = np.linalg.inv(bread)
        cov = (1.0 + 1.0 / r) * inv @ (G.T @ W @ omega @ W @ G) @ inv
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return pd.DataFrame(
        {
            "parameter": [p.path for p in cal.parameters],
            "value": values,
            "low": [p.low for p in cal.parameters],
            "high": [p.high for p in cal.parameters],
            "standard_error": se,
            "relative_standard_error": se / np.abs(np.asarray(values, dtype=float)),
            "identified": identified,
        }
    )


def _simplex(x0: np.ndarray) -> np.ndarray:
    """A starting simplex of 20 % steps, reflected inwards at the bounds."""
    pts = [x0]
    for i in range(len(x0)):
        p = x0.copy()
        p[i] = p[i] + 0.2 if p[i] + 0.2 <= 1.0 else p[i] - 0.2
        pts.append(p)
    return np.array(pts)


def fit_table(targets: list[ObservedTarget], names: tuple[str, ...], reps: np.ndarray) -> pd.DataFrame:
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
    cite = f"fitted by {calibration_file.name} (simulated method of moments, objective {objective_value:.4g})"
    data: dict = {
        "extends": os.path.relpath(scenario, out.resolve()),
        "meta": {
            "name": f"{scenario.stem}-fitted",
            "description": f"{scenario.stem} with parameters fitted by {calibration_file.name}",
        },
        **overlay_layer(load_scenario(scenario), cal.parameters, values, cite),
    }
    path = out / f"{scenario.stem}-fitted.toml"
    path.write_text(
        f"# Written by `ladder calibrate {calibration_file}`; do not edit by hand.\n" + tomli_w.dumps(data),
        encoding="utf-8",
    )
    return path


def write_outputs(
    cal: Calibration, scenario: Path, fit: Fit, out: Path, calibration_file: Path
) -> tuple[dict[str, Path], dict]:
    """Overlay, fit table and history; returns their paths and the manifest's content."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"overlay": overlay(cal, scenario, fit.values, out, calibration_file, fit.objective)}
    write_csv(fit.table, out / "fit.csv")
    paths["fit"] = out / "fit.csv"
    write_csv(fit.parameters, out / "parameters.csv")
    paths["parameters"] = out / "parameters.csv"
    paths["history"] = out / HISTORY  # written as the fit went (:class:`History`)
    meta = cal.calibration
    info = {
        "calibration": {"path": str(calibration_file), "sha256": file_hash(calibration_file)},
        "scenario": {"path": str(scenario), "sha256": file_hash(scenario)},
        "replications": meta.replications,
        "final_replications": meta.final_replications or meta.replications,
        "base_seed": meta.seed,
        "evaluations": len(fit.history),
        "objective": fit.objective,
        "fitted": {p.path: v for p, v in zip(cal.parameters, fit.values, strict=True)},
        "standard_errors": {
            name: (float(se) if np.isfinite(se) else None)
            for name, se in zip(fit.parameters["parameter"], fit.parameters["standard_error"], strict=True)
        },
    }
    return paths, info


def run_calibration(
    path: Path, cal: Calibration, scenario: Path, out: Path, options: BatchOptions, quiet: bool
) -> tuple[Fit, dict[str, Path], dict]:
    """Fit a loaded calibration (:func:`load_calibration`) and write the tables into ``out``.

    Returns the fit, the paths written and the manifest's content.
    """
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=cal.calibration.max_evaluations, unit="eval", desc="calibrating")

    def progress(n: int, value: float) -> None:
        if bar is not None:
            bar.update()
            bar.set_postfix(objective=f"{value:.4g}")

    try:
        fit = calibrate(cal, scenario, out, replace(options, progress=False), progress)
    finally:
        if bar is not None:
            bar.close()
    paths, info = write_outputs(cal, scenario, fit, out, path)
    return fit, paths, info
