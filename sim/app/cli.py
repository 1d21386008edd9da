"""The ``ladder`` command line.

Bad input (a scenario that does not validate, a missing file, a malformed ``--set``) ends with
one line on stderr naming the file, the key and what is allowed, and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from sim.core.errors import InputError

EXIT_BAD_INPUT = 2


def _run(args: argparse.Namespace) -> int:
    from sim.core.model import LadderModel, check_quota_units
    from sim.io.files import load_scenario, rule_sets_of
    from sim.io.firm_file import firms_of
    from sim.io.folder import ResultsFolder
    from sim.io.machine import check_memory
    from sim.io.results import atomic_write, command_line, manifest, write_tables
    from sim.plots.charts import TierNames, plot_budget, plot_tiers

    overrides = list(args.set or [])
    if args.years is not None:
        overrides.append(f"run.years={args.years}")
    scenario = load_scenario(args.scenario, overrides)
    check_memory(scenario, args.scenario, agents=True)
    try:  # every input checked before the output folder is touched
        rule_sets = rule_sets_of(scenario)
        check_quota_units(rule_sets.values(), dict(scenario.certification.quota_units))
        firms = firms_of(scenario, rule_sets[scenario.run.rules])
    except InputError as exc:
        raise InputError(f"{args.scenario}: {exc}") from None
    out = Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-{args.seed}"
    started = time.perf_counter()
    with ResultsFolder(out) as folder:
        try:
            model = LadderModel(scenario, rule_sets, rng=args.seed, firms=firms)
            model.run_model()
            folder.begin()
            tables = write_tables(model, out, ledger_firms=args.ledger == "firms")
        except InputError as exc:  # the rules and the scenario disagree, or the model left its range
            raise InputError(f"{args.scenario}: {exc}") from None
        paths = {name: out / name for name in tables}
        name, names = scenario.meta.name, TierNames(model.rules)
        tiers = tables["tiers.parquet"]
        paths["tiers.png"] = out / "tiers.png"
        title = f"{name}: firms per tier (seed {args.seed})"
        atomic_write(paths["tiers.png"], lambda tmp: plot_tiers(tiers, names, tmp, title))
        ledger = tables["ledger.parquet"]
        years = list(range(scenario.run.start_year, model.year + 1))
        if len(ledger) and ledger["amount_wan"].any():
            paths["budget.png"] = out / "budget.png"
            title = f"{name}: spend by lever and paying level"
            atomic_write(paths["budget.png"], lambda tmp: plot_budget(ledger, years, tmp, title))
        info = manifest(model, args.scenario, args.seed, command_line(), time.perf_counter() - started)
        info |= _firm_file_info(firms)
        paths["manifest.json"] = folder.commit(info)
    for tier, want in scenario.certification.initial.items():
        got = model.placed.get(tier, 0)
        if got < want:
            print(
                f"note: only {got} of {want} initial {tier} certificates could be placed "
                "(too few firms pass the rule at the start)",
                file=sys.stderr,
            )
    print(
        f"{scenario.meta.name}: {scenario.run.years} years to {model.year}, seed {args.seed}, "
        f"{model.firms.n} live firms at the end"
    )
    _print_imputed(firms)
    last = model.datacollector.get_model_vars_dataframe().iloc[-1]
    for tier in model.rules.order:
        print(f"  {tier:<18} {int(last[f'stock.{tier}']):>7}")
    print(f"results: {out}/ ({', '.join(p.name for p in paths.values())})")
    spend = model.policy.ledger.total()
    if spend > 0:
        print(f"  spend {spend:,.1f} 万元 over {scenario.run.years} years")
    charts = [str(paths[c]) for c in ("tiers.png", "budget.png") if c in paths]
    print(
        f"charts:  {', '.join(charts)}" + ("" if "budget.png" in paths else " (no payments: no budget chart)")
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from sim.io.files import describe

    for line in describe(args.scenario, list(args.set or [])):
        print(line)
    return 0


def _batch_info(kind: str, specs, extra: dict, started: float) -> dict:
    """A batch folder's manifest: what was run, from which files, with which version."""
    from sim import __version__
    from sim.io.files import file_hash
    from sim.io.results import command_line

    scenarios = sorted({s.scenario for s in specs} | {s.package for s in specs if s.package})
    return {
        "kind": kind,
        **extra,
        "scenarios": [{"path": p, "sha256": file_hash(p)} for p in scenarios],
        "runs": len(specs),
        "seeds": sorted({s.seed for s in specs}),
        "package": {"name": "sme-ladder", "version": __version__},
        "command": command_line(),
        "wall_seconds": round(time.perf_counter() - started, 3),
    }


def _batch_folder(out: Path):
    """A batch's results folder: it keeps the finished runs (``runs/``) a re-run resumes from."""
    from sim.io.folder import ResultsFolder
    from sim.io.run_store import RUNS_DIR

    return ResultsFolder(out, keep=(RUNS_DIR,))


def _is_experiment(path: str) -> bool:
    import tomllib

    try:
        return "experiment" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def _compare_arms(args: argparse.Namespace):
    """The compared arms, replications, seed, years, reference and name, from files or an experiment."""
    from sim.io.experiment_file import Arm, load_experiment, unique_labels
    from sim.io.files import file_hash

    extra: dict = {}
    versus = args.versus
    if len(args.files) == 1 and args.economy is None and _is_experiment(args.files[0]):
        exp, arms = load_experiment(args.files[0])
        if exp.design.parameters:
            raise InputError(
                f"{args.files[0]}: design: compare runs the packages as they are; "
                "a design of parameter points is for ladder sweep (or ladder sensitivity)"
            )
        meta = exp.experiment
        reps = meta.replications if args.reps is None else args.reps
        seed = meta.seed if args.seed is None else args.seed
        years = meta.years if args.years is None else args.years
        versus = versus or meta.versus
        extra["experiment"] = {"path": args.files[0], "sha256": file_hash(args.files[0])}
        name = meta.name
    else:
        if args.economy is not None:
            economy = Path(args.economy).resolve()
            arms = [Arm(Path(p).stem, economy, Path(p).resolve()) for p in args.files]
        else:
            arms = [Arm(Path(p).stem, Path(p).resolve()) for p in args.files]
        arms = unique_labels(arms)
        reps, seed, years = (100 if args.reps is None else args.reps), args.seed or 0, args.years
        name = "compare-" + "-".join(arm.label for arm in arms)
    if versus is not None and Path(versus).is_file() and Path(versus).stem not in {a.label for a in arms}:
        # a package (or scenario) named only as the reference joins the comparison
        first = arms[0]
        path = Path(versus).resolve()
        arms = unique_labels(
            [
                *arms,
                Arm(path.stem, first.scenario if first.package else path, path if first.package else None),
            ]
        )
        versus = path.stem
    elif versus is not None and Path(versus).is_file():
        versus = Path(versus).stem
    return arms, reps, seed, years, versus, name, extra


def _compare(args: argparse.Namespace) -> int:
    from sim.analysis import compare as cmp
    from sim.analysis.runs import batch_index
    from sim.batch.design import expand
    from sim.io.experiment_file import check_runs
    from sim.io.results import write_csv, write_parquet
    from sim.plots.charts import plot_folder

    started = time.perf_counter()
    arms, reps, seed, years, versus, name, extra = _compare_arms(args)
    the_plan = cmp.plan(arms, versus, years)  # every file validated, one economy, before any run
    out = Path(args.out) if args.out else Path("results") / name
    check_runs(args.files[0], 1, len(the_plan.arms), reps)
    specs = expand(the_plan.arms, reps, seed, years=years)
    with _batch_folder(out) as folder:
        index = batch_index(specs, _execute(specs, out, args))
        summary = cmp.compare_summary(out, index, the_plan)
        rules = the_plan.rules
        tables = cmp.output_tables(summary, rules)
        folder.begin()
        write_parquet(index, out / "index.parquet")
        write_parquet(summary, out / "summary.parquet", missing_ok=True)
        for file, table in tables.items():
            write_csv(table, out / file)
        written = plot_folder(out, rules, the_plan.reference)
        info = {
            **extra,
            "economy": the_plan.economy_name,
            "rules": the_plan.economy.run.rules,
            "labels": the_plan.labels,
            "reference": the_plan.reference,
            "replications": reps,
            "base_seed": seed,
        }
        folder.commit(_batch_info("compare", specs, info, started))
    print(cmp.print_table(summary, the_plan))
    print(f"\nresults: {out}/ ({', '.join(tables)}, summary.parquet, manifest.json, runs/)")
    print(f"plots:   {', '.join(str(p) for p in written)}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from sim.analysis.runs import batch_index, check_outcomes, sweep_tables
    from sim.batch.design import design_points, expand
    from sim.io.experiment_file import check_runs, load_experiment
    from sim.io.files import file_hash
    from sim.io.results import write_parquet

    started = time.perf_counter()
    exp, paths = load_experiment(args.experiment)
    meta = exp.experiment
    points = design_points(exp.design)
    out = Path(args.out) if args.out else Path("results") / meta.name
    check_outcomes(args.experiment, meta.outcomes)
    reps = args.reps or meta.replications
    check_runs(args.experiment, len(points), len(paths), reps)
    specs = expand(paths, reps, meta.seed, points, meta.years)
    with _batch_folder(out) as folder:
        index = batch_index(specs, _execute(specs, out, args))
        runs, series = sweep_tables(out, index, meta.outcomes)
        folder.begin()
        write_parquet(index, out / "index.parquet")
        write_parquet(runs, out / "runs.parquet")
        write_parquet(series, out / "series.parquet")
        info = {
            "experiment": {"path": args.experiment, "sha256": file_hash(args.experiment)},
            "design_points": len(points),
            "replications": reps,
            "base_seed": meta.seed,
        }
        folder.commit(_batch_info("sweep", specs, info, started))
    print(f"{len(points)} design points × {len(paths)} scenario(s) × {reps} replications = {len(specs)} runs")
    print(f"results: {out}/ (runs.parquet, series.parquet, manifest.json, runs/)")
    return 0


def _target(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sim.analysis import compare as cmp
    from sim.analysis.target import CONFIRM_SEED_OFFSET, JOURNAL, goal_text, run_target
    from sim.io.folder import ResultsFolder
    from sim.io.results import write_csv, write_parquet
    from sim.io.run_store import RUNS_DIR
    from sim.io.target_file import load_target, write_package
    from sim.plots.charts import plot_folder, plot_pareto

    started = time.perf_counter()
    spec = load_target(args.target)  # every refusal before the folder is touched
    size = spec.file.search
    out = Path(args.out) if args.out else Path("results") / spec.file.target.name
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=size.trials, unit="package", desc="searching")

    def progress(n: int, figures: dict) -> None:
        if bar is not None:
            bar.n = n
            bar.set_postfix(cost=f"{figures.get('cost_mean', float('nan')):,.0f}")
            bar.refresh()

    with ResultsFolder(out, keep=(RUNS_DIR, JOURNAL)) as folder:
        folder.begin()  # the trials are journalled as the search goes: the earlier outputs go first
        try:
            result = run_target(spec, out, replace(_options(args), progress=False), progress)
        finally:
            if bar is not None:
                bar.close()
        write_csv(result.trials, out / "trials.csv")
        write_csv(result.front, out / "pareto.csv")
        written = plot_pareto(result.trials, result.front, spec.file.goals, out)
        info: dict = {
            "target": {"path": str(spec.path), "sha256": _sha(spec.path)},
            "economy": str(spec.economy),
            "package_searched": str(spec.package),
            "trials": int(len(result.trials)),
            "replications": size.replications,
            "base_seed": size.seed,
            "goals": [goal_text(g) for g in spec.file.goals],
            "reported": result.role,
            "best_reachable": result.reachable,
        }
        if result.confirmed is not None:
            ev = result.confirmed
            label = ev.label
            rules = ev.plan.rules
            write_parquet(ev.index, out / "index.parquet")
            write_parquet(ev.summary, out / "summary.parquet", missing_ok=True)
            for file, table in cmp.output_tables(ev.summary, rules).items():
                write_csv(table, out / file)
            package = write_package(
                spec, ev.values, out / f"package-{label}.toml", f"{result.role} package of {spec.path.name}"
            )
            written += plot_folder(out, rules, cmp.NO_POLICY)
            info |= {
                "rules": ev.plan.economy.run.rules,
                "labels": ev.plan.labels,
                "reference": cmp.NO_POLICY,
                "confirmation": {
                    "trial": label,
                    "replications": size.confirm_replications,
                    "base_seed": size.seed + CONFIRM_SEED_OFFSET,
                    "package": package.name,
                    "figures": _plain(ev.figures),
                },
            }
        folder.commit(_target_info(info, started))
    print(_target_text(spec, result))
    print(f"\nresults: {out}/ (trials.csv, pareto.csv, {JOURNAL}, manifest.json, runs/)")
    print(f"charts:  {', '.join(str(p) for p in written)}")
    return 0


def _sha(path: Path) -> str:
    from sim.io.files import file_hash

    return file_hash(path)


def _plain(figures: dict) -> dict:
    """JSON-safe figures: NaN becomes null."""
    import math

    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in figures.items()}


def _target_info(info: dict, started: float) -> dict:
    from sim import __version__
    from sim.io.results import command_line

    return {
        "kind": "target",
        **info,
        "package": {"name": "sme-ladder", "version": __version__},
        "command": command_line(),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def _target_text(spec, result) -> str:
    """What the search found, in words a planner reads: every figure says what it is set against."""
    from sim.analysis.target import CONFIRM_SEED_OFFSET, goal_text

    size = spec.file.search
    end = spec.start_year + spec.years - 1
    lines = [
        f"{spec.file.target.name}: {len(result.trials)} packages tried ({spec.package.name} with "
        f"{len(spec.file.levers)} levers varied), each on {size.replications} replications against the "
        f"economy's no-policy run on the same seeds, {spec.start_year}–{end}",
        "goals:",
        *[f"  {k}. {goal_text(g)}" for k, g in enumerate(spec.file.goals)],
    ]
    budget = spec.file.budget
    caps = [f"{budget.per_year:,.0f} 万元 a year in all"] if budget.per_year is not None else []
    caps += [f"{cap:,.0f} 万元 a year by the {level} level" for level, cap in budget.per_level.items()]
    lines.append("budget: " + ("; ".join(caps) + " (mean spend of any one year)" if caps else "none"))
    if result.chosen is not None:
        c = result.chosen
        lines.append(
            f"\ncheapest package meeting every goal within budget: trial {int(c['trial'])}, mean cost {c['cost_mean']:,.0f} 万元 over {spec.years} year(s) (search replications)"
        )
    else:
        lines.append(
            "\nno package within the bounds meets every goal within budget; best reachable within budget:"
        )
        for r in result.reachable:
            if r["trial"] is None:
                lines.append(f"  {r['goal']}. {r['tier']}: no trial kept the budget")
                continue
            lines.append(
                f"  {r['goal']}. {r['tier']}: P = {r['probability']:.2f} at best (trial {r['trial']}, expected "
                f"shortfall {r['shortfall']:,.1f}); largest mean on the search's replications {r['additional']:+,.1f} "
                f"additional firms against no policy (trial {r['additional_trial']}; a search maximum, biased upward)"
            )
    ev = result.confirmed
    if ev is not None:
        f = ev.figures
        lines.append(
            f"\n{result.role} package re-run on {size.confirm_replications} fresh replications (seed {size.seed + CONFIRM_SEED_OFFSET}):"
        )
        lines += [f"  {path} = {value!r}" for path, value in ev.values.items()]
        lines.append(
            f"  mean cost {f['cost_mean']:,.0f} 万元 [{f['cost_ci_low']:,.0f}, {f['cost_ci_high']:,.0f}] over {spec.years} year(s)"
        )
        for k, goal in enumerate(spec.file.goals):
            p = f[f"goal{k}_probability"]
            add = f[f"goal{k}_additional"]
            status = f[f"goal{k}_additional_status"]
            effect = (
                f"{add:+,.1f} [{f[f'goal{k}_additional_ci_low']:+,.1f}, {f[f'goal{k}_additional_ci_high']:+,.1f}]"
                if status != "n.s."
                else f"n.s. ({add:+,.1f})"
            )
            verdict = "met" if p >= goal.probability else "NOT met"
            lines.append(
                f"  {k}. {goal.tier}: P = {p:.2f} [{f[f'goal{k}_probability_ci_low']:.2f}, "
                f"{f[f'goal{k}_probability_ci_high']:.2f}] ({verdict} at ≥ {goal.probability:g}); "
                f"additional firms against no policy by {goal.by_year}: {effect}"
            )
    if len(result.front):
        lines.append(
            "\nPareto front within budget (cost against expected additional firms, search replications):"
        )
        for k, goal in enumerate(spec.file.goals):
            part = result.front[result.front["goal"] == k]
            pts = ", ".join(
                f"{r.cost_mean:,.0f} 万元 → {getattr(r, f'goal{k}_additional'):+,.1f}"
                for r in part.itertuples()
            )
            lines.append(f"  {goal.tier} by {goal.by_year}: {pts}")
    return "\n".join(lines)


def _options(args: argparse.Namespace):
    from sim.batch.runner import BatchOptions

    return BatchOptions(
        workers=args.workers, backend=args.backend, scheduler=args.scheduler, progress=not args.quiet
    )


def _execute(specs, out: Path, args: argparse.Namespace) -> list[str]:
    from sim.batch.runner import run_batch

    return run_batch(specs, out, _options(args))


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.analysis.sensitivity import plan_sensitivity, ranking_table, run_sensitivity
    from sim.plots.charts import plot_indices

    started = time.perf_counter()
    plan = plan_sensitivity(args.experiment, args.method, args.samples, args.levels, args.reps)
    out = Path(args.out) if args.out else plan.folder
    with _batch_folder(out) as folder:
        result = run_sensitivity(plan, out, _options(args), folder.begin)
        charts = plot_indices(result.indices, out) if len(result.indices) else []
        folder.commit(_batch_info("sensitivity", result.specs, result.manifest, started))
    paired = result.manifest["paired_without_levers"]
    arm_text = " (each paired with a run without levers)" if paired else ""
    print(
        f"{args.method}: {result.manifest['sample_points']} sample points × "
        f"{result.manifest['replications']} replication(s){arm_text} = "
        f"{len(result.specs)} runs, {len(set(result.keys))} distinct"
    )
    print(ranking_table(result.indices, result.notes, result.outcomes))
    written = ["indices.csv", "indices.parquet", "points.parquet", "manifest.json", "runs/"]
    print(f"\nresults: {out}/ ({', '.join(written)})")
    if charts:
        print(f"chart:   {', '.join(str(p) for p in charts)}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from pyarrow import ArrowException

    from sim.io.folder import ResultsFolder
    from sim.plots.charts import plot_folder

    folder = Path(args.folder)
    with ResultsFolder(folder, amend=True) as results:  # refuses an incomplete or altered folder
        try:
            written = plot_folder(folder)
        except (OSError, ArrowException, KeyError) as exc:
            raise InputError(
                f"{folder}: cannot read its tables ({exc}); run the command that wrote it again"
            ) from None
        if not written:
            raise InputError(
                f"{folder}: no summary.parquet (compare), runs.parquet (sweep) or indices.parquet here"
            )
        results.begin()
        results.commit({})
    print("\n".join(str(p) for p in written))
    return 0


def _report(args: argparse.Namespace) -> int:
    from sim.app.handout import PAGE, render
    from sim.io.folder import ResultsFolder, verified
    from sim.io.results import atomic_write
    from sim.plots.charts import plot_folder

    folder = Path(args.folder)
    with ResultsFolder(folder, amend=True) as results:  # refuses an incomplete or altered folder
        results.begin()
        if not any(name.endswith(".png") for name in verified(folder, charts=False).get("files", {})):
            plot_folder(folder)  # a sweep's charts are drawn on request (`ladder plot`): the page needs them
        page = render(folder, charts_checked=False)
        atomic_write(folder / PAGE, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
        results.commit({})
    print(f"report: {folder / PAGE} (self-contained: open it in a browser, print it to PDF from there)")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from sim import __version__
    from sim.analysis.calibration import run_calibration
    from sim.batch.runner import BatchOptions
    from sim.io.calibration_file import load_calibration
    from sim.io.results import command_line
    from sim.plots.charts import plot_objective

    started = time.perf_counter()
    options = BatchOptions(workers=args.workers, progress=False)
    path = Path(args.calibration)
    cal, scenario = load_calibration(path)  # every refusal before the folder is touched
    out = Path(args.out) if args.out else Path("results") / cal.calibration.name
    with _batch_folder(out) as folder:
        folder.begin()  # the history is written as the fit goes: the earlier fit's files go first
        fit, paths, info = run_calibration(path, cal, scenario, out, options, args.quiet)
        paths["plot"] = plot_objective(fit.history, out / "objective.png")
        info |= {
            "kind": "calibration",
            "package": {"name": "sme-ladder", "version": __version__},
            "command": command_line(),
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        folder.commit(info)
    table = fit.table
    print(f"objective {fit.objective:.4g} after {len(fit.history)} evaluations")
    print(f"{'target':<58}{'use':>6}{'observed':>12}{'simulated [90 %]':>30}{'error':>9}")
    for row in table.itertuples():
        interval = f"{row.simulated_mean:,.4g} [{row.simulated_p05:,.4g}, {row.simulated_p95:,.4g}]"
        print(
            f"{row.target[:57]:<58}{row.use:>6}{row.observed:>12,.4g}{interval:>30}{row.relative_error:>+9.1%}"
        )
    print(f"overlay: {paths['overlay']}\nfit table: {paths['fit']}\nplot: {paths['plot']}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from sim.app.report import write_report

    path = write_report(Path(args.out), workers=args.workers or os.cpu_count() or 1)
    print(f"validation report: {path}")
    return 0


# ---------------------------------------------------------------------------- ladder cultivate


def _firm_file_info(firms) -> dict:
    """A manifest's record of the firm file: path, checksum, firms, and what was imputed."""
    if firms is None:
        return {}
    return {
        "firm_file": {
            "path": firms.source,
            "sha256": firms.sha256,
            "firms": len(firms),
            "imputed": firms.imputed,
        }
    }


def _print_imputed(firms) -> None:
    """Say which attributes were drawn from the scenario's distributions, for how many firms."""
    if firms is None:
        return
    parts = [f"{name} {n}" for name, n in firms.imputed.items()]
    print(
        f"firm file {firms.source}: {len(firms)} firms; imputed from the scenario's distributions "
        f"(attribute, firms): {', '.join(parts) or 'nothing'}"
    )


def _cultivate(args: argparse.Namespace) -> int:
    """Cultivation lists: every firm's gaps to every tier it does not hold, closest firms first."""
    from sim.analysis.cultivation import cultivation_lists
    from sim.core.model import LadderModel
    from sim.core.vocab import TIER_IDS
    from sim.io.files import load_scenario, rule_sets_of
    from sim.io.firm_file import firms_of
    from sim.io.folder import ResultsFolder
    from sim.io.results import command_line, write_csv, write_xlsx

    started = time.perf_counter()
    overrides = list(args.set or [])
    if args.years is not None:
        overrides.append(f"run.years={args.years}")
    scenario = load_scenario(args.scenario, overrides)
    stem = Path(args.scenario).stem
    out = Path(args.out) if args.out else Path("results") / f"cultivate-{stem}-{args.at}-{args.seed}"
    try:  # the firm file is checked before the output folder is touched
        rule_sets = rule_sets_of(scenario)
        firms = firms_of(scenario, rule_sets[scenario.run.rules])
    except InputError as exc:
        raise InputError(f"{args.scenario}: {exc}") from None
    with ResultsFolder(out) as folder:
        try:
            model = LadderModel(scenario, rule_sets, rng=args.seed, agents=False, firms=firms)
            if args.at == "end":
                model.run_model()
        except InputError as exc:
            raise InputError(f"{args.scenario}: {exc}") from None
        state = model.firms
        holds = {t: state[f"held_{t}"] for t in TIER_IDS}
        judged_as_read = firms is not None and args.at == "start"
        ranking, gaps = cultivation_lists(
            model.rules, model.features(), holds, state["firm_id"], firms if judged_as_read else None
        )
        if firms is not None:  # our own firms: firm k of the file is firm id k
            names = dict(enumerate(firms.names, start=1))
            for table in (ranking, gaps):
                table.insert(
                    table.columns.get_loc("firm_id") + 1, "firm", table["firm_id"].map(names).fillna("")
                )
        top_ranking = ranking[ranking["rank"] <= args.top]
        top_gaps = gaps[gaps["rank"] <= args.top]
        folder.begin()
        write_csv(ranking, out / "ranking.csv")
        write_csv(gaps, out / "gaps.csv")
        write_xlsx({"ranking": top_ranking, "gaps": top_gaps}, out / "cultivation.xlsx")
        folder.commit(
            {
                "kind": "cultivate",
                "scenario": args.scenario,
                "seed": args.seed,
                "at": args.at,
                "year": model.year,
                "rules": model.rules.meta.id,
                "firms": int(state.n),
                "excel_top": args.top,
                **_firm_file_info(firms),
                "command": command_line(),
                "wall_seconds": round(time.perf_counter() - started, 3),
            }
        )
    print(
        f"{scenario.meta.name}: {state.n} live firms at the end of {model.year}, rules {model.rules.meta.id}"
    )
    _print_imputed(firms)
    print("closest firms per tier not held (criteria missed; the gaps on the cheapest route):")
    for tier in model.rules.order:
        mine = ranking[ranking["tier"] == tier]
        if mine.empty:
            continue
        counts = mine["missed"].value_counts()
        print(
            f"  {tier:<17} {len(mine):>6} firms without it: {counts.get(0, 0)} meet every criterion, "
            f"{counts.get(1, 0)} miss one, {counts.get(2, 0)} miss two; the closest that miss some:"
        )
        for row in mine[mine["missed"] > 0].head(args.show).itertuples():
            name = f" {row.firm}" if firms is not None else ""
            print(f"    #{row.rank} firm {row.firm_id}{name} (misses {row.missed}): {row.gaps}")
    print(
        f"results: {out}/ (ranking.csv, gaps.csv, cultivation.xlsx (first {args.top} per tier), manifest.json)"
    )
    return 0


# ---------------------------------------------------------------------------- ladder rules-impact


def _rules_impact(args: argparse.Namespace) -> int:
    """The same firms and seeds under two rule sets: who loses or gains a tier, and why."""
    import pandas as pd

    from sim.analysis import compare as cmp
    from sim.analysis import rules_impact as ri
    from sim.analysis.runs import batch_index
    from sim.batch.design import expand
    from sim.batch.runner import replication_seed
    from sim.core.model import LadderModel
    from sim.core.vocab import TIER_IDS
    from sim.io.files import rule_sets_of
    from sim.io.firm_file import firms_of
    from sim.io.results import write_csv, write_parquet

    started = time.perf_counter()
    plan = ri.plan_impact(args.scenario, args.rules, args.base, args.from_year, args.years)
    reps = 20 if args.reps is None else args.reps
    scenario = plan.scenario
    rule_sets = rule_sets_of(scenario)
    try:
        firms = firms_of(scenario, rule_sets[scenario.run.rules])
    except InputError as exc:
        raise InputError(f"{args.scenario}: {exc}") from None
    base, revision = plan.base_rules, plan.revised_rules
    out = (
        Path(args.out)
        if args.out
        else Path("results") / f"rules-impact-{Path(args.scenario).stem}-{plan.revision}"
    )
    specs = expand(plan.arms, reps, args.seed, years=args.years)
    with _batch_folder(out) as folder:
        index = batch_index(specs, _execute(specs, out, args))
        summary = cmp.compare_summary(out, index, plan.compare_plan)
        listed = []
        for rep in range(reps):  # the state both arms share: the end of the year before the switch
            model = LadderModel(
                scenario, rule_sets, rng=replication_seed(args.seed, rep), agents=False, firms=firms
            )
            while model.year < plan.from_year - 1:
                model.step()
            state = model.firms
            holds = {t: state[f"held_{t}"] for t in TIER_IDS}
            expires = {t: state[f"expires_{t}"] for t in TIER_IDS}
            found = ri.firm_changes(
                base, revision, model.features(), holds, state["firm_id"], expires, plan.from_year
            )
            listed.append(found.assign(replication=rep))
        changes = pd.concat(listed, ignore_index=True)[ri.FIRM_COLUMNS]
        if firms is not None:
            names = dict(enumerate(firms.names, start=1))
            changes.insert(3, "firm", changes["firm_id"].map(names).fillna("(entrant)"))
        overview = ri.change_summary(changes, reps, list(revision.order))
        stocks = ri.stock_change(summary)
        folder.begin()
        write_parquet(index, out / "index.parquet")
        write_parquet(summary, out / "summary.parquet", missing_ok=True)
        write_csv(changes, out / "firms.csv")
        write_csv(overview, out / "changes.csv")
        write_csv(stocks, out / "stock_change.csv")
        write_csv(cmp.tiers_by_year(summary, plan.compare_plan.rules), out / "tiers_by_year.csv")
        info = {
            "base_rules": plan.base,
            "revision": plan.revision,
            "from_year": plan.from_year,
            "replications": reps,
            "base_seed": args.seed,
            **_firm_file_info(firms),
        }
        folder.commit(_batch_info("rules-impact", specs, info, started))
    end = scenario.run.start_year + scenario.run.years - 1
    print(
        f"{scenario.meta.name}: {plan.revision} from {plan.from_year} against {plan.base}, "
        f"{reps} paired replications (seed {args.seed})"
    )
    if not revision.meta.verified or not base.meta.verified:
        print(
            "  note: a rule set compared here is marked unverified (meta.verified = false): read its criteria notes"
        )
    print(
        f"firms whose verdict changes, judged at the end of {plan.from_year - 1} (mean per replication [95 % CI]):"
    )
    for row in overview[(overview["mean"] > 0) & (overview["year"] == "all")].itertuples():
        why = f"; criteria: {row.criteria}" if row.criteria else ""
        print(f"  {row.tier:<17} {row.change:<18} {row.mean:7.1f} [{row.ci_low:.1f}, {row.ci_high:.1f}]{why}")
    print(f"change in the stock of each tier, {plan.revision} minus {plan.base} (mean [95 % CI]):")
    for tier in revision.ladder:
        mine = stocks[stocks["tier"] == tier].set_index("year")
        cells = [
            f"{int(y)} {r['mean']:+.1f} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"
            for y, r in mine.iterrows()
            if y in (plan.from_year, min(plan.from_year + 2, end), end)
        ]
        print(f"  {tier:<17} " + "; ".join(dict.fromkeys(cells)))
    print(
        f"results: {out}/ (firms.csv, changes.csv, stock_change.csv, tiers_by_year.csv, summary.parquet, manifest.json, runs/)"
    )
    return 0


def _batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reps", type=int, help="replications per scenario")
    parser.add_argument("--workers", type=int, help="parallel workers (default: all cores)")
    parser.add_argument("--backend", choices=["local", "dask"], default="local")
    parser.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """Arguments of every sub-command."""
    parser = argparse.ArgumentParser(prog="ladder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario with one seed and write its results")
    run.add_argument("scenario", help="scenario TOML file, e.g. scenarios/yuyao-2024.toml")
    run.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    run.add_argument("--years", type=int, help="override run.years")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a scenario value by dotted path (repeatable)",
    )
    run.add_argument("--out", help="output folder (default results/<scenario>-<seed>/)")
    run.add_argument(
        "--ledger",
        choices=["summary", "firms"],
        default="summary",
        help="'firms' also writes ledger_firms.parquet, one row per payment",
    )
    run.set_defaults(func=_run)
    show = sub.add_parser("show", help="print the resolved scenario with the source of each value")
    show.add_argument("scenario")
    show.add_argument("--set", action="append", metavar="KEY=VALUE")
    show.set_defaults(func=_show)

    compare = sub.add_parser(
        "compare", help="policy packages on one economy against its no-policy counterfactual (paired)"
    )
    compare.add_argument(
        "files",
        nargs="+",
        help="packages (with --economy), scenario files on one economy, or one experiment file",
    )
    compare.add_argument(
        "--economy", help="economy file the packages are laid on, e.g. scenarios/economies/yuyao.toml"
    )
    compare.add_argument("--versus", help="the reference package (label or file; default: the no-policy run)")
    compare.add_argument("--seed", type=int, help="base seed (default 0)")
    compare.add_argument("--years", type=int, help="override run.years")
    _batch_options(compare)
    compare.set_defaults(func=_compare)

    sweep = sub.add_parser("sweep", help="run an experiment's design")
    sweep.add_argument("experiment")
    _batch_options(sweep)
    sweep.set_defaults(func=_sweep)

    cal = sub.add_parser("calibrate", help="fit parameters to observed counts (method of moments)")
    cal.add_argument("calibration", help="calibration file, e.g. experiments/calibrate-yuyao.toml")
    cal.add_argument("--out", help="output folder (default results/<name>/)")
    cal.add_argument("--workers", type=int, help="parallel workers (default: all cores)")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")
    cal.set_defaults(func=_calibrate)

    val = sub.add_parser("validate", help="generate the validation report (docs/validation.md)")
    val.add_argument("--out", default="docs", help="folder of the report (default docs/)")
    val.add_argument("--workers", type=int, help="parallel workers (default: all cores)")
    val.set_defaults(func=_validate)

    sens = sub.add_parser("sensitivity", help="global sensitivity analysis (SALib: Morris or Sobol)")
    sens.add_argument("experiment", help="experiment file with a [design] of low/high ranges")
    sens.add_argument("--method", choices=["morris", "sobol"], default="morris", help="default morris")
    sens.add_argument(
        "--samples",
        type=int,
        help="Morris trajectories (default 10) or Sobol base size, a power of two (default 64)",
    )
    sens.add_argument("--levels", type=int, default=4, help="Morris grid levels, even (default 4)")
    _batch_options(sens)
    sens.set_defaults(func=_sensitivity)

    cult = sub.add_parser(
        "cultivate", help="cultivation lists: each firm's gaps to every tier it does not hold, closest first"
    )
    cult.add_argument("scenario", help="scenario TOML file (its own firms with population.from_file)")
    cult.add_argument(
        "--at",
        choices=["start", "end"],
        default="start",
        help="the state judged: before the first simulated year (default) or at the end of the run",
    )
    cult.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    cult.add_argument("--years", type=int, help="override run.years (with --at end)")
    cult.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario value")
    cult.add_argument(
        "--top", type=int, default=200, help="firms per tier in the Excel workbook (default 200)"
    )
    cult.add_argument("--show", type=int, default=3, help="firms per tier printed (default 3)")
    cult.add_argument("--out", help="output folder (default results/cultivate-<scenario>-<at>-<seed>/)")
    cult.set_defaults(func=_cultivate)

    impact = sub.add_parser(
        "rules-impact",
        help="the same firms and seeds under two rule sets: who loses or gains a tier, and why",
    )
    impact.add_argument("scenario", help="scenario TOML file (its own firms with population.from_file)")
    impact.add_argument(
        "--rules", required=True, help="the revision, e.g. miit-2026 (a name or a .toml file)"
    )
    impact.add_argument("--base", help="the base rule set (default: the scenario's run.rules)")
    impact.add_argument(
        "--from-year", type=int, help="year the revision takes over (default: its in_force_from)"
    )
    impact.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    impact.add_argument("--years", type=int, help="override run.years")
    _batch_options(impact)
    impact.set_defaults(func=_rules_impact)

    target = sub.add_parser(
        "target", help="cheapest package meeting a target (Optuna search on common random numbers)"
    )
    target.add_argument("target", help="target file, e.g. experiments/target-yuyao.toml")
    target.add_argument("--workers", type=int, help="parallel workers (default: all cores)")
    target.add_argument("--backend", choices=["local", "dask"], default="local")
    target.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    target.add_argument("--out", help="output folder (default results/<name>/)")
    target.add_argument("--quiet", action="store_true", help="no progress bar")
    target.set_defaults(func=_target)

    report = sub.add_parser(
        "report", help="one self-contained bilingual HTML page from a compare, sweep or target folder"
    )
    report.add_argument("folder", help="a finished results folder, e.g. results/compare-seed-cities")
    report.set_defaults(func=_report)

    plot = sub.add_parser("plot", help="charts of a compare or sweep folder")
    plot.add_argument("folder")
    plot.set_defaults(func=_plot)
    return parser


def _check_numbers(args: argparse.Namespace) -> None:
    """Counts must be positive and seeds non-negative: 0 is not a silent "default"."""
    for name, low in (
        ("reps", 1),
        ("workers", 1),
        ("seed", 0),
        ("years", 1),
        ("samples", 1),
        ("top", 1),
        ("show", 0),
    ):
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise InputError(f"--{name} {value}: must be at least {low}")
    if getattr(args, "scheduler", None) and getattr(args, "backend", "local") != "dask":
        raise InputError("--scheduler: goes with --backend dask")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a command the way Ctrl-C does: queued runs cancelled, finished ones kept."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ladder`` console script."""
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        _check_numbers(args)
        return args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        where = f" in {args.out}/" if getattr(args, "out", None) else ""
        if args.command in ("run", "show", "plot", "validate", "cultivate", "report"):
            message = "interrupted: nothing was completed (a results folder without its manifest is refused)"
        else:
            message = f"interrupted: finished runs are kept{where}; run the same command again to resume"
        print(f"\n{message}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
