"""The cheapest package for a target: an Optuna search over lever values, judged by compare.

Every trial is one package — the target file's package with its levers at the values Optuna
proposes — compared with :mod:`sim.analysis.compare` against the economy's no-policy
counterfactual on the same replications (common random numbers). So a trial's "additional
firms", its cost by year and paying level and the probability of meeting each goal are the
figures ``ladder compare`` gives for that package; the no-policy runs are shared by every trial
(same run keys), and each run goes through the batch engine (:func:`run_batch`).

The search is Optuna's multi-objective TPE sampler: minimise the mean cost over the simulated
years and maximise the expected additional firms of each goal's tier by its year, under
constraints (each goal met with its probability, each budget cap kept). The cheapest package
meeting every constraint is then re-run on fresh seeds (``confirm_replications``, base seed
``seed + 1``), because the trial that looks cheapest on the search's own replications is
flattered by them (the winner's curse); the confirmation gives its intervals.

Resuming: the trials are kept in Optuna's journal (``journal.log``) and the runs under
``runs/``. Run again, the search reads its finished trials from the journal and evaluates none
of them again. The sampler is re-created before each trial, seeded from the number of finished
trials, and it sees only finished trials: so the trial that was running when the search was
killed is proposed again at the same lever values, its runs that had finished are read from
disk (no run executes twice), and a search that was killed and resumed proposes the same
packages as one that ran through.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from sim.analysis import compare as cmp
from sim.analysis.runs import batch_index
from sim.batch.design import expand
from sim.batch.runner import BatchOptions, pooled, run_batch
from sim.core.errors import InputError
from sim.io.experiment_file import Arm
from sim.io.files import file_hash, load_scenario, run_identity
from sim.io.target_file import Goal, TargetSpec, lever_overrides

JOURNAL = "journal.log"
CONFIRM_SEED_OFFSET = 1  # the confirmation's base seed: the search's + 1, so its seeds are fresh


@dataclass
class Evaluation:
    """One package's compare summary and the figures the search judges it by."""

    label: str
    values: dict[str, float]
    summary: pd.DataFrame
    figures: dict
    index: pd.DataFrame  # the compare's run index (package and no-policy runs)
    plan: cmp.Plan


def goal_size(goal: Goal) -> int:
    """The number a goal asks for (its stock, new certificates or new certificates a year)."""
    return next(int(v) for v in (goal.added, goal.per_year, goal.stock) if v is not None)


def goal_text(goal: Goal) -> str:
    """A goal in words, e.g. ``little_giant: 75 new certificates 2024–2024, P ≥ 0.8``."""
    if goal.stock is not None:
        what = f"a stock of {goal.stock:,} at the end of {goal.by_year}"
    elif goal.added is not None:
        what = f"{goal.added:,} new certificates by the end of {goal.by_year}"
    else:
        what = f"{goal.per_year:,} new certificates in every year to {goal.by_year}"
    return f"{goal.tier}: {what}, with probability ≥ {goal.probability:g}"


def trial_label(number: int) -> str:
    """A trial's package label in its compare."""
    return f"trial-{number:04d}"


def evaluate(
    spec: TargetSpec,
    values: dict[str, float],
    label: str,
    out: Path,
    options: BatchOptions,
    replications: int,
    seed: int,
) -> Evaluation:
    """Compare the package at ``values`` with the no-policy run; judge it against goals and budget."""
    arm = Arm(label, spec.economy, spec.package, tuple(lever_overrides(values)))
    the_plan = cmp.plan([arm], years=spec.years)
    the_plan = replace(the_plan, targets={label: list(spec.file.goals)})
    specs = expand(the_plan.arms, replications, seed, years=spec.years)
    keys = run_batch(specs, out, options)
    index = batch_index(specs, keys)
    summary = cmp.compare_summary(out, index, the_plan)
    return Evaluation(label, values, summary, judge(spec, summary, label), index, the_plan)


def judge(spec: TargetSpec, summary: pd.DataFrame, label: str) -> dict:
    """Cost, per-goal probability and additional firms, and each constraint's violation (> 0)."""
    mine = summary[summary["package"] == label]
    total = mine[mine["metric"] == "cost_total"].iloc[0]
    figures: dict = {
        "cost_mean": float(total["mean"]),
        "cost_ci_low": _num(total["ci_low"]),
        "cost_ci_high": _num(total["ci_high"]),
    }
    violations: dict[str, float] = {}
    for k, goal in enumerate(spec.file.goals):
        prob = _metric(mine, "target_probability", k)
        short = _metric(mine, "target_shortfall", k)
        add = mine[
            (mine["metric"] == "additional") & (mine["tier"] == goal.tier) & (mine["year"] == goal.by_year)
        ]
        p = _num(prob["mean"]) if prob is not None else float("nan")
        figures |= {
            f"goal{k}_probability": p,
            f"goal{k}_probability_ci_low": _num(prob["ci_low"]) if prob is not None else float("nan"),
            f"goal{k}_probability_ci_high": _num(prob["ci_high"]) if prob is not None else float("nan"),
            f"goal{k}_shortfall": _num(short["mean"]) if short is not None else float("nan"),
            f"goal{k}_additional": float(add["mean"].iloc[0]),
            f"goal{k}_additional_ci_low": _num(add["ci_low"].iloc[0]),
            f"goal{k}_additional_ci_high": _num(add["ci_high"].iloc[0]),
            f"goal{k}_additional_status": str(add["status"].iloc[0]),
        }
        violations[f"goal{k}"] = goal.probability - (p if np.isfinite(p) else 0.0)
    figures["worst_year_spend"] = _worst_year(mine, None)
    budget = spec.file.budget
    if budget.per_year is not None:
        violations["budget"] = figures["worst_year_spend"] - budget.per_year
    for level, cap in budget.per_level.items():
        figures[f"worst_year_spend_{level}"] = _worst_year(mine, level)
        violations[f"budget_{level}"] = figures[f"worst_year_spend_{level}"] - cap
    figures["violations"] = violations
    figures["meets_goals"] = all(v <= 0 for k, v in violations.items() if k.startswith("goal"))
    figures["within_budget"] = all(v <= 0 for k, v in violations.items() if k.startswith("budget"))
    return figures


def _metric(mine: pd.DataFrame, metric: str, k: int) -> pd.Series | None:
    rows = mine[(mine["metric"] == metric) & (mine["lever"].astype(str).str.startswith(f"target[{k}] "))]
    return rows.iloc[0] if len(rows) else None


def _worst_year(mine: pd.DataFrame, level: str | None) -> float:
    """The highest mean spend of any simulated year (all levers; one paying level or all)."""
    cost = mine[(mine["metric"] == "cost") & mine["year"].notna()]
    if level is not None:
        cost = cost[cost["level"] == level]
    per_year = cost.groupby("year")["mean"].sum()
    return float(per_year.max()) if len(per_year) else 0.0


def _num(value) -> float:
    return float(value) if value is not None and pd.notna(value) else float("nan")


# ---------------------------------------------------------------------------- the search


def _identity(spec: TargetSpec) -> str:
    """What a journal's trials depend on: the target file's bytes and the resolved package on its economy.

    The resolved scenario (with the files it extends and its rule sets) rather than the two files'
    bytes, so that an edit to a file they extend is seen too.
    """
    base = run_identity(load_scenario(spec.economy, [], spec.package))
    return hashlib.sha256(json.dumps([file_hash(spec.path), base], sort_keys=True).encode()).hexdigest()


def _suggest(trial: optuna.Trial, spec: TargetSpec) -> dict[str, float]:
    values = {}
    for lever in spec.file.levers:
        if lever.values is not None:
            values[lever.path] = lever.cast(trial.suggest_categorical(lever.path, lever.values))
        elif lever.integer:
            values[lever.path] = trial.suggest_int(lever.path, int(round(lever.low)), int(round(lever.high)))
        else:
            values[lever.path] = trial.suggest_float(lever.path, lever.low, lever.high)
    return values


def open_study(spec: TargetSpec, out: Path) -> optuna.Study:
    """The search's study in its journal, created or resumed; a journal of another search is refused."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    out.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    directions = ["minimize", *["maximize"] * len(spec.file.goals)]
    study = optuna.create_study(
        study_name=spec.file.target.name, storage=storage, directions=directions, load_if_exists=True
    )
    identity = _identity(spec)
    written_for = study.user_attrs.get("identity")
    if written_for is None:
        study.set_user_attr("identity", identity)
    elif written_for != identity:
        raise InputError(
            f"{out / JOURNAL}: written by a search on other files (the target file, its economy or package "
            "changed since); choose another --out or delete the folder to start afresh"
        )
    _close_interrupted(study)
    return study


def _close_interrupted(study: optuna.Study) -> None:
    """Mark the trial a killed search left running as failed (it is proposed again, see module doc)."""
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def search(
    spec: TargetSpec, out: Path, options: BatchOptions, progress: Callable[[int, dict], None] | None = None
) -> optuna.Study:
    """Run (or resume) the search until the file's number of trials have finished."""
    size = spec.file.search
    study = open_study(spec, out)
    with pooled(options) as opts:

        def objective(trial: optuna.Trial) -> list[float]:
            values = _suggest(trial, spec)
            ev = evaluate(spec, values, trial_label(trial.number), out, opts, size.replications, size.seed)
            for key, value in ev.figures.items():
                trial.set_user_attr(key, value)
            for name, excess in ev.figures["violations"].items():  # > 0: the constraint is broken
                trial.set_constraint(name, excess)
            goals = [ev.figures[f"goal{k}_additional"] for k in range(len(spec.file.goals))]
            return [ev.figures["cost_mean"], *goals]

        while len(done := _complete(study)) < size.trials:
            study.sampler = optuna.samplers.TPESampler(
                seed=size.seed + len(done),
                n_startup_trials=size.startup_trials,
                multivariate=True,
            )
            study.optimize(objective, n_trials=1, catch=())
            if progress:
                progress(len(_complete(study)), study.trials[-1].user_attrs)
    return study


# ---------------------------------------------------------------------------- results


def trials_table(study: optuna.Study, spec: TargetSpec) -> pd.DataFrame:
    """Every finished trial: its lever values, cost, goal figures and whether it is feasible."""
    rows = []
    for t in _complete(study):
        attrs = {k: v for k, v in t.user_attrs.items() if k != "violations"}
        rows.append({"trial": t.number, **{p.path: t.params[p.path] for p in spec.file.levers}, **attrs})
    table = pd.DataFrame(rows)
    table["feasible"] = table["meets_goals"] & table["within_budget"]
    return table.sort_values("cost_mean", kind="stable").reset_index(drop=True)


def pareto_front(trials: pd.DataFrame, goal: int) -> pd.DataFrame:
    """Trials within budget that no other trial within budget beats on both cost and goal ``goal``'s firms.

    Sorted by cost; a trial is on the front when it adds more firms than every cheaper one.
    """
    column = f"goal{goal}_additional"
    pool = trials[trials["within_budget"]].sort_values(["cost_mean", column], ascending=[True, False])
    best = -np.inf
    keep = []
    for idx, value in pool[column].items():
        if value > best:
            keep.append(idx)
            best = value
    return pool.loc[keep].assign(goal=goal)


def cheapest(trials: pd.DataFrame) -> pd.Series | None:
    """The cheapest trial that meets every goal within the budget, if any."""
    feasible = trials[trials["feasible"]]
    return None if feasible.empty else feasible.sort_values("cost_mean", kind="stable").iloc[0]


def best_reachable(trials: pd.DataFrame, spec: TargetSpec) -> list[dict]:
    """Per goal, the highest probability and the largest mean additional firms of trials within budget."""
    pool = trials[trials["within_budget"]]
    out = []
    for k, goal in enumerate(spec.file.goals):
        if pool.empty:
            out.append({"goal": k, "tier": goal.tier, "trial": None})
            continue
        top = pool.sort_values([f"goal{k}_probability", f"goal{k}_shortfall"], ascending=[False, True]).iloc[
            0
        ]
        most = pool.loc[pool[f"goal{k}_additional"].idxmax()]
        out.append(
            {
                "goal": k,
                "tier": goal.tier,
                "trial": int(top["trial"]),
                "probability": float(top[f"goal{k}_probability"]),
                "shortfall": float(top[f"goal{k}_shortfall"]),
                # the largest mean on the search's own replications: the best of many noisy means,
                # so biased upward (the confirmation re-runs the reported package on fresh seeds)
                "additional": float(most[f"goal{k}_additional"]),
                "additional_trial": int(most["trial"]),
                "cost_mean": float(top["cost_mean"]),
            }
        )
    return out


# ---------------------------------------------------------------------------- one command


@dataclass
class TargetResult:
    """What a finished search found, and the re-run of the package it reports."""

    trials: pd.DataFrame
    front: pd.DataFrame
    reachable: list[dict]
    chosen: pd.Series | None  # the cheapest feasible trial, if any
    confirmed: Evaluation | None  # the reported package on fresh seeds
    role: str  # "cheapest feasible" or "best reachable"


def confirm_choice(trials: pd.DataFrame, spec: TargetSpec) -> tuple[pd.Series | None, str]:
    """The trial to report: the cheapest feasible one, else the one closest to meeting every goal.

    Closest: within budget, the highest smallest-goal probability, then the lowest total
    shortfall relative to each goal, then the lowest cost.
    """
    chosen = cheapest(trials)
    if chosen is not None:
        return chosen, "cheapest feasible"
    pool = trials[trials["within_budget"]].copy()
    if pool.empty:
        return None, "none within budget"
    goals = spec.file.goals
    pool["_p"] = pool[[f"goal{k}_probability" for k in range(len(goals))]].fillna(0.0).min(axis=1)
    pool["_s"] = sum(
        pool[f"goal{k}_shortfall"].fillna(0.0) / max(1, goal_size(g)) for k, g in enumerate(goals)
    )
    best = pool.sort_values(["_p", "_s", "cost_mean"], ascending=[False, True, True], kind="stable").iloc[0]
    return best.drop(["_p", "_s"]), "best reachable"


def run_target(
    spec: TargetSpec, out: Path, options: BatchOptions, progress: Callable[[int, dict], None] | None = None
) -> TargetResult:
    """Search (or resume), then re-run the package it reports on fresh seeds."""
    study = search(spec, out, options, progress)
    trials = trials_table(study, spec)
    front = pd.concat([pareto_front(trials, k) for k in range(len(spec.file.goals))], ignore_index=True)
    reported, role = confirm_choice(trials, spec)
    confirmed = None
    size = spec.file.search
    if reported is not None and size.confirm_replications:
        values = {p.path: p.cast(reported[p.path]) for p in spec.file.levers}
        with pooled(options) as opts:
            confirmed = evaluate(
                spec,
                values,
                trial_label(int(reported["trial"])),
                out,
                opts,
                size.confirm_replications,
                size.seed + CONFIRM_SEED_OFFSET,
            )
    return TargetResult(trials, front, best_reachable(trials, spec), cheapest(trials), confirmed, role)
