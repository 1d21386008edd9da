"""Did an optimisation that changes the sample path leave the model's outcomes where they were?

Some optimisations change which random numbers a run meets (a lottery drawn over fewer
entries, narrower floats) while drawing from the same distributions. Such a change cannot be
checked byte by byte; this script checks it statistically: the end-of-run stock of every tier
over ``--reps`` replications, from the code before and after, compared per tier with a
two-sample Kolmogorov–Smirnov test and a Mann–Whitney test (Bonferroni over the tiers).

Collect from each version of the code (the "before" tree on ``PYTHONPATH``), then compare:

    PYTHONPATH=/path/to/old/tree .venv/bin/python benchmarks/check_distributions.py collect before.csv
    .venv/bin/python benchmarks/check_distributions.py collect after.csv
    .venv/bin/python benchmarks/check_distributions.py compare before.csv after.csv

Replication seeds differ between the two collections (``--seed``), so the samples are
independent, as a two-sample test assumes. This is a check for the benchmarks' README, not a
test: it prints its verdict and exits 0.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = (
    "innovative",
    "srdi",
    "little_giant",
    "key_little_giant",
    "single_champion",
    "high_tech",
    "hidden_champion",
)


def collect(out_csv: Path, scenario: str, reps: int, seed: int, workers: int) -> None:
    """End-of-run tier stocks of ``reps`` replications of ``scenario`` (one row per replication)."""

    import sim
    from sim.batch.design import expand
    from sim.batch.runner import BatchOptions, run_batch
    from sim.io.experiment_file import Arm
    from sim.io.run_store import load_table

    folder = Path(tempfile.mkdtemp(prefix="check-dist-"))
    try:
        specs = expand([Arm("check", (ROOT / scenario).resolve())], reps, seed)
        keys = run_batch(specs, folder, BatchOptions(workers=workers, progress=False))
        series = load_table(folder, keys, "series")
        last = series.loc[series.groupby("key")["year"].idxmax()]
        cols = [f"stock.{t}" for t in TIERS if f"stock.{t}" in last]
        last[cols].to_csv(out_csv, index=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{len(last)} replications of {scenario} from {Path(sim.__file__).parent} -> {out_csv}")


def compare(before_csv: Path, after_csv: Path, alpha: float) -> None:
    """Per tier: means, KS and Mann–Whitney p-values, and whether any test rejects at alpha/tiers."""
    import pandas as pd
    from scipy import stats

    a, b = pd.read_csv(before_csv), pd.read_csv(after_csv)
    cols = [c for c in a.columns if c in b.columns]
    level = alpha / len(cols)
    print(
        f"{len(a)} vs {len(b)} replications; reject at p < {level:.4f} ({alpha} Bonferroni over {len(cols)})"
    )
    print(f"{'tier':<24}{'mean before':>12}{'mean after':>12}{'KS p':>9}{'MW p':>9}  verdict")
    rejected = 0
    for col in cols:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if (x == x[0]).all() and (y == x[0]).all():
            print(f"{col:<24}{x.mean():>12.1f}{y.mean():>12.1f}{'-':>9}{'-':>9}  identical constant")
            continue
        ks = stats.ks_2samp(x, y).pvalue
        mw = stats.mannwhitneyu(x, y).pvalue
        bad = min(ks, mw) < level
        rejected += bad
        print(
            f"{col:<24}{x.mean():>12.1f}{y.mean():>12.1f}{ks:>9.3f}{mw:>9.3f}  {'DIFFERENT' if bad else 'same'}"
        )
    print("verdict: " + ("distributions differ" if rejected else "no tier's distribution changed"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    col = sub.add_parser("collect")
    col.add_argument("out", type=Path)
    col.add_argument("--scenario", default="scenarios/yuyao-2024.toml")
    col.add_argument("--reps", type=int, default=200)
    col.add_argument(
        "--seed", type=int, default=None, help="base seed (default: 1 if 'before' in the name, else 2)"
    )
    col.add_argument("--workers", type=int, default=2)
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    if args.command == "collect":
        seed = args.seed if args.seed is not None else (1 if "before" in args.out.name else 2)
        collect(args.out, args.scenario, args.reps, seed, args.workers)
    else:
        compare(args.before, args.after, args.alpha)


if __name__ == "__main__":
    main()
