"""Global sensitivity analysis (``ladder sensitivity``): which uncertain inputs move the outcomes.

The experiment file uses the ordinary schema (:mod:`sim.experiment`), so that it validates and
loads like every other experiment:

* ``[experiment]`` — exactly one scenario, ``replications`` per sample point (run on common
  random numbers: replication *i* of every point shares its seed), ``seed``, ``years`` and
  optionally ``outcomes`` (default: :data:`DEFAULT_OUTCOMES`);
* ``[design]`` — ``method = "lhs"`` and ``samples = 1`` only because the schema needs them to
  accept ranges (both are ignored here: SALib draws the points), ``seed`` seeds SALib's sampler,
  and every ``[[design.parameters]]`` needs ``low`` < ``high`` (``integer = true`` rounds the
  value a run gets; the analysis uses the unrounded sample).

Sample sizes are command-line options, not file keys, because they depend on the method and the
schema forbids unknown keys: ``--samples`` is the number of Morris trajectories *r* (default 10;
*r* × (k + 1) points for k parameters) or the Sobol base size *N* (default 64, a power of two;
*N* × (k + 2) points, first-order and total indices only), ``--levels`` the Morris grid (even).

Cost per additional firm of a tier (``cost_per_additional_<tier>``) needs what the levers buy,
so each run with levers is paired with a run of the same point and seed without any lever
(``levers={}`` applied last). Points that differ only in lever parameters share that
counterfactual, and the batch runner executes identical runs once. The ratio is Δ mean total
spend ÷ Δ mean end stock over the replications; where the gain is ≤ 0 it is not defined (NaN).
SALib's estimators need complete trajectories (Morris) or base-sample blocks (Sobol), so an
outcome's non-finite points drop their whole block; the number kept is reported, and an outcome
with fewer than two blocks left is skipped rather than given indices it cannot support.

All runs go through one :func:`sim.batch.runner.run_batch` call: parallel, and resumable (the same
command skips every finished run). Outputs: ``indices.csv`` / ``indices.parquet`` (long: one row
per outcome and parameter), ``points.parquet`` (each sample point's values and outcome means),
``sensitivity.png`` / ``.svg`` and ``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.runs import check_outcomes, end_outcomes
from sim.batch.design import expand
from sim.batch.runner import BatchOptions, RunSpec, run_batch
from sim.core.errors import InputError
from sim.core.vocab import TIER_IDS
from sim.io.experiment_file import Arm, SweptParameter, load_experiment
from sim.io.files import file_hash
from sim.io.results import write_csv, write_parquet
from sim.io.run_store import load_table

METHODS = ("morris", "sobol")
DEFAULT_SAMPLES = {"morris": 10, "sobol": 64}
DEFAULT_OUTCOMES = (
    "stock.innovative",
    "stock.srdi",
    "stock.little_giant",
    "stock.single_champion",
    "spend_total",
    "cost_per_additional_little_giant",
)
COST_PREFIX = "cost_per_additional_"
NO_LEVERS = "levers={}"
CONF_LEVEL = 0.95
RESAMPLES = 1000
MAIN_INDEX = {"morris": ("mu_star", "mu_star_conf"), "sobol": ("ST", "ST_conf")}
BLOCKS = {"morris": "trajectories", "sobol": "base samples"}  # units SALib's estimators need whole


# ---------------------------------------------------------------------------- library API


@dataclass
class SensitivityResult:
    """What a sensitivity analysis found, and what it ran."""

    indices: pd.DataFrame
    notes: dict[str, str]
    outcomes: list[str]
    points: pd.DataFrame
    specs: list[RunSpec]
    keys: list[str]
    manifest: dict = field(default_factory=dict)


@dataclass
class SensitivityPlan:
    """A validated analysis, sampled and turned into run specs; nothing run yet."""

    experiment: str
    method: str
    samples: int
    levels: int
    replications: int
    outcomes: list[str]
    params: list[SweptParameter]
    problem: dict
    x: np.ndarray
    points: list
    paired: bool
    specs: list[RunSpec]
    roles: pd.DataFrame
    sample_seed: int
    base_seed: int
    folder: Path  # the default results folder, ``results/<experiment name>-<method>``


def plan_sensitivity(
    experiment: str, method: str, samples: int | None, levels: int, replications: int | None = None
) -> SensitivityPlan:
    """Validate the experiment and draw the sample: every refusal happens here, before any run."""
    exp, arms = load_experiment(experiment)
    meta, params = exp.experiment, exp.design.parameters
    samples = samples if samples is not None else DEFAULT_SAMPLES[method]
    _check(experiment, arms, params, method, samples, levels)
    outcomes = list(meta.outcomes) or list(DEFAULT_OUTCOMES)
    _check_outcomes(experiment, outcomes)
    reps = replications or meta.replications
    problem = salib_problem(params)
    x = draw(problem, method, samples, levels, exp.design.seed)
    points = [_point(params, row) for row in x]
    paired = any(o.startswith(COST_PREFIX) for o in outcomes)
    specs, roles = build_specs(arms[0], points, reps, meta.seed, meta.years, paired)
    folder = Path("results") / f"{meta.name}-{method}"
    return SensitivityPlan(
        experiment, method, samples, levels, reps, outcomes, params, problem, x, points, paired, specs,
        roles, exp.design.seed, meta.seed, folder,
    )  # fmt: skip


def run_sensitivity(
    plan: SensitivityPlan, out: Path, options: BatchOptions, begin: Callable[[], None] = lambda: None
) -> SensitivityResult:
    """Run every point through the batch engine (resumably) and analyse.

    Writes ``indices.csv``/``.parquet`` and ``points.parquet`` into ``out``, calling ``begin``
    first (the caller's :meth:`~sim.io.folder.ResultsFolder.begin`); the caller draws the chart
    and writes the manifest.
    """
    keys = run_batch(plan.specs, out, options)
    begin()
    table = point_outcomes(out, plan.roles, keys, plan.outcomes, len(plan.points))
    table.insert(0, "point", range(len(plan.points)))
    for k, param in enumerate(plan.params):
        table.insert(1 + k, f"param.{param.path}", [point[k][1] for point in plan.points])
    write_parquet(table, out / "points.parquet", missing_ok=True)
    indices, notes = analyse(
        plan.problem, plan.x, table[plan.outcomes], plan.method, plan.levels, plan.sample_seed
    )
    write_csv(indices, out / "indices.csv")
    write_parquet(indices, out / "indices.parquet", missing_ok=True)
    manifest = {
        "experiment": {"path": plan.experiment, "sha256": file_hash(plan.experiment)},
        "method": plan.method,
        "samples": plan.samples,
        "levels": plan.levels if plan.method == "morris" else None,
        "sample_seed": plan.sample_seed,
        "base_seed": plan.base_seed,
        "replications": plan.replications,
        "parameters": [{"path": p.path, "low": p.low, "high": p.high} for p in plan.params],
        "outcomes": plan.outcomes,
        "sample_points": len(plan.points),
        "paired_without_levers": plan.paired,
        "distinct_runs": len(set(keys)),
        "notes": notes,
    }
    return SensitivityResult(indices, notes, plan.outcomes, table, plan.specs, keys, manifest)


def _check(
    path: str, arms: list[Arm], params: list[SweptParameter], method: str, samples: int, levels: int
) -> None:
    """Reject what SALib would fail on (or silently bias) before any run starts."""
    if len(arms) != 1:
        raise InputError(f"{path}: experiment.scenarios: sensitivity takes exactly one scenario")
    if not params:
        raise InputError(f"{path}: design.parameters: sensitivity needs at least one parameter")
    for k, p in enumerate(params):  # the experiment file checks low < high and unique paths
        if p.low is None or p.high is None:
            raise InputError(f"{path}: design.parameters[{k}] ({p.path}): needs a range (low, high)")
    if method == "sobol" and (samples < 2 or samples & (samples - 1)):
        raise InputError(f"--samples {samples}: Sobol needs a power of two ≥ 2 (e.g. 64)")
    if method == "morris" and samples < 2:
        raise InputError(f"--samples {samples}: Morris needs at least 2 trajectories")
    if method == "morris" and (levels < 2 or levels % 2):
        raise InputError(f"--levels {levels}: Morris needs an even number of levels ≥ 2")


def _check_outcomes(path: str, outcomes: list[str]) -> None:
    check_outcomes(path, outcomes, extra={f"{COST_PREFIX}{tier}" for tier in TIER_IDS})


# ---------------------------------------------------------------------------- sampling and runs


def salib_problem(params: list[SweptParameter]) -> dict:
    """SALib's problem: one variable per design parameter, named by its dotted path."""
    return {
        "num_vars": len(params),
        "names": [p.path for p in params],
        "bounds": [[float(p.low), float(p.high)] for p in params],  # type: ignore[arg-type]
    }


def draw(problem: dict, method: str, samples: int, levels: int, seed: int) -> np.ndarray:
    """The sample matrix (one row per point), reproducible from ``seed``."""
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, samples, num_levels=levels, seed=seed)
    from SALib.sample import sobol

    return sobol.sample(problem, samples, calc_second_order=False, seed=seed)


def _point(params: list[SweptParameter], row: np.ndarray) -> tuple[tuple[str, float], ...]:
    return tuple((p.path, int(round(v)) if p.integer else float(v)) for p, v in zip(params, row, strict=True))


def build_specs(
    arm: Arm,
    points: list[tuple[tuple[str, float], ...]],
    replications: int,
    seed: int,
    years: int | None,
    paired: bool,
) -> tuple[list[RunSpec], pd.DataFrame]:
    """Run specs of every point × replication (and its no-lever twin when ``paired``).

    Returns the specs and, row for row, which point, replication and arm each belongs to.
    """
    specs: list[RunSpec] = []
    rows = []
    for k, point in enumerate(points):
        for spec in expand([replace(arm, label=f"point-{k}")], replications, seed, [point], years):
            specs.append(spec)
            rows.append((k, spec.replication, "levers"))
            if paired:
                # after the point's overrides, so lever parameters vanish and twins coincide
                specs.append(
                    replace(spec, label=f"point-{k}-no-levers", overrides=(*spec.overrides, NO_LEVERS))
                )
                rows.append((k, spec.replication, "none"))
    return specs, pd.DataFrame(rows, columns=["point", "replication", "arm"])


def point_outcomes(
    out_dir: Path, roles: pd.DataFrame, keys: list[str], outcomes: list[str], n_points: int
) -> pd.DataFrame:
    """Per sample point, the mean over replications of each outcome (cost ratios paired)."""
    ends = end_outcomes(load_table(out_dir, keys, "series"))
    runs = roles.assign(key=keys).join(ends, on="key")
    with_levers = runs[runs["arm"] == "levers"].set_index(["point", "replication"])
    table = pd.DataFrame(index=pd.RangeIndex(n_points, name="point"))
    plain = [o for o in outcomes if not o.startswith(COST_PREFIX)]
    table[plain] = with_levers.groupby(level="point")[plain].mean()
    ratios = [o for o in outcomes if o.startswith(COST_PREFIX)]
    if ratios:
        cols = ["spend_total", *(f"stock.{o.removeprefix(COST_PREFIX)}" for o in ratios)]
        without = runs[runs["arm"] == "none"].set_index(["point", "replication"])
        gain = (with_levers[cols] - without[cols].reindex(with_levers.index)).groupby(level="point").mean()
        for outcome, stock in zip(ratios, cols[1:], strict=True):
            table[outcome] = (gain["spend_total"] / gain[stock]).where(gain[stock] > 0)
    return table[outcomes].reset_index(drop=True)


# ---------------------------------------------------------------------------- analysis


def analyse(
    problem: dict, x: np.ndarray, y: pd.DataFrame, method: str, levels: int, seed: int
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Indices per outcome (long table) and a note for each outcome partly or wholly left out."""
    k = problem["num_vars"]
    block = k + 1 if method == "morris" else k + 2  # a trajectory, or A, AB_1..AB_k, B
    n_blocks = len(x) // block
    unit = BLOCKS[method]
    frames, notes = [], {}
    for outcome in y.columns:
        values = y[outcome].to_numpy(dtype=float).reshape(n_blocks, block)
        keep = np.isfinite(values).all(axis=1)
        if keep.sum() < 2:
            notes[outcome] = f"not computed: only {keep.sum()} of {n_blocks} {unit} have finite values"
            continue
        if not keep.all():
            notes[outcome] = f"{keep.sum()} of {n_blocks} {unit} used (the rest have undefined values)"
        yk = values[keep].ravel()
        if method == "sobol" and np.ptp(yk) == 0:
            notes[outcome] = "not computed: the outcome is constant, no variance to apportion"
            continue
        xk = x.reshape(n_blocks, block, k)[keep].reshape(-1, k)
        frame = _indices(problem, xk, yk, method, levels, seed)
        frames.append(frame.assign(outcome=outcome, blocks_used=int(keep.sum()), blocks_total=n_blocks))
    if not frames:
        return pd.DataFrame(), notes
    table = pd.concat(frames, ignore_index=True)
    main = MAIN_INDEX[method][0]
    table["rank"] = table.groupby("outcome")[main].rank(ascending=False, method="min").astype(int)
    first = ["outcome", "parameter", "method", "rank"]
    return table[first + [c for c in table.columns if c not in first]], notes


def _indices(
    problem: dict, x: np.ndarray, y: np.ndarray, method: str, levels: int, seed: int
) -> pd.DataFrame:
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(
            problem, x, y, num_resamples=RESAMPLES, conf_level=CONF_LEVEL, num_levels=levels, seed=seed
        )
        cols = ["mu", "mu_star", "mu_star_conf", "sigma"]
    else:
        from SALib.analyze import sobol

        res = sobol.analyze(
            problem, y, calc_second_order=False, num_resamples=RESAMPLES, conf_level=CONF_LEVEL, seed=seed
        )
        cols = ["S1", "S1_conf", "ST", "ST_conf"]
    body = {c: np.asarray(res[c], dtype=float) for c in cols}
    return pd.DataFrame({"parameter": problem["names"], "method": method, **body})


def ranking_table(indices: pd.DataFrame, notes: dict[str, str], outcomes: list[str]) -> str:
    """Terminal table: per outcome, parameters from most to least influential."""
    lines: list[str] = []
    for outcome in outcomes:
        lines.append("")
        lines.append(f"{outcome}" + (f"  — {notes[outcome]}" if outcome in notes else ""))
        rows = indices[indices["outcome"] == outcome] if len(indices) else indices
        if not len(rows):
            continue
        morris = rows["method"].iloc[0] == "morris"
        head = ("μ*", "±95%", "μ", "σ") if morris else ("ST", "±95%", "S1", "±95%")
        cols = ("mu_star", "mu_star_conf", "mu", "sigma") if morris else ("ST", "ST_conf", "S1", "S1_conf")
        lines.append(f"  {'#':>2} {'parameter':<46}" + "".join(f"{h:>12}" for h in head))
        for r in rows.sort_values("rank").itertuples():
            cells = "".join(f"{getattr(r, c):>12.4g}" for c in cols)
            lines.append(f"  {r.rank:>2} {r.parameter:<46}{cells}")
    return "\n".join(lines)
