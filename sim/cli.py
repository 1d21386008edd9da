"""The ``ladder`` command line.

Bad input (a scenario that does not validate, a missing file, a malformed ``--set``) ends with
one line on stderr naming the file, the key and what is allowed, and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sim.scenario import ScenarioError, load

EXIT_BAD_INPUT = 2


def _run(args: argparse.Namespace) -> int:
    from sim.model import LadderModel
    from sim.results import command_line, write_run

    overrides = list(args.set or [])
    if args.years is not None:
        overrides.append(f"run.years={args.years}")
    scenario = load(args.scenario, overrides)
    out = (
        Path(args.out) if args.out else Path("results") / f"{Path(args.scenario).stem}-{args.seed}"
    )
    started = time.perf_counter()
    try:
        model = LadderModel(scenario, rng=args.seed)
    except ScenarioError as exc:  # a rule set and the scenario disagree
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    for _ in range(scenario.run.years):
        model.step()
    paths = write_run(
        model,
        out,
        args.scenario,
        args.seed,
        command_line(),
        time.perf_counter() - started,
        ledger_firms=args.ledger == "firms",
    )
    for tier, want in scenario.certification.initial.items():
        got = model.placed.get(tier, 0)
        if got < want:
            print(
                f"note: only {got} of {want} initial {tier} certificates could be placed "
                "(too few firms pass the rule at the start)",
                file=sys.stderr,
            )
    last = model.year
    print(
        f"{scenario.meta.name}: {scenario.run.years} years to {last}, seed {args.seed}, "
        f"{model.firms.n} live firms at the end"
    )
    tiers = model.datacollector.get_model_vars_dataframe().iloc[-1]
    for tier in model.rules.order:
        print(f"  {tier:<18} {int(tiers[f'{tier}.stock']):>7}")
    print(f"results: {out}/ ({', '.join(p.name for p in paths.values())})")
    if model.policy and model.policy.ledger.total() > 0:
        print(f"  spend {model.policy.ledger.total():,.1f} 万元 over {scenario.run.years} years")
    print(f"charts:  {paths['tiers.png']}, {paths['budget.png']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from sim.scenario import describe

    for line in describe(args.scenario, list(args.set or [])):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Arguments of every sub-command."""
    parser = argparse.ArgumentParser(prog="ladder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario with one seed and write its results")
    run.add_argument("scenario", help="scenario TOML file, e.g. scenarios/baseline.toml")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ladder`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
